"""Commands that bring a catalog up to date: migrate (also from the older bathos) and
migrate-to-project-subdirs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bathos_cli import render

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog
    from bathos.errors import UnreadableFile


def _catalog() -> Catalog:
    from bathos.catalog.catalog import Catalog

    return Catalog()


def _size(count: int) -> str:
    """Bytes as `812 B`, `12.3 kB`, `4.1 MB` (powers of 1000)."""
    if count < 1000:
        return f"{count} B"
    value = float(count)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def _versions(upgraded: dict[int, int]) -> str:
    return ", ".join(f"version {v}: {n}" for v, n in upgraded.items())


def _skipped(skipped: tuple[UnreadableFile, ...]) -> None:
    """Each file skipped on stdout (as `bth verify` lists them); exit 1 if any."""
    for problem in skipped:
        click.echo(f"{problem.path}: {problem.reason}")
    if skipped:
        click.echo(f"{render.counted(len(skipped), 'file')} skipped: nothing of them was "
                   "changed; fix or remove them and run this again.", err=True)
        raise SystemExit(1)


@click.command("migrate")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option("-p", "--project", help="Only this project's records.")
@click.option("--from-legacy", "legacy", metavar="PATH", type=click.Path(path_type=Path),
              help="Import the catalog of the older bathos (0.x) at PATH instead: its "
              "catalog directory, e.g. ~/.bth/catalog.")
def migrate(dry_run: bool, project: str | None, legacy: Path | None) -> None:
    """Rewrite records of older schema versions as current ones (safe while runs are written).

    With --from-legacy, bring the runs and campaigns of the older bathos into this catalog:
    run ids are kept, and importing again adds nothing twice. Exit 1 if a file was skipped.
    """
    if legacy is not None:
        if project:
            raise click.UsageError("--project does not apply to --from-legacy (every run is "
                                   "imported into its own project)")
        _import_legacy(legacy, dry_run)
        return
    from bathos.models import SCHEMA_VERSION

    with render.progress("migrating") as on_progress:
        report = _catalog().migrate(project=project, dry_run=dry_run, on_progress=on_progress)
    records = render.counted(sum(report.upgraded.values()), "record")
    where = (f"{render.counted(report.fragments, 'fragment')} and "
             f"{render.counted(report.segments, 'segment')}")
    if not report.upgraded:
        click.echo(f"Every record is current (schema version {SCHEMA_VERSION}): nothing to "
                   "migrate.", err=True)
    elif report.dry_run:
        click.echo(f"Would upgrade {records} ({_versions(report.upgraded)}) in {where}, "
                   f"{_size(report.bytes_before)}.", err=True)
    else:
        click.echo(f"Upgraded {records} ({_versions(report.upgraded)}) in {where}: "
                   f"{_size(report.bytes_before)} -> {_size(report.bytes_after or 0)}.",
                   err=True)
    if report.left_running:
        click.echo(f"Left {render.counted(report.left_running, 'run')} still running to its "
                   "writer (run bth migrate again once it ends).", err=True)
    _skipped(report.skipped)


def _import_legacy(path: Path, dry_run: bool) -> None:
    with render.progress("importing") as on_progress:
        report = _catalog().import_legacy(path, dry_run=dry_run, on_progress=on_progress)
    verb = "Would import" if dry_run else "Imported"
    read = _versions(report.versions) or "none"
    click.echo(f"{verb} {render.counted(report.imported, 'run')} and "
               f"{render.counted(report.campaigns, 'campaign')} from {report.source} "
               f"({render.counted(report.unchanged, 'run')} already here; schema versions "
               f"read: {read}).", err=True)
    _skipped(report.skipped)


@click.command("migrate-to-project-subdirs")
@click.option("--dry-run", is_flag=True, help="Only say what would move.")
def migrate_to_project_subdirs(dry_run: bool) -> None:
    """Move runs found flat in runs/ (or in another project's directory) into runs/<project>/.

    Safe while runs are written; a run still running is left to its writer. Exit 1 if a file
    was skipped.
    """
    with render.progress("moving") as on_progress:
        report = _catalog().move_to_project_dirs(dry_run=dry_run, on_progress=on_progress)
    verb = "Would move" if dry_run else "Moved"
    click.echo(f"{verb} {render.counted(report.fragments, 'fragment')} and "
               f"{render.counted(report.rows, 'compacted run')} from "
               f"{render.counted(report.segments, 'segment')} into their project directories"
               + (f"; dropped {render.counted(report.superseded, 'stale fragment')}"
                  if report.superseded else "") + ".", err=True)
    if report.left_running:
        click.echo(f"Left {render.counted(report.left_running, 'run')} still running where "
                   "it is (run this again once it ends).", err=True)
    _skipped(report.skipped)
