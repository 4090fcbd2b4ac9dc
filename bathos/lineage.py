"""Lineage: which runs a run came from, and which came from it.

An edge is explicit when a run names its parent (`derived_from`), inferred when a run read a file
(a recorded input) whose content an earlier run wrote: one parent per input, the newest run that
wrote those bytes at that path before the child started, else the newest that wrote them anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog


@attrs.frozen
class LineageNode:
    """A run in a lineage graph."""

    id: str
    script: str | None
    status: str
    started_at: dt.datetime | None


@attrs.frozen
class LineageEdge:
    """`child` came from `parent`: named by the child (`inferred` False) or found by content."""

    parent: str
    child: str
    inferred: bool


@attrs.frozen
class Lineage:
    """The graph around `root`: nodes by id and parent -> child edges."""

    root: str
    nodes: dict[str, LineageNode]
    edges: tuple[LineageEdge, ...]

    def parents(self, run_id: str) -> list[LineageEdge]:
        """The edges into `run_id`."""
        return [e for e in self.edges if e.child == run_id]

    def children(self, run_id: str) -> list[LineageEdge]:
        """The edges out of `run_id`."""
        return [e for e in self.edges if e.parent == run_id]


# An inferred link: the child read, as an input, a non-empty file whose content an earlier run
# wrote as an output. Of the runs that wrote those bytes before the child started, the one parent
# is the newest that wrote them at the path the child read them from, else (a moved or copied
# file) the newest that wrote them anywhere: never every producer of the same bytes.
_CHOSEN = """
SELECT o.run_id AS parent, d.run_id AS child
FROM dependencies d JOIN outputs o
  ON d.sha256 = o.sha256 AND o.started_at < d.started_at AND o.run_id <> d.run_id
WHERE d.role = 'input' AND coalesce(d.size, 1) > 0 AND {inputs}
QUALIFY row_number() OVER (PARTITION BY d.run_id, d.path
                           ORDER BY o.path = d.path DESC, o.started_at DESC, o.run_id) = 1
"""
_IDS = "(SELECT unnest(?::VARCHAR[]))"
_PARENTS_SQL = f"""
SELECT parent_run_id AS parent, id AS child, false AS inferred
FROM runs WHERE id IN {_IDS} AND parent_run_id IS NOT NULL
UNION
SELECT parent, child, true FROM ({_CHOSEN.format(inputs=f"d.run_id IN {_IDS}")})
"""
_CHILDREN_SQL = f"""
SELECT parent_run_id AS parent, id AS child, false AS inferred
FROM runs WHERE parent_run_id IN {_IDS}
UNION
SELECT parent, child, true
FROM ({_CHOSEN.format(inputs=f"d.sha256 IN (SELECT sha256 FROM outputs WHERE run_id IN {_IDS})")})
WHERE parent IN {_IDS}
"""


def _edges(catalog: Catalog, sql: str, ids: set[str]) -> list[tuple[str, str, bool]]:
    listed = sorted(ids)  # one list parameter: DuckDB binds thousands of `?` slowly
    rows = catalog._fetch(sql, [listed] * sql.count("?")).tuples()
    return [(str(p), str(c), bool(inferred)) for p, c, inferred in rows]


def parent_edges(catalog: Catalog, ids: set[str]) -> list[tuple[str, str, bool]]:
    """(parent, child, inferred) for every parent of the runs `ids`."""
    return _edges(catalog, _PARENTS_SQL, ids) if ids else []


def trace(catalog: Catalog, run_id: str, *, descendants: bool, max_depth: int) -> Lineage:
    """What `Catalog.lineage` returns."""
    root = catalog.resolve(run_id)
    edges: dict[tuple[str, str], bool] = {}
    for sql in [_PARENTS_SQL, *([_CHILDREN_SQL] if descendants else [])]:
        frontier, seen = {root}, {root}
        for _ in range(max_depth):
            if not frontier:
                break
            found = _edges(catalog, sql, frontier)
            frontier = set()
            for parent, child, inferred in found:
                key = (parent, child)
                edges[key] = edges.get(key, True) and inferred
                new = key[0] if sql is _PARENTS_SQL else key[1]
                if new not in seen:
                    seen.add(new)
                    frontier.add(new)
    ids = {root, *(p for p, _ in edges), *(c for _, c in edges)}
    rows = catalog._fetch(f"SELECT id, script, status, started_at FROM runs WHERE id IN {_IDS}",
                          [sorted(ids)]).tuples()
    nodes = {r[0]: LineageNode(r[0], r[1], r[2], r[3]) for r in rows}
    return Lineage(
        root=root, nodes=nodes,
        edges=tuple(LineageEdge(p, c, inf) for (p, c), inf in sorted(edges.items())
                    if p in nodes and c in nodes),
    )
