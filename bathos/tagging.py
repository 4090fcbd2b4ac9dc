"""Tagging a run after it ended (`Catalog.tag`).

The run's record is replaced whole, as every change of a run is: a new hot fragment with the new
tags, the edit appended to `tag_edits` (what it added and removed, by whom, when) and `updated_at`
now, so it wins over the run's row in a compacted segment and `bth sync` sends it again. A run
still running is refused (its `bth run` rewrites its record), and so is a fragment that another
writer replaced while it was being tagged.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from bathos.catalog import store
from bathos.config import check_tags
from bathos.errors import CatalogError, ConfigError
from bathos.models import Run, TagEdit, structure_run, utcnow
from bathos.provenance.host import author

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog

_ATTEMPTS = 3  # rereads when another writer replaced the run's fragment meanwhile


def tag_run(catalog: Catalog, run: str | Run, *, add: str | Iterable[str] = (),
            remove: str | Iterable[str] = ()) -> Run:
    """`run` (a Run, an id or a prefix) with the tags in `add` and without those in `remove`,
    as now recorded; unchanged (and nothing written) when it has them all and none of those."""
    adding, removing = (check_tags((tags,) if isinstance(tags, str) else tags)
                        for tags in (add, remove))
    if not adding and not removing:
        raise ConfigError("no tag to add or remove (name at least one)")
    both = sorted(set(adding) & set(removing))
    if both:
        raise ConfigError(f"tag {both[0]!r} is both added and removed (name it once)")
    run_id = run.id if isinstance(run, Run) else catalog.resolve(run)
    for _ in range(_ATTEMPTS):
        seen = catalog.get(run_id)
        path = store.fragment_path(catalog.path, seen.project, seen.id)
        stat: os.stat_result | None
        try:
            record, stat = store.read_fragment(path)  # as written: not settled as lost
        except FileNotFoundError:
            current, stat = seen, None  # compacted: its segment row is the record
        else:
            current = max(structure_run(record), seen, key=lambda r: r.updated_at)
        if current.status == "running":
            raise ConfigError(f"run {run_id} is still running (its bth run rewrites its record): "
                              "tag it once it has ended",
                              hint="bth reap settles a run whose bth run is gone")
        tagged = _tagged(current, adding, removing)
        if tagged is current:
            return current
        unchanged = not path.exists() if stat is None else store.is_unchanged(path, stat)
        if unchanged:
            store.write_run(catalog.path, tagged)
            return tagged
    raise CatalogError(f"run {run_id} kept changing while being tagged (tag it again)")


def _tagged(run: Run, adding: tuple[str, ...], removing: tuple[str, ...]) -> Run:
    """`run` with its tags changed and the edit recorded; `run` itself if nothing changes."""
    added = tuple(t for t in adding if t not in run.tags)
    removed = tuple(t for t in removing if t in run.tags)
    if not added and not removed:
        return run
    now = max(utcnow(), run.updated_at + dt.timedelta(microseconds=1))  # newer than any copy
    return attrs.evolve(
        run, tags=(*(t for t in run.tags if t not in removed), *added), updated_at=now,
        tag_edits=(*run.tag_edits, TagEdit(by=author(), time=now, add=added, remove=removed)))
