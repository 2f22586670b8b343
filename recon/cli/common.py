"""Shared CLI pieces: settings from the context, option bundles, date parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from recon.errors import SettingsError
from recon.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """Resolve settings with the global --config and any per-command overrides."""
    config = ctx.find_root().params.get("config")
    return load_settings(config, overrides={k: v for k, v in overrides.items() if v is not None})


def db_option(fn: F) -> F:
    """`--db PATH`: the DuckDB file (overrides RECON_DB)."""
    return click.option(
        "--db", type=click.Path(path_type=Path, dir_okay=False), help="DuckDB file (overrides RECON_DB)."
    )(fn)


def parse_month(value: str | None, name: str = "--period") -> date | None:
    """`YYYY-MM` as the first day of that month."""
    if value is None:
        return None
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise SettingsError(f"{name}: {value!r} is not a month like 2026-03") from None
