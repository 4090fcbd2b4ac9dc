"""Runs the catalog could not take (disk full, read-only, not a directory): a spill keeps a run's
final record and its logs elsewhere, to be imported into the catalog later.

    <project>/outputs/<run id>/bth-spill/     first choice: beside the run's outputs
    $TMPDIR/bth-spill-<uid>/<run id>/         else (private to the user)
      record.json                             the run record, as the catalog would hold it
      stdout.log, stderr.log                  the kept part of each stream, when it printed any
      metrics.jsonl                           its metric points, when it logged any

A spill is written under a temporary name and renamed into place, so one that exists is whole.
Reading one back treats it as untrusted input: it is checked as a run record, and its logs
against the hashes the record names.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bathos import config
from bathos.catalog import blobs, store
from bathos.errors import BathosError, CatalogError, ConfigError
from bathos.fsutil import fsync_dir, temp_name
from bathos.models import Run, structure_run

log = logging.getLogger("bathos.catalog")

SPILL_DIR = "bth-spill"
RECORD_FILE = "record.json"
LOG_FILES = {"stdout": "stdout.log", "stderr": "stderr.log"}
POINTS_FILE = "metrics.jsonl"
MAX_POINTS_BYTES = 256 * 1024 * 1024
MAX_RECORD_BYTES = 64 * 1024 * 1024
MAX_LOG_BYTES = 16 * 1024 * 1024


def private_root() -> Path:
    """`$TMPDIR/bth-spill-<uid>`: the spill place of last resort, one per user."""
    return Path(tempfile.gettempdir()) / f"{SPILL_DIR}-{os.getuid()}"


def spill_places(output_dir: Path, run_id: str) -> list[Path]:
    """Where a run's spill goes, in order of preference."""
    return [output_dir / SPILL_DIR, private_root() / run_id]


def write_spill(record: Mapping[str, Any], logs: Mapping[str, bytes],
                places: Sequence[Path], *, points: bytes | None = None) -> Path | None:
    """Write the spill (with the run's encoded metric `points`, if any) at the first place that
    takes it, and return that place (None if none does)."""
    files = {RECORD_FILE: json.dumps(record, separators=(",", ":")).encode()}
    files.update({LOG_FILES[name]: data for name, data in logs.items() if data})
    if points is not None:
        files[POINTS_FILE] = points
    for place in places:
        try:
            _write_directory(place, files)
        except OSError as exc:
            log.debug("cannot spill to %s: %s", place, exc)
            continue
        return place
    return None


def _write_directory(place: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` into a new directory `place`, atomically (a temporary directory, renamed)."""
    parent = place.parent
    if parent.name.startswith(f"{SPILL_DIR}-"):  # in a shared $TMPDIR: ours alone, no symlink
        parent.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(parent)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise PermissionError(f"{parent} is not a directory of this user")
    else:
        parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(place)
    tmp.mkdir(mode=0o700)
    try:
        for name, data in files.items():
            with open(tmp / name, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        os.rename(tmp, place)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)


def find_spills(start: Path | None = None) -> list[Path]:
    """The spills in the usual places: `outputs/*/bth-spill` of the project that `start` (default:
    the cwd) lies in, or of `start` itself outside a project, then the user's `$TMPDIR` place."""
    here = (start or Path.cwd()).resolve()
    project = config.find_project(here)
    root = project.root if project else here
    candidates = [*sorted((root / "outputs").glob(f"*/{SPILL_DIR}")),
                  *sorted(private_root().glob("*"))]
    return [p for p in candidates if not p.name.startswith(".") and _is_own_directory(p)]


def _is_own_directory(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


@attrs.frozen
class Spill:
    """A spill read back and checked: the run, its record as written, its logs and its metric
    points (encoded as a hot point file, or None)."""

    path: Path
    run: Run
    record: dict[str, Any]
    logs: dict[str, bytes]
    points: bytes | None = None


def read_spill(path: Path) -> Spill:
    """The spill in directory `path` (or whose record.json `path` is), checked; ConfigError
    saying what is wrong otherwise."""
    directory = path.parent if path.name == RECORD_FILE else path
    record_path = directory / RECORD_FILE
    _read_file(record_path, MAX_RECORD_BYTES)  # a regular file within the size cap
    try:
        record, _ = store.read_fragment(record_path)
        store.check_identity(record)
        run = structure_run(record)
    except BathosError as exc:
        raise ConfigError(f"spill {directory} holds no valid run record: {exc}") from None
    if not run.is_finished:
        raise ConfigError(f"spill {directory} holds a run that is still {run.status}, not the "
                          "final record of a run")
    logs = {}
    for name, filename in LOG_FILES.items():
        ref = getattr(run.logs, name, None) if run.logs else None
        if ref is None:
            continue
        data = _read_file(directory / filename, MAX_LOG_BYTES)
        if blobs.blob_ref(data) != ref:
            raise ConfigError(f"spill {directory}: {filename} is not the log its record names "
                              "(it changed after the spill was written)")
        logs[name] = data
    return Spill(directory, run, record, logs, _read_points(directory / POINTS_FILE))


def _read_points(path: Path) -> bytes | None:
    """The spill's metric points, checked as a hot point file; None when it has none."""
    from bathos.catalog.metrics import check_points

    if not path.exists() and not path.is_symlink():
        return None
    data = _read_file(path, MAX_POINTS_BYTES)
    wrong = check_points(data)
    if wrong:
        raise ConfigError(f"spill {path.parent}: {POINTS_FILE} {wrong} (it changed after the "
                          "spill was written)")
    return data


def _read_file(path: Path, cap: int) -> bytes:
    """A regular file's bytes (never through a symlink), at most `cap` of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing (is {path.parent} a spill bathos wrote?)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{path} is a symbolic link, not a file bathos wrote") from None
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path} is not a regular file")
        if st.st_size > cap:
            raise ConfigError(f"{path} is {st.st_size} bytes, more than a spill holds ({cap})")
        return fh.read(cap + 1)[:cap]


def commit_spill(catalog: Path, spill: Spill, *, write_record: bool) -> None:
    """Store the spill's logs, then (when `write_record`) its record, then remove the spill."""
    try:
        for data in spill.logs.values():
            blobs.put_blob(catalog, data)
        if spill.points is not None and write_record:
            from bathos.catalog.metrics import write_points

            write_points(catalog, spill.run.project, spill.run.id, spill.points)
        if write_record:
            store.write_record(catalog, spill.record)
    except OSError as exc:
        raise CatalogError(f"cannot write catalog {catalog}: {exc.strerror or exc} (the spill "
                           f"{spill.path} is kept; try again once the catalog can be written)"
                           ) from exc
    shutil.rmtree(spill.path, ignore_errors=True)
    if spill.path.parent.name == spill.run.id:  # outputs/<id>/bth-spill: the output dir too
        with contextlib.suppress(OSError):
            spill.path.parent.rmdir()
