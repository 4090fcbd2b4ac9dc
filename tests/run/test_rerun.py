"""`bth rerun`: a recorded run made again from its pinned code, in a temporary checkout of a real
git repository (or `--here`), by real `bth` processes; the new run read back through the catalog.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from project import Done, Project, make_project
from records import make_run
from venvs import build_wheel, make_venv, pip_install

from bathos import Catalog, Output, Run
from bathos.diff import outputs_section
from bathos.hashing import hash_file
from bathos.rerun import output_key

TRAIN = "scripts/experiments/train.py"
# Writes into its working directory and into $BTH_OUTPUT_DIR, through a module of the project.
TRAIN_PY = """\
import argparse, os
from lib.model import scale

parser = argparse.ArgumentParser()
parser.add_argument("-n", type=int)
parser.add_argument("--crash-at", type=int, default=-1)
args = parser.parse_args()
with open("result.txt", "w") as out:
    for i in range(args.n):
        if i == args.crash_at:
            raise RuntimeError(f"crashed at step {i}")
        out.write(f"{scale(i)}\\n")
with open(os.path.join(os.environ["BTH_OUTPUT_DIR"], "summary.txt"), "w") as out:
    out.write(f"n={args.n} threads={os.environ.get('OMP_NUM_THREADS')}\\n")
print("trained")
"""
MODEL = "lib/model.py"


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    """A committed project whose training script imports a local module."""
    return make_project(tmp_path / "proj", {TRAIN: TRAIN_PY, "lib/__init__.py": "",
                                            MODEL: "def scale(i):\n    return i * 2\n"})


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> dict[str, str | None]:
    """A TMPDIR of the test's own, to see that a rerun leaves nothing in it."""
    (tmp_path / "tmp").mkdir()
    return {"TMPDIR": str(tmp_path / "tmp")}


def rerun(proj: Project, *args: str, env: dict[str, str | None] | None = None) -> Done:
    return proj.bth("rerun", *args, env=env)


def kept(proj: Project, run: Run) -> dict[str, bytes]:
    """The output files of `run` as they are in the repository, each checked against its hash."""
    found = {}
    for output in run.outputs:
        path = proj.root / output.path
        assert hash_file(path).sha256 == output.sha256, output.path
        found[output_key(run, output.path)] = path.read_bytes()
    return found


def test_a_dirty_run_reruns_from_its_snapshot_byte_identical(
        proj: Project, tmpdir_env: dict[str, str | None]) -> None:
    proj.write(MODEL, "def scale(i):\n    return i * 3\n")  # uncommitted
    old = proj.bth_run(TRAIN, "-n", "4")
    assert old.git is not None and old.git.dirty and old.git.snapshot
    proj.git("checkout", "--", MODEL)
    proj.write(MODEL, "def scale(i):\n    return i * 5\n")
    proj.commit("another model")

    done = rerun(proj, old.id[:8], env=tmpdir_env)

    assert done.returncode == 0, done.stderr
    assert "trained" in done.stdout
    assert f"outputs byte-identical to run {old.id[:12]}'s (2 files)" in done.stderr
    new = done.run()
    assert new.parent_run_id == old.id and "rerun" in new.tags and new.status == "completed"
    assert new.git == old.git and new.cwd == old.cwd and new.argv == ("-n", "4")
    assert {d.path: d.sha256 for d in new.dependencies} == {
        d.path: d.sha256 for d in old.dependencies}
    assert kept(proj, new) == {"result.txt": b"0\n3\n6\n9\n",
                               "$BTH_OUTPUT_DIR/summary.txt": b"n=4 threads=None\n"}
    assert {o.path for o in new.outputs} == {f"outputs/{new.id}/summary.txt",
                                              f"outputs/{new.id}/worktree/result.txt"}
    assert outputs_section(old, new).identical
    assert Catalog().diff(old, new).outputs_identical  # what bth diff OLD NEW says
    assert list((proj.root.parent / "tmp").iterdir()) == []  # the checkout is gone


def test_a_run_whose_repository_moved_reruns_from_its_new_place(proj: Project,
                                                                tmp_path: Path) -> None:
    old = proj.bth_run(TRAIN, "-n", "3")
    moved = Project(tmp_path / "elsewhere" / "proj")
    moved.root.parent.mkdir()
    proj.root.rename(moved.root)
    assert rerun(moved, old.id).returncode == 2  # not registered there yet: one line, exit 2
    assert moved.bth("init").returncode == 0  # the registry learns where it went

    done = rerun(moved, old.id)

    assert done.returncode == 0, done.stderr
    new = done.run()
    assert new.git is not None and new.git.repo_root == str(moved.root)
    assert new.cwd == str(moved.root)
    assert kept(moved, new)["result.txt"] == b"0\n2\n4\n"
    assert outputs_section(old, new).identical


