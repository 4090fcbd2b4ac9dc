"""Catalogs of the older bathos (0.x), read so that its users keep their history.

That bathos wrote one single-row Parquet file per run, at its start (status running) and again at
its end: `catalog/runs/run_<uuid>.parquet` before 0.4, `catalog/runs/<slug>/run_<uuid>.parquet`
since; and, optionally, a DuckDB file `catalog/bathos.db` with tables `runs`, `campaigns` and
`campaign_runs` (its campaigns live only there). Each row carries its `schema_version` (0 to 15);
older versions lack fields.

`to_record` maps a row onto a run record of this bathos: each field that has a place here goes
there (`killed` reads as interrupted, `abandoned` as lost), a value the row marks unknown (exit code
-1, `git_dirty` "unknown", an empty host name) stays unknown, and every field without a place is
kept under its own name in the record's `extra`. The run keeps its id, so `parent_run_id` and
campaign links hold, and `imported` names the file it came from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import math
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from bathos.catalog import segments
from bathos.catalog.schema import Record, problem
from bathos.config import SLUG_RE
from bathos.errors import ConfigError, UnreadableFile
from bathos.ids import is_run_id
from bathos.models import SCHEMA_VERSION, utcnow
from bathos.provenance.params import parse_params
from bathos.timespec import as_utc, iso_utc, parse_iso_utc

TOOL = "bathos 0.x"
DATABASE = "bathos.db"
ID_LENGTH = 36  # a UUID, as the older bathos named runs
_STATUSES = {"running": "running", "completed": "completed", "failed": "failed",
             "killed": "interrupted", "abandoned": "lost"}
_SIDECAR_MODES = {"declared": "recorded", "bypassed": "bypassed"}
_AGENT_MODES = ("collaborative", "autonomous")
# Fields `to_record` gives a place; any other field of a row goes to `extra`.
_MAPPED = frozenset({
    "id", "project_slug", "argv", "script_sha256", "git_hash", "git_branch", "git_dirty",
    "timestamp", "duration_s", "exit_code", "hostname", "slurm_job_id", "slurm_array_task_id",
    "status", "output_paths", "output_metadata", "tags", "metadata", "outcome", "sidecar_sha256",
    "sidecar_path", "sidecar_mode", "agent_mode", "parent_run_id", "campaign_id",
    "dependency_lock_sha256", "schema_version",
})


@attrs.frozen
class Sources:
    """What a legacy catalog holds: its run files and its database (None when it has none)."""

    root: Path
    files: tuple[Path, ...]
    database: Path | None


def find_sources(path: Path) -> Sources | None:
    """The legacy catalog at `path` (its catalog directory, the `runs/` in it, or the `~/.bth`
    above it), or None when there is none there."""
    for root in (path, path / "catalog", path.parent if path.name == "runs" else None):
        if root is None or (not (root / "runs").is_dir() and not (root / DATABASE).is_file()):
            continue
        runs = root / "runs"
        files = [*runs.glob("run_*.parquet"), *runs.glob("*/run_*.parquet")] if runs.is_dir() \
            else []
        database = root / DATABASE
        found = sorted(f for f in files if segments.is_legacy_file(f.name) and f.is_file())
        if found or database.is_file():
            return Sources(root, tuple(found), database if database.is_file() else None)
    return None


def read_file(path: Path) -> dict[str, Any]:
    """The one row of a legacy run file; UnreadableFile if it is not one. (pyarrow reads such a
    small file in a third of the time DuckDB takes: benchmarks/bench_migrate.py.)"""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFile(path, f"not a readable Parquet file ({str(exc).splitlines()[0]})"
                             ) from exc
    if len(rows) != 1:
        raise UnreadableFile(path, f"holds {len(rows)} rows, not the one row of a run")
    return rows[0]


@attrs.frozen
class Database:
    """The tables of a legacy `bathos.db`, each a list of rows (an absent table: no rows)."""

    runs: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]
    campaign_runs: list[dict[str, Any]]


def read_database(path: Path) -> Database:
    """The tables of a legacy `bathos.db`, opened read-only; UnreadableFile when it cannot be
    opened (not a DuckDB file, or held open for writing by the older bathos)."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise UnreadableFile(path, f"cannot be opened as a DuckDB database "
                             f"({str(exc).splitlines()[0]})") from exc
    try:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        tables = {}
        for name in ("runs", "campaigns", "campaign_runs"):
            relation = con.execute(f"SELECT * FROM {name}") if name in present else None
            columns = [d[0] for d in relation.description or ()] if relation else []
            tables[name] = [dict(zip(columns, row, strict=True))
                            for row in (relation.fetchall() if relation else [])]
    except duckdb.Error as exc:
        raise UnreadableFile(path, f"cannot be read ({str(exc).splitlines()[0]})") from exc
    finally:
        con.close()
    return Database(**tables)


