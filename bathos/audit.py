"""`sprint_audit`: how the runs of the last hours went in every registered project, and what
looks wrong.

Each registered project's catalog (its own when its `.bth.toml` names one) is read once, by one
query over the window; freshness is judged for the window's completed runs only; the sidecar of
each script that ran is read as it is today, to name the outcomes it defines that never fired.
The thresholds below are documented in docs/sidecars.md.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from bathos import config
from bathos.errors import BathosError, ConfigError

DEFAULT_HOURS = 168.0  # a week: a sprint's worth of runs
FAILURE_RATE_ABOVE = 0.20  # failed runs / runs
LOST_RATE_ABOVE = 0.05  # lost runs (killed without a trace) / runs
BYPASS_RATE_ABOVE = 0.25  # runs started with the sidecar bypassed / runs
ENTROPY_BELOW = 0.3  # normalised outcome entropy: nearly every run lands in one outcome
ENTROPY_MIN_RUNS = 5  # ... judged only with at least this many runs with an outcome
DIRTY_SHARE_ABOVE = 0.5  # runs on an uncommitted tree / runs
STALE_VERDICTS = ("stale", "stale-upstream")

_ROWS_SQL = """
SELECT project, status, dirty, agent_mode, script, outcome,
       record->'sidecar'->>'mode' AS sidecar_mode, record->'sidecar'->>'path' AS sidecar,
       record->'git'->>'repo_root' AS repo_root, record->>'cwd' AS cwd
FROM runs WHERE started_at >= ? AND list_contains(?, project)
"""


@attrs.frozen
class NeverFired:
    """Outcomes a script's sidecar defines (as it is today) that none of its runs reached."""

    script: str
    sidecar: str
    labels: tuple[str, ...]


@attrs.frozen
class ProjectAudit:
    """The window's runs of one project (or of all, `project="total"`): counts, the rates they
    give (None without runs), the outcome counts and their normalised entropy (0: every run in
    one outcome, 1: spread evenly; None without outcomes), the completed runs judged `checked`
    and how many of them are `stale` (`unjudged` says why none could be). `problem` says why a
    registered project could not be read.
    """

    project: str
    root: str | None = None
    catalog: str | None = None
    problem: str | None = None
    runs: int = 0
    failed: int = 0
    lost: int = 0
    bypassed: int = 0
    dirty: int = 0
    agent: int = 0
    autonomous: int = 0
    checked: int = 0
    stale: int = 0
    unjudged: str | None = None
    outcomes: dict[str, int] = attrs.field(factory=dict)
    entropy: float | None = None
    never_fired: tuple[NeverFired, ...] = ()
    failure_rate: float | None = None
    lost_rate: float | None = None
    bypass_rate: float | None = None
    dirty_share: float | None = None
    agent_share: float | None = None


@attrs.frozen
class AuditWarning:
    """A sign that something in a project's runs needs a look; `kind` is one of failures, lost,
    bypassed, entropy, dirty, stale, unjudged, never-fired, unreadable."""

    project: str
    kind: str
    message: str


@attrs.frozen
class SprintAudit:
    """What `sprint_audit` found: one ProjectAudit per registered project (by slug), their
    `total`, and the warnings (empty when all looks well)."""

    hours: float
    since: dt.datetime
    projects: tuple[ProjectAudit, ...]
    total: ProjectAudit
    warnings: tuple[AuditWarning, ...]

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        data = attrs.asdict(self)
        data["since"] = self.since.isoformat()
        return data


def sprint_audit(hours: float = DEFAULT_HOURS, *, now: dt.datetime | None = None) -> SprintAudit:
    """Audit the runs started in the last `hours` (before `now`, default the present) across
    every registered project; ConfigError unless `hours` is a positive number.

    >>> report = sprint_audit(24)
    >>> [(p.project, p.runs, p.failure_rate) for p in report.projects]
    >>> [w.message for w in report.warnings]
    """
    from bathos.projects import read_registry

    if not (isinstance(hours, int | float) and math.isfinite(hours) and hours > 0):
        raise ConfigError(f"hours must be a positive number, not {hours!r}")
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(hours=hours)
    registry = read_registry()
    places = [_place(slug, root) for slug, root in sorted(registry.items())]
    rows: dict[str, list[dict[str, Any]]] = {}
    for catalog, slugs in _by_catalog(places).items():
        try:
            rows |= _rows(catalog, slugs, since)
        except BathosError as exc:
            places = [attrs.evolve(p, problem=f"its catalog cannot be read: {exc}")
                      if p.project in slugs else p for p in places]
    audits = tuple(p if p.problem else _audit(p, rows.get(p.project, []), since, registry)
                   for p in places)
    total = _summary(_total(audits), "total")
    warnings = tuple(w for audit in audits for w in _warnings(audit))
    return SprintAudit(hours=float(hours), since=since, projects=audits, total=total,
                       warnings=warnings)


