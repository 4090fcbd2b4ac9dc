"""Campaigns: runs grouped under a question and a hypothesis, kept as immutable event files.

    catalog/campaigns/<project>/<campaign id>/<UTC time in ns, 19 digits>-<kind>-<event id>.json

A campaign is nothing but its directory of events: `create` (question, hypothesis, mode),
`update` (any of those), `conclude` (outcome, note), `reopen`, `add` and `remove` (`runs`: ids).
Each is written once, atomically, under a name of its own and never edited, so any number of
writers (50 `bth run --campaign` jobs at once, two machines synced) never touch the same file.
The state is the fold of the events in name order (time order), the same on every machine that
holds the same files.

A run is a member when the latest add or remove that names it is an add. A run whose record says
`campaign_id` counts as added when it started (records written before add events existed, or a
run whose add event could not be written); a later remove takes it out all the same.

Reading never fails on a bad file: an event that does not parse is skipped with a warning (and
`Catalog.verify` names it). Nothing here opens DuckDB: `bth run --campaign` checks the campaign
with a directory listing and the few files whose names say they are no add or remove (an event
whose name and content differ in kind is skipped by every reader), so its cost does not grow
with the campaign's runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.config import check_slug, unusable_catalog
from bathos.errors import (
    CampaignClosed,
    CampaignNotFound,
    ConfigError,
    ProvenanceError,
    RunNotFound,
    UnreadableFile,
)
from bathos.fsutil import atomic_write_bytes
from bathos.ids import is_run_id
from bathos.provenance.host import author
from bathos.timespec import iso_utc, parse_iso_utc

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog
    from bathos.catalog.rows import Rows
    from bathos.review import CampaignReview

log = logging.getLogger("bathos.campaigns")

EVENT_SCHEMA = 1
KINDS = ("create", "update", "conclude", "reopen", "add", "remove")
MODES = ("exploration", "confirmation")
# The kinds that decide a campaign's fields and status (not its members).
STATE_KINDS = ("create", "update", "conclude", "reopen")
STATUSES = ("open", "concluded")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # campaign ids and event ids
EVENT_NAME = re.compile(rf"^(\d{{19}})-({'|'.join(KINDS)})-([a-z0-9][a-z0-9_-]{{0,63}})\.json$")
MAX_EVENT_BYTES = 1 << 20
# Runs one add or remove event names; more are written as several events.
MAX_RUNS_PER_EVENT = 10_000
_TEXT_FIELDS = ("question", "hypothesis", "note", "outcome")
_MAX_TEXT = 10_000


@attrs.frozen
class Campaign:
    """A campaign's state, the fold of its events: `status` is open or concluded, `mode`
    exploration or confirmation; `run_ids` are its members, in the order they joined."""

    id: str
    project: str
    question: str | None
    hypothesis: str
    mode: str
    status: str
    outcome: str | None
    note: str | None
    created_at: dt.datetime
    concluded_at: dt.datetime | None
    run_ids: tuple[str, ...]

    @property
    def is_open(self) -> bool:
        """Whether it takes runs (not concluded)."""
        return self.status == "open"


@attrs.frozen
class Event:
    """One event file as read: its `name` orders it; `fields` are its kind's own."""

    name: str
    kind: str
    campaign: str
    project: str
    time: dt.datetime
    by: str
    fields: Mapping[str, Any]


# paths ---------------------------------------------------------------------------------------
def campaigns_root(catalog: Path) -> Path:
    return catalog / "campaigns"


def check_id(campaign_id: str) -> str:
    """A campaign id is a slug: lower-case letters, digits, `_` and `-`, at most 64."""
    if not isinstance(campaign_id, str) or not ID_PATTERN.match(campaign_id):
        raise ConfigError(f"invalid campaign id {campaign_id!r} (use lower-case letters, digits, "
                          "'_' and '-', at most 64, e.g. lr-sweep)")
    return campaign_id


def campaign_dirs(catalog: Path, campaign_id: str | None = None) -> list[Path]:
    """The directories of campaign `campaign_id` (of every campaign when None), in every project,
    sorted; a campaign lives in one, but two machines may have created the same id."""
    root = campaigns_root(catalog)
    try:
        projects = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise unusable_catalog(catalog, exc, "read") from None
    found: list[Path] = []
    for project in projects:
        if project.name.startswith(".") or not project.is_dir():
            continue
        if campaign_id is not None:
            found += [p] if (p := Path(project.path) / campaign_id).is_dir() else []
            continue
        try:
            with os.scandir(project.path) as entries:
                found += sorted(Path(e.path) for e in entries
                                if e.is_dir() and not e.name.startswith("."))
        except OSError as exc:
            log.warning("skipping the campaigns of %s: cannot be read (%s)", project.path,
                        exc.strerror)
    return found


