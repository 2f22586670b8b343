"""The `recon` command line: a thin layer over the library, one command per library call."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from recon import __version__
from recon.cli import auth, commands, findings, pricelist, purchase, sandbox
from recon.cli.common import err_console
from recon.errors import EXIT_USAGE, ReconError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", prog_name="recon")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="RECON_CONFIG",
    help="TOML settings file (default ./recon.toml; env RECON_CONFIG).",
)
def cli(config: Path | None) -> None:
    """Reconcile Microsoft Partner Center invoices against what you bought.

    Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or settings error, 3 upstream/API failure.
    """


for command in (*commands.ALL, *findings.COMMANDS, *purchase.COMMANDS):
    cli.add_command(command)
commands.load_group.add_command(pricelist.pricelist_cmd)
cli.add_command(sandbox.sandbox)
cli.add_command(auth.auth)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and turn errors into one line on stderr and an exit code."""
    try:
        result = cli.main(args=argv, prog_name="recon", standalone_mode=False)
    except ReconError as exc:
        err_console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return exc.exit_code
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code if exc.exit_code else EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return int(result) if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
