"""Atomic file writes: a temporary name in the same directory, fsync, rename, fsync the directory.

A reader or a crash at any instant sees the old file or the new one, never a part of either.
Also how a path inside a project is recorded: relative to its root, with `/` separators.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def temp_name(path: Path) -> Path:
    """A hidden, unique sibling of `path` for writing before the rename."""
    return path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` atomically (creating parent directories)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


def append_whole(path: str | os.PathLike[str], data: bytes) -> None:
    """Append `data` (whole lines) to `path` in one write, so lines of concurrent writers stay
    whole; a write the disk cuts short is taken back (ENOSPC raised)."""
    import errno

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        written = os.write(fd, data)
        if written < len(data):
            os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    finally:
        os.close(fd)


def commit_file(tmp: Path, path: Path) -> None:
    """Rename an already-written, fsynced temporary file into place and make the rename durable."""
    os.replace(tmp, path)
    fsync_dir(path.parent)


def relative_posix(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str | None:
    """`path` relative to the directory `root` with `/` separators (`.` for `root` itself), or
    None when it lies outside. Compared as text, without touching the file system: give both
    absolute and normalised (resolved where links matter).

        >>> relative_posix("/home/me/proj/lib/util.py", "/home/me/proj")
        'lib/util.py'
    """
    text, base = os.fspath(path), os.fspath(root)
    if text == base:
        return "."
    prefix = os.path.join(base, "")
    if not text.startswith(prefix):
        return None
    return text[len(prefix):].replace(os.sep, "/")
