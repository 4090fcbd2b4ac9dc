"""Every test gets its own BTH_HOME under tmp_path and runs from tmp_path, so no test touches the
user's home and no `.bth.toml` above the real cwd can pick another catalog. Fixtures for a test's
catalog, empty or damaged."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from records import make_run

import bathos
from bathos.ids import new_run_id


@pytest.fixture(autouse=True)
def bth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "bth-home"
    monkeypatch.setenv("BTH_HOME", str(home))
    monkeypatch.delenv("BTH_CATALOG_DIR", raising=False)
    monkeypatch.delenv("BTH_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def catalog_dir(bth_home: Path) -> Path:
    return bth_home / "catalog"


@pytest.fixture
def catalog(catalog_dir: Path) -> bathos.Catalog:
    """The test's catalog, as `bathos.Catalog()` finds it."""
    return bathos.Catalog()


@pytest.fixture
def damaged(catalog: bathos.Catalog) -> SimpleNamespace:
    """Readable runs of project `demo` (in a segment and a fragment), a fragment of garbage bytes
    beside them, and the compacted segment of project `other` cut in half."""
    cool = [make_run() for _ in range(3)]
    for run in cool:
        catalog.write(run)
    catalog.compact()
    for run in (make_run(project="other"), make_run(project="other")):
        catalog.write(run)
    catalog.compact()
    (truncated,) = (catalog.path / "runs" / "other").glob("*.parquet")
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    hot = make_run()
    catalog.write(hot)
    garbage = catalog.path / "runs" / "demo" / f"{new_run_id()}.json"
    garbage.write_bytes(random.Random(3).randbytes(300))
    return SimpleNamespace(
        readable=[*cool, hot], garbage=garbage, truncated=truncated,
        contents={garbage: garbage.read_bytes(), truncated: truncated.read_bytes()},
    )
