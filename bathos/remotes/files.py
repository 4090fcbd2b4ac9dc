"""The file operations a sync needs, on paths relative to a catalog (`runs/<project>/…`): this
machine's catalog here, another's over SFTP in `bathos.remotes.ssh`, so one sync serves both
directions.

Every write is whole or invisible: the bytes go to a hidden temporary name beside the target,
its modification time is set, and it is renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO, Protocol

import attrs

from bathos.errors import CatalogError
from bathos.fsutil import atomic_write_bytes, commit_file, temp_name


@attrs.frozen
class Entry:
    """A file or directory listed: its size and modification time (seconds)."""

    size: int
    mtime: float
    is_dir: bool = False


class Files(Protocol):
    """A catalog's files, by paths relative to it."""

    where: str  # the catalog, for messages: a local path or host:path

    def list(self, path: str) -> dict[str, Entry]:
        """The entries of a directory (none when it does not exist)."""

    def read(self, path: str, limit: int) -> bytes:
        """A file's bytes (FileNotFoundError if gone; ValueError past `limit` bytes)."""

    def open(self, path: str) -> IO[bytes]:
        """A file opened for reading, seekable (Parquet reads only the parts it needs)."""

    def write(self, path: str, data: bytes | Path, *, mtime: float | None = None) -> int:
        """Put `data` (bytes, or a local file's) at `path` atomically; the bytes written."""

    def mkdirs(self, path: str) -> None:
        """Make a directory and its parents."""

    def remove(self, path: str) -> None:
        """Remove a file (gone already is fine)."""


class LocalFiles:
    """A catalog on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def list(self, path: str) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        try:
            with os.scandir(self.root / path) as entries:
                for entry in entries:
                    with contextlib.suppress(FileNotFoundError):
                        stat = entry.stat(follow_symlinks=False)
                        found[entry.name] = Entry(stat.st_size, stat.st_mtime,
                                                  entry.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            pass
        return found

    def read(self, path: str, limit: int) -> bytes:
        with open(self.root / path, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"{self.root / path} is larger than {limit} bytes")
        return data

    def open(self, path: str) -> IO[bytes]:
        return open(self.root / path, "rb")

    def write(self, path: str, data: bytes | Path, *, mtime: float | None = None) -> int:
        try:
            return self._write(self.root / path, data, mtime)
        except OSError as exc:
            raise CatalogError(f"cannot write {self.root / path}: {exc.strerror or exc} "
                               "(nothing half-written is left; sync again once it can be "
                               "written)") from None

    def _write(self, target: Path, data: bytes | Path, mtime: float | None) -> int:
        if isinstance(data, bytes) and mtime is None:
            atomic_write_bytes(target, data)
            return len(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(target)
        try:
            if isinstance(data, bytes):
                with open(tmp, "xb") as fh:
                    fh.write(data)
            else:
                shutil.copyfile(data, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            if mtime is not None:
                os.utime(tmp, (mtime, mtime))
            commit_file(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def mkdirs(self, path: str) -> None:
        try:
            (self.root / path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot make {self.root / path}: {exc.strerror}") from None

    def remove(self, path: str) -> None:
        (self.root / path).unlink(missing_ok=True)