def test_a_run_whose_commit_was_rebased_away_and_collected_still_reruns(
        proj: Project) -> None:
    proj.write(MODEL, "def scale(i):\n    return i + 100\n")
    proj.commit("to be thrown away")
    proj.write("lib/__init__.py", "# dirty too\n")
    old = proj.bth_run(TRAIN, "-n", "2")
    proj.git("checkout", "--", ".")
    proj.git("reset", "-q", "--hard", "HEAD~1")
    proj.git("reflog", "expire", "--expire=now", "--all")
    proj.git("gc", "-q", "--prune=now")

    done = rerun(proj, old.id)

    assert done.returncode == 0, done.stderr
    assert "outputs byte-identical" in done.stderr
    assert kept(proj, done.run())["result.txt"] == b"100\n101\n"


def test_here_reruns_in_a_tree_that_matches(proj: Project) -> None:
    old = proj.bth_run(TRAIN, "-n", "3")

    done = rerun(proj, old.id, "--here")

    assert done.returncode == 0, done.stderr
    assert "outputs byte-identical" in done.stderr
    new = done.run()
    assert new.cwd == str(proj.root) and new.parent_run_id == old.id
    assert {o.path for o in new.outputs} == {"result.txt", f"outputs/{new.id}/summary.txt"}


def test_here_refuses_a_tree_that_differs(proj: Project) -> None:
    old = proj.bth_run(TRAIN, "-n", "3")
    proj.write(MODEL, "def scale(i):\n    return -i\n")

    done = rerun(proj, old.id, "--here")

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"these files differ from what it read: {MODEL}" in done.stderr
    assert "(drop --here)" in done.stderr
    assert len(Catalog().runs()) == 1


def test_a_run_that_crashes_halfway_reruns_failed_with_its_exit_code(proj: Project) -> None:
    old = proj.bth_run(TRAIN, "-n", "5", "--crash-at", "3", expect=1)

    done = rerun(proj, old.id)

    assert done.returncode == 1
    assert "RuntimeError: crashed at step 3" in done.stderr
    new = done.run()
    assert new.status == "failed" and new.exit_code == 1
    assert kept(proj, new) == {"result.txt": b"0\n2\n4\n"}
    assert "outputs byte-identical" in done.stderr


def test_recorded_variables_are_replayed_but_redacted_ones(proj: Project) -> None:
    proj.write(TRAIN, TRAIN_PY.replace("os.environ.get('OMP_NUM_THREADS')",
                                       "os.environ.get('OMP_NUM_THREADS')} "
                                       "{os.environ.get('SLURM_TOKEN')"))
    proj.commit("token")
    old = proj.bth_run(TRAIN, "-n", "1", env={"OMP_NUM_THREADS": "3", "SLURM_TOKEN": "then"})

    done = rerun(proj, old.id, env={"SLURM_TOKEN": "now"})

    assert done.returncode == 0, done.stderr
    assert "warning: recorded redacted, so left to the current environment: SLURM_TOKEN" in (
        done.stderr)
    assert kept(proj, done.run())["$BTH_OUTPUT_DIR/summary.txt"] == b"n=1 threads=3 now\n"
    assert f"outputs differ from run {old.id[:12]}'s: changed $BTH_OUTPUT_DIR/summary.txt" in (
        done.stderr)


def test_a_command_run_by_path_with_single_dash_options(proj: Project) -> None:
    proj.write("scripts/count.sh", '#!/bin/sh\nseq "$2" > counted.txt\n')
    os.chmod(proj.root / "scripts/count.sh", 0o755)
    proj.commit("a shell script")
    old = proj.bth_run("--", "./scripts/count.sh", "-n", "3")
    proj.write("scripts/count.sh", "#!/bin/sh\nexit 9\n")

    done = rerun(proj, old.id)

    assert done.returncode == 0, done.stderr
    new = done.run()
    assert old.script == new.script == "scripts/count.sh" and new.argv == ("-n", "3")
    assert kept(proj, new) == {"counted.txt": b"1\n2\n3\n"}