def to_record(row: dict[str, Any], source: Path, imported_at: dt.datetime) -> Record:
    """A run record of this bathos from a legacy row read from `source`; UnreadableFile when the
    row has no run id or start time, or maps to no well-formed record."""
    run_id = str(row.get("id") or "").strip().lower()
    started = _time(row.get("timestamp"))
    if not is_run_id(run_id):
        raise UnreadableFile(source, f"has no run id (id is {row.get('id')!r})")
    if started is None:
        raise UnreadableFile(source, f"run {run_id} has no start time")
    extra = {k: _plain(v) for k, v in row.items() if k not in _MAPPED and v is not None}
    status = _STATUSES.get(str(row.get("status") or "").lower())
    if status is None:  # a state this bathos has no name for: how the run ended is not known
        status, extra["status"] = "lost", _plain(row.get("status"))
    duration = _number(row.get("duration_s"))
    ended = (started + dt.timedelta(seconds=duration)
             if duration is not None and status != "running" else None)
    exit_code = row.get("exit_code")
    record: Record = {
        "id": run_id,
        "project": _project(row, source, extra),
        "started_at": iso_utc(started),
        "updated_at": iso_utc(ended or started),
        "status": status,
        "schema_version": SCHEMA_VERSION,
        "argv": (argv := _strings(row.get("argv"))),
        "params": parse_params(argv),
        "ended_at": iso_utc(ended) if ended else None,
        "duration_s": duration,
        "exit_code": exit_code if isinstance(exit_code, int) and exit_code != -1 else None,
        "tags": _strings(row.get("tags")),
        "results": _results(row.get("metadata"), extra),
        "parent_run_id": _run_link(row.get("parent_run_id")),
        "campaign_id": str(row["campaign_id"]) if row.get("campaign_id") else None,
        "imported": {"tool": TOOL, "source": str(source), "imported_at": iso_utc(imported_at),
                     "schema_version": _integer(row.get("schema_version"))},
    }
    record["script"] = _script(row.get("command"))
    if record["script"] and _hex(row.get("script_sha256")):
        record["dependencies"] = [{"path": record["script"], "role": "script",
                                   "sha256": _hex(row.get("script_sha256"))}]
    record.update(_git(row, run_id, extra), **_host_and_slurm(row))
    record.update(_outputs(row, extra), **_sidecar_and_outcome(row, extra))
    if _hex(row.get("dependency_lock_sha256")):
        record["environment"] = {"packages_fingerprint": _hex(row["dependency_lock_sha256"]),
                                 "packages_source": "lock file"}
    agent_mode = row.get("agent_mode")
    if agent_mode in _AGENT_MODES:
        record["agent_mode"] = agent_mode
    elif agent_mode:
        extra["agent_mode"] = _plain(agent_mode)
    record["extra"] = extra
    wrong = problem(record)
    if wrong:
        raise UnreadableFile(source, f"run {run_id} maps to no well-formed record: {wrong}")
    return record


def _project(row: dict[str, Any], source: Path, extra: dict[str, Any]) -> str:
    """The row's project slug; else that of the directory its file lies in, else `default`."""
    slug = str(row.get("project_slug") or "")
    if SLUG_RE.match(slug):
        return slug
    if slug:
        extra["project_slug"] = slug
    directory = source.parent.name
    return directory if source.parent.parent.name == "runs" and SLUG_RE.match(directory) \
        else "default"


def _script(command: Any) -> str | None:
    """The script a command line ran: its first `.py` word, else its first word."""
    try:
        words = shlex.split(str(command)) if command else []
    except ValueError:
        words = str(command).split()
    return next((w for w in words if w.endswith(".py")), words[0] if words else None)


def _git(row: dict[str, Any], run_id: str, extra: dict[str, Any]) -> Record:
    """The git part: commit and branch; dirty only when the row says so as a yes or no; the ref
    the older bathos pinned the code under (wip for a dirty tree, runs for a clean one)."""
    commit = str(row.get("git_hash") or "") or None
    dirty = _flag(row.get("git_dirty"))
    if dirty is None and row.get("git_dirty") is not None:
        extra["git_dirty"] = _plain(row["git_dirty"])
    if commit is None:
        return {}
    return {"git": {"repo_root": "", "commit": commit, "branch": row.get("git_branch") or None,
                    "dirty": bool(dirty),
                    "pinned_ref": f"refs/bathos/{'wip' if dirty else 'runs'}/{run_id}"}}


