"""A script run by `bth run` sees what `python script.py` gives it — argv, sys.path, `__main__`,
exit codes, tracebacks, signals — and what it wrote before a signal ended it is still recorded."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from project import Project

PROBE = """\
import json, sys
main = sys.modules["__main__"]
print(json.dumps({
    "argv": sys.argv, "path0": sys.path[0], "path": sys.path[1:], "file": __file__,
    "name": __name__, "dunders": sorted(k for k in globals() if k.startswith("__")),
    "main": [main.__file__, main.__dict__ is globals()], "loader": type(__loader__).__name__,
    "spec": repr(__spec__), "package": __package__, "doc": __doc__,
    "orig_argv": sys.orig_argv[1:], "meta_path": len(sys.meta_path),
}))
"""


def test_the_script_sees_what_python_gives_it(project: Project) -> None:
    script = project.write("scripts/experiments/probe.py", '"""Probe."""\n' + PROBE)
    project.commit("probe")

    done = project.bth("run", "scripts/experiments/probe.py", "--", "a", "--b", "c")
    direct = project.python(str(script), "a", "--b", "c")

    assert done.returncode == direct.returncode == 0, done.stderr
    tracked, plain = json.loads(done.stdout), json.loads(direct.stdout)
    assert tracked["path"] == [str(project.root), *plain["path"]]
    assert tracked["meta_path"] == plain["meta_path"] + 1  # the finder that sees argparse load
    for key in ("path", "meta_path"):
        del tracked[key], plain[key]
    assert tracked == plain
    assert plain["argv"] == [str(script), "a", "--b", "c"]


SCRIPTS = {
    "exit3": "import sys\nsys.exit(3)\n",
    "message": "import sys\nsys.exit('bad input: no data')\n",
    "raises": "def f():\n    raise ValueError('boom')\n\nf()\n",
    "chained": "try:\n    {}['k']\nexcept KeyError as e:\n"
               "    raise RuntimeError('wrapped') from e\n",
    "syntax": "x = (\n",
    "own_hook": "import sys\nsys.excepthook = lambda k, v, tb: print('hook:', v, file=sys.stderr)"
                "\nraise ValueError('mine')\n",
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_exit_codes_and_tracebacks_are_python_s(project: Project, name: str) -> None:
    script = project.write(f"scripts/debug/{name}.py", SCRIPTS[name])
    project.commit(name)

    done = project.bth("run", f"scripts/debug/{name}.py")
    direct = project.python(str(script))

    assert done.returncode == direct.returncode != 0
    assert project.bth("logs", done.run_id, "--stderr").stdout == direct.stderr


@pytest.mark.parametrize(("code", "sig"), [
    ("raise KeyboardInterrupt", signal.SIGINT),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\nimport time\ntime.sleep(30)",
     signal.SIGTERM),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGUSR1)\nimport time\ntime.sleep(30)",
     signal.SIGUSR1),
], ids=["KeyboardInterrupt", "SIGTERM", "SIGUSR1"])
def test_a_script_ended_by_a_signal_ends_so_and_keeps_what_it_wrote(
    project: Project, code: str, sig: signal.Signals,
) -> None:
    script = project.write("scripts/debug/dies.py",
                           f"open('partial.txt', 'w').write('x')\n{code}\n")
    project.commit("dies")

    done = project.bth("run", "scripts/debug/dies.py")
    direct = project.python(str(script))

    assert direct.returncode == -sig and done.returncode == 128 + sig
    run = done.run()
    assert (run.status, run.signal) == ("failed", sig.name)
    assert [o.path for o in run.outputs] == ["partial.txt"]


def test_a_forwarded_signal_still_records_what_the_script_wrote(project: Project) -> None:
    project.write("scripts/debug/slow.py",
                  "import time\nopen('partial.txt', 'w').write('x')\nopen('more.txt', 'w')\n"
                  "print('ready', flush=True)\ntime.sleep(60)\n")
    project.commit("slow")

    proc = project.popen("run", "scripts/debug/slow.py")
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    done = project.wait(proc)

    assert done.returncode == 128 + signal.SIGTERM
    run = done.run()
    assert (run.status, run.signal) == ("interrupted", "SIGTERM")
    assert sorted(o.path for o in run.outputs) == ["more.txt", "partial.txt"]


def test_a_killed_script_leaves_what_it_saw_before_its_last_quarter_second(
    project: Project,
) -> None:
    project.write("scripts/debug/killed.py",
                  "import os, signal, time\nopen('first.txt', 'w')\ntime.sleep(0.3)\n"
                  "open('second.txt', 'w')\nos.kill(os.getpid(), signal.SIGKILL)\n")
    project.commit("killed")

    run = project.bth_run("scripts/debug/killed.py", expect=128 + signal.SIGKILL)

    assert sorted(o.path for o in run.outputs) == ["first.txt", "second.txt"]


def test_forked_workers_report_what_they_write(project: Project) -> None:
    project.write("scripts/experiments/pool.py",
                  "import multiprocessing as mp\n\n"
                  "def work(i):\n    open(f'part{i}.txt', 'w').write(str(i))\n\n"
                  "if __name__ == '__main__':\n    mp.set_start_method('fork')\n"
                  "    with mp.Pool(2) as pool:\n        pool.map(work, range(4))\n")
    project.commit("pool")

    run = project.bth_run("scripts/experiments/pool.py")

    assert sorted(o.path for o in run.outputs) == [f"part{i}.txt" for i in range(4)]


def test_a_script_runs_when_its_report_cannot_be_written(project: Project,
                                                          tmp_path: Path) -> None:
    """No scratch directory at all (BTH_HOME is a file, TMPDIR missing): the run goes on
    unobserved, and is spilled."""
    home = tmp_path / "home-is-a-file"
    home.write_text("")

    done = project.bth("run", "scripts/experiments/hello.py",
                       env={"BTH_HOME": str(home), "TMPDIR": str(tmp_path / "missing")})

    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\n"
    assert "could not be recorded" in done.stderr
