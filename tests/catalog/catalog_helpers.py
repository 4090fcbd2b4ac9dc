"""Plain helpers for catalog tests: what lies on disk, and a FIFO to pause another process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path


def fragments(catalog_dir: Path, project: str = "demo") -> list[Path]:
    """The run fragments of a project (hidden temporary files excluded)."""
    directory = catalog_dir / "runs" / project
    return sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))


def segments(catalog_dir: Path, project: str = "demo") -> list[Path]:
    """The Parquet segment files of a project, listed in the manifest or not."""
    directory = catalog_dir / "runs" / project
    return sorted(p for p in directory.glob("*.parquet") if not p.name.startswith("."))


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` with its content hash: equal digests mean nothing changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def open_fifo_for_writing(fifo: Path, reader: subprocess.Popen[str], timeout: float = 30) -> int:
    """The write end of `fifo`, opened once `reader` (another process) has opened it to read.

    A FIFO in place of a fragment holds that process inside its read for as long as the test
    wants, so the test can act at exactly that moment; nothing in bathos is replaced.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            assert reader.poll() is None, "the other process ended before opening the fragment"
            assert time.monotonic() < deadline, "the other process never opened the fragment"
            time.sleep(0.005)
            continue
        os.set_blocking(fd, True)
        return fd
