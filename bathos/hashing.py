"""Content hashes of files: sha256 and git's blob id from one streamed read.

The git blob id lets a freshness check compare a recorded file with git's index without reading
the file again; sha256 is what the catalog shows and compares.

    >>> hash_file(Path("train.py")).sha256
    'sha256:9f86d0…'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import attrs

CHUNK_BYTES = 1 << 20


@attrs.frozen
class FileDigest:
    """A file's hashes, size and mtime; the hashes are None when the file was above the cap."""

    sha256: str | None
    git_blob: str | None
    size: int
    mtime: float


def hash_bytes(data: bytes) -> tuple[str, str]:
    """`("sha256:<hex>", <git blob id>)` of bytes already in memory (small files: modules)."""
    blob = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    blob.update(data)
    return "sha256:" + hashlib.sha256(data).hexdigest(), blob.hexdigest()


def hash_file(path: Path, *, cap_bytes: int | None = None) -> FileDigest:
    """Hash `path` in 1 MiB chunks; above `cap_bytes` keep only its size and mtime.

    Raises OSError when the file cannot be read. If the file changes size while it is read, the
    sha256 is of the bytes read and `git_blob` is None (the blob header needs the size up front).
    """
    with open(path, "rb") as fh:
        stat = os.fstat(fh.fileno())
        if cap_bytes is not None and stat.st_size > cap_bytes:
            return FileDigest(sha256=None, git_blob=None, size=stat.st_size, mtime=stat.st_mtime)
        sha = hashlib.sha256()
        blob = hashlib.sha1(b"blob %d\0" % stat.st_size, usedforsecurity=False)
        buf = bytearray(min(CHUNK_BYTES, stat.st_size + 1))  # small files: no 1 MiB buffer
        view = memoryview(buf)
        size = 0
        while n := fh.readinto(buf):
            sha.update(view[:n])
            blob.update(view[:n])
            size += n
    git_blob = blob.hexdigest() if size == stat.st_size else None
    return FileDigest(
        sha256="sha256:" + sha.hexdigest(), git_blob=git_blob, size=size, mtime=stat.st_mtime
    )
