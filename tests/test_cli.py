from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from recon import __version__
from recon.cli import cli, main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
    return out


COMMANDS = _commands(cli)


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("config", "extract", "reconcile", "report", "demo", "dashboard", "sandbox"):
        assert name in result.output


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_text(path: tuple[str, ...], cmd: click.Command) -> None:
    assert cmd.help and cmd.help.strip(), f"recon {' '.join(path)} has no help text"
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"recon {' '.join(path)} {param.opts[0]} has no help text"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_bad_url_is_one_line_and_exit_2() -> None:
    env = {**os.environ, "RECON_PC_BASE_URL": "notaurl"}
    proc = subprocess.run(
        [sys.executable, "-m", "recon", "extract"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RECON_PC_BASE_URL" in lines[0]


def test_usage_error_exits_2() -> None:
    assert main(["reconcile", "--fail-on", "sometimes"]) == 2
    assert main(["no-such-command"]) == 2


def test_missing_credentials_is_a_settings_error(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RECON_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RECON_DB", str(tmp_path) + "/r.duckdb")
    assert main(["extract"]) == 2


def test_an_unknown_world_is_a_one_line_settings_error(tmp_path: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recon", "sandbox", "answer-key", "--size", "large", "--inject-rate",
         "unbilled_vanished=0.1", "--out", f"{tmp_path}/k.csv"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'unbilled_vanished' is not generated in the large world" in proc.stderr