def _host_and_slurm(row: dict[str, Any]) -> Record:
    found: Record = {}
    if row.get("hostname"):  # the older bathos knew no user or pid: 0 means unknown
        found["host"] = {"hostname": str(row["hostname"]), "user": "", "pid": 0}
    if row.get("slurm_job_id"):
        task = row.get("slurm_array_task_id")
        found["slurm"] = {"job_id": str(row["slurm_job_id"]),
                          "array_task_id": None if task in (None, "") else str(task)}
    return found


def _outputs(row: dict[str, Any], extra: dict[str, Any]) -> Record:
    """Outputs: each file recorded present (with size, mtime and hash), and each path named
    without details; entries recorded missing or unreadable keep their place in `extra`."""
    details = [m for m in row.get("output_metadata") or () if isinstance(m, dict)]
    present = [m for m in details if m.get("status") in (None, "present") and m.get("path")]
    if len(present) < len(details):
        extra["output_metadata"] = _plain(details)
    outputs = [{"path": str(m["path"]), "size": _integer(m.get("size")),
                "sha256": _hex(m.get("sha256")), "mtime": _number(m.get("mtime"))}
               for m in present]
    described = {str(m.get("path")) for m in details}
    outputs += [{"path": p, "size": None, "sha256": None}
                for p in _strings(row.get("output_paths")) if p not in described]
    return {"outputs": outputs} if outputs else {}


def _sidecar_and_outcome(row: dict[str, Any], extra: dict[str, Any]) -> Record:
    found: Record = {}
    mode = row.get("sidecar_mode")
    if row.get("sidecar_path") or row.get("sidecar_sha256") or mode:
        found["sidecar"] = {"path": row.get("sidecar_path") or None,
                            "sha256": _hex(row.get("sidecar_sha256")),
                            "mode": _SIDECAR_MODES.get(str(mode), "recorded")}
        if mode and mode not in _SIDECAR_MODES:
            extra["sidecar_mode"] = _plain(mode)
    if row.get("outcome"):
        found["outcome"] = {"label": str(row["outcome"])}
    return found


