"""`recon sandbox`: run the Partner Center sandbox and write its answer key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from recon.cli.common import console
from recon.errors import SettingsError

SIZES = ("tiny", "small", "large")


def parse_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, val = value.partition("=")
        if not sep or not name:
            raise SettingsError(f"{option}: {value!r} is not NAME=VALUE")
        out[name] = val
    return out


def parse_rates(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for name, val in parse_pairs(values, "--inject-rate").items():
        try:
            rate = float(val)
        except ValueError:
            raise SettingsError(f"--inject-rate: {val!r} is not a number") from None
        if not 0 <= rate <= 1:
            raise SettingsError(f"--inject-rate: {name}={val} is outside 0..1")
        out[name] = rate
    return out


def _date(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{option}: {value!r} is not a date like 2026-03-10") from None


def _today(value: str | None) -> date | None:
    return _date("--today", value)


def world_options(fn: click.decorators.FC) -> click.decorators.FC:
    """--seed, --size, --today, --switch, --inject-rate."""
    for decorator in reversed(
        (
            click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated world."),
            click.option("--size", type=click.Choice(SIZES), default="tiny", show_default=True, help="World size."),
            click.option("--today", help="The sandbox's date (YYYY-MM-DD; default fixed by the world)."),
            click.option(
                "--switch", "switches", multiple=True, metavar="NAME=VALUE", help="Set a switch (repeatable)."
            ),
            click.option(
                "--inject-rate",
                "inject_rates",
                multiple=True,
                metavar="KIND=P",
                help="Injection rate per catalogue kind, or all=P (repeatable).",
            ),
        )
    ):
        fn = decorator(fn)
    return fn


@click.group("sandbox")
def sandbox() -> None:
    """The local Partner Center sandbox (HTTPS on 127.0.0.1, seeded world, injected discrepancies)."""


@sandbox.command("serve")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("data/sandbox"),
    show_default=True,
    help="Where sandbox.json, certificates and state are written.",
)
@click.option(
    "--fault", "faults", multiple=True, metavar="KIND:RATE[:ARG][@ROUTE]", help="Inject a fault (repeatable)."
)
@click.option(
    "--start",
    metavar="YYYY-MM-DD|first-month",
    help="Where the clock starts (default: --today); the world is still the one of --today. "
    "`first-month` starts at the first day of the world's first month, to walk its history.",
)
@world_options
def serve(
    port: int,
    start: str | None,
    state_dir: Path,
    faults: tuple[str, ...],
    seed: int,
    size: str,
    today: str | None,
    switches: tuple[str, ...],
    inject_rates: tuple[str, ...],
) -> None:
    """Serve the sandbox in the foreground until interrupted; writes STATE_DIR/sandbox.json."""
    from recon.sandbox import run_foreground
    from recon.sandbox.world import first_month

    console.print(f"Sandbox state: {state_dir.resolve() / 'sandbox.json'} (Ctrl-C to stop)")
    try:
        start_date = first_month(seed, size, _today(today)) if start == "first-month" else _date("--start", start)
        run_foreground(
            state_dir,
            seed=seed,
            size=size,
            port=port,
            today=_today(today),
            switches=parse_pairs(switches, "--switch"),
            inject_rates=parse_rates(inject_rates),
            faults=list(faults),
            start=start_date,
        )
    except ValueError as exc:  # unknown size, switch, injection kind or fault spec
        raise SettingsError(f"sandbox: {exc}") from None


@sandbox.command("answer-key")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Output file: .parquet or .csv."
)
@world_options
def answer_key(
    out: Path, seed: int, size: str, today: str | None, switches: tuple[str, ...], inject_rates: tuple[str, ...]
) -> None:
    """Write the world's answer key (every injected case) as Parquet or CSV."""
    from recon.sandbox import write_answer_key

    if out.suffix.lower() not in (".parquet", ".csv"):
        raise SettingsError(f"--out: {out} must end in .parquet or .csv")
    try:
        write_answer_key(
            out,
            seed=seed,
            size=size,
            today=_today(today),
            switches=parse_pairs(switches, "--switch"),
            inject_rates=parse_rates(inject_rates),
        )
    except ValueError as exc:  # unknown size, switch, injection kind or fault spec
        raise SettingsError(f"sandbox: {exc}") from None
    console.print(f"Answer key: {out}")


@sandbox.command("pricelist")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Output file (.csv).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated world.")
@click.option("--from", "first", default="2024-01", show_default=True, help="First month of the list (YYYY-MM).")
@click.option("--to", "last", default="2026-12", show_default=True, help="Last month of the list (YYYY-MM).")
def pricelist(out: Path, seed: int, first: str, last: str) -> None:
    """Write the world's monthly price lists as a license-based price-list CSV (for `recon load pricelist`)."""
    from recon.cli.common import parse_month
    from recon.sandbox.pricelist import write_price_list

    if out.suffix.lower() != ".csv":
        raise SettingsError(f"--out: {out} must end in .csv")
    start, end = parse_month(first, "--from"), parse_month(last, "--to")
    if start is None or end is None or end < start:
        raise SettingsError("--to must not be before --from")
    lines = write_price_list(out, seed=seed, first=start, last=end)
    console.print(f"Price list: {out} ({lines:,} lines, {start:%Y-%m} to {end:%Y-%m})")
