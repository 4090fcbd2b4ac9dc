"""The live log of a running run: its segment files bounded on disk, a reader that falls behind
skipping ahead with a marker, and how a reader goes on in the kept log of a finished run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from records import make_run

from bathos import Catalog, config, livelog
from bathos.livelog import TRUNCATED, LiveLog, kept_after
from bathos.models import Host
from bathos.provenance.secrets import Redactor

CAP = 40  # a small LOG_CAP_BYTES, so a stream of a few bytes is truncated


def kept_log(stream: bytes) -> bytes:
    """What a finished run keeps of `stream` (its first and last CAP / 2 bytes)."""
    half = CAP // 2
    return stream if len(stream) <= CAP else stream[:half] + TRUNCATED + stream[-half:]


@pytest.mark.parametrize("length", [0, 7, CAP, CAP + 1, 3 * CAP])
def test_a_reader_goes_on_in_the_kept_log_where_it_was(length: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(livelog, "LOG_CAP_BYTES", CAP)
    stream = bytes(range(65, 65 + 26)) * 6
    stream = stream[:length]
    kept = kept_log(stream)
    half = CAP // 2

    for position in range(length + 2):
        shown = stream[:position] + kept_after(kept, length, position)
        if length <= CAP or position >= length - half:
            assert shown == stream
        elif position <= half:  # still in the first part: the rest of the kept log
            assert shown == kept
        else:  # stopped inside the part the log left out: the marker, then the last part
            assert shown == stream[:position] + TRUNCATED + stream[-half:]


def running_run(bth_home: Path) -> tuple[str, Path]:
    run = make_run(status="running", host=Host(os.uname().nodename, "me", os.getpid()))
    Catalog().write(run)
    scratch = config.scratch_dir(run.id)
    scratch.mkdir(parents=True)
    return run.id, scratch


def test_a_stream_keeps_its_last_segments_and_a_late_reader_skips_ahead(
        bth_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(livelog, "SEGMENT_BYTES", 100)
    run_id, scratch = running_run(bth_home)
    live = LiveLog(scratch, "stdout", Redactor())
    lines = [b"line %04d of the run\n" % i for i in range(100)]  # 20 bytes each

    for line in lines:
        assert live.add(line) == line

    segments = sorted(scratch.glob("stdout.*.log"))
    assert len(segments) == livelog.KEPT_SEGMENTS
    assert sum(p.stat().st_size for p in segments) <= 2 * livelog.SEGMENT_BYTES
    so_far = Catalog().read_log(run_id)
    assert so_far.startswith(TRUNCATED)
    assert b"".join(lines).endswith(so_far[len(TRUNCATED):])
    assert live.length == sum(map(len, lines))


def test_a_reader_keeps_each_segment_it_has_seen(bth_home: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that has opened a segment reads it whole, even once the writer removed it."""
    monkeypatch.setattr(livelog, "SEGMENT_BYTES", 100)
    run_id, scratch = running_run(bth_home)
    live = LiveLog(scratch, "stdout", Redactor())
    live.add(b"a" * 50)
    parts = Catalog().follow_log(run_id)
    assert next(parts) == b"a" * 50

    live.add(b"b" * 60)  # the first segment is full: the next one begins
    live.add(b"c" * 200)  # and another: the first is removed
    live.close()

    assert not (scratch / "stdout.00000000000000000000.log").exists()
    assert next(parts) == b"b" * 60
    assert next(parts) == b"c" * 200


def test_a_secret_split_between_writes_is_held_back_until_it_is_whole() -> None:
    redactor = Redactor()
    redactor.argv(["--api-key", "s3cr3t-t0ken-0123"])
    live = LiveLog(Path("/nonexistent"), "stdout", redactor)  # no live file: still scrubbed

    parts = [live.add(b"token s3cr"), live.add(b"3t-t0ken-0123 ok\nand s3c"), live.add(b"ond\n"),
             live.add(b"end s3cr3t"), live.close()]

    assert parts == [b"token ", b"<redacted> ok\nand ", b"s3cond\n", b"end ", b"s3cr3t"]
    assert live.length == len(b"".join(parts))