def _results(value: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """The row's `metadata` (its results), a JSON object or its text; anything else to extra."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value) if value.strip() else {}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is not None:
        extra["metadata"] = _plain(value)
    return {}


def _strings(value: Any) -> list[str]:
    """A list of strings from a list, or from its JSON text or comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [
                t.strip() for t in text.split(",") if t.strip()]
        except ValueError:
            value = [text]
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _run_link(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    return text or None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())


def _hex(value: Any) -> str | None:
    """A hash tagged with its algorithm (`sha256:…`); None for none."""
    text = str(value or "").strip().lower()
    if not text:
        return None
    return text if ":" in text else f"sha256:{text}"


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return as_utc(value)
    try:
        return parse_iso_utc(str(value)) if value else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plain(value: Any) -> Any:
    """A value read from Parquet or DuckDB as JSON data (times as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # Decimal, UUID …


def rows_of(sources: Sources,
            bad: list[UnreadableFile]) -> Iterator[tuple[Path, dict[str, Any], float]]:
    """Each run file's row and modification time (unreadable files appended to `bad`)."""
    for path in sources.files:
        try:
            yield path, read_file(path), path.stat().st_mtime
        except FileNotFoundError:
            continue
        except UnreadableFile as exc:
            bad.append(exc)


@attrs.frozen
class ImportReport:
    """What an import of a legacy catalog did (or, in a dry run, would do): runs written (new
    here, or newer there), runs already here as they are, the legacy schema versions of the rows
    read (version -> rows), campaigns written, and the files skipped as unreadable."""

    source: Path
    imported: int = 0
    unchanged: int = 0
    versions: dict[int, int] = attrs.field(factory=dict)
    campaigns: int = 0
    skipped: tuple[UnreadableFile, ...] = ()
    dry_run: bool = False


Progress = Callable[[int, int], None]


def import_runs(catalog: Path, sources: Sources, held: dict[str, dt.datetime], *,
                dry_run: bool = False, on_progress: Progress | None = None) -> ImportReport:
    """Write a fragment for each legacy run that the catalog lacks or holds in an older state
    (`held`: id -> updated_at, naive UTC), each atomically: run twice, nothing is written twice.
    The database's runs count only where no run file gives them."""
    from bathos.catalog.store import fragment_path, write_record

    now = utcnow()
    bad: list[UnreadableFile] = []
    database = _database(sources, bad)
    versions: dict[int, int] = {}
    written = unchanged = 0
    seen: set[str] = set()
    from_files = rows_of(sources, bad)
    from_db = ((sources.database, row, None) for row in (database.runs if database else ()))
    total = len(sources.files) + (len(database.runs) if database else 0)
    for done, (source, row, mtime) in enumerate(itertools.chain(from_files, from_db), 1):
        if on_progress:
            on_progress(done, total)
        assert source is not None
        try:
            record = to_record(row, source, now)
        except UnreadableFile as exc:
            bad.append(exc)
            continue
        if record["id"] in seen:
            continue  # the database's copy of a run a file gave
        seen.add(record["id"])
        version = record["imported"]["schema_version"]
        versions[version] = versions.get(version, 0) + 1
        known = held.get(record["id"])
        if known is not None and known >= parse_iso_utc(record["updated_at"]).replace(
                tzinfo=None):
            unchanged += 1
            continue
        written += 1
        if not dry_run:
            # Not synced one by one: an import cut short is finished by running it again, and
            # the files are synced together at the end (benchmarks/bench_migrate.py).
            write_record(catalog, record, durable=False)
            if record["status"] == "running" and mtime is not None:
                # its heartbeat: the file's last write (the older bathos wrote no other)
                path = fragment_path(catalog, record["project"], record["id"])
                os.utime(path, (mtime, mtime))
    if written and not dry_run:
        os.sync()
    campaigns = 0
    if database is not None and sources.database is not None:
        campaigns = import_campaigns(catalog, database, sources.database, bad, dry_run=dry_run)
    return ImportReport(sources.root, written, unchanged, dict(sorted(versions.items())),
                        campaigns, tuple(bad), dry_run)


def import_campaigns(catalog: Path, database: Database, source: Path,
                     bad: list[UnreadableFile], *, dry_run: bool = False) -> int:
    """Write each campaign of a legacy database as the events of a campaign here: its creation
    (at its start), its runs in their order, its conclusion. Event ids are fixed (`legacy-…`),
    so importing again writes nothing twice. The count of campaigns; a campaign that cannot be
    one here is appended to `bad`."""
    from bathos.campaigns import append_event

    members: dict[str, list[dict[str, Any]]] = {}
    for link in sorted(database.campaign_runs, key=lambda r: (r.get("seq") is None,
                                                              r.get("seq") or 0)):
        members.setdefault(str(link.get("campaign_id")), []).append(link)
    count = 0
    for row in database.campaigns:
        campaign = str(row.get("id") or "")
        try:
            events = _campaign_events(row, members.get(campaign, []), source)
            if not dry_run:
                for kind, event_id, when, fields in events:
                    append_event(catalog, _campaign_project(row), campaign, kind, time=when,
                                 event_id=event_id, by=TOOL, **fields)
        except ConfigError as exc:
            bad.append(UnreadableFile(source, f"campaign {campaign!r} cannot be imported: {exc}"))
            continue
        count += 1
    return count


def _campaign_project(row: dict[str, Any]) -> str:
    slug = str(row.get("project_slug") or "")
    return slug if SLUG_RE.match(slug) else "default"


def _campaign_events(row: dict[str, Any], links: list[dict[str, Any]],
                     source: Path) -> list[tuple[str, str, dt.datetime, dict[str, Any]]]:
    """(kind, event id, time, fields) of a legacy campaign's events. Its hypothesis is required
    here: one it lacks reads `(none recorded)`. A concluded campaign without an outcome label
    concludes as `unknown`."""
    started = _time(row.get("started_at")) or _time(row.get("concluded_at"))
    if started is None:
        raise ConfigError("it has no start time")
    mode = row.get("mode") if row.get("mode") in ("exploration", "confirmation") else None
    kept = {k: _plain(v) for k, v in row.items() if v is not None and k in ("name", "mode")
            and not (k == "mode" and mode)}
    create = {"hypothesis": row.get("hypothesis") or "(none recorded)",
              "question": row.get("question") or None, "mode": mode or "exploration",
              "imported": {"tool": TOOL, "source": str(source)}, **kept}
    events = [("create", "legacy-create", started, create)]
    runs = [_run_link(link.get("run_id")) for link in links]
    if any(runs):
        evalues = {r: _plain(link.get("evalue")) for r, link in zip(runs, links, strict=True)
                   if r and link.get("evalue") is not None}
        events.append(("add", "legacy-add", started,
                       {"runs": [r for r in runs if r], "evalues": evalues}))
    if str(row.get("status") or "").lower() == "concluded":
        events.append(("conclude", "legacy-conclude",
                       _time(row.get("concluded_at")) or started,
                       {"outcome": str(row.get("outcome_label") or "unknown"),
                        "note": row.get("conclusion") or None}))
    return events


def _database(sources: Sources, bad: list[UnreadableFile]) -> Database | None:
    if sources.database is None:
        return None
    try:
        return read_database(sources.database)
    except UnreadableFile as exc:
        bad.append(exc)
        return None
