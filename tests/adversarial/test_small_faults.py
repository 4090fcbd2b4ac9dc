"""Smaller faults: an unreadable `.bth.toml`, a catalog path that cannot exist, a bare repository,
thousands of untracked files, and the scratch files a killed run leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from attack_helpers import stderr_lines
from gitrepo import git
from project import NO_SIDECAR_REQUIRED, Project, make_project

from bathos import Catalog

HELLO = "scripts/experiments/hello.py"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {HELLO: "print('hello')\n"})


def one_error(done_stderr: str, expected: str) -> None:
    assert "Traceback" not in done_stderr, done_stderr
    [line] = done_stderr.splitlines()
    assert line.startswith("Error: ") and expected in line, line


def test_a_bth_toml_that_is_not_utf8_is_one_line_and_exit_2(project: Project) -> None:
    (project.root / ".bth.toml").write_bytes(b'[project]\nslug = "caf\xe9"\n')
    for args in (["ls"], ["run", HELLO], ["sql", "SELECT 1"], ["compact"], ["import-spill"]):
        done = project.bth(*args)

        assert done.returncode == 2, (args, done.stderr)
        one_error(done.stderr, "is not UTF-8 text")
        assert "hello" not in done.stdout


def test_a_catalog_path_that_cannot_exist_is_one_line(project: Project) -> None:
    (project.root / ".bth.toml").write_text('[project]\nslug = "p"\ncatalog = "/proc/nope"\n'
                                            + NO_SIDECAR_REQUIRED)

    compact = project.bth("compact")
    listing = project.bth("ls")
    run = project.bth("run", HELLO)

    assert compact.returncode == 2
    one_error(compact.stderr, "catalog /proc/nope cannot be made a directory")
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    # the script's work comes first: it runs, and one line says the run was kept elsewhere
    assert (run.returncode, run.stdout) == (0, "hello\n")
    assert "Traceback" not in run.stderr
    assert len(stderr_lines(run.stderr, "could not be recorded (cannot write catalog "
                                        "/proc/nope")) == 1


def test_a_catalog_path_with_a_nul_byte_is_bad_input(project: Project) -> None:
    (project.root / ".bth.toml").write_text('[project]\nslug = "p"\ncatalog = "a\\u0000b"\n')

    done = project.bth("ls")

    assert done.returncode == 2
    one_error(done.stderr, "project.catalog must be a directory path")


def test_a_script_in_a_bare_repository_says_once_it_records_no_code_version(
        tmp_path: Path) -> None:
    bare = tmp_path / "store.git"
    bare.mkdir()
    git(bare, "init", "-q", "--bare")
    project = Project(bare)
    project.write("hooks/hello.py", "print('hello')\n")

    done = project.bth("run", "hooks/hello.py")

    assert done.returncode == 0, done.stderr
    assert len(stderr_lines(done.stderr, "no working tree")) == 1
    assert done.run().git is None


def test_thousands_of_untracked_files_are_listed_up_to_a_cap_and_counted(
        project: Project) -> None:
    for n in range(1500):
        project.write(f"data/sample-{n:04}.csv", "x\n")

    run = project.bth_run(HELLO)
    shown = project.bth("show", run.id)

    assert run.git is not None
    assert (len(run.git.untracked), run.git.untracked_count) == (1000, 1500)
    assert run.git.untracked[0] == "data/sample-0000.csv"
    fragment = next(Catalog().path.glob(f"runs/*/{run.id}.json"))
    assert fragment.stat().st_size < 64 * 1024
    assert json.loads(fragment.read_text())["git"]["untracked_count"] == 1500
    assert "untracked: 1500 files: data/sample-0000.csv, data/sample-0001.csv" in shown.stdout


def test_a_record_without_the_count_still_reads(project: Project) -> None:
    run = project.bth_run(HELLO)
    fragment = next(Catalog().path.glob(f"runs/*/{run.id}.json"))
    record = json.loads(fragment.read_text())
    del record["git"]["untracked_count"]
    fragment.write_text(json.dumps(record))

    assert Catalog().get(run.id).git.untracked_count is None  # type: ignore[union-attr]


SLEEPER = "import os, time\nprint(f'ready {os.getpid()}', flush=True)\ntime.sleep(60)\n"


def test_a_killed_run_leaves_no_scratch_once_its_processes_are_gone(tmp_path: Path,
                                                                   bth_home: Path) -> None:
    project = make_project(tmp_path / "proj", {"scripts/debug/sleep.py": SLEEPER})
    proc = project.popen("run", "scripts/debug/sleep.py")
    assert proc.stdout is not None
    child = int(proc.stdout.readline().split()[1])
    [scratch] = (bth_home / "tmp").iterdir()
    proc.kill()  # bth is gone; its script goes on
    proc.wait()

    assert project.bth("ls", "--status", "lost").stdout.count("lost") == 1
    assert scratch.is_dir()  # the script still runs and may still write its results there

    os.kill(child, signal.SIGKILL)
    wait_gone(child)
    assert project.bth("ls", "--status", "lost").returncode == 0
    assert not scratch.exists()


def wait_gone(pid: int) -> None:
    """Until `pid` has exited (a zombie left for init to reap counts as gone)."""
    status = Path(f"/proc/{pid}/status")
    for _ in range(200):
        try:
            if "State:\tZ" in status.read_text():
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not exit")


def test_a_forged_run_id_never_names_a_scratch_to_remove(project: Project,
                                                         bth_home: Path) -> None:
    victim = bth_home / "victim"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    run = project.bth_run(HELLO)
    fragment = next(Catalog().path.glob(f"runs/*/{run.id}.json"))
    record = json.loads(fragment.read_text())
    record.update(id="../victim", status="running")
    record["host"].update(hostname=os.uname().nodename, pid=dead_pid())
    (fragment.parent / "forged.json").write_text(json.dumps(record))

    project.bth("ls")

    assert (victim / "keep.txt").read_text() == "mine"


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
