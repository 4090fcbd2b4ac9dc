"""A run's output as it comes: `bth run` appends each stream, secrets taken out, to files in the
run's scratch directory while the run runs, and a reader follows them, then the catalog's log.

    $BTH_HOME/tmp/<run id>/stdout.<offset>.log     the stream from its byte <offset> on

A stream keeps its last KEPT_SEGMENTS segment files (at most KEPT_SEGMENTS x SEGMENT_BYTES on
disk, removed with the scratch directory when the run ends): a reader that falls further behind
skips ahead, with the marker the catalog's logs use. The log a finished run keeps (its first and
last LOG_CAP_BYTES / 2) is made of the same bytes, so a reader that saw the run end goes on in it
at the byte it had reached: nothing is lost or shown twice at the switch.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING

from bathos import config

if TYPE_CHECKING:
    from bathos.models import Run
    from bathos.provenance.secrets import Redactor

STREAMS = ("stdout", "stderr")
LOG_CAP_BYTES = 8 * 1024 * 1024  # a finished run keeps the first and last half of each stream
TRUNCATED = b"\n[... bathos: log truncated ...]\n"
SEGMENT_BYTES = 4 * 1024 * 1024
KEPT_SEGMENTS = 2
# A run's live log appears a moment after its running record: until this long after its start, a
# reader waits for it.
START_GRACE_S = 2.0
POLL_S = 0.1
READ_BYTES = 65536


def _segment(directory: Path, stream: str, offset: int) -> Path:
    return directory / f"{stream}.{offset:020d}.log"


def _offsets(directory: Path, stream: str) -> list[int]:
    """The offsets of the stream's segment files, in order (names of any other form ignored)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    prefix = f"{stream}."
    return sorted(int(name[len(prefix):-4]) for name in names
                  if name.startswith(prefix) and name.endswith(".log")
                  and name[len(prefix):-4].isdigit())


class LiveLog:
    """One stream of a running run, appended to its scratch directory as the tee copies it.

    `add` takes the secrets out (holding back an end that may begin one) and returns the bytes it
    appended: those are the stream as the run keeps it. A file that cannot be written stops the
    live log, never the run.
    """

    def __init__(self, directory: Path, stream: str, redactor: Redactor) -> None:
        self.directory, self.stream, self.redactor = directory, stream, redactor
        self.length = 0  # bytes of the stream passed on (secrets replaced)
        self._held = b""
        self._offsets: list[int] = []
        self._fd: int | None = None
        self._in_segment = 0
        self._open()

    def add(self, chunk: bytes) -> bytes:
        ready, self._held = self.redactor.scrub_partial(self._held + chunk)
        self._append(ready)
        return ready

    def close(self) -> bytes:
        """The end of the stream: what was held back, scrubbed and appended; the file closed."""
        rest, self._held = self.redactor.scrub(self._held), b""
        self._append(rest)
        self._stop()
        return rest

    def _append(self, data: bytes) -> None:
        self.length += len(data)
        if self._fd is None or not data:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            self._in_segment += len(data)
            if self._in_segment >= SEGMENT_BYTES:
                os.close(self._fd)
                self._fd = None
                self._open()
                for offset in self._offsets[:-KEPT_SEGMENTS]:
                    _segment(self.directory, self.stream, offset).unlink(missing_ok=True)
                del self._offsets[:-KEPT_SEGMENTS]
        except OSError:
            self._stop()

    def _open(self) -> None:
        """Start a segment at the stream's current length."""
        with contextlib.suppress(OSError):
            self._fd = os.open(_segment(self.directory, self.stream, self.length),
                               os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            self._offsets.append(self.length)
            self._in_segment = 0

    def _stop(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def read_running(run: Run, stream: str, *, follow: bool,
                 poll_s: float = POLL_S) -> Generator[bytes, None, tuple[int, bool, bool]]:
    """Yield the live log of a running run of this host: what it has written, and with `follow`
    each new part as it comes until the run ends. Returns how many bytes of the stream it gave,
    whether it found a live log (it waits START_GRACE_S after the start for one), and whether
    the run has ended."""
    from bathos.catalog.store import is_pid_alive

    directory = config.scratch_dir(run.id)
    pid = run.host.pid if run.host else 0

    def is_alive() -> bool:
        return pid > 0 and is_pid_alive(pid)

    def is_over() -> bool:
        return not directory.is_dir() or not is_alive()

    give_up = run.started_at.timestamp() + START_GRACE_S
    while not _offsets(directory, stream):
        if time.time() > give_up or not is_alive():
            return 0, False, is_over()
        time.sleep(poll_s)
    position = yield from _read(directory, stream, follow=follow, is_over=is_over,
                                poll_s=poll_s)
    return position, True, follow or is_over()


def _read(directory: Path, stream: str, *, follow: bool, is_over: Callable[[], bool],
          poll_s: float) -> Generator[bytes, None, int]:
    """The stream's segments in order, from its first one still there; a segment is final once
    a later one exists. Each segment is opened as soon as it is listed, so the writer removing it
    later takes nothing from this reader. Returns the stream offset reached."""
    position = 0
    current: int | None = None  # the file being read, then those listed after it, by offset
    opened: dict[int, int] = {}
    try:
        while True:
            over = is_over()  # everything written by now is in the files listed below
            for offset in _offsets(directory, stream):
                if offset not in opened and (offset >= position if current is None
                                             else offset > current):
                    with contextlib.suppress(OSError):
                        opened[offset] = os.open(_segment(directory, stream, offset),
                                                 os.O_RDONLY)
            if current is None and opened:
                current = min(opened)
                if current > position:
                    yield TRUNCATED  # the reader fell behind the kept segments: skip ahead
                position = current
            if current is not None:
                while chunk := os.read(opened[current], READ_BYTES):
                    position += len(chunk)
                    yield chunk
                if any(offset > current for offset in opened):
                    os.close(opened.pop(current))
                    current = None
                    continue
            if over or not follow:
                return position
            time.sleep(poll_s)
    finally:
        for fd in opened.values():
            os.close(fd)


def kept_after(kept: bytes, total: int, position: int) -> bytes:
    """What of a finished run's kept log of a stream (`kept`, of a stream `total` bytes long)
    comes after its first `position` bytes, which a reader has had: all of it from 0; the marker
    and the last part when the reader stopped inside what the log left out."""
    if position <= 0:
        return kept
    if position >= total:
        return b""
    half = LOG_CAP_BYTES // 2
    if total <= LOG_CAP_BYTES or position < half:
        return kept[position:]  # the whole stream, or still inside its first part
    tail = kept[len(kept) - half:]
    tail_start = total - half
    if position >= tail_start:
        return tail[position - tail_start:]
    return TRUNCATED + tail
