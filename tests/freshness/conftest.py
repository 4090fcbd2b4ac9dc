"""Fixtures: a committed bathos project in a real git repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from freshness_helpers import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "proj")
