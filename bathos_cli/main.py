"""The `bth` root command: error handling, logging to stderr, and the command list.

Commands import the library inside their bodies, so `bth --help` stays fast.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from bathos import __version__
from bathos_cli import check, demo, queries, tracking

EXIT_ERROR = 1
EXIT_USAGE = 2


class InputError(click.ClickException):
    """Bad input from the user (a ConfigError): `Error: …`, exit 2."""

    exit_code = EXIT_USAGE


class BathosGroup(click.Group):
    """Turns a BathosError into `Error: …` on stderr, never a traceback.

    Bad input (ConfigError: a bad flag value, a malformed .bth.toml) exits 2; anything else 1.
    """

    def invoke(self, ctx: click.Context) -> Any:
        from bathos.errors import BathosError, ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise InputError(str(exc)) from None
        except BathosError as exc:
            raise click.ClickException(str(exc)) from None


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


@click.group(cls=BathosGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bth")
@click.option("-v", "--verbose", count=True, help="Show more of what bathos does (on stderr).")
def cli(verbose: int) -> None:
    """bathos: local-first experiment tracking. Every run recorded, every result checkable.

    The catalog lives in $BTH_HOME/catalog (default ~/.bth/catalog).
    Exit codes: 0 ok, 1 error (or problems found, for verify), 2 bad usage or input.
    """
    logger = logging.getLogger("bathos")
    if not logger.handlers:
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)


for command in [*tracking.COMMANDS, *queries.COMMANDS, check.check, demo.demo]:
    cli.add_command(command)


def main() -> None:
    """Console entry point."""
    cli.main(prog_name="bth")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
