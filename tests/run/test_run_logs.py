"""`bth logs` of a running run (what it has so far, `--follow` as it comes) and of runs that kept
no logs, all as real `bth` processes beside a real `bth run`."""

from __future__ import annotations

import datetime as dt
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
from project import Project, base_env
from records import make_run

from bathos import Catalog, ConfigError
from bathos.models import Host, Logs, utcnow

# Prints a line, waits for the file $GO, prints another (or $BULK bytes of numbered lines).
WAITS = """\
import os, sys, time
print("first", flush=True)
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.02)
bulk = int(os.environ.get("BULK", "0"))
if bulk:
    sys.stdout.write("".join(f"{i:09d}\\n" for i in range(bulk // 10)))
else:
    print("second", flush=True)
"""
SCRIPT = "scripts/debug/waits.py"
STARTED = re.compile(rb"bth: run (\w+) started")


@pytest.fixture
def waits(project: Project) -> Project:
    project.write(SCRIPT, WAITS)
    project.commit("waits")
    return project


def read_until(stream: IO[bytes], want: bytes, timeout: float = 60) -> bytes:
    """What `stream` gives until it has given `want` (which must come within `timeout`)."""
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"waited {timeout} s for {want!r}, got {got!r}"
        if select.select([stream], [], [], left)[0]:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"the stream ended before {want!r}: {got!r}"
            got += chunk
    return got


def start_run(project: Project, go: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`bth run` of the waiting script, once its run has started; its id."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bathos_cli", "run", SCRIPT], cwd=project.root,
        env=base_env({"GO": str(go), **env}), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    found = STARTED.search(read_until(proc.stderr, b" started"))
    assert found
    return proc, found.group(1).decode()


def follow(project: Project, run_id: str) -> subprocess.Popen[bytes]:
    return project.popen("logs", "--follow", run_id)


def test_follow_prints_lines_as_the_script_writes_them(waits: Project, tmp_path: Path) -> None:
    go = tmp_path / "go"
    run, run_id = start_run(waits, go)
    follower = follow(waits, run_id)
    assert follower.stdout is not None

    first = read_until(follower.stdout, b"first\n")
    assert not go.exists()  # the first line came while the script still waited
    go.touch()
    assert run.wait(timeout=60) == 0
    done = waits.wait(follower)

    assert done.returncode == 0, done.stderr
    assert first.decode() + done.stdout == "first\nsecond\n"  # each line once, none lost
    assert done.stderr == f"bth: run {run_id} completed (exit 0)\n"
    assert waits.bth("logs", run_id).stdout == "first\nsecond\n"


def test_following_goes_on_in_the_kept_log_at_the_byte_it_reached(waits: Project,
                                                                   tmp_path: Path) -> None:
    """A reader still in the first live segment when the run ends (the live files are gone)
    takes the rest from the log the catalog kept, from where it was."""
    go = tmp_path / "go"
    run, run_id = start_run(waits, go, BULK=str(6 * 2**20))
    parts = Catalog().follow_log(run_id)

    first = next(parts)
    go.touch()
    assert run.wait(timeout=60) == 0
    rest = b"".join(parts)

    expected = b"first\n" + b"".join(b"%09d\n" % i for i in range(6 * 2**20 // 10))
    assert first == b"first\n"
    assert first + rest == expected
    assert Catalog().read_log(run_id) == expected


def test_logs_of_a_running_run_shows_its_output_so_far(waits: Project, tmp_path: Path) -> None:
    go = tmp_path / "go"
    run, run_id = start_run(waits, go)
    try:
        read_until_logged(waits, run_id, "first\n")

        done = waits.bth("logs", run_id)

        assert (done.returncode, done.stdout) == (0, "first\n")
        assert "is still running" in done.stderr and "--follow" in done.stderr
        assert waits.bth("logs", run_id, "--stderr").stderr.count("nothing on stderr yet") == 1
    finally:
        go.touch()
        run.wait(timeout=60)


def read_until_logged(project: Project, run_id: str, text: str) -> None:
    deadline = time.monotonic() + 60
    while Catalog().read_log(run_id) != text.encode():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_ctrl_c_stops_following_quietly_with_130(waits: Project, tmp_path: Path) -> None:
    go = tmp_path / "go"
    run, run_id = start_run(waits, go)
    try:
        follower = follow(waits, run_id)
        assert follower.stdout is not None
        read_until(follower.stdout, b"first\n")

        follower.send_signal(signal.SIGINT)
        done = waits.wait(follower)

        assert (done.returncode, done.stderr) == (130, "")
    finally:
        go.touch()
        run.wait(timeout=60)
    assert Catalog().get(run_id).status == "completed"


def test_a_secret_written_in_two_parts_is_out_of_the_log(project: Project) -> None:
    secret = "s3cr3t-t0ken-0123456789abcdef"
    project.write("scripts/debug/leak.py", (
        "import sys, time\n"
        "sys.stdout.write('token ' + sys.argv[2][:9]); sys.stdout.flush(); time.sleep(0.3)\n"
        "print(sys.argv[2][9:], flush=True)\n"
        "print('a prefix alone', sys.argv[2][:9], flush=True)\n"))
    project.commit("leak")

    run = project.bth_run("scripts/debug/leak.py", "--", "--api-key", secret)

    assert project.bth("logs", run.id).stdout == "token <redacted>\na prefix alone s3cr3t-t0\n"


def test_a_run_that_printed_nothing_says_so(project: Project) -> None:
    run = project.bth_run("--", "true")

    done = project.bth("logs", run.id)
    followed = project.bth("logs", "--follow", run.id)

    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == f"bth: run {run.id[:12]} wrote nothing to stdout\n"
    assert (followed.returncode, followed.stdout) == (0, "")
    assert "writing nothing to stdout" in followed.stderr


def this_host(pid: int) -> Host:
    return Host(os.uname().nodename, "me", pid)


@pytest.mark.parametrize(("run", "says"), [
    (make_run(), "kept no logs"),
    (make_run(logs=Logs(stdout="sha256:" + "0" * 64, stdout_bytes=3)), "is missing from"),
    (make_run(status="running", host=this_host(2**22 + 7)), "was lost"),
    (make_run(status="running", host=Host("node42.cluster", "me", 1)),
     "is running on node42.cluster"),
    (make_run(status="running", host=this_host(os.getpid()),
              started_at=utcnow() - dt.timedelta(minutes=5)), "without a live log"),
], ids=["before-logs", "blob-missing", "lost", "elsewhere", "records-itself"])
def test_a_run_without_logs_to_show_is_one_error_line(project: Project, run: object,
                                                      says: str) -> None:
    Catalog().write(run)  # type: ignore[arg-type]
    run_id = run.id  # type: ignore[attr-defined]

    for args in (("logs", run_id), ("logs", "--follow", run_id)):
        done = project.bth(*args)

        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert line.startswith("Error: ") and (run_id in line or "sha256:" in line)
        assert says in line


def test_a_log_stream_is_stdout_or_stderr(catalog: Catalog) -> None:
    run = make_run(logs=Logs())
    catalog.write(run)

    assert catalog.read_log(run.id, "stderr") == b""
    with pytest.raises(ConfigError, match="stdout or stderr"):
        catalog.read_log(run.id, "stdout_bytes")
