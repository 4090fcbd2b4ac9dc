"""A catalog that cannot be written (full, read-only, in the way of a file): the script still runs,
`bth run` exits with its code and says in one line where the run was kept; `bth import-spill`
records it later with its results and logs, and refuses a spill it cannot trust."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import attrs
import pytest
from attack_helpers import fill, remount, stderr_lines, tmpfs
from project import Project, make_project

from bathos import Catalog

TRAIN = "scripts/experiments/train.py"
SCRIPT = """\
import os, sys, time
from pathlib import Path
import bth

bth.log(loss=0.25)
if not os.environ.get("NO_OUTPUT"):
    (bth.output_dir() / "model.txt").write_text("weights")
print("training done", flush=True)
print("a warning", file=sys.stderr, flush=True)
if os.environ.get("FILL_DIR"):  # the disk fills while the run runs
    fd = os.open(Path(os.environ["FILL_DIR"]) / "filler", os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 1):
        try:
            while os.write(fd, b"x" * size):
                pass
        except OSError:
            pass
    bth.log(late="x" * 100_000)  # cannot be kept now, and must not fail the script
if os.environ.get("FREE"):  # space comes back while the run runs
    os.unlink(os.environ["FREE"])
if os.environ.get("WAIT_FOR"):
    while not os.path.exists(os.environ["WAIT_FOR"]):
        time.sleep(0.05)
