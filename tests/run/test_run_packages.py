"""`bth run` keeps the list of packages its interpreter had: one blob per environment, read back
with `bth show --packages` and `Catalog.packages`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from project import Project
from venvs import build_wheel, make_venv, pip_install

from bathos import Catalog
from bathos.catalog.blobs import blob_path
from bathos.errors import CatalogError
from bathos.provenance.environment import decode_packages

HELLO = "scripts/experiments/hello.py"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("env"))


def wheel_of(python: Path, version: str) -> str:
    return (python.parent.parent.parent / "wheels" / f"tinypkg-{version}-py3-none-any.whl"
            ).as_uri()


def package_lists(catalog: Path) -> set[Path]:
    """The blobs of the catalog that hold package lists (the others are logs)."""
    found = set()
    for blob in (catalog / "blobs").rglob("*.gz"):
        try:
            decode_packages(gzip.decompress(blob.read_bytes()))
        except ValueError:
            continue
        found.add(blob)
    return found


def test_a_run_lists_the_packages_of_its_interpreter(project: Project, venv: Path) -> None:
    run = project.bth_run("--python", str(venv), HELLO)

    rows = Catalog().packages(run.id[:6])

    assert rows.columns == ("name", "version", "source", "editable")
    assert rows.to_dicts() == [
        {"name": "tinypkg", "version": "1.0", "source": wheel_of(venv, "1.0"), "editable": False}]
    assert rows.to_polars()["name"].to_list() == ["tinypkg"]
    assert run.environment is not None and run.environment.packages_count == 1
    assert Catalog().packages(run).to_dicts() == rows.to_dicts()


def test_runs_in_one_environment_share_one_blob(project: Project, venv: Path) -> None:
    first = project.bth_run("--python", str(venv), HELLO)
    second = project.bth_run("--python", str(venv), HELLO)

    assert first.environment is not None and second.environment is not None
    assert first.environment.packages_list == second.environment.packages_list
    assert package_lists(Catalog().path) == {
        blob_path(Catalog().path, first.environment.packages_list or "")}


def test_a_changed_environment_gets_a_new_list(project: Project, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "changing")
    before = project.bth_run("--python", str(python), HELLO)
    pip_install(python, build_wheel(tmp_path / "changing" / "wheels", "tinypkg", "2.0"))

    after = project.bth_run("--python", str(python), HELLO)

    assert before.environment is not None and after.environment is not None
    assert after.environment.packages_list != before.environment.packages_list
    assert len(package_lists(Catalog().path)) == 2
    assert [r["version"] for r in Catalog().packages(before.id)] == ["1.0"]
    assert [(r["version"], r["source"]) for r in Catalog().packages(after.id)] == [
        ("2.0", wheel_of(python, "2.0"))]


def test_bth_show_packages(project: Project, venv: Path) -> None:
    run = project.bth_run("--python", str(venv), HELLO)
    short = run.id[:12]

    shown = project.bth("show", run.id)
    listed = project.bth("show", run.id[:6], "--packages")
    as_json = project.bth("show", run.id[:6], "--packages", "--json")

    assert f"packages: 1 installed (list them: bth show {short} --packages)" in shown.stdout
    assert listed.returncode == 0, listed.stderr
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["name", "version", "source"], ["tinypkg", "1.0", wheel_of(venv, "1.0")]]
    assert json.loads(as_json.stdout) == Catalog().packages(run.id).to_dicts()


def test_a_command_that_is_not_python_has_no_list(project: Project) -> None:
    run = project.bth_run("--", "true")

    listed = project.bth("show", run.id, "--packages")
    as_json = project.bth("show", run.id, "--packages", "--json")

    assert run.environment is not None and run.environment.packages_list is None
    assert len(Catalog().packages(run.id)) == 0
    assert (listed.returncode, listed.stdout) == (0, "")
    assert "has no package list (it ran no Python" in listed.stderr
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])


def test_a_missing_or_damaged_list_is_one_clear_error(project: Project, venv: Path) -> None:
    run = project.bth_run("--python", str(venv), HELLO)
    assert run.environment is not None and run.environment.packages_list is not None
    blob = blob_path(Catalog().path, run.environment.packages_list)

    blob.write_bytes(gzip.compress(b'{"format": 1, "packages": [{"name": 3}]}'))
    damaged = project.bth("show", run.id, "--packages")
    blob.unlink()
    missing = project.bth("show", run.id, "--packages")

    assert damaged.returncode == 1
    assert damaged.stderr.startswith(f"Error: the package list {run.environment.packages_list} "
                                     f"of run {run.id}")
    assert "malformed entry" in damaged.stderr
    assert missing.returncode == 1
    assert "is missing from" in missing.stderr
    for done in (damaged, missing):
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    with pytest.raises(CatalogError, match="missing"):
        Catalog().packages(run)


def test_the_next_run_stores_a_lost_list_again(project: Project, venv: Path) -> None:
    # The blob is named by its content, so any run in the same environment restores it.
    first = project.bth_run("--python", str(venv), HELLO)
    assert first.environment is not None and first.environment.packages_list is not None
    blob_path(Catalog().path, first.environment.packages_list).unlink()

    project.bth_run("--python", str(venv), HELLO)

    assert [r["name"] for r in Catalog().packages(first)] == ["tinypkg"]
