"""Helpers for the attack tests: the check every command's outcome must pass, and a small tmpfs
mounted where a full or read-only disk is needed (root only; skipped elsewhere)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from project import Done


def ok(done: Done) -> Done:
    """`done`, which must have exited 0 without a traceback."""
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def remount(path: Path, mode: str) -> None:
    """Make the tmpfs at `path` read-only (`ro`) or writable again (`rw`)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], capture_output=True,
                   check=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` for the block."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command; the same code path is covered with a BTH_HOME that is "
                    "a file")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'}); "
                    "the same code path is covered with a BTH_HOME that is a file")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem of `directory` to its last byte with one file; the file's path."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def stderr_lines(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if word in line]
