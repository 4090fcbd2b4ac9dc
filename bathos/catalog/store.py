"""The hot tier: one JSON fragment per run under `runs/<project>/<id>.json`, written lock-free.

A writer never takes a lock and never opens a database: it writes its fragment to a temporary name,
fsyncs it and renames it into place. A run's later state replaces its fragment the same way. While a
run is running, the fragment's mtime is its heartbeat.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bathos.catalog.schema import Record, problem, upgrade
from bathos.config import SCRATCH_LOCK, check_slug, scratch_dir, unusable_catalog
from bathos.errors import CatalogError, ConfigError, UnreadableFile
from bathos.fsutil import atomic_write_bytes
from bathos.ids import is_run_id
from bathos.models import Run, unstructure, utcnow
from bathos.timespec import iso_utc

log = logging.getLogger("bathos.catalog")

FRAGMENT_SUFFIX = ".json"
SEGMENT_SUFFIX = ".parquet"
HEARTBEAT_INTERVAL_S = 15.0
# A running record whose heartbeat is older than this is shown as lost.
STALE_AFTER_S = 8 * HEARTBEAT_INTERVAL_S


def runs_root(catalog: Path) -> Path:
    return catalog / "runs"


def project_dir(catalog: Path, project: str) -> Path:
    return runs_root(catalog) / project


def fragment_path(catalog: Path, project: str, run_id: str) -> Path:
    return project_dir(catalog, project) / f"{run_id}{FRAGMENT_SUFFIX}"


def check_identity(record: Record) -> None:
    """A record names a valid project slug and run id (so its fragment path stays in place)."""
    check_slug(str(record.get("project")))
    if not is_run_id(str(record.get("id"))):
        raise ConfigError(f"{record.get('id')!r} is not a run id (make one with "
                          "bathos.ids.new_run_id())")


def write_record(catalog: Path, record: Record, *, durable: bool = True) -> Path:
    """Write (or atomically replace) the fragment of one run record."""
    check_identity(record)
    path = fragment_path(catalog, record["project"], record["id"])
    atomic_write_bytes(path, encode_record(record), durable=durable)
    return path


def encode_record(record: Record) -> bytes:
    """A record as UTF-8 JSON; undecodable bytes in its strings (lone surrogates, which no JSON
    reader takes) are written as `\\xNN` escapes (`bathos.text`), looked for only when present."""
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        from bathos.text import escape_strings

        return json.dumps(escape_strings(record), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")


def write_run(catalog: Path, run: Run) -> Path:
    """Write a run's current state as its fragment."""
    return write_record(catalog, unstructure(run))


def touch_heartbeat(path: Path) -> None:
    """Mark a running run as alive (its fragment's mtime is the heartbeat)."""
    os.utime(path)


def project_dirs(catalog: Path) -> list[Path]:
    """The catalog's project directories (none before its first run); a catalog that cannot be
    read (a file in its way, no access) is a ConfigError, not an empty one."""
    try:
        entries = list(os.scandir(runs_root(catalog)))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise unusable_catalog(catalog, exc, "read") from None
    return sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))


def iter_fragment_paths(directory: Path) -> Iterator[Path]:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(FRAGMENT_SUFFIX) and not entry.name.startswith("."):
                yield Path(entry.path)


def warn_skipped(problem: UnreadableFile) -> None:
    """The one warning a read gives for a file it skips."""
    log.warning("skipping unreadable %s", problem, extra={"hint": problem.hint})


class MendedFragment(UnreadableFile):
    """A fragment holding undecodable text as lone surrogates (written by an older bathos):
    readers escape it in memory; quarantine keeps the original and rewrites it escaped."""

    def __init__(self, path: Path, record: Record, stat: os.stat_result) -> None:
        self.record = record
        self.stat = stat
        super().__init__(path, "holds undecodable text (read with \\xNN escapes; quarantine "
                               "rewrites it so)")


def read_fragment(path: Path) -> tuple[Record, os.stat_result]:
    """A fragment's record upgraded to the current schema, and the stat of the file read (its
    mtime is the heartbeat); UnreadableFile if it is not a well-formed run record."""
    record, stat, _, _ = _load(path)
    return record, stat


def read_stored(path: Path) -> tuple[Record, os.stat_result, int]:
    """As `read_fragment`, and the schema version the record was stored at."""
    record, stat, _, version = _load(path)
    return record, stat, version


