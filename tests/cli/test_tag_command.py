"""`bth tag` on runs a real `bth run` recorded in a real git project: tags added and removed,
seen by `bth ls` and `bth find` before and after `bth compact`, the edit recorded in the run
(who, when) with a newer `updated_at`; a running run, a bad tag and an unknown run refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from project import Project, make_project

from bathos import Catalog

WAIT = """\
import time
from pathlib import Path

while not Path("go").exists():
    time.sleep(0.05)
"""


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"scripts/experiments/hello.py": "print('hello')\n",
                                            "scripts/experiments/wait.py": WAIT})


def listed(proj: Project, command: str, *args: str) -> list[tuple[str, list[str]]]:
    done = proj.bth(command, *args, "--json")
    assert done.returncode == 0, done.stderr
    return [(r["id"], r["tags"]) for r in json.loads(done.stdout)]


def test_a_finished_run_is_tagged_and_untagged_and_ls_and_find_see_it_before_and_after_compact(
        proj: Project) -> None:
    run = proj.bth_run("--tag", "draft", "scripts/experiments/hello.py")
    other = proj.bth_run("scripts/experiments/hello.py")

    done = proj.bth("tag", run.id[:8], other.id, "--add", "best", "--add", "v1",
                    "--remove", "draft")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{run.id[:12]}  best, v1", f"{other.id[:12]}  best, v1"]
    for _ in ("hot", "compacted"):
        assert listed(proj, "ls", "--tag", "best") == [(other.id, ["best", "v1"]),
                                                      (run.id, ["best", "v1"])]
        assert listed(proj, "find", "--tag", "draft") == []
        assert compact(proj)
    tagged = Catalog().get(run.id)
    assert tagged.updated_at > run.updated_at  # what sync compares: the tagged record is sent
    (edit,) = tagged.tag_edits
    assert (edit.add, edit.remove) == (("best", "v1"), ("draft",))
    assert edit.by.endswith("@" + os.uname().nodename)
    assert edit.time == tagged.updated_at

    again = proj.bth("tag", run.id, "--remove", "v1")  # a compacted run: a new hot fragment

    assert again.returncode == 0, again.stderr
    assert listed(proj, "ls", "--tag", "v1") == [(other.id, ["best", "v1"])]
    assert [e.remove for e in Catalog().get(run.id).tag_edits] == [("draft",), ("v1",)]
    assert compact(proj)
    assert listed(proj, "find", "--tag", "best") == [(other.id, ["best", "v1"]),
                                                    (run.id, ["best"])]


def compact(proj: Project) -> bool:
    done = proj.bth("compact")
    assert done.returncode == 0, done.stderr
    return True


def test_tagging_a_run_with_tags_it_has_writes_nothing(proj: Project) -> None:
    run = proj.bth_run("--tag", "best", "scripts/experiments/hello.py")

    done = proj.bth("tag", run.id, "--add", "best", "--remove", "absent")

    assert done.returncode == 0, done.stderr
    assert Catalog().get(run.id) == run


def test_a_running_run_is_refused_and_left_as_its_bth_run_writes_it(proj: Project) -> None:
    proc = proj.popen("run", "scripts/experiments/wait.py")
    assert proc.stderr is not None
    run_id = proc.stderr.readline().decode().split()[2]

    refused = proj.bth("tag", run_id, "--add", "best")

    (proj.root / "go").touch()
    finished = Project.wait(proc)
    assert finished.returncode == 0, finished.stderr
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"Error: run {run_id}") and "still running" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert Catalog().get(run_id).tags == ()
    assert proj.bth("tag", run_id, "--add", "best").returncode == 0


@pytest.mark.parametrize(("args", "says"), [
    (("--add", "two words"), "invalid tag 'two words'"),
    (("--add", ""), "invalid tag ''"),
    (("--add", "x" * 101), "invalid tag"),
    (("--add", "a", "--remove", "a"), "tag 'a' is both added and removed"),
    ((), "name a tag to --add or --remove"),
])
def test_bad_tags_are_refused_in_one_line_with_exit_2(proj: Project, args: tuple[str, ...],
                                                      says: str) -> None:
    run = proj.bth_run("scripts/experiments/hello.py")

    done = proj.bth("tag", run.id, *args)

    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert Catalog().get(run.id) == run


def test_an_unknown_run_among_several_changes_none(proj: Project) -> None:
    run = proj.bth_run("scripts/experiments/hello.py")

    done = proj.bth("tag", run.id, "zzzzzzzz", "--add", "best")

    assert done.returncode == 2
    assert "zzzzzzzz" in done.stderr and len(done.stderr.splitlines()) == 1
    assert Catalog().get(run.id).tags == ()


def test_bth_run_refuses_a_bad_tag_before_it_starts(proj: Project) -> None:
    done = proj.bth("run", "--tag", "a b", "scripts/experiments/hello.py")

    assert done.returncode == 2
    assert done.stderr.startswith("Error: invalid tag 'a b'")
    assert Catalog().runs(all_projects=True).to_dicts() == []
