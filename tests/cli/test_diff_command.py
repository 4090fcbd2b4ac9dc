"""`bth diff A B` and `Catalog.diff`: what differs between two real `bth run`s of a real git
project — code (a unified diff of the module that changed, read from the pinned objects), params,
packages, dirty tree, outputs by hash — and one clear line for a bad id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import bth
from project import Project, init_test_project, make_project
from records import make_run
from venvs import build_wheel, make_venv, pip_install

from bathos import Catalog
from bathos.diff import MAX_DIFF_BYTES, SECTIONS, FileChange
from bathos.models import Dependency, Git, Host, Slurm

TRAIN = "scripts/experiments/train.py"
HELLO = "scripts/experiments/hello.py"
SCRIPT = """\
import argparse
from pathlib import Path

import bth
from lib.model import scale

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.5)
args = parser.parse_args()
Path("results").mkdir(exist_ok=True)
Path("results/out.txt").write_text(f"{scale(args.lr)}\\n")
bth.log(loss=scale(args.lr))
"""
DOUBLE = "def scale(x):\n    return x * 2\n"
TRIPLE = "def scale(x):\n    return x * 3\n"


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    """A committed project whose script imports a local module and writes results/out.txt."""
    return make_project(tmp_path / "proj", {TRAIN: SCRIPT, "lib/__init__.py": "",
                                            "lib/model.py": DOUBLE, ".gitignore": "results/\n"})


def lines_of(*args: str) -> list[str]:
    shown = bth("diff", *args)
    assert shown.exit_code == 0, shown.stderr
    return shown.stdout.splitlines()


def test_a_changed_module_and_param_show_as_a_diff_and_a_difference(proj: Project) -> None:
    first = proj.bth_run(TRAIN, "--", "--lr", "0.5")
    proj.write("lib/model.py", TRIPLE)
    commit = proj.commit("triple")
    second = proj.bth_run(TRAIN, "--", "--lr", "0.25")

    lines = lines_of(first.id, second.id[:12])
    found = Catalog().diff(first.id[:12], second)

    assert first.git is not None
    assert f"  commit: {first.git.commit} → {commit}" in lines
    at = lines.index("  changed    lib/model.py (module)")
    assert lines[at + 1:at + 6] == ["    --- a/lib/model.py", "    +++ b/lib/model.py",
                                    "    @@ -1,2 +1,2 @@", "     def scale(x):",
                                    "    -    return x * 2"]
    assert lines[at + 6] == "    +    return x * 3"
    assert "  lr: 0.5 → 0.25 (-0.25)" in lines
    assert "  loss: 1.0 → 0.75 (-0.25)" in lines
    assert "  changed    results/out.txt" in lines
    assert "environment: identical" in lines
    (module,) = found["code"].files
    assert (module.path, module.role, module.state) == ("lib/model.py", "module", "changed")
    assert TRAIN in found["code"].same_files
    assert [(c.key, c.a, c.b, c.delta) for c in found["params"].changes] == [
        ("lr", "0.5", "0.25", -0.25)]
    assert not found.outputs_identical


def test_modules_imported_by_one_run_only_are_listed(proj: Project) -> None:
    proj.write("lib/model.py", "from lib.old import K\n\ndef scale(x):\n    return x * K\n")
    proj.write("lib/old.py", "K = 2\n")
    proj.commit("old")
    first = proj.bth_run(TRAIN)
    proj.write("lib/model.py", "from lib.new import K\n\ndef scale(x):\n    return x * K\n")
    proj.write("lib/new.py", "K = 2\n")
    proj.commit("new")
    second = proj.bth_run(TRAIN)

    lines = lines_of(first.id, second.id)
    files = Catalog().diff(first, second)["code"].files

    assert [(f.path, f.state) for f in files] == [
        ("lib/model.py", "changed"), ("lib/old.py", "only_a"), ("lib/new.py", "only_b")]
    assert "  only in a  lib/old.py (module)" in lines
    assert "  only in b  lib/new.py (module)" in lines
    assert "    -from lib.old import K" in lines and "    +from lib.new import K" in lines
    assert "outputs: identical (1 file)" in lines


def test_recorded_variables_changed_and_secrets_stay_redacted(proj: Project) -> None:
    first = proj.bth_run(TRAIN, env={"CUDA_VISIBLE_DEVICES": "0", "BTH_API_TOKEN": "tok-one"})
    second = proj.bth_run(TRAIN, env={"CUDA_VISIBLE_DEVICES": "1", "BTH_API_TOKEN": "tok-two"})

    lines = lines_of(first.id, second.id)
    changes = Catalog().diff(first, second)["environment"].changes

    assert [(c.key, c.a, c.b) for c in changes] == [("variables.CUDA_VISIBLE_DEVICES", "0", "1")]
    assert "  variables.CUDA_VISIBLE_DEVICES: 0 → 1" in lines
    assert not any("tok-" in line for line in lines)


def test_packages_added_removed_and_upgraded(proj: Project, tmp_path: Path) -> None:
    old, new = make_venv(tmp_path / "old"), make_venv(tmp_path / "new")
    pip_install(old, build_wheel(tmp_path / "old" / "wheels", "oldpkg", "0.1"))
    pip_install(new, build_wheel(tmp_path / "new" / "wheels", "tinypkg", "2.0"))
    pip_install(new, build_wheel(tmp_path / "new" / "wheels", "newpkg", "1.0"))
    proj.write(HELLO, "print('hello')\n")  # the venvs have no bathos: a script without `import bth`
    proj.commit("hello")
    first = proj.bth_run("--python", str(old), HELLO)
    second = proj.bth_run("--python", str(new), HELLO)

    lines = lines_of(first.id, second.id)
    environment = Catalog().diff(first, second)["environment"]

    assert [(p.name, p.change, p.a, p.b) for p in environment.packages] == [
        ("newpkg", "added", None, "1.0"), ("oldpkg", "removed", "0.1", None),
        ("tinypkg", "upgraded", "1.0", "2.0")]
    assert [c.key for c in environment.changes] == ["python_executable"]
    assert "  newpkg: - → 1.0 (added)" in "\n".join(lines)
    assert "  oldpkg: 0.1 → - (removed)" in "\n".join(lines)
    assert any(line.startswith("  tinypkg: 1.0 → 2.0 (upgraded) [source file://")
               for line in lines)
    assert "code: identical (1 file)" in lines


def test_a_run_on_a_dirty_tree_against_a_committed_one(proj: Project) -> None:
    committed = proj.bth_run(TRAIN)
    proj.write("lib/model.py", TRIPLE)
    dirty = proj.bth_run(TRAIN)

    lines = lines_of(committed.id, dirty.id)

    assert dirty.git is not None and dirty.git.snapshot is not None
    assert "  dirty: False → True" in lines
    assert f"  snapshot: - → {dirty.git.snapshot}" in lines
    assert "    +    return x * 3" in lines  # read from the snapshot the dirty run pinned
    assert not any(line.startswith("  commit:") for line in lines)


def test_a_rerun_with_the_same_bytes_says_its_outputs_are_identical(proj: Project) -> None:
    first = proj.bth_run(TRAIN, "--", "--lr", "0.5")
    again = proj.bth_run(TRAIN, "--", "--lr", "0.5")
    other = proj.bth_run(TRAIN, "--", "--lr", "0.75")

    same, changed = Catalog().diff(first, again), Catalog().diff(first, other)

    assert "outputs: identical (1 file)" in lines_of(first.id, again.id)
    assert same.outputs_identical and same["outputs"].same_files == ("results/out.txt",)
    assert "params: identical" in lines_of(first.id, again.id)
    assert not changed.outputs_identical
    assert changed["outputs"].files == (FileChange(
        "results/out.txt", "output", "changed", first.outputs[0].sha256,
        other.outputs[0].sha256),)


def test_json_is_every_section_as_the_library_gives_it(proj: Project) -> None:
    first = proj.bth_run(TRAIN)
    second = proj.bth_run(TRAIN, "--", "--lr", "0.75")

    shown = bth("diff", first.id, second.id, "--json")
    data = json.loads(shown.stdout)

    assert shown.exit_code == 0
    assert list(data) == ["a", "b", "identical", *SECTIONS]
    assert (data["a"], data["b"], data["identical"]) == (first.id, second.id, False)
    for name in SECTIONS:
        assert list(data[name]) == ["identical", "changes", "files", "same_files", "packages",
                                    "note"]
    assert data["params"]["changes"] == [{"key": "lr", "a": "0.5", "b": "0.75", "delta": 0.25}]
    assert data["outputs"]["files"][0]["state"] == "changed"
    assert data == json.loads(json.dumps(Catalog().diff(first, second).to_dict()))


def test_the_same_run_twice_has_no_differences(proj: Project) -> None:
    run = proj.bth_run(TRAIN)

    assert lines_of(run.id, run.id[:12])[-1] == "no differences"
    assert Catalog().diff(run.id, run.id).identical


def test_an_unknown_id_is_one_line_and_exit_2(catalog: Catalog) -> None:
    run = make_run()
    catalog.write(run)

    unknown = bth("diff", run.id, "1zzzzzzz")
    bad = bth("diff", "xy", run.id)

    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("Error: run 1zzzzzzz not found")
    assert bad.exit_code == 2 and "is not a run id" in bad.stderr
    for done in (unknown, bad):
        assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_a_module_git_does_not_hold_gets_a_note_not_a_diff(proj: Project) -> None:
    # An untracked file that looks secret is kept out of the snapshot: no run pins its content.
    proj.write(TRAIN, "import credentials_helper\n")
    proj.write("scripts/experiments/credentials_helper.py", "TOKEN = 1\n")
    first = proj.bth_run(TRAIN)
    proj.write("scripts/experiments/credentials_helper.py", "TOKEN = 2\n")
    second = proj.bth_run(TRAIN)

    lines = lines_of(first.id, second.id)
    (helper,) = Catalog().diff(first, second)["code"].files

    assert (helper.path, helper.state, helper.diff) == (
        "scripts/experiments/credentials_helper.py", "changed", None)
    assert helper.note is not None and helper.note.startswith("its content is not in git")
    assert f"    {helper.note}" in lines


def test_runs_outside_git_say_so_for_each_changed_file(plain: Project) -> None:
    first = plain.bth_run(TRAIN)
    plain.write("lib/model.py", TRIPLE)
    second = plain.bth_run(TRAIN)

    (module,) = Catalog().diff(first, second)["code"].files

    assert module.note == "the run recorded no git repository"
    assert module.path.endswith("lib/model.py")


@pytest.fixture
def plain(tmp_path: Path) -> Project:
    proj = Project(tmp_path / "plain")
    for relpath, text in {TRAIN: SCRIPT, "lib/__init__.py": "", "lib/model.py": DOUBLE}.items():
        proj.write(relpath, text)
    init_test_project(proj.root)
    return proj


def test_binary_and_big_files_get_a_note(tmp_path: Path, catalog: Catalog) -> None:
    repo = make_project(tmp_path / "repo", {"README": "x\n"})
    blobs = {name: repo.git("hash-object", "-w", str(repo.write(name, text)))
             for name, text in (("a.bin", "\0one"), ("b.bin", "\0two"), ("a.py", "x = 1\n"),
                                ("b.py", "x = 2\n"), ("a.txt", "x\n"), ("b.txt", "x\r\n"))}
    git = Git(str(repo.root), repo.git("rev-parse", "HEAD"))

    def deps(side: str, big: int) -> tuple[Dependency, ...]:
        return (Dependency("data.bin", "module", f"sha256:{side}", 4, blobs[f"{side}.bin"]),
                Dependency("model.py", "module", f"sha256:{side}p", 6, blobs[f"{side}.py"]),
                Dependency("huge.py", "module", f"sha256:{side}h", big, "0" * 40),
                Dependency("gone.py", "module", f"sha256:{side}g", 6, "1" * 40),
                Dependency("notes.txt", "sidecar", f"sha256:{side}t", 3, blobs[f"{side}.txt"]))

    a = make_run(git=git, dependencies=deps("a", MAX_DIFF_BYTES + 1), results={"acc": 0.5},
                 host=Host("node1", "ana", 1, 4), slurm=Slurm("7", partition="gpu"))
    b = make_run(git=git, dependencies=deps("b", 10 ** 7), results={"acc": 0.75},
                 host=Host("node1", "ana", 2, 8), slurm=Slurm("8", partition="cpu"),
                 status="failed", exit_code=3)
    for run in (a, b):
        catalog.write(run)

    found = catalog.diff(a.id, b.id)
    notes = {f.path: (f.note, f.diff) for f in found["code"].files}

    assert notes["data.bin"] == ("binary file (4 -> 4 bytes)", None)
    assert notes["model.py"] == (
        None, "--- a/model.py\n+++ b/model.py\n@@ -1 +1 @@\n-x = 1\n+x = 2")
    assert notes["huge.py"][0] == (f"a: too big to show a diff ({MAX_DIFF_BYTES + 1:,} bytes); "
                                   "b: too big to show a diff (10,000,000 bytes)")
    assert notes["notes.txt"] == ("only the line endings (or the last newline) differ", None)
    assert notes["gone.py"][0] is not None and notes["gone.py"][0].startswith("its content is "
                                                                              "not in git")
    assert [(c.key, c.a, c.b, c.delta) for c in found["results"].changes] == [
        ("acc", 0.5, 0.75, 0.25)]
    assert [(c.key, c.a, c.b) for c in found["host"].changes] == [
        ("cpu_count", 4, 8), ("slurm.job_id", "7", "8"), ("slurm.partition", "gpu", "cpu")]
    assert [c.key for c in found["outcome"].changes] == ["status", "exit_code"]
    assert found["environment"].identical