def test_data_that_git_ignores_is_copied_in_when_unchanged(proj: Project) -> None:
    proj.write(".gitignore", "data/\nresults/\n")
    proj.write("scripts/analysis/count.py", (
        "import sys\nrows = open(sys.argv[2]).read().splitlines()\n"
        "open('../results/counted.txt', 'w').write(str(len(rows)))\n"))
    proj.commit("a counter")
    proj.write("data/in.csv", "a\nb\nc\n")
    (proj.root / "results").mkdir()  # ignored: the checkout has no such directory
    (proj.root / "work").mkdir()  # a working directory git does not keep
    old = proj.bth("run", "../scripts/analysis/count.py", "--data", "../data/in.csv",
                   cwd=proj.root / "work").run()
    assert "data/in.csv" in {d.path for d in old.dependencies}

    done = rerun(proj, old.id)
    proj.write("data/in.csv", "changed\n")
    refused = rerun(proj, old.id)

    assert done.returncode == 0, done.stderr
    assert kept(proj, done.run()) == {"results/counted.txt": b"3"}
    assert "outputs byte-identical" in done.stderr
    assert refused.returncode == 2
    assert refused.stderr == (f"Error: run {old.id} cannot be rerun: it read files its pinned "
                              f"code does not hold, and {proj.root} lacks them or holds them "
                              "changed: data/in.csv\n")


def test_ctrl_c_interrupts_the_rerun_and_removes_its_checkout(
        tmp_path: Path, tmpdir_env: dict[str, str | None]) -> None:
    proj = make_project(tmp_path / "proj", {"scripts/wait.py": (
        "import time\nprint('waiting', flush=True)\ntime.sleep(60)\n")})
    first = proj.popen("run", "scripts/wait.py")
    assert first.stdout is not None
    first.stdout.readline()
    first.send_signal(signal.SIGINT)
    original = Project.wait(first).run()
    proc = proj.popen("rerun", original.id, env=tmpdir_env)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"waiting\n"

    proc.send_signal(signal.SIGINT)
    done = Project.wait(proc)

    assert done.returncode == 130, done.stderr
    assert done.run().status == "interrupted"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_missing_interpreter_is_one_line(proj: Project, tmp_path: Path) -> None:
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    old = proj.bth_run("--python", str(python), TRAIN, "-n", "1")
    python.unlink()

    done = rerun(proj, old.id)

    assert done.returncode == 2
    assert done.stderr == (f"Error: run {old.id} cannot be rerun: its interpreter {python} no "
                           "longer exists (recreate that environment)\n")


def test_a_changed_package_list_is_one_warning(proj: Project, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "env")
    old = proj.bth_run("--python", str(python), TRAIN, "-n", "0")
    pip_install(python, build_wheel(tmp_path / "env" / "wheels", "tinypkg", "2.0"))

    done = rerun(proj, old.id)

    assert done.returncode == 0, done.stderr
    new = done.run()
    assert (f"warning: 1 package(s) differ from those run {old.id} had installed (bth diff "
            f"{old.id[:12]} {new.id[:12]} shows which)") in done.stderr


def test_a_run_outside_git_cannot_be_rerun(plain_project: Project) -> None:
    old = plain_project.bth_run("--", "true")

    done = plain_project.bth("rerun", old.id)

    assert done.returncode == 2
    assert done.stderr == (f"Error: run {old.id} cannot be rerun: it did not run in a git "
                           "repository, so its code was not pinned\n")


def test_a_run_whose_pinned_commit_is_gone_cannot_be_rerun(proj: Project) -> None:
    proj.write("notes.txt", "x\n")
    commit = proj.commit("to be lost")
    old = proj.bth_run(TRAIN, "-n", "1")
    proj.git("reset", "-q", "--hard", "HEAD~1")
    proj.git("update-ref", "-d", f"refs/bathos/commits/{commit}")
    proj.git("reflog", "expire", "--expire=now", "--all")
    proj.git("gc", "-q", "--prune=now")

    done = rerun(proj, old.id)

    assert done.returncode == 2
    assert done.stderr == (f"Error: run {old.id} cannot be rerun: its pinned commit "
                           f"{commit[:12]} is missing from {proj.root}\n")


def test_outputs_line_up_by_where_they_were_written() -> None:
    def output(path: str, sha: str | None = "sha256:a") -> Output:
        return Output(path=path, size=1, sha256=sha)

    old = make_run(id="old", outputs=(output("outputs/old/a.txt"), output("fig.png"),
                                      output("big.bin", None), output("gone.txt")))
    new = make_run(id="new", tags=("rerun",), outputs=(
        output("outputs/new/a.txt"), output("outputs/new/worktree/fig.png", "sha256:b"),
        output("outputs/new/worktree/big.bin", None), output("extra.txt")))

    compared = outputs_section(old, new)

    states = {f.path: f.state for f in compared.files}
    assert compared.same_files == ("$BTH_OUTPUT_DIR/a.txt",)
    assert states == {"fig.png": "changed", "big.bin": "unknown", "gone.txt": "only_a",
                      "extra.txt": "only_b"}
    assert not compared.identical
    assert outputs_section(make_run(), make_run()).identical
