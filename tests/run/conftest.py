"""Fixtures: a committed bathos project in a real git repository, and one outside git.

    def test_x(project):
        run = project.bth_run("scripts/experiments/hello.py")   # a real `bth run`, read back
"""

from __future__ import annotations

from pathlib import Path

import pytest
from project import Project, init_test_project, make_project

HELLO = "print('hello')\n"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A clean git repository, initialised for bathos and committed, with a hello script."""
    return make_project(tmp_path / "proj", {"scripts/experiments/hello.py": HELLO})


@pytest.fixture
def plain_project(tmp_path: Path) -> Project:
    """A bathos project outside any git repository."""
    proj = Project(tmp_path / "plain")
    proj.write("scripts/experiments/hello.py", HELLO)
    init_test_project(proj.root)
    return proj
