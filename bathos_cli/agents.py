"""Commands that connect coding agents: mcp (the MCP server), export (the skill and its
registration); and the using-bathos skill, written from this bathos's own commands."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click

from bathos import __version__
from bathos.mcp import READ_TOOLS, WRITE_TOOLS

_SKILL = """\
---
name: using-bathos
description: Run, query and check experiments recorded by bathos (bth {version}), a local \
experiment tracker. Use it to run a tracked experiment, find runs and their results, check \
whether a result is still valid before citing it, and review a campaign.
---
# Using bathos (bth {version})

bathos records every run of a script (`bth run`) in a local catalog ($BTH_HOME/catalog, default
~/.bth/catalog): the command and its params, git commit and a snapshot of a dirty tree, each file
the run read and wrote (with content hashes), the Python environment, host and SLURM job, status,
logs, results and metrics, and the outcome its sidecar judged. No server: read it with `bth` or,
when connected, the bathos MCP tools ({tools}).

## Run a tracked experiment
A script in scripts/experiments/ (benchmarks/, validation/) needs a sidecar, `<stem>.bth.toml`
beside it: its hypothesis and the outcomes its results decide. Start one with
`bth new-experiment NAME`; check the project with `bth lint`. Then, as an agent:

    bth run --agent-mode autonomous scripts/experiments/fit.py -- --lr 0.1

`bth run` options:
{run_options}

With --agent-mode an error or refusal is one JSON object on stderr with a stable `code`; exit 2
means the run may not start (fix what it says, do not bypass the sidecar). The line
`bth: run ID started` on stderr names the run.

## Query
`bth ls` (newest first), `bth find --script 'fit*' --param lr=0.1`, `bth show ID`,
`bth logs ID`, `bth metrics ID`, `bth diff ID1 ID2`, `bth lineage ID`, and read-only SQL:
`bth sql "SELECT id, status, results FROM runs LIMIT 10"` (`bth sql --schema` lists the views).
Listings take `--json`. Ids may be shortened to a unique prefix of 4+ characters.

## Check freshness before citing a result
A result is valid only while the code and inputs it depended on are unchanged. Before citing a
run's result, run `bth check ID` (MCP: `check`): `fresh` may be cited; `stale` names each file
that changed since (rerun it: `bth rerun ID`); `stale-upstream` means a run it built on is stale;
`unknown` means it cannot be judged. Cite the run id with the result.
{campaigns}
## Commands
{commands}
"""

_CAMPAIGNS = """
## Campaigns
A campaign groups the runs that test one hypothesis: `bth run --campaign ID ...` files a run
under it. Before concluding one, review it (MCP: `campaign_review`): read its verdict lines and
anomalies (stale or unfinished runs, confounds), and conclude only what they support.
{help}
"""


def skill_text() -> str:
    """The using-bathos skill, from this bathos's version, commands and their help."""
    from bathos_cli.main import COMMANDS, cli

    ctx = click.Context(cli, info_name="bth")
    commands = {name: cli.get_command(ctx, name) for name in COMMANDS}
    run = commands["run"]
    assert run is not None
    options = [f"- `{'/'.join(p.opts)}" + (f" {'|'.join(p.type.choices)}"
                                           if isinstance(p.type, click.Choice) else "")
               + f"`: {p.help}" for p in run.params if isinstance(p, click.Option) and p.help]
    campaign = commands.get("campaign")
    campaigns = "" if campaign is None else _CAMPAIGNS.format(help="\n".join(
        f"- `bth campaign {name}`: {sub.get_short_help_str(100)}"
        for name, sub in getattr(campaign, "commands", {}).items()))
    return _SKILL.format(
        version=__version__, tools=", ".join(READ_TOOLS + WRITE_TOOLS),
        run_options="\n".join(options), campaigns=campaigns,
        commands="\n".join(f"- `bth {name}`: {command.get_short_help_str(100)}"
                           for name, command in commands.items() if command is not None))


@click.command("mcp", help=f"""Serve the catalog to an AI agent over MCP (stdio): what it can ask
in docs/agents.md. Needs the mcp extra: pip install 'bathos[mcp]'.

\b
Tools: {", ".join(READ_TOOLS)}.
Write tools (only with --allow-writes): {", ".join(WRITE_TOOLS) or "none yet"}.
Resources: the catalog schema, the using-bathos skill.

Read-only unless --allow-writes; each write records who made it and when. `bth export` registers
this server with an agent tool.""")
@click.option("--allow-writes", is_flag=True,
              help="Also offer the tools that write (each write records who and when).")
def mcp(allow_writes: bool) -> None:
    from bathos.catalog.catalog import Catalog
    from bathos.errors import ConfigError

    try:
        from bathos.mcp.server import serve
    except ImportError as exc:
        raise ConfigError(f"bth mcp needs the MCP SDK ({exc})",
                          hint="pip install 'bathos[mcp]'") from None
    serve(Catalog(), skill=skill_text(), allow_writes=allow_writes)


@click.command("export")
@click.option("--tool", "tools", multiple=True, default=("claude",), show_default=True,
              type=click.Choice(["claude", "codex", "gemini", "cursor"]),
              help="The agent tool to connect (repeatable).")
@click.option("--scope", type=click.Choice(["project", "user"]), default="project",
              show_default=True, help="This project's files, or your own (in your home).")
@click.option("--dry-run", is_flag=True, help="Print the diff of what would change; write "
              "nothing.")
def export(tools: tuple[Any, ...], scope: Any, dry_run: bool) -> None:
    """Connect an AI agent tool to bathos: write the using-bathos skill where the tool reads
    skills or instructions, and register `bth mcp` in its MCP configuration.

    \b
      bth export                      # Claude Code, this project
      bth export --tool codex --scope user --dry-run

    Merges into existing files, keeping every other entry; running it again changes nothing.
    A configuration that does not parse is left as it is (exit 2).
    """
    import importlib.util

    from bathos.agents import plan_export, write_export
    from bathos.config import find_project_file

    found = find_project_file()
    root = found.parent if found else None
    if scope == "project" and root is None:
        raise click.UsageError("not inside a bathos project (no .bth.toml here or above): "
                               "run bth init, or give --scope user")
    command = [_bth(), "mcp"]
    files = [f for tool in tools for f in plan_export(
        tool, scope=scope, skill=skill_text(), command=command, project_root=root)]
    for file in files:
        if dry_run:
            click.echo(file.diff(), nl=False)
        elif file.changed:
            click.echo(f"  wrote {file.path}", err=True)
    if not dry_run:
        write_export(files)
    if importlib.util.find_spec("mcp") is None:
        click.echo("warning: the MCP SDK is not installed here, so bth mcp cannot start "
                   "(pip install 'bathos[mcp]')", err=True)
    changed = sum(f.changed for f in files)
    click.echo(f"bth: {changed} of {len(files)} files {'would change' if dry_run else 'changed'}"
               if changed else "bth: nothing to change", err=True)


def _bth() -> str:
    """The `bth` of this installation (beside its interpreter), else the one on PATH."""
    beside = Path(sys.executable).with_name("bth")
    return str(beside) if beside.is_file() else shutil.which("bth") or "bth"