def check_fragment(path: Path) -> UnreadableFile | None:
    """What readers make of a fragment: None if read as written, else why it is skipped or
    mended. (FileNotFoundError if it is gone.)"""
    try:
        record, stat, mended, _ = _load(path)
    except UnreadableFile as exc:
        return exc
    return MendedFragment(path, record, stat) if mended else None


def _load(path: Path) -> tuple[Record, os.stat_result, bool, int]:
    try:
        with open(path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            raw = fh.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read ({exc.strerror})") from exc
    record, mended, version = parse_fragment(path, raw)
    return record, stat, mended, version


def parse_fragment(path: Path, raw: bytes) -> tuple[Record, bool, int]:
    """The record a fragment's bytes hold, upgraded and checked, whether it was mended and the
    schema version it was stored at; UnreadableFile (naming `path`) if they are not a
    well-formed run record."""
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFile(path, f"not valid JSON ({exc})") from exc
    except RecursionError:
        raise UnreadableFile(path, "not a run record (JSON nested too deep)") from None
    if not isinstance(data, dict) or not ("id" in data or "run_id" in data):
        raise UnreadableFile(path, "not a run record")
    version = data.get("schema_version", 0)
    try:
        record = upgrade(data)
    except CatalogError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableFile(path, f"cannot upgrade record ({exc!r})") from exc
    wrong = problem(record)
    if wrong:
        raise UnreadableFile(path, f"not a well-formed run record: {wrong}")
    mended = b"\\ud" in raw or b"\\uD" in raw  # a \uXXXX escape of a surrogate: look closer
    if mended:
        from bathos.text import escape_strings

        escaped = escape_strings(record)
        mended, record = escaped != record, escaped
    return record, mended, version


def is_unchanged(path: Path, seen: os.stat_result) -> bool:
    """Whether `path` is still the file that was read (no writer replaced it since)."""
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    return (now.st_ino, now.st_mtime_ns, now.st_size) == (seen.st_ino, seen.st_mtime_ns,
                                                           seen.st_size)


def is_pid_alive(pid: Any) -> bool:
    """Whether process `pid` lives: a zombie (killed, its parent gone too, as when a node's
    slurmstepd dies, and not yet reaped by an init that does not reap) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2][:3] != b" Z "
    except OSError:
        return True  # no /proc (macOS): the signal's answer is all there is


def settle_status(record: Record, heartbeat: float, now: float) -> Record:
    """A running record whose process is gone reads as `lost`.

    Gone means: on this host, its pid is dead; anywhere, its heartbeat is older than STALE_AFTER_S.
    """
    if record.get("status") != "running":
        return record
    from datetime import UTC, datetime

    record["heartbeat_at"] = iso_utc(datetime.fromtimestamp(heartbeat, UTC))
    host = record.get("host") or {}
    pid = host.get("pid")
    same_host = host.get("hostname") == os.uname().nodename and isinstance(pid, int) and pid > 0
    if same_host and not is_pid_alive(pid):
        record["status"] = "lost"
        remove_dead_scratch(str(record.get("id")))
    elif now - heartbeat > STALE_AFTER_S:
        record["status"] = "lost"  # maybe only suspended, or on another host: scratch kept
    return record


def remove_dead_scratch(run_id: str) -> None:
    """Remove the scratch directory (`$BTH_HOME/tmp/<id>`) of a run whose `bth` is known dead,
    unless a process of the run still holds its lock (a command can outlive a killed `bth run`)."""
    if not is_run_id(run_id):
        return  # a record is untrusted: its id must not name a path
    scratch = scratch_dir(run_id)
    try:
        fd = os.open(scratch / SCRATCH_LOCK, os.O_RDONLY)
    except FileNotFoundError:
        pass  # no lock to test (or no scratch at all): the dead pid is all there is to know
    except OSError:
        return
    else:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # held by a process of the run that is still alive
        finally:
            os.close(fd)
    shutil.rmtree(scratch, ignore_errors=True)


def load_hot(directory: Path, bad: list[UnreadableFile],
             now: float | None = None) -> Iterator[Record]:
    """Every readable fragment of a project directory, settled, one at a time (so a reader holds
    only what it keeps); unreadable ones are appended to `bad`."""
    now = utcnow().timestamp() if now is None else now
    for path in iter_fragment_paths(directory):
        try:
            record, stat = read_fragment(path)
        except FileNotFoundError:
            continue  # compacted away while we listed
        except UnreadableFile as exc:
            bad.append(exc)
            continue
        yield settle_status(record, stat.st_mtime, now)
