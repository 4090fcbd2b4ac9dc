"""Processes a script leaves behind: a daemon that keeps the run's stdout open does not keep
`bth run` waiting, and the run's duration ends when the script does."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from project import Done, make_project

from bathos import Catalog

DAEMON = "scripts/experiments/start_daemon.py"
# Double-forks a daemon that holds stdout and stderr for 20 s, then exits at once itself.
SCRIPT = """\
import os, sys, time

print("before exit", flush=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(sys.argv[1], "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(20)
        print("daemon late", flush=True)
        os._exit(0)
    os._exit(0)
os.wait()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
"""


def test_a_daemon_holding_stdout_does_not_hold_the_run(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", {DAEMON: SCRIPT})
    pidfile = tmp_path / "daemon.pid"
    proc = project.popen("run", DAEMON, "--", str(pidfile))
    try:
        out, err = proc.communicate(timeout=10)  # the daemon sleeps for 20 s
    finally:
        proc.kill()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)

    done = Done(proc.returncode, out.decode(), err.decode())
    assert done.returncode == 0, done.stderr
    run = Catalog().get(done.run_id)
    assert run.status == "completed"
    assert run.duration_s is not None and run.duration_s < 5
    assert Catalog().read_log(run.id) == b"before exit\n"
    assert "daemon late" not in done.stdout

