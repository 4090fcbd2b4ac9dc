"""Lineage: which runs a run came from, and which came from it.

An edge is explicit when a run names its parent (`derived_from`), inferred when a run read a file
(a recorded input) whose content an earlier run wrote: one parent per input, the newest run that
wrote those bytes at that path before the child started, else the newest that wrote them anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
    return trace_all(catalog, [root], descendants=descendants, max_depth=max_depth)[root]


Found = dict[str, list[tuple[str, str, bool]]]  # a run -> its edges in one direction


def trace_all(catalog: Catalog, roots: Sequence[str], *, descendants: bool,
              max_depth: int) -> dict[str, Lineage]:
    """The lineage of each of the runs `roots` (whole ids) as `trace` gives it, found with one
    query per level for all of them (the edges of a run are the same whichever run led to it)."""
    directions = [_PARENTS_SQL, *([_CHILDREN_SQL] if descendants else [])]
    found: dict[str, Found] = {sql: _walk(catalog, sql, roots, max_depth) for sql in directions}
    graphs: dict[str, dict[tuple[str, str], bool]] = {}
    for root in roots:
        edges = graphs[root] = {}
        for sql in directions:
            frontier, seen = {root}, {root}
            for _ in range(max_depth):
                step: set[str] = set()
                for parent, child, inferred in (e for n in frontier for e in found[sql][n]):
                    key = (parent, child)
                    edges[key] = edges.get(key, True) and inferred
                    new = parent if sql is _PARENTS_SQL else child
                    if new not in seen:
                        seen.add(new)
                        step.add(new)
                frontier = step
    ids = {*roots, *(n for edges in graphs.values() for key in edges for n in key)}
    rows = catalog._fetch(f"SELECT id, script, status, started_at FROM runs WHERE id IN {_IDS}",
                          [sorted(ids)]).tuples()
    nodes = {r[0]: LineageNode(r[0], r[1], r[2], r[3]) for r in rows}
    return {root: Lineage(
        root=root,
        nodes={n: nodes[n] for n in {root, *(n for key in edges for n in key)} if n in nodes},
        edges=tuple(LineageEdge(p, c, inf) for (p, c), inf in sorted(edges.items())
                    if p in nodes and c in nodes),
    ) for root, edges in graphs.items()}


def _walk(catalog: Catalog, sql: str, roots: Sequence[str], max_depth: int) -> Found:
    """The edges `sql` finds of every run within `max_depth` steps of `roots`, level by level."""
    found: Found = {}
    frontier = set(roots)
    for _ in range(max_depth):
        if not frontier:
            break
        for run_id in frontier:
            found[run_id] = []
        step = set()
        for parent, child, inferred in _edges(catalog, sql, frontier):
            run_id, new = (child, parent) if sql is _PARENTS_SQL else (parent, child)
            found[run_id].append((parent, child, inferred))
            step.add(new)
        frontier = step - found.keys()
    return found