# writing ---------------------------------------------------------------------------------------
def append_event(root: Path, project: str, campaign: str, kind: str, *,
                 time: dt.datetime | None = None, event_id: str | None = None,
                 by: str | None = None, **fields: Any) -> Path:
    """Write one event of campaign `campaign` (of `project`) in the catalog `root`, and return
    its path. `time` defaults to now; `event_id` to a random one. With an explicit `event_id`
    (an importer's), writing an event whose id the campaign already holds does nothing, so an
    import run twice writes nothing twice. ConfigError for an event readers would not take."""
    check_id(campaign)
    check_slug(project)
    if event_id is not None and not ID_PATTERN.match(event_id):
        raise ConfigError(f"invalid event id {event_id!r} (use lower-case letters, digits, '_' "
                          "and '-', at most 64)")
    when = dt.datetime.now(dt.UTC) if time is None else time
    data = {"schema": EVENT_SCHEMA, "kind": kind, "campaign": campaign, "project": project,
            "time": iso_utc(when), "by": by or author(), **fields}
    wrong = event_problem(data)
    if wrong:
        raise ConfigError(f"campaign {campaign}: not a valid {kind} event: {wrong}")
    directory = campaigns_root(root) / project / campaign
    held = _held_event(directory, event_id) if event_id is not None else None
    if held is not None:
        return held
    name = f"{_stamp(when)}-{kind}-{event_id or os.urandom(8).hex()}.json"
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) > MAX_EVENT_BYTES:
        raise ConfigError(f"campaign {campaign}: a {kind} event of {len(encoded)} bytes is "
                          f"larger than readers take ({MAX_EVENT_BYTES})")
    path = directory / name
    atomic_write_bytes(path, encoded)
    return path


def _stamp(when: dt.datetime) -> str:
    """The 19 digits of a time in ns since the epoch (UTC), which order event names."""
    ns = _ns(when)
    if not 10**18 <= ns < 10**19:
        raise ConfigError(f"event time {iso_utc(when)} is outside 2001-2286")
    return f"{ns:019d}"


def _ns(when: dt.datetime) -> int:
    delta = when.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return delta // dt.timedelta(microseconds=1) * 1000


