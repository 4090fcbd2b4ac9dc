"""capture_environment and select_variables: interpreter facts, package fingerprints and lists,
secrets."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bathos.catalog.blobs import read_blob
from bathos.models import Environment, unstructure
from bathos.provenance.environment import capture_environment, decode_packages, select_variables
from bathos.provenance.secrets import REDACTED, is_secret_name

SECRET = "s3cr3t-value-that-must-not-leak"


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, real interpreter: a venv without pip (a quarter of a second to make)."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    return root / "bin" / "python"


def site_packages(python: Path) -> Path:
    (found,) = python.parent.parent.glob("lib/python*/site-packages")
    return found


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "BTH_API_TOKEN",
        "db_password",
        "MYSQL_PASSWD",
        "PGPASS",
        "AWS_SECRET_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "HTTP_AUTH",
        "COOKIE_JAR",
        "SessionId",
        "private_x",
        "SIGNATURE",
        "SSL_CERT_FILE",
    ],
)
def test_secret_pattern_matches_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "OMP_NUM_THREADS", "HOME"]
)
def test_secret_pattern_spares_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_select_variables() -> None:
    environ = {
        "BTH_PROJECT": "demo",
        "BTH_API_TOKEN": SECRET,
        "SLURM_JOB_ID": "42",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "OMP_NUM_THREADS": "4",
        "MKL_NUM_THREADS": "4",
        "PYTHONHASHSEED": "0",
        "HOME": "/home/ada",
        "PATH": "/usr/bin",
        "WANDB_MODE": "offline",
        "WANDB_API_KEY": SECRET,
        "MY_SEED": "7",
        "DATA_URL": f"https://ada:{SECRET}@data.example.org/x",
        "bth_lower": "not a BTH_ variable",
    }

    kept = select_variables(environ, extra=["WANDB_*", "MY_SEED", "DATA_URL"])

    assert kept == {
        "BTH_API_TOKEN": REDACTED,
        "BTH_PROJECT": "demo",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "DATA_URL": f"https://ada:{REDACTED}@data.example.org/x",
        "MKL_NUM_THREADS": "4",
        "MY_SEED": "7",
        "OMP_NUM_THREADS": "4",
        "PYTHONHASHSEED": "0",
        "SLURM_JOB_ID": "42",
        "WANDB_API_KEY": REDACTED,
        "WANDB_MODE": "offline",
    }
    assert list(kept) == sorted(kept)


def test_secret_values_never_reach_the_record(tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "BTH_API_TOKEN": SECRET,
        "BTH_DB_PASSWORD": SECRET,
        "SLURM_SECRET_KEY": SECRET,
        "HF_TOKEN": SECRET,
        "MY_KEY": SECRET,
    }

    env = capture_environment(
        sys.executable,
        tmp_path,
        environ=environ,
        extra_vars=["HF_*", "MY_KEY"],
        cache_dir=tmp_path / "cache",
    )

    assert SECRET not in json.dumps(unstructure(env))
    assert env.variables["BTH_API_TOKEN"] == REDACTED
    assert env.variables["MY_KEY"] == REDACTED


def test_interpreter_facts(tmp_path: Path) -> None:
    env = capture_environment(
        sys.executable, tmp_path, environ={"BTH_X": "1"}, cache_dir=tmp_path / "cache"
    )

    assert env.python_executable == sys.executable
    assert env.python_version == platform.python_version()
    assert env.implementation == platform.python_implementation()
    assert env.platform == platform.platform()
    assert env.packages_source == "installed"
    assert env.packages_fingerprint is not None
    assert env.packages_fingerprint.startswith("sha256:")
    assert env.variables == {"BTH_X": "1"}


def test_a_bare_name_is_found_on_path(tmp_path: Path, venv_python: Path) -> None:
    environ = {"PATH": f"/nonexistent:{venv_python.parent}"}
    env = capture_environment("python", None, environ=environ, cache_dir=tmp_path / "cache")
    assert env.python_executable == str(venv_python)
    assert env.python_version == platform.python_version()


def test_not_python_command(tmp_path: Path) -> None:
    env = capture_environment(None, None, environ={"SLURM_JOB_ID": "9"}, cache_dir=tmp_path)
    assert env.python_executable is None
    assert env.python_version is None
    assert env.implementation is None
    assert env.packages_fingerprint is None
    assert env.platform == platform.platform()
    assert env.variables == {"SLURM_JOB_ID": "9"}


def test_unknown_or_broken_interpreter_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = tmp_path / "python-fake"
    fake.write_text("#!/bin/sh\necho not python >&2\nexit 3\n")
    fake.chmod(0o755)
    caplog.set_level(logging.WARNING, logger="bathos.provenance.environment")

    missing = capture_environment(
        "no-such-python-3.99", None, environ={"PATH": str(tmp_path)}, cache_dir=tmp_path / "cache"
    )
    broken = capture_environment(str(fake), None, environ={}, cache_dir=tmp_path / "cache")

    assert (missing.python_executable, missing.python_version) == ("no-such-python-3.99", None)
    assert (broken.python_executable, broken.python_version) == (str(fake), None)
    assert broken.platform == platform.platform()
    assert "not found on PATH" in caplog.text
    assert "not python" in caplog.text


def test_lock_file_fingerprint_follows_its_content(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    lock = project / "uv.lock"
    lock.write_text('version = 1\n[[package]]\nname = "numpy"\nversion = "1.26.4"\n')

    def capture() -> tuple[str | None, str | None]:
        env = capture_environment(sys.executable, project, environ={}, cache_dir=tmp_path / "cache")
        return env.packages_fingerprint, env.packages_source

    before = capture()
    lock.write_text('version = 1\n[[package]]\nname = "numpy"\nversion = "2.0.0"\n')
    after = capture()

    assert before == (
        "sha256:"
        + hashlib.sha256(
            b'version = 1\n[[package]]\nname = "numpy"\nversion = "1.26.4"\n'
        ).hexdigest(),
        "lockfile:uv.lock",
    )
    assert after[1] == "lockfile:uv.lock"
    assert after[0] != before[0]


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        (["requirements.txt", "uv.lock", "poetry.lock"], "uv.lock"),
        (["poetry.lock", "Pipfile.lock"], "poetry.lock"),
        (["requirements-dev.txt", "requirements.txt", "environment.yml"], "requirements.txt"),
        (["requirements-gpu.txt", "requirements-dev.txt"], "requirements-dev.txt"),
        (["environment.yaml", "conda-lock.yml"], "environment.yaml"),
        (["conda-lock.yml"], "conda-lock.yml"),
    ],
)
def test_lock_file_order(tmp_path: Path, present: list[str], chosen: str) -> None:
    for name in present:
        (tmp_path / name).write_text(name)
    env = capture_environment(None, tmp_path, environ={}, cache_dir=tmp_path / "cache")
    assert env.packages_source == f"lockfile:{chosen}"
    assert env.packages_fingerprint == "sha256:" + hashlib.sha256(chosen.encode()).hexdigest()


def test_interpreter_and_packages_are_cached(tmp_path: Path, venv_python: Path) -> None:
    cache = tmp_path / "cache"
    first = capture_environment(str(venv_python), None, environ={}, cache_dir=cache)
    (interpreter_entry,) = (cache / "interpreters").iterdir()
    (packages_entry,) = (cache / "packages").iterdir()
    stamps = [interpreter_entry.stat().st_mtime_ns, packages_entry.stat().st_mtime_ns]

    second = capture_environment(str(venv_python), None, environ={}, cache_dir=cache)

    assert second == first
    assert [interpreter_entry.stat().st_mtime_ns, packages_entry.stat().st_mtime_ns] == stamps
    # The interpreter is not asked again: a doctored entry is believed.
    facts = json.loads(interpreter_entry.read_text())
    interpreter_entry.write_text(json.dumps({**facts, "version": "9.99.0"}))
    third = capture_environment(str(venv_python), None, environ={}, cache_dir=cache)
    assert third.python_version == "9.99.0"


def test_a_corrupt_interpreter_entry_is_rebuilt(tmp_path: Path, venv_python: Path) -> None:
    cache = tmp_path / "cache"
    first = capture_environment(str(venv_python), None, environ={}, cache_dir=cache)
    (entry,) = (cache / "interpreters").iterdir()
    entry.write_bytes(b'{"format": 1, "version": 3')
    assert capture_environment(str(venv_python), None, environ={}, cache_dir=cache) == first
    assert json.loads(entry.read_bytes())["version"] == platform.python_version()


def test_installed_fingerprint_follows_the_installed_set(tmp_path: Path, venv_python: Path) -> None:
    cache = tmp_path / "cache"
    site = site_packages(venv_python)
    dist = site / "fakepkg-1.0.dist-info"

    def fingerprint() -> str | None:
        env = capture_environment(str(venv_python), None, environ={}, cache_dir=cache)
        assert env.packages_source == "installed"
        return env.packages_fingerprint

    try:
        empty = fingerprint()
        dist.mkdir()
        installed = fingerprint()
        dist.rename(site / "fakepkg-2.0.dist-info")
        upgraded = fingerprint()
    finally:
        for leftover in site.glob("fakepkg-*"):
            leftover.rmdir()

    assert len({empty, installed, upgraded}) == 3
    assert installed == "sha256:" + hashlib.sha256(b"fakepkg-1.0.dist-info").hexdigest()
    assert fingerprint() == empty


def test_a_venv_and_its_base_interpreter_are_told_apart(tmp_path: Path, venv_python: Path) -> None:
    # Both resolve to the same binary; their site-packages differ.
    cache = tmp_path / "cache"
    ours = capture_environment(sys.executable, None, environ={}, cache_dir=cache)
    theirs = capture_environment(str(venv_python), None, environ={}, cache_dir=cache)
    assert os.path.realpath(venv_python) == os.path.realpath(sys.executable)
    assert ours.packages_fingerprint != theirs.packages_fingerprint
    assert len(list((cache / "interpreters").iterdir())) == 2


def test_a_wrapper_script_is_cached_per_choice(tmp_path: Path, venv_python: Path) -> None:
    # Like a pyenv shim: the same file runs a different Python depending on a variable.
    shim = tmp_path / "python"
    shim.write_text(
        "#!/bin/sh\n"
        f'if [ "$PYENV_VERSION" = venv ]; then exec {venv_python} "$@"; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    shim.chmod(0o755)
    cache = tmp_path / "cache"

    def capture(version: str) -> str | None:
        environ = {"PYENV_VERSION": version}
        return capture_environment(
            str(shim), None, environ=environ, cache_dir=cache
        ).packages_fingerprint

    assert capture("venv") != capture("system")
    assert capture("venv") != capture("system")  # from the cache, still told apart
    assert len(list((cache / "interpreters").iterdir())) == 2


def add_distribution(site: Path, name: str, version: str,
                     direct_url: dict[str, object] | None = None) -> Path:
    """A `*.dist-info` as an installer leaves it (its METADATA, and PEP 610's direct_url.json
    when installed from a URL or a directory)."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n\nName: not me\n")
    if direct_url is not None:
        (dist / "direct_url.json").write_text(json.dumps(direct_url))
    return dist


