"""`bth run` finds the files any command wrote by a tree scan, credits only what the run wrote, and
lists the tracked files it changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from project import Project

from bathos import Catalog
from bathos.models import Run


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def outputs(run: Run) -> dict[str, str | None]:
    return {o.path: o.sha256 for o in run.outputs}


def test_a_shell_command_writing_a_file_records_it_as_an_output(project: Project) -> None:
    project.write("data/old.csv", "a\n1\n")
    project.commit("data")

    run = project.bth_run("--", "sh", "-c", "mkdir -p out && echo x > out.txt && "
                          "echo y > out/frame1.txt && cat data/old.csv > /dev/null")

    assert outputs(run) == {"out.txt": sha256(project.root / "out.txt"),
                            "out/frame1.txt": sha256(project.root / "out/frame1.txt")}
    assert run.capture is not None and run.capture.scanned > 0
    assert not run.capture.scan_capped
    assert not run.capture.not_written and not run.capture.modified_tracked


def test_the_scan_leaves_out_caches_environments_other_runs_and_excluded_globs(
        project: Project) -> None:
    with (project.root / ".bth.toml").open("a") as fh:
        fh.write('\n[capture]\nexclude = ["*.tmp", "data/raw"]\n')
    earlier = project.bth_run("--", "sh", "-c", 'echo first > "$BTH_OUTPUT_DIR/m.txt"')
    project.write(".venv/pyvenv.cfg", "home = /usr/bin\n")
    project.commit("excludes and an environment")

    run = project.bth_run("--", "sh", "-c", " && ".join([
        "echo kept > kept.txt", "echo t > scratch.tmp", "mkdir -p data/raw __pycache__",
        "echo r > data/raw/x.bin", "echo c > __pycache__/m.pyc", "echo v > .venv/lib.py",
        f"echo again > outputs/{earlier.id}/m.txt", 'echo mine > "$BTH_OUTPUT_DIR/own.txt"']))

    assert sorted(outputs(run)) == ["kept.txt", f"outputs/{run.id}/own.txt"]
    assert outputs(earlier) == {f"outputs/{earlier.id}/m.txt": "sha256:" + hashlib.sha256(
        b"first\n").hexdigest()}


CRASH = """\
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--out")
args = parser.parse_args()
raise SystemExit("diverged before saving the plot")
"""


def test_a_crashed_run_is_not_credited_with_an_old_output_it_named(project: Project) -> None:
    project.write("scripts/experiments/crash.py", CRASH)
    project.commit("crash")
    earlier = project.bth_run("--", "sh", "-c", "printf 'PNG A' > plot.png")
    assert list(outputs(earlier)) == ["plot.png"]

    done = project.bth("run", "--out", "plot.png", "scripts/experiments/crash.py", "--",
                       "--out", "plot.png")

    assert done.returncode == 1, done.stderr
    crashed = done.run()
    assert crashed.status == "failed"
    assert crashed.outputs == ()
    assert "plot.png" not in {d.path for d in crashed.dependencies}  # named as an output
    assert crashed.capture is not None and crashed.capture.not_written == ("plot.png",)
    warnings = [line for line in done.stderr.splitlines() if "plot.png" in line]
    assert warnings == ["warning: not written by this run, so not recorded as its output: "
                        "plot.png"]
    shown = project.bth("show", crashed.id)
    assert "not written by this run: plot.png" in shown.stdout

    check = project.bth("check", "plot.png")
    assert f"produced by run {earlier.id[:12]}" in check.stdout, check.stdout
    assert Catalog().producer_of(project.root / "plot.png").run_id == earlier.id


def test_check_names_the_run_that_last_wrote_those_bytes_there(project: Project) -> None:
    first = project.bth_run("--", "sh", "-c", "printf one > result.txt")
    second = project.bth_run("--", "sh", "-c", "printf two > result.txt")
    (project.root / "result.txt").write_text("one")  # the first run's bytes, restored

    assert Catalog().producer_of(project.root / "result.txt").run_id == first.id
    (project.root / "result.txt").write_text("two")
    assert Catalog().producer_of(project.root / "result.txt").run_id == second.id


def test_a_run_overwriting_a_tracked_file_lists_it(project: Project) -> None:
    project.write("nbody.png", "committed plot")
    project.write("notes.txt", "committed notes")
    project.commit("plot and notes")

    same = project.bth_run("--", "sh", "-c", "printf 'committed plot' > nbody.png")
    changed = project.bth("run", "--", "sh", "-c", "printf 'new plot' > nbody.png")

    assert same.capture is not None and same.capture.modified_tracked == ()
    assert changed.returncode == 0, changed.stderr
    run = changed.run()
    assert run.git is not None and not run.git.dirty
    assert run.capture is not None and run.capture.modified_tracked == ("nbody.png",)
    assert list(outputs(run)) == ["nbody.png"]
    assert "warning: the run changed files tracked by git: nbody.png" in changed.stderr
    shown = project.bth("show", run.id)
    assert "tracked files changed: nbody.png" in shown.stdout, shown.stdout
    project.write("notes.txt", "edited by hand")
    after = project.bth_run("scripts/experiments/hello.py")
    assert after.git is not None and after.git.dirty
    shown = project.bth("show", after.id)
    assert f"dirty: True (changed: nbody.png written by run {run.id[:12]}, notes.txt)" \
        in shown.stdout, shown.stdout


def test_a_scan_stopped_at_its_cap_is_recorded_and_shown(project: Project) -> None:
    for n in range(30):
        project.write(f"data/f{n:02d}.txt", "x\n")
    project.commit("many files")

    done = project.bth("run", "--", "sh", "-c", "echo x > out.txt",
                       env={"BTH_SCAN_MAX_ENTRIES": "10"})

    assert done.returncode == 0, done.stderr
    run = done.run()
    assert run.capture is not None and run.capture.scan_capped
    assert run.capture.scanned == 10
    assert "the scan for files the run wrote stopped at its cap" in done.stderr
    shown = project.bth("show", run.id)
    assert "scan: stopped at its cap after 10 entries" in shown.stdout, shown.stdout