def _held_event(directory: Path, event_id: str) -> Path | None:
    """The event file of id `event_id` in `directory`, if there is one."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return None
    return next((directory / n for n in names
                 if (m := EVENT_NAME.match(n)) and m.group(3) == event_id), None)


# reading ---------------------------------------------------------------------------------------
def event_problem(data: Any) -> str | None:
    """What makes `data` no valid event (None if it is one): the check writers and readers share."""
    if not isinstance(data, dict):
        return "not a JSON object"
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        return "no schema number"
    if schema > EVENT_SCHEMA:
        return f"schema {schema}, newer than this bathos understands (upgrade bathos)"
    kind = data.get("kind")
    if kind not in KINDS:
        return f"kind {kind!r} is not one of {', '.join(KINDS)}"
    for key in ("campaign", "project", "time", "by"):
        if not isinstance(data.get(key), str):
            return f"{key} is not text"
    try:
        parse_iso_utc(data["time"])
    except ValueError:
        return f"time {data['time']!r} is not an ISO-8601 time"
    return _fields_problem(kind, data)


def _fields_problem(kind: str, data: dict[str, Any]) -> str | None:
    for key in _TEXT_FIELDS:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
            return f"{key} is not text of at most {_MAX_TEXT} characters"
    if kind == "create" and not (data.get("hypothesis") or "").strip():
        return "no hypothesis"
    if kind in ("create", "update") and data.get("mode", "exploration") not in MODES:
        return f"mode {data.get('mode')!r} is not one of {', '.join(MODES)}"
    if kind == "conclude" and not (data.get("outcome") or "").strip():
        return "no outcome"
    if kind in ("add", "remove"):
        runs = data.get("runs")
        if not isinstance(runs, list) or not runs or len(runs) > MAX_RUNS_PER_EVENT:
            return f"runs is not a list of 1 to {MAX_RUNS_PER_EVENT} run ids"
        bad = next((r for r in runs if not isinstance(r, str) or not is_run_id(r)), None)
        if bad is not None:
            return f"{bad!r} is not a run id"
    return None


def read_event(path: Path) -> Event:
    """The event in `path`; UnreadableFile when its name, size or content is not an event of
    the campaign directory it lies in."""
    try:  # not through a link, and never blocking on a FIFO put in its place
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnreadableFile(path, "not a regular file")
            raw = fh.read(MAX_EVENT_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read ({exc.strerror})") from exc
    try:
        return parse_event(raw, path.parent.parent.name, path.parent.name, path.name)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc)) from None


def parse_event(raw: bytes, project: str, campaign: str, name: str) -> Event:
    """The event `raw` holds, to be the file `name` of `campaign` of `project`; ValueError
    saying why it is none (its name, its size, its JSON, or a kind its name does not say).
    What a reader checks of each file, and what sync checks before it copies one."""
    named = EVENT_NAME.match(name)
    if not named:
        raise ValueError("not a campaign event (its name is not <19-digit time>-<kind>-<id>"
                         ".json)")
    if len(raw) > MAX_EVENT_BYTES:
        raise ValueError(f"larger than a campaign event may be ({MAX_EVENT_BYTES} bytes)")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    wrong = event_problem(data)
    if wrong is None and (data["campaign"], data["project"]) != (campaign, project):
        wrong = (f"names campaign {data['campaign']!r} of project {data['project']!r}, not the "
                 "directory it lies in")
    elif wrong is None and data["kind"] != named.group(2):
        wrong = f"a {data['kind']} event named as a {named.group(2)} event"
    if wrong:
        raise ValueError(f"not a valid campaign event: {wrong}")
    common = {"schema", "kind", "campaign", "project", "time", "by"}
    return Event(name, data["kind"], data["campaign"], data["project"],
                 parse_iso_utc(data["time"]), data["by"],
                 {k: v for k, v in data.items() if k not in common})


def read_events(directory: Path, problems: list[UnreadableFile],
                kinds: Sequence[str] = KINDS) -> list[Event]:
    """The readable events of one campaign directory in name order (only those whose names
    say they are of `kinds`, when not all); the others are appended to `problems` (temporary
    files of writers still writing are no events and left alone)."""
    try:
        names = [n for n in os.listdir(directory) if not n.startswith(".")]
    except FileNotFoundError:
        return []
    except OSError as exc:
        problems.append(UnreadableFile(directory, f"cannot be read ({exc.strerror})"))
        return []
    if len(kinds) < len(KINDS):  # the kind follows the 19 digits and a dash
        prefixes = tuple(f"{kind}-" for kind in kinds)
        names = [n for n in names if n.startswith(prefixes, 20)
                 and (m := EVENT_NAME.match(n)) and m.group(2) in kinds]
    events = []
    for name in sorted(names):
        try:
            events.append(read_event(directory / name))
        except FileNotFoundError:
            continue
        except UnreadableFile as exc:
            problems.append(exc)
    return events


def check_files(catalog: Path) -> tuple[list[UnreadableFile], int]:
    """Every campaign event file that readers skip, and how many files were looked at."""
    problems: list[UnreadableFile] = []
    checked = 0
    for directory in campaign_dirs(catalog):
        checked += len(read_events(directory, problems))
    return problems, checked + len(problems)


# the fold --------------------------------------------------------------------------------------
def members(events: Sequence[Event],
            recorded: Iterable[tuple[str, dt.datetime]] = ()) -> dict[str, dt.datetime]:
    """The members (run id → when it joined), in the order they joined: for each run, the latest
    add or remove wins; a run `recorded` as the campaign's (id, start time) counts as added when
    it started. A run added again while a member keeps its first time."""
    changes = [(e.name, e.kind == "add", run, e.time)
               for e in events if e.kind in ("add", "remove") for run in e.fields["runs"]]
    # a record's start sorts before any event of the same ns; one outside 2001-2286 at an end
    changes += [(f"{min(max(_ns(started), 0), 10**19 - 1):019d}-", True, run, started)
                for run, started in recorded]
    joined: dict[str, dt.datetime] = {}
    for _, added, run, when in sorted(changes, key=lambda change: change[0]):
        if not added:
            joined.pop(run, None)
        elif run not in joined:
            joined[run] = when
    return joined


def fold(events: Sequence[Event],
         recorded: Iterable[tuple[str, dt.datetime]] = ()) -> Campaign | None:
    """The campaign `events` (one campaign's, in name order) describe, None without a create
    event; `recorded` as `members` takes it. A second create (the same id created on two
    machines) is ignored."""
    created = next((e for e in events if e.kind == "create"), None)
    if created is None:
        return None
    state: dict[str, Any] = {
        "question": created.fields.get("question"), "hypothesis": created.fields["hypothesis"],
        "mode": created.fields.get("mode") or "exploration", "status": "open", "outcome": None,
        "note": None, "concluded_at": None}
    for event in events:
        if event.kind == "update":
            state.update({k: event.fields[k] for k in ("question", "hypothesis", "mode")
                          if k in event.fields})
        elif event.kind == "conclude":
            state.update(status="concluded", outcome=event.fields["outcome"],
                         note=event.fields.get("note"), concluded_at=event.time)
        elif event.kind == "reopen":
            state.update(status="open", outcome=None, note=None, concluded_at=None)
    return Campaign(id=created.campaign, project=created.project, created_at=created.time,
                    run_ids=tuple(members(events, recorded)), **state)


def load(catalog: Path, campaign_id: str, problems: list[UnreadableFile] | None = None, *,
         kinds: Sequence[str] = KINDS) -> tuple[list[Event], Campaign]:
    """The events of campaign `campaign_id` (those of `kinds`) and its state without the
    members its runs' records name (see `fold`); CampaignNotFound if no directory holds its
    create event. Bad files are warned about (or appended to `problems`)."""
    check_id(campaign_id)
    bad: list[UnreadableFile] = [] if problems is None else problems
    found = []
    for directory in campaign_dirs(catalog, campaign_id):
        events = read_events(directory, bad, kinds)
        campaign = fold(events)
        if campaign is not None:
            found.append((events[0].name if events else "", events, campaign))
    if problems is None:
        _warn(bad)
    if not found:
        raise CampaignNotFound(campaign_id, str(catalog))
    _, events, campaign = min(found, key=lambda f: (f[2].created_at, f[0]))
    return events, campaign


def load_all(catalog: Path, recorded: Mapping[str, Sequence[tuple[str, dt.datetime]]],
             problems: list[UnreadableFile]) -> list[tuple[Campaign, dict[str, dt.datetime]]]:
    """Every campaign of the catalog with its members (run id → joined), newest first;
    `recorded` maps a campaign id to its runs' (id, start) as their records name it."""
    by_id: dict[str, tuple[Campaign, dict[str, dt.datetime]]] = {}
    for directory in campaign_dirs(catalog):
        events = read_events(directory, problems)
        runs = recorded.get(directory.name, ())
        campaign = fold(events, runs)
        if campaign is None:
            continue
        held = by_id.get(campaign.id)
        if held is None or campaign.created_at < held[0].created_at:
            by_id[campaign.id] = (campaign, members(events, runs))
    return sorted(by_id.values(), key=lambda c: (c[0].created_at, c[0].id), reverse=True)


def _warn(problems: list[UnreadableFile]) -> None:
    from bathos.catalog.store import warn_skipped

    for problem in problems:
        warn_skipped(problem)


def check_open(catalog: Path, campaign_id: str, what: str = "it takes no new runs") -> str:
    """The project of campaign `campaign_id` if it is open: else CampaignNotFound, or
    CampaignClosed (saying `what` it refuses). What `bth run --campaign` checks before it
    starts: no DuckDB, and only the events that decide the status are read."""
    _, campaign = load(catalog, campaign_id, kinds=STATE_KINDS)
    if not campaign.is_open:
        raise CampaignClosed(campaign_id, what)
    return campaign.project


def create(catalog: Path, campaign_id: str, *, project: str, hypothesis: str,
           question: str | None = None, mode: str = "exploration") -> Campaign:
    """Create campaign `campaign_id`: ConfigError if the id is taken (in any project) or a
    field is not valid."""
    check_id(campaign_id)
    try:
        _, held = load(catalog, campaign_id, kinds=STATE_KINDS)
    except CampaignNotFound:
        pass
    else:
        raise ConfigError(f"campaign {campaign_id} exists already (project {held.project}): "
                          "choose another id")
    append_event(catalog, project, campaign_id, "create", hypothesis=hypothesis,
                 question=question, mode=mode)
    return load(catalog, campaign_id)[1]


# the handle ------------------------------------------------------------------------------------
class CampaignHandle:
    """One campaign of a catalog (`Catalog.campaign(id)`): read its state and members, change
    them. Every call reads the campaign afresh, so parallel writers' events are seen.

    >>> c = cat.campaign("lr-sweep")
    >>> c.info.status, len(c.info.run_ids)
    >>> c.add(["1jd3k"]); c.runs().to_polars()
    >>> c.conclude("supported", note="lr=0.1 wins on every seed")
    """

    def __init__(self, catalog: Catalog, campaign_id: str) -> None:
        self.catalog = catalog
        self.id = campaign_id
        self.project = load(catalog.path, campaign_id, kinds=STATE_KINDS)[1].project

    def __repr__(self) -> str:
        return f"CampaignHandle({self.id!r}, project={self.project!r})"

    @property
    def info(self) -> Campaign:
        """The campaign's state now, with every member (those its runs' records name too)."""
        events, _ = load(self.catalog.path, self.id)
        recorded = self.catalog._fetch("SELECT id, started_at FROM runs WHERE campaign_id = ?",
                                       [self.id]).tuples()
        folded = fold(events, _aware(recorded))
        assert folded is not None
        return folded

    def runs(self, *, flatten: bool = False) -> Rows:
        """The members' rows as `Catalog.runs` gives them, newest first (a member whose record
        this catalog does not hold is left out)."""
        from bathos.catalog.rows import LISTING_COLUMNS, OBJECT_COLUMNS, Rows

        events, _ = load(self.catalog.path, self.id)
        named = sorted({r for e in events if e.kind == "add" for r in e.fields["runs"]})
        found = self.catalog._fetch(
            f"SELECT {', '.join(LISTING_COLUMNS)} FROM runs WHERE campaign_id = ? OR "
            "list_contains(?, id) ORDER BY started_at DESC, id DESC", [self.id, named])
        at = {name: i for i, name in enumerate(found.columns)}
        joined = members(events, _aware((row[at["id"]], row[at["started_at"]])
                                        for row in found.tuples()
                                        if row[at["campaign_id"]] == self.id))
        rows = Rows(found.columns, found.types,
                    [row for row in found.tuples() if row[at["id"]] in joined],
                    objects=OBJECT_COLUMNS)
        return rows.flattened() if flatten else rows

    def add(self, run_ids: Sequence[str] = (), *, where: str | None = None) -> tuple[str, ...]:
        """Add runs (ids or unique prefixes), and with `where` every run of the campaign's
        project that this SQL condition on the `runs` view picks; the ids added. CampaignClosed
        once concluded; ConfigError when no run is given or picked."""
        self._check_open("it takes no new runs")
        picked = self._resolved(run_ids)
        if where is not None:
            picked += [row[0] for row in self.catalog.sql(
                f"SELECT id FROM runs WHERE project = ? AND ({where}) ORDER BY started_at, id",
                [self.project]).tuples()]
        if not picked:
            raise ConfigError(f"no run to add to campaign {self.id}" + (
                f": no run of project {self.project} matches {where!r}" if where else ""))
        return self._write("add", list(dict.fromkeys(picked)))

    def _resolved(self, run_ids: Sequence[str]) -> list[str]:
        """The full ids of runs given by id or prefix: whole ids in one query, prefixes one by
        one (RunNotFound, AmbiguousRunId)."""
        given = [r.strip().lower() for r in run_ids]
        whole = sorted({r for r in given if is_run_id(r)})
        known = {row[0] for row in self.catalog._fetch(
            "SELECT DISTINCT id FROM runs WHERE list_contains(?, id)", [whole]).tuples()
                 } if whole else set()
        missing = next((r for r in whole if r not in known), None)
        if missing is not None:
            raise RunNotFound(missing, str(self.catalog.path))
        return [r if r in known else self.catalog.resolve(r) for r in given]

    def remove(self, run_ids: Sequence[str]) -> tuple[str, ...]:
        """Take runs (member ids or unique prefixes of them) out; the ids removed. ConfigError
        for a run that is no member; CampaignClosed once concluded."""
        self._check_open("its runs cannot change")
        current = self.info.run_ids
        picked = []
        for given in run_ids:
            matches = [r for r in current if r.startswith(given.strip().lower())]
            if len(matches) != 1 or len(given.strip()) < 4:
                raise ConfigError(f"{given!r} is not the id (or a unique prefix of at least 4 "
                                  f"characters) of a run of campaign {self.id}")
            picked.append(matches[0])
        if not picked:
            raise ConfigError(f"no run to remove from campaign {self.id}")
        return self._write("remove", list(dict.fromkeys(picked)))

    def conclude(self, outcome: str, note: str | None = None) -> Campaign:
        """Conclude the campaign with an `outcome` label (and a `note`): it takes no new runs
        until reopened. CampaignClosed if it is concluded already."""
        self._check_open("it takes no other outcome")
        append_event(self.catalog.path, self.project, self.id, "conclude",
                     outcome=outcome.strip(), note=note)
        return self.info

    def reopen(self) -> Campaign:
        """Open a concluded campaign again (its outcome and note are cleared; its events keep
        them). ConfigError if it is open."""
        if load(self.catalog.path, self.id, kinds=STATE_KINDS)[1].is_open:
            raise ConfigError(f"campaign {self.id} is open already")
        append_event(self.catalog.path, self.project, self.id, "reopen")
        return self.info

    def review(self, by: str | None = None, baseline: str | None = None, fdr: bool = False,
               metrics: Sequence[str] | None = None, *, lower_is_better: Sequence[str] = (),
               higher_is_better: Sequence[str] = ()) -> CampaignReview:
        """The campaign's statistics as polars frames (`bathos.review` says how each number is
        computed): per arm and metric, each arm against the baseline (Holm-adjusted, or
        Benjamini–Hochberg with `fdr`), anomalies, sidecar outcomes and verdict lines.

        >>> r = cat.campaign("lr-sweep").review(by="param:lr", baseline="0.01")
        >>> r.verdicts["line"].to_list(); r.comparisons; r.anomalies; r.plot("review.png")

        Arms are `by` a param (`param:NAME`), the `tag`s not every member has, or the `script`
        (default: the one param that varies, seeds aside); `baseline` is an arm's label or value
        (default: the arm `baseline`, else the first). A metric's direction comes from its name
        (`loss` lower, `acc` higher) unless `lower_is_better` or `higher_is_better` names it."""
        from bathos.review import review_runs

        rows = self.runs()
        if not rows:
            raise ConfigError(f"campaign {self.id} has no runs to review yet")
        ids = [row[0] for row in rows.tuples()]
        extra = self.catalog.sql(
            "SELECT id, dependencies, json_extract_string(record, "
            "'$.environment.packages_fingerprint') AS packages FROM runs "
            "WHERE list_contains(?, id)", [ids]).to_polars()
        last = self.catalog.sql(
            "SELECT run_id, key, max(step) AS step, arg_max(value, step) AS value FROM metrics "
            "WHERE list_contains(?, run_id) GROUP BY run_id, key", [ids]).to_polars()
        try:
            freshness = self.catalog.check(ids).to_polars()
        except (ConfigError, ProvenanceError) as exc:  # e.g. a repository not on this machine
            log.warning("campaign %s: its review leaves out which runs are stale: %s",
                        self.id, exc)
            freshness = None
        return review_runs(rows.to_polars().join(extra, on="id", how="left"),
                           final_metrics=last, freshness=freshness, by=by, baseline=baseline,
                           fdr=fdr, metrics=metrics, lower_is_better=lower_is_better,
                           higher_is_better=higher_is_better)

    def _check_open(self, what: str) -> None:
        check_open(self.catalog.path, self.id, what)

    def _write(self, kind: str, run_ids: list[str]) -> tuple[str, ...]:
        for start in range(0, len(run_ids), MAX_RUNS_PER_EVENT):
            append_event(self.catalog.path, self.project, self.id, kind,
                         runs=run_ids[start:start + MAX_RUNS_PER_EVENT])
        return tuple(run_ids)


def _aware(rows: Iterable[tuple[Any, ...]]) -> list[tuple[str, dt.datetime]]:
    """(id, start) pairs from the views (naive UTC times) as `members` takes them."""
    return [(str(run), started.replace(tzinfo=dt.UTC)) for run, started in rows
            if started is not None]