sys.exit(int(os.environ.get("EXIT", "0")))
"""
KEPT = re.compile(r"kept in (\S+) \(bth import-spill \S+ records it\)")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {TRAIN: SCRIPT})


def spilled(stderr: str) -> Path:
    """The spill `bth run` named in its one line about the run it could not record."""
    assert "Traceback" not in stderr, stderr
    [line] = stderr_lines(stderr, "could not be recorded")
    found = KEPT.search(line)
    assert found, line
    path = Path(found.group(1))
    assert (path / "record.json").is_file()
    return path


def assert_imported(project: Project, run_id: str, spill: Path, *, status: str = "completed",
                    exit_code: int = 0, outputs: bool = True,
                    env: dict[str, str | None] | None = None) -> None:
    done = project.bth("import-spill", env=env)
    assert done.returncode == 0, done.stderr
    assert f"imported run {run_id}" in done.stderr
    run = Catalog().get(run_id)
    assert (run.status, run.exit_code, run.results) == (status, exit_code, {"loss": 0.25})
    assert Catalog().metrics(run_id).select("key", "step", "value").rows() == [("loss", 0, 0.25)]
    assert [Path(o.path).name for o in run.outputs] == (["model.txt"] if outputs else [])
    assert Catalog().read_log(run_id) == b"training done\n"
    assert Catalog().read_log(run_id, "stderr").startswith(b"a warning\n")
    assert not spill.exists()


def test_bth_home_that_is_a_file_runs_the_script_and_spills_the_run(project: Project,
                                                                   tmp_path: Path) -> None:
    in_the_way = tmp_path / "not-a-directory"
    in_the_way.write_text("")

    done = project.bth("run", TRAIN, env={"BTH_HOME": str(in_the_way), "EXIT": "3"})

    assert done.returncode == 3
    assert done.stdout == "training done\n"
    spill = spilled(done.stderr)
    assert spill.parent.parent == project.root / "outputs"
    assert_imported(project, done.run_id, spill, status="failed", exit_code=3)


def test_a_spill_goes_to_tmpdir_when_the_output_directory_cannot_take_it(
        project: Project, tmp_path: Path) -> None:
    (project.root / "outputs").write_text("in the way")
    in_the_way = tmp_path / "not-a-directory"
    in_the_way.write_text("")
    env: dict[str, str | None] = {"TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()

    done = project.bth("run", TRAIN, env={**env, "BTH_HOME": str(in_the_way), "NO_OUTPUT": "1"})

    assert done.returncode == 0
    spill = spilled(done.stderr)
    assert spill.parent.parent == tmp_path / "tmp"
    assert_imported(project, done.run_id, spill, outputs=False, env=env)


def test_a_full_disk_at_the_start_runs_the_script_and_spills_it(project: Project,
                                                               bth_home: Path) -> None:
    with tmpfs(bth_home):
        filler = fill(bth_home)

        done = project.bth("run", TRAIN)

        assert done.returncode == 0
        assert done.stdout == "training done\n"
        spill = spilled(done.stderr)
        filler.unlink()
        assert_imported(project, done.run_id, spill)


def test_a_disk_freed_during_the_run_takes_the_final_record(project: Project,
                                                             bth_home: Path) -> None:
    with tmpfs(bth_home):
        filler = fill(bth_home)

        run = project.bth_run(TRAIN, env={"FREE": str(filler)})

        assert (run.status, run.results) == ("completed", {"loss": 0.25})
        assert Catalog().read_log(run.id) == b"training done\n"
        assert not (project.root / "outputs" / run.id / "bth-spill").exists()


def test_a_disk_that_fills_during_the_run_keeps_the_running_record_and_spills_the_end(
        project: Project, bth_home: Path) -> None:
    with tmpfs(bth_home):
        done = project.bth("run", TRAIN, env={"FILL_DIR": str(bth_home)})

        assert done.returncode == 0
        spill = spilled(done.stderr)
        assert Catalog().get(done.run_id).status == "lost"  # the running record, unharmed
        (bth_home / "filler").unlink()
        assert_imported(project, done.run_id, spill)


@pytest.mark.parametrize("when", ["before", "during"])
def test_a_read_only_catalog_runs_the_script_and_spills_it(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    marker, catalog = tmp_path / "go", tmp_path / "catalog"
    monkeypatch.setenv("BTH_CATALOG_DIR", str(catalog))
    with tmpfs(catalog):
        if when == "before":
            remount(catalog, "ro")
        proc = project.popen("run", TRAIN, env={"WAIT_FOR": str(marker),
                                                "BTH_CATALOG_DIR": str(catalog)})
        if when == "during":
            wait_for_fragment(catalog)
            remount(catalog, "ro")
        marker.touch()
        done = project.wait(proc)

        assert done.returncode == 0
        spill = spilled(done.stderr)
        if when == "during":
            assert Catalog().get(done.run_id).status == "lost"
        remount(catalog, "rw")
        assert_imported(project, done.run_id, spill, env={"BTH_CATALOG_DIR": str(catalog)})


def wait_for_fragment(catalog: Path) -> None:
    for _ in range(600):
        if list(catalog.glob("runs/*/*.json")):
            return
        time.sleep(0.05)
    raise AssertionError("no running record appeared")


@pytest.fixture
def spill(project: Project, tmp_path: Path) -> tuple[str, Path]:
    """The id of a run spilled because BTH_HOME was a file, and its spill."""
    in_the_way = tmp_path / "not-a-directory"
    in_the_way.write_text("")
    done = project.bth("run", TRAIN, env={"BTH_HOME": str(in_the_way)})
    return done.run_id, spilled(done.stderr)


def test_import_spill_refuses_a_spill_that_was_changed(project: Project,
                                                       spill: tuple[str, Path]) -> None:
    _, path = spill
    original = (path / "record.json").read_bytes()
    cases = {
        "stdout.log": lambda: (path / "stdout.log").write_bytes(b"forged\n"),
        "no valid run record": lambda: (path / "record.json").write_text("[" * 100_000),
        "symbolic link": lambda: _symlink(path / "record.json", Path("/etc/hostname")),
        "still running": lambda: (path / "record.json").write_text(
            json.dumps({**json.loads(original), "status": "running"})),
    }
    for expected, tamper in cases.items():
        tamper()

        done = project.bth("import-spill", str(path))

        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith("Error: ") and expected in line, line
        assert path.is_dir()
        (path / "record.json").unlink()
        (path / "record.json").write_bytes(original)
        (path / "stdout.log").write_bytes(b"training done\n")
    assert Catalog().runs(project=None).tuples() == []


def _symlink(link: Path, target: Path) -> None:
    link.unlink()
    link.symlink_to(target)


def test_import_spill_never_replaces_a_newer_record(project: Project,
                                                    spill: tuple[str, Path]) -> None:
    run_id, path = spill
    again = path.with_name("copy")
    shutil.copytree(path, again)
    assert project.bth("import-spill", str(path)).returncode == 0
    run = Catalog().get(run_id)
    Catalog().write(attrs.evolve(run, name="renamed", updated_at=run.updated_at.replace(
        year=run.updated_at.year + 1)))

    done = project.bth("import-spill", str(again))

    assert done.returncode == 1
    assert "holds a newer record" in done.stderr
    assert Catalog().get(run_id).name == "renamed"
    assert again.is_dir()


def test_no_spill_found_is_said_plainly(project: Project) -> None:
    done = project.bth("import-spill")
    assert (done.returncode, done.stderr) == (0, "No spilled runs found.\n")



def test_a_full_disk_under_the_repository_too_runs_the_script_and_records_its_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk, spills = tmp_path / "home", tmp_path / "tmp"
    spills.mkdir()
    env: dict[str, str | None] = {"TMPDIR": str(spills), "NO_OUTPUT": "1"}
    with tmpfs(disk, size="4m"):
        monkeypatch.setenv("BTH_HOME", str(disk / "bth-home"))
        project = make_project(disk / "proj", {TRAIN: SCRIPT})
        head = project.git("rev-parse", "HEAD")
        project.write("notes.txt", "an uncommitted edit\n")
        filler = fill(disk)

        done = project.bth("run", TRAIN, env=env)

        assert done.returncode == 0
        assert done.stdout == "training done\n"
        [warning] = stderr_lines(done.stderr, "cannot write to the git repository")
        assert "No space left on device" in warning
        spill = spilled(done.stderr)
        assert spill.parent.parent == spills
        filler.unlink()
        assert_imported(project, done.run_id, spill, outputs=False, env=env)
        git = Catalog().get(done.run_id).git
        assert git is not None
        assert (git.commit, git.dirty, git.pinned_ref, git.snapshot) == (head, True, None, None)
