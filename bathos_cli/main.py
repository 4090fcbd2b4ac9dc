"""The `bth` root command: error handling, logging to stderr, and the command list.

Commands import the library inside their bodies, so `bth --help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from bathos import __version__

EXIT_ERROR = 1
EXIT_USAGE = 2


class InputError(click.ClickException):
    """Bad input from the user (a ConfigError): `Error: …`, exit 2."""

    exit_code = EXIT_USAGE


# Command name -> module; a command's module is imported only when that command runs (or --help
# lists them), so `bth run` does not pay for the query commands.
COMMANDS = {
    "init": "bathos_cli.tracking",
    "run": "bathos_cli.tracking",
    "ls": "bathos_cli.queries",
    "show": "bathos_cli.queries",
    "find": "bathos_cli.queries",
    "sql": "bathos_cli.queries",
    "lineage": "bathos_cli.tracking",
    "logs": "bathos_cli.tracking",
    "import-spill": "bathos_cli.tracking",
    "check": "bathos_cli.check",
    "compact": "bathos_cli.queries",
    "verify": "bathos_cli.queries",
    "demo": "bathos_cli.demo",
}


class BathosGroup(click.Group):
    """Loads commands on demand, and turns a BathosError into `Error: …` on stderr, never a
    traceback. Bad input (ConfigError: a bad flag value, a malformed .bth.toml) exits 2; any other
    error 1.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from bathos.errors import BathosError, ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise InputError(str(exc)) from None
        except BathosError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=BathosGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bth")
@click.option("-v", "--verbose", count=True, help="Show more of what bathos does (on stderr).")
def cli(verbose: int) -> None:
    """bathos: local-first experiment tracking. Every run recorded, every result checkable.

    The catalog lives in $BTH_HOME/catalog (default ~/.bth/catalog).

    Exit codes: 0 ok, 1 error (or problems found, by verify or check), 2 bad usage or input,
    124 a query past its --timeout, 130 Ctrl-C; bth run exits with its command's code.
    """
    _log_to_stderr(verbose)


def _log_to_stderr(verbose: int) -> None:
    """Show the library's log as `warning: …` lines on stderr (logging is imported here, not at
    the top: `bth --help` never logs)."""
    import logging

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)

    logger = logging.getLogger("bathos")
    if not logger.handlers:
        logger.addHandler(StderrHandler())
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)



def main() -> None:
    """Console entry point."""
    cli.main(prog_name="bth")


if __name__ == "__main__":  # pragma: no cover
    main()
