"""`bth view` (the catalog's pages, served on this machine while you look) and `bth report`
(the same pages in one self-contained HTML file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bathos.query import RunQuery


def _scope(project: str | None, all_projects: bool) -> tuple[RunQuery, str]:
    """The query of the runs shown, and how a page names them."""
    from bathos.query import RunQuery

    query = RunQuery(project=project, all_projects=all_projects).resolved()
    projects = query.projects()
    return query, f"project {', '.join(projects)}" if projects else "every project"


@click.command("view")
@click.option("--port", type=click.IntRange(0, 65535), default=8700, show_default=True,
              help="Port to serve on (0: any free one).")
@click.option("--host", help="Serve on this address instead of 127.0.0.1: anyone who can reach "
              "it can read the catalog's pages.")
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@click.option("-p", "--project", help="Only this project (default: the current one).")
@click.option("--all-projects", is_flag=True, help="Every project in the catalog.")
def view(port: int, host: str | None, no_open: bool, project: str | None,
         all_projects: bool) -> None:
    """Serve the catalog's pages (runs, a run, compare, campaigns) on this machine, read-only,
    until Ctrl-C (exit 0). A reload shows new runs."""
    from bathos import Catalog, page_server

    query, scope = _scope(project, all_projects)
    import attrs

    Catalog().runs(attrs.evolve(query, limit=1))  # an unknown project is told now, not later
    if host:
        click.echo(f"warning: serving on {host}: anyone who can reach it can read these pages",
                   err=True)
    server = page_server(Catalog, query, scope, host=host or "127.0.0.1", port=port,
                         remote=bool(host))
    address = host or "127.0.0.1"
    url = f"http://{f'[{address}]' if ':' in address else address}:{server.server_port}/"
    click.echo(f"bth view: serving {scope} at {url} (Ctrl-C stops)", err=True)
    if not no_open:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("bth view: stopped", err=True)
    finally:
        server.server_close()


@click.command("report")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.html"), show_default=True, help="The file to write.")
@click.option("-p", "--project", help="The runs of this project (default: the current one).")
@click.option("--all-projects", is_flag=True, help="The runs of every project.")
@click.option("--campaign", metavar="ID", help="A campaign: its review and its runs.")
def report(runs: tuple[str, ...], output: Path, project: str | None, all_projects: bool,
           campaign: str | None) -> None:
    """Write the pages into one self-contained HTML file (data, styles, script and charts
    inline) that opens from disk with no server: the runs table, a page for each of the first
    20 runs, the campaign's review with --campaign, the comparison of 2-10 RUNs named."""
    from bathos import Catalog, write_report

    if sum(map(bool, (runs, campaign, project or all_projects))) > 1:
        raise click.UsageError("give RUNs, --campaign or --project/--all-projects, not several")
    query = None if runs or campaign else _scope(project, all_projects)[0]
    size = write_report(Catalog(), output, query=query, campaign=campaign, run_ids=runs)
    click.echo(f"Wrote {output} ({size / 1e6:.1f} MB).", err=True)
