"""`bth remote add/list/remove/test` and `bth sync`: other catalogs over SSH (docs/sync.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bathos_cli import render
from bathos_cli.options import output_format

if TYPE_CHECKING:
    from bathos.remotes.sync import SyncReport

ACCEPT_HELP = ("Accept a host key no known_hosts file holds yet, and record it (check its "
               "fingerprint first: an unknown key is refused and printed).")


@click.group("remote")
def remote() -> None:
    """Other catalogs to sync with over SSH: a cluster's `[user@]host:path`.

    A remote is kept in the project's .bth.toml, or with --user in $BTH_HOME/config.toml for
    every project. Its host may be an ~/.ssh/config alias (port, user and key from there).
    """


@remote.command("add")
@click.argument("name")
@click.argument("target", metavar="[USER@]HOST:PATH")
@click.option("--user", "for_user", is_flag=True,
              help="Keep it for every project ($BTH_HOME/config.toml).")
def add(name: str, target: str, for_user: bool) -> None:
    """Add the remote NAME: PATH is the remote's $BTH_HOME (or its catalog directory)."""
    from bathos.remotes.registry import add_remote

    added = add_remote(name, target, scope="user" if for_user else "project")
    click.echo(f"Added remote '{added.name}' ({added.spec}) for "
               f"{'every project' if for_user else 'this project'}.", err=True)


@remote.command("list")
@output_format(csv=False)
def list_(json_: bool) -> None:
    """List the remotes: this project's, then those of every project."""
    from bathos.remotes.registry import list_remotes

    found = [{"name": r.name, "host": r.host, "path": r.path, "scope": r.scope}
             for r in list_remotes()]
    if json_:
        render.echo_json(found)
    else:
        render.echo_table(["name", "host", "path", "scope"],
                          [list(r.values()) for r in found])


@remote.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget the remote NAME (nothing on the remote is touched)."""
    from bathos.remotes.registry import remove_remote

    gone = remove_remote(name)
    click.echo(f"Removed remote '{gone.name}' ({gone.spec}).", err=True)


@remote.command("test")
@click.argument("name", required=False)
@click.option("--accept-new-host-key", is_flag=True, help=ACCEPT_HELP)
def test(name: str | None, accept_new_host_key: bool) -> None:
    """Connect to the remote NAME and report what is there (exit 3 if it cannot be reached)."""
    from bathos.remotes.sync import check_remote

    found = check_remote(name, accept_new_host_key=accept_new_host_key)
    click.echo(f"remote     {found.remote.name} ({found.remote.spec})\n"
               f"host       {found.host}: logged in in {found.connect_s * 1000:.0f} ms, "
               f"round trip {found.latency_s * 1000:.1f} ms\n"
               f"catalog    {found.catalog or 'none yet (the first push makes it)'}\n"
               f"writable   {'yes' if found.writable else 'no'}\n"
               f"runs       {found.runs}\n"
               f"bth        {found.bth or 'not found on its PATH (not needed)'}")


@click.command("sync")
@click.argument("remote_name", metavar="[REMOTE]", required=False)
@click.option("--pull", is_flag=True, help="Bring the remote's runs here (default: push).")
@click.option("-p", "--project", help="This project's runs (default: the current one).")
@click.option("--all-projects", is_flag=True, help="The runs of every project.")
@click.option("--dry-run", is_flag=True, help="Count what would move; move nothing.")
@click.option("--no-logs", is_flag=True, help="Leave the runs' logs behind.")
@click.option("--accept-new-host-key", is_flag=True, help=ACCEPT_HELP)
@output_format(csv=False)
def sync(remote_name: str | None, pull: bool, project: str | None, all_projects: bool,
         dry_run: bool, no_logs: bool, accept_new_host_key: bool, json_: bool) -> None:
    """Push this project's runs to REMOTE over SSH (or --pull them): only what the other side
    lacks or holds older, with logs, metric points and campaign events.

    REMOTE defaults to the only remote there is. Exit codes: 0 done, 1 the remote's catalog
    failed (missing, unwritable, full: nothing half-written is left; sync again), 2 bad
    input, 3 the host could not be reached, its key verified or the login made.
    """
    from bathos.catalog.catalog import Catalog

    with render.progress("pulling" if pull else "pushing") as on_progress:
        report = Catalog().sync(remote_name, pull=pull, project=project,
                                all_projects=all_projects, dry_run=dry_run, logs=not no_logs,
                                accept_new_host_key=accept_new_host_key,
                                on_progress=on_progress)
    if json_:
        import attrs

        render.echo_json(attrs.asdict(report))
    else:
        click.echo(summary(report))


def summary(report: SyncReport) -> str:
    """`Pushed 47 runs (filtered 275 from other projects) to 'engaging' in 1.2s (3.4 MB …)`."""
    verb = ("Would pull" if report.pulled else "Would push") if report.dry_run else (
        "Pulled" if report.pulled else "Pushed")
    filtered = f" (filtered {report.filtered} from other projects)" if report.filtered else ""
    extras = [render.counted(n, noun) for n, noun in (
        (report.blobs, "log"), (report.points, "metric point"),
        (report.campaign_events, "campaign event")) if n]
    if report.dry_run and report.campaign_events:
        extras = [render.counted(report.campaign_events, "campaign event")]
    size = "" if report.dry_run else _size(report.bytes)
    detail = ", ".join(([size] if size else []) + extras)
    return (f"{verb} {render.counted(report.runs, 'run')}{filtered} "
            f"{'from' if report.pulled else 'to'} '{report.remote}' in {report.seconds:.1f}s"
            + (f" ({detail})" if detail else "") + ".")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return ""
