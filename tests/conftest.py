"""Every test gets its own BTH_HOME under tmp_path, so no test touches the user's home."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def bth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "bth-home"
    monkeypatch.setenv("BTH_HOME", str(home))
    monkeypatch.delenv("BTH_CATALOG_DIR", raising=False)
    monkeypatch.delenv("BTH_RUN_ID", raising=False)
    return home


@pytest.fixture
def catalog_dir(bth_home: Path) -> Path:
    return bth_home / "catalog"
