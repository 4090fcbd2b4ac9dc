"""The `bth` root command: error handling, logging to stderr, and the command list.

Commands import the library inside their bodies, so `bth --help` stays fast, and from the modules
that define what they use rather than from `bathos` (whose first use loads every public name).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from bathos import __version__

EXIT_USAGE = 2  # bad usage or input, as click exits on a bad flag
EXIT_UNREACHABLE = 3  # a remote's host cannot be reached, its key verified or the login made
EXIT_TIMEOUT = 124  # as timeout(1) exits
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


def exit_code(exc: Exception) -> int:
    """The documented exit code of a library error: bad input (a ConfigError, or a run id that
    matches no run or several, an unknown campaign) 2, a remote that cannot be reached or
    logged into 3, a query past its time limit 124, any other error 1."""
    from bathos.errors import (
        AmbiguousRunId,
        CampaignNotFound,
        ConfigError,
        ConnectionFailed,
        QueryTimeout,
        RunNotFound,
    )

    if isinstance(exc, ConfigError | RunNotFound | AmbiguousRunId | CampaignNotFound):
        return EXIT_USAGE
    if isinstance(exc, ConnectionFailed):
        return EXIT_UNREACHABLE
    if isinstance(exc, QueryTimeout):
        return EXIT_TIMEOUT
    return 1


def error_line(exc: Exception) -> str:
    """`Error: <message> (<hint>)`, the one line a library error gets on stderr."""
    hint = getattr(exc, "hint", None)
    return f"Error: {exc}" + (f" ({hint})" if hint else "")


# Command name -> module; a command's module is imported only when that command runs (or --help
# lists them), so `bth run` does not pay for the query commands.
COMMANDS = {
    "init": "bathos_cli.tracking",
    "run": "bathos_cli.tracking",
    "ls": "bathos_cli.queries",
    "show": "bathos_cli.queries",
    "find": "bathos_cli.queries",
    "sql": "bathos_cli.queries",
    "metrics": "bathos_cli.metrics",
    "lineage": "bathos_cli.tracking",
    "logs": "bathos_cli.tracking",
    "import-spill": "bathos_cli.tracking",
    "rerun": "bathos_cli.tracking",
    "tag": "bathos_cli.tracking",
    "check": "bathos_cli.check",
    "diff": "bathos_cli.compare",
    "campaign": "bathos_cli.campaigns",
    "compact": "bathos_cli.queries",
    "reap": "bathos_cli.queries",
    "submit": "bathos_cli.slurm",
    "verify": "bathos_cli.queries",
    "migrate": "bathos_cli.upgrades",
    "migrate-to-project-subdirs": "bathos_cli.upgrades",
    "lint": "bathos_cli.authoring",
    "new-experiment": "bathos_cli.authoring",
    "sprint-audit": "bathos_cli.audit",
    "demo": "bathos_cli.demo",
    "mcp": "bathos_cli.agents",
    "export": "bathos_cli.agents",
    "view": "bathos_cli.pages",
    "report": "bathos_cli.pages",
    "remote": "bathos_cli.remotes",
    "sync": "bathos_cli.remotes",
}


class BathosGroup(click.Group):
    """Loads commands on demand, and turns a BathosError into its one line on stderr (never a
    traceback) and its exit code (`exit_code`); Ctrl-C into `Interrupted.` and 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, with its "Did you mean" for a command name (the commands not loaded)."""
        name = args[0] if args else ""
        if name not in COMMANDS and not name.startswith("-") and not ctx.resilient_parsing:
            import difflib

            close = sorted(difflib.get_close_matches(name, COMMANDS))
            ctx.fail(f"No such command {name!r}." + (
                f" Did you mean {close[0]!r}?" if len(close) == 1 else
                f" (Did you mean one of: {', '.join(map(repr, close))}?)" if close else ""))
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from bathos.errors import BathosError

        try:
            return super().invoke(ctx)
        except BathosError as exc:
            click.echo(error_line(exc), err=True)
            raise SystemExit(exit_code(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise SystemExit(EXIT_INTERRUPTED) from None


@click.group(cls=BathosGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bth")
@click.option("-v", "--verbose", count=True, help="Show more of what bathos does (on stderr).")
def cli(verbose: int) -> None:
    """bathos: local-first experiment tracking. Every run recorded, every result checkable.

    The catalog lives in $BTH_HOME/catalog (default ~/.bth/catalog).

    Exit codes: 0 ok, 1 error (or problems found, by verify or check), 2 bad usage or input
    (also a run id that matches no run), 3 a remote that cannot be reached or logged into, 124
    a query past its --timeout, 130 Ctrl-C; bth run exits with its command's code.
    """
    _log_to_stderr(verbose)


def _log_to_stderr(verbose: int) -> None:
    """Show the library's log as `warning: …` lines on stderr (logging is imported here, not at
    the top: `bth --help` never logs)."""
    import logging

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            hint = getattr(record, "hint", None)  # a warning's command-line advice
            click.echo(f"{record.levelname.lower()}: {record.getMessage()}"
                       + (f" ({hint})" if hint else ""), err=True)

    logger = logging.getLogger("bathos")
    if not logger.handlers:
        logger.addHandler(StderrHandler())
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)



def main() -> None:
    """Console entry point."""
    cli.main(prog_name="bth")


if __name__ == "__main__":  # pragma: no cover
    main()
