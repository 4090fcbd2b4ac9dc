"""Where a run's files are found today: its recorded repository, or one the registry knows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from freshness_helpers import Project, check
from gitrepo import git
from project import SIDECAR, init_test_project

from bathos.errors import ConfigError
from bathos.projects import init_project


def test_a_project_below_its_repository_root_that_moved(tmp_path: Path) -> None:
    """The registry holds the project's root; the run's paths are relative to the repository's."""
    repo = tmp_path / "monorepo"
    project = Project(repo / "analysis")
    project.root.mkdir(parents=True)
    git(repo, "init", "-q")
    project.write("fit.py", "import helpers\nhelpers.fit()\n")
    project.write("helpers.py", "def fit():\n    return 1\n")
    init_test_project(project.root, slug="sub")
    project.commit("analysis")
    run_id = project.bth_run("fit.py").id
    moved = tmp_path / "renamed-monorepo"
    shutil.move(repo, moved)

    with pytest.raises(ConfigError, match="of project 'sub' is gone") as caught:
        check(runs=[run_id])
    assert caught.value.hint == ("if it moved, run bth init in its new location so bathos can "
                                 "find it")
    init_project(moved / "analysis")
    found = check(runs=[run_id]).verdicts[0]
    (moved / "analysis/helpers.py").write_text("def fit():\n    return 2\n")
    changed = check(runs=[run_id]).verdicts[0]

    assert found.verdict == "fresh", found.reasons
    assert [(r.path, r.how) for r in changed.reasons] == [("analysis/helpers.py", "modified")]


def test_a_run_outside_git_started_below_its_project_root(tmp_path: Path) -> None:
    """Without git, a run's sidecar and inputs are recorded relative to the project's root."""
    plain = tmp_path / "plain"
    here = Project(plain / "scripts" / "experiments")
    here.write("hello.py", "import sys\nprint(open(sys.argv[1]).read())\n")
    here.write("hello.bth.toml", SIDECAR)
    here.write("words.txt", "hello\n")
    init_test_project(plain, slug="plain")
    run_id = here.bth_run("hello.py", "words.txt").id

    fresh = check(runs=[run_id]).verdicts[0]
    here.write("hello.bth.toml", SIDECAR.replace("exploration", "ablation"))
    changed = check(runs=[run_id]).verdicts[0]

    assert fresh.verdict == "fresh", fresh.reasons
    assert [(r.path, r.how, r.commit) for r in changed.reasons] == [
        ("scripts/experiments/hello.bth.toml", "modified", None)]