def _place(slug: str, root: Path) -> ProjectAudit:
    """A registered project with its catalog, or with the problem that keeps it from being read."""
    where = ProjectAudit(project=slug, root=str(root))
    if not root.is_dir():
        return attrs.evolve(where, problem=f"its directory {root} is gone")
    try:
        project = config.load_project(root / config.PROJECT_FILE)
    except ConfigError as exc:
        return attrs.evolve(where, problem=str(exc))
    catalog = config.catalog_dir(project).resolve()
    where = attrs.evolve(where, catalog=str(catalog))
    if not catalog.is_dir():
        return attrs.evolve(where, problem=f"its catalog {catalog} is gone")
    return where


def _by_catalog(places: Iterable[ProjectAudit]) -> dict[Path, list[str]]:
    """Catalog -> the slugs read from it, so each catalog is queried once."""
    found: dict[Path, list[str]] = {}
    for place in places:
        if not place.problem and place.catalog:
            found.setdefault(Path(place.catalog), []).append(place.project)
    return found


def _rows(catalog: Path, slugs: list[str], since: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    from bathos.catalog.catalog import Catalog
    from bathos.query import naive_utc

    found: dict[str, list[dict[str, Any]]] = {slug: [] for slug in slugs}
    for row in Catalog(catalog).sql(_ROWS_SQL, [naive_utc(since), slugs]):
        found[row["project"]].append(row)
    return found


def _audit(place: ProjectAudit, rows: list[dict[str, Any]], since: dt.datetime,
           registry: dict[str, Path]) -> ProjectAudit:
    checked, stale, unjudged = _freshness(place, since) if rows else (0, 0, None)
    return _summary(attrs.evolve(place, **_counts(rows), checked=checked, stale=stale,
                                 unjudged=unjudged, never_fired=_never_fired(rows, registry)),
                    place.project)


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the window's rows of one project add up to."""
    statuses = Counter(row["status"] for row in rows)
    outcomes = Counter(row["outcome"] for row in rows if row["outcome"] is not None)
    return {
        "runs": len(rows), "failed": statuses["failed"], "lost": statuses["lost"],
        "bypassed": sum(row["sidecar_mode"] == "bypassed" for row in rows),
        "dirty": sum(bool(row["dirty"]) for row in rows),
        "agent": sum(row["agent_mode"] is not None for row in rows),
        "autonomous": sum(row["agent_mode"] == "autonomous" for row in rows),
        "outcomes": dict(outcomes.most_common()),
    }


def _freshness(place: ProjectAudit, since: dt.datetime) -> tuple[int, int, str | None]:
    """How many of the window's completed runs were judged and how many are stale, or why they
    could not be judged."""
    from bathos.catalog.catalog import Catalog

    assert place.catalog is not None
    try:
        report = Catalog(place.catalog).check(project=place.project, since=since)
    except BathosError as exc:
        return 0, 0, str(exc)
    counts = report.counts()
    return len(report.verdicts), sum(counts.get(v, 0) for v in STALE_VERDICTS), None


def _never_fired(rows: list[dict[str, Any]], registry: dict[str, Path]) -> tuple[NeverFired, ...]:
    """Per script that ran with a sidecar: the outcomes its sidecar defines today that none of
    its runs in the window reached. A sidecar that is gone or invalid today is skipped: lint
    reports those."""
    from bathos.checker import locate_root

    fired: dict[tuple[str, str], set[str]] = {}
    roots: dict[tuple[str, str], str | None] = {}
    for row in rows:
        if row["sidecar"] is None or row["script"] is None:
            continue
        key = (row["script"], row["sidecar"])
        fired.setdefault(key, set()).update([row["outcome"]] if row["outcome"] else [])
        if key not in roots:
            try:
                roots[key] = locate_root(row["repo_root"] or row["cwd"], row["project"],
                                         row["repo_root"] is not None, registry)
            except ConfigError:
                roots[key] = None
    if not fired:
        return ()
    from bathos.sidecar import load_sidecar

    never = []
    for (script, sidecar), labels in sorted(fired.items()):
        root = roots[(script, sidecar)]
        try:
            spec = load_sidecar(Path(root or "") / sidecar)
        except (BathosError, OSError):
            continue
        missing = tuple(o.label for o in spec.outcomes
                        if not o.is_residual and o.label not in labels)
        if missing:
            never.append(NeverFired(script, sidecar, missing))
    return tuple(never)


def _rate(count: int, runs: int) -> float | None:
    return count / runs if runs else None


def _entropy(counts: Iterable[int], labels: int) -> float | None:
    """Shannon entropy of outcome counts over `labels` possible outcomes, normalised to 0 to 1
    (None without outcomes; 0 when one outcome is all there could be or all there is)."""
    counts = [c for c in counts if c]
    total = sum(counts)
    if not total:
        return None
    if labels <= 1:
        return 0.0
    h = sum(c / total * math.log(total / c) for c in counts)
    return h / math.log(labels)


def _summary(audit: ProjectAudit, project: str) -> ProjectAudit:
    """`audit` with its rates and entropy derived from its counts. The outcomes that could occur
    are those seen and those the sidecars define that never fired."""
    possible = set(audit.outcomes) | {label for n in audit.never_fired for label in n.labels}
    runs = audit.runs
    return attrs.evolve(
        audit, project=project, entropy=_entropy(audit.outcomes.values(), len(possible)),
        failure_rate=_rate(audit.failed, runs), lost_rate=_rate(audit.lost, runs),
        bypass_rate=_rate(audit.bypassed, runs), dirty_share=_rate(audit.dirty, runs),
        agent_share=_rate(audit.agent, runs),
    )


def _total(audits: Iterable[ProjectAudit]) -> ProjectAudit:
    total = ProjectAudit(project="total")
    for audit in audits:
        total = attrs.evolve(total, **{
            name: getattr(total, name) + getattr(audit, name)
            for name in ("runs", "failed", "lost", "bypassed", "dirty", "agent", "autonomous",
                         "checked", "stale")
        }, outcomes=dict((Counter(total.outcomes) + Counter(audit.outcomes)).most_common()),
            never_fired=total.never_fired + audit.never_fired)
    return total


def _warnings(audit: ProjectAudit) -> Iterable[AuditWarning]:
    """The warnings one project's audit earns, each at its documented threshold."""
    def warn(kind: str, message: str) -> AuditWarning:
        return AuditWarning(audit.project, kind, message)

    if audit.problem:
        yield warn("unreadable", f"registered but not read: {audit.problem}")
        return
    for kind, rate, limit, what in (
        ("failures", audit.failure_rate, FAILURE_RATE_ABOVE, "failed"),
        ("lost", audit.lost_rate, LOST_RATE_ABOVE, "lost"),
        ("bypassed", audit.bypass_rate, BYPASS_RATE_ABOVE, "bypassed their sidecar"),
        ("dirty", audit.dirty_share, DIRTY_SHARE_ABOVE, "ran on an uncommitted tree"),
    ):
        if rate is not None and rate > limit:
            yield warn(kind, f"{rate:.0%} of runs {what} (above {limit:.0%})")
    judged = sum(audit.outcomes.values())
    if audit.entropy is not None and judged >= ENTROPY_MIN_RUNS and audit.entropy < ENTROPY_BELOW:
        top, n = max(audit.outcomes.items(), key=lambda item: item[1])
        yield warn("entropy", f"{n} of {judged} outcomes are {top!r} (entropy "
                   f"{audit.entropy:.2f}, below {ENTROPY_BELOW}): do the outcomes tell runs apart?")
    if audit.unjudged:
        yield warn("unjudged", f"freshness could not be judged: {audit.unjudged}")
    if audit.stale:
        yield warn("stale", f"{audit.stale} of {audit.checked} completed runs are stale")
    for never in audit.never_fired:
        yield warn("never-fired", f"{never.script}: outcome{'s' * (len(never.labels) > 1)} "
                   f"{', '.join(never.labels)} never fired")
