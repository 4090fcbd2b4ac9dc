"""The hot tier: one JSON fragment per run under `runs/<project>/<id>.json`, written lock-free.

A writer never takes a lock and never opens a database: it writes its fragment to a temporary name,
fsyncs it and renames it into place. A run's later state replaces its fragment the same way. While a
run is running, the fragment's mtime is its heartbeat.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bathos.catalog.schema import Record, upgrade
from bathos.config import check_slug
from bathos.errors import CatalogError, ConfigError
from bathos.fsutil import atomic_write_bytes
from bathos.ids import RUN_ID_LENGTH, is_run_id_prefix
from bathos.models import Run, unstructure, utcnow

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


def write_record(catalog: Path, record: Record, *, durable: bool = True) -> Path:
    """Write (or atomically replace) the fragment of one run record."""
    check_slug(str(record.get("project")))
    if not (len(str(record.get("id"))) == RUN_ID_LENGTH and is_run_id_prefix(str(record["id"]))):
        raise ConfigError(f"{record.get('id')!r} is not a run id (make one with "
                          "bathos.ids.new_run_id())")
    path = fragment_path(catalog, record["project"], record["id"])
    atomic_write_bytes(path, json.dumps(record, separators=(",", ":")).encode(), durable=durable)
    return path


def write_run(catalog: Path, run: Run) -> Path:
    """Write a run's current state as its fragment."""
    return write_record(catalog, unstructure(run))


def touch_heartbeat(path: Path) -> None:
    """Mark a running run as alive (its fragment's mtime is the heartbeat)."""
    os.utime(path)


def project_dirs(catalog: Path) -> list[Path]:
    root = runs_root(catalog)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def iter_fragment_paths(directory: Path) -> Iterator[Path]:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(FRAGMENT_SUFFIX) and not entry.name.startswith("."):
                yield Path(entry.path)


_OBJECT_PARTS = ("host", "git", "slurm", "environment", "logs", "sidecar", "params", "results")
_LIST_PARTS = ("argv", "tags", "dependencies", "outputs")


class UnreadableFile(CatalogError):
    """A fragment or segment that cannot be parsed."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def read_fragment(path: Path) -> tuple[Record, os.stat_result]:
    """A fragment's record upgraded to the current schema, and the stat of the file read (its
    mtime is the heartbeat)."""
    try:
        with open(path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            data: Any = json.loads(fh.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFile(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not ("id" in data or "run_id" in data):
        raise UnreadableFile(path, "not a run record")
    try:
        record = upgrade(data)
    except CatalogError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableFile(path, f"cannot upgrade record ({exc!r})") from exc
    for parts, kind, name in ((_OBJECT_PARTS, dict, "an object"), (_LIST_PARTS, list, "a list")):
        for part in parts:
            if record.get(part) is not None and not isinstance(record[part], kind):
                raise UnreadableFile(path, f"{part} is not {name}")
    return record, stat


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def settle_status(record: Record, heartbeat: float, now: float) -> Record:
    """A running record whose process is gone reads as `lost`.

    Gone means: on this host, its pid is dead; anywhere, its heartbeat is older than STALE_AFTER_S.
    """
    if record.get("status") != "running":
        return record
    from datetime import UTC, datetime

    record["heartbeat_at"] = datetime.fromtimestamp(heartbeat, UTC).isoformat()
    host = record.get("host") or {}
    pid = host.get("pid")
    same_host = host.get("hostname") == os.uname().nodename and isinstance(pid, int) and pid > 0
    if now - heartbeat > STALE_AFTER_S or (same_host and not _pid_alive(pid)):
        record["status"] = "lost"
    return record


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