@pytest.fixture
def venv_site(venv_python: Path) -> Iterator[Path]:
    """The venv's site-packages, emptied again after the test."""
    site = site_packages(venv_python)
    before = set(site.iterdir())
    yield site
    for leftover in set(site.iterdir()) - before:
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def listed(env: Environment, catalog: Path) -> list[dict[str, object]]:
    assert env.packages_list is not None
    return decode_packages(read_blob(catalog, env.packages_list))


def test_the_package_list_names_versions_and_sources(tmp_path: Path, venv_python: Path,
                                                      venv_site: Path) -> None:
    commit = "a" * 40
    add_distribution(venv_site, "Tiny_Pkg", "1.0")
    add_distribution(venv_site, "mylib", "0.3.dev0",
                     {"url": "file:///home/ada/mylib", "dir_info": {"editable": True}})
    add_distribution(venv_site, "fromgit", "2.1", {
        "url": "https://github.com/ada/fromgit.git",
        "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "main"}})
    (venv_site / "legacy-0.5-py3.11.egg-info").write_text("Metadata-Version: 1.0\nName: legacy\n"
                                                          "Version: 0.5\n")
    (venv_site / "bare-1.2.dist-info").mkdir()  # no METADATA: named by its directory
    catalog = tmp_path / "catalog"

    env = capture_environment(str(venv_python), None, environ={}, cache_dir=tmp_path / "cache",
                              catalog=catalog)

    assert listed(env, catalog) == [
        {"name": "bare", "version": "1.2", "source": None, "editable": False},
        {"name": "fromgit", "version": "2.1",
         "source": f"git+https://github.com/ada/fromgit.git@{commit}", "editable": False},
        {"name": "legacy", "version": "0.5", "source": None, "editable": False},
        {"name": "mylib", "version": "0.3.dev0", "source": "file:///home/ada/mylib",
         "editable": True},
        {"name": "Tiny_Pkg", "version": "1.0", "source": None, "editable": False},
    ]
    assert env.packages_count == 5
    assert env.packages_source == "installed"


@pytest.mark.parametrize(("url", "stored"), [
    (f"https://ada:{SECRET}@git.example.org/x.git", "https://<redacted>@git.example.org/x.git"),
    ("https://ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/ada/x",
     "https://<redacted>@github.com/ada/x"),
    (f"https://{SECRET}@git.example.org/x.git", "https://<redacted>@git.example.org/x.git"),
    ("ssh://git@github.com/ada/x.git", "ssh://git@github.com/ada/x.git"),
    ("https://${GIT_USER}:${GIT_TOKEN}@example.org/x", "https://<redacted>@example.org/x"),
    ("https://example.org/x.tar.gz?token=" + SECRET,
     "https://example.org/x.tar.gz?token=<redacted>"),
])
def test_credentials_in_a_direct_url_are_redacted(tmp_path: Path, venv_python: Path,
                                                   venv_site: Path, url: str, stored: str) -> None:
    add_distribution(venv_site, "private", "1.0", {"url": url, "archive_info": {}})
    catalog = tmp_path / "catalog"
    env = capture_environment(str(venv_python), None, environ={}, cache_dir=tmp_path / "cache",
                              catalog=catalog)
    (package,) = listed(env, catalog)
    assert package["source"] == stored
    assert SECRET not in read_blob(catalog, env.packages_list or "").decode()


def test_one_list_per_environment_computed_once(tmp_path: Path, venv_python: Path,
                                                venv_site: Path) -> None:
    add_distribution(venv_site, "tiny", "1.0")
    cache, catalog = tmp_path / "cache", tmp_path / "catalog"

    def capture(catalog: Path = catalog) -> Environment:
        return capture_environment(str(venv_python), None, environ={}, cache_dir=cache,
                                   catalog=catalog)

    first, second = capture(), capture()
    # A warm capture reads no metadata: a change that leaves the directory's mtime alone is
    # not seen (installers always change it).
    stamp = venv_site.stat().st_mtime_ns
    (venv_site / "tiny-1.0.dist-info" / "METADATA").write_text("Name: tiny\nVersion: 9.9\n")
    os.utime(venv_site, ns=(stamp, stamp))
    third = capture()
    elsewhere = capture(tmp_path / "other-catalog")  # a catalog without the list gets it

    assert first.packages_list == second.packages_list == third.packages_list
    assert len(list((catalog / "blobs").rglob("*.gz"))) == 1
    assert listed(elsewhere, tmp_path / "other-catalog")[0]["version"] == "9.9"

    add_distribution(venv_site, "other", "0.1")
    changed = capture()
    assert changed.packages_list != first.packages_list
    assert changed.packages_fingerprint != first.packages_fingerprint
    assert [p["name"] for p in listed(changed, catalog)] == ["other", "tiny"]
    assert len(list((catalog / "blobs").rglob("*.gz"))) == 2


def test_a_lock_file_project_lists_what_is_installed(tmp_path: Path, venv_python: Path,
                                                     venv_site: Path) -> None:
    add_distribution(venv_site, "numpy", "1.26.4")
    (tmp_path / "uv.lock").write_text('version = 1\n[[package]]\nname = "numpy"\nversion = "2.0"\n')
    env = capture_environment(str(venv_python), tmp_path, environ={}, cache_dir=tmp_path / "cache",
                              catalog=tmp_path / "catalog")
    assert env.packages_source == "lockfile:uv.lock"
    assert [(p["name"], p["version"]) for p in listed(env, tmp_path / "catalog")] == [
        ("numpy", "1.26.4")]


def test_no_list_without_a_catalog_or_an_interpreter(tmp_path: Path) -> None:
    without_catalog = capture_environment(sys.executable, None, environ={},
                                          cache_dir=tmp_path / "cache")
    not_python = capture_environment(None, tmp_path, environ={}, cache_dir=tmp_path / "cache",
                                     catalog=tmp_path / "catalog")
    assert (without_catalog.packages_list, without_catalog.packages_count) == (None, None)
    assert (not_python.packages_list, not_python.packages_count) == (None, None)
    assert not (tmp_path / "catalog").exists()
