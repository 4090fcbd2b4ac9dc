"""Secrets planted everywhere a run can see them are stored nowhere: not in the catalog's fragments,
Parquet segments, kept rows or log blobs, and not in the git objects bathos pins."""

from __future__ import annotations

import gzip
import secrets
import subprocess
from pathlib import Path

import duckdb
import pytest
from gitrepo import make_repo
from project import Project, init_test_project

ECHO = "scripts/experiments/echo.py"
ECHO_SCRIPT = """\
import os, sys
import bth

@bth.experiment(name="echo")
def main(api_key: str, fail: bool) -> dict:
    print("argv:", " ".join(sys.argv[1:]))
    print("db:", os.environ["MY_DB"], os.environ["MY_HEADER"], file=sys.stderr)
    if fail:
        raise RuntimeError(f"cannot reach {os.environ['MY_DB']} with {api_key}")
    return {"ok": 1, "config": {"api_key": api_key, "db": os.environ["MY_DB"]}}

main(api_key=sys.argv[sys.argv.index("--api-key") + 1], fail="--fail" in sys.argv)
"""
SECRETS_TOML = """
[run]
env = ["MY_*"]

[secrets]
names = ["^hub"]
values = ["acme-[0-9a-f]{16}"]
files = ["*.secret"]
"""


def planted() -> dict[str, str]:
    """Distinct secrets, each unlike any other text a run records."""
    return {name: f"{name}{secrets.token_hex(12)}" for name in (
        "apikey", "password", "token", "bearer", "dsnpw", "kvpw", "urlpw", "hub", "envfile",
        "rsakey", "pemkey", "vault")} | {"acme": f"acme-{secrets.token_hex(8)}"}


@pytest.fixture
def leaky(tmp_path: Path) -> tuple[Project, dict[str, str]]:
    """A committed project with an argv-echoing script and untracked secret files beside it."""
    proj = Project(make_repo(tmp_path / "proj"))
    proj.write(ECHO, ECHO_SCRIPT)
    init_test_project(proj.root)
    config = proj.root / ".bth.toml"
    config.write_text(config.read_text() + SECRETS_TOML)
    proj.commit("initial")
    found = planted()
    proj.write(".env", f"OPENAI_API_KEY={found['envfile']}\n")
    proj.write("id_rsa", f"-----BEGIN OPENSSH PRIVATE KEY-----\n{found['rsakey']}\n")
    proj.write("certs/server.pem", f"-----BEGIN PRIVATE KEY-----\n{found['pemkey']}\n")
    proj.write("vault.secret", found["vault"])
    proj.write("notes.txt", "an ordinary untracked file\n")
    return proj, found


def secret_args(found: dict[str, str], *more: str) -> tuple[str, ...]:
    return (ECHO, "--", "--api-key", f"sk-live-{found['apikey']}",
            f"--password={found['password']}", "--token", found["token"],
            "--hub-id", found["hub"], "--model", found["acme"], "--n-passes", "3", *more)


def secret_env(found: dict[str, str]) -> dict[str, str]:
    return {
        "MY_HEADER": f"Bearer {found['bearer']}",
        "MY_DB": f"postgresql://ada:{found['dsnpw']}@db.example.org/x",
        "MY_PG": f"host=db.example.org password={found['kvpw']} dbname=x",
        "MY_MIRROR": f"https://ada:{found['urlpw']}@mirror.example.org/data",
    }


def catalog_texts(home: Path) -> dict[Path, bytes]:
    """Every file under BTH_HOME as a user could read it: Parquet decoded (all columns as text),
    gzip blobs decompressed, everything else as is."""
    texts: dict[Path, bytes] = {}
    for path in (p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            rows = duckdb.sql(f"SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{path}')").fetchall()
            data += repr(rows).encode()
        elif data[:2] == b"\x1f\x8b":
            data += gzip.decompress(data)
        texts[path] = data
    return texts


def git_objects(root: Path) -> bytes:
    """The content of every object in the repository, pinned by refs/bathos/ or not."""
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root,
                          capture_output=True, check=True).stdout


def test_planted_secrets_are_stored_nowhere(leaky: tuple[Project, dict[str, str]],
                                            bth_home: Path) -> None:
    project, found = leaky
    env = secret_env(found)

    first = project.bth_run(*secret_args(found), env=env)
    failed = project.bth_run(*secret_args(found, "--fail"), env=env, expect=1)
    compacted = project.bth("compact")
    assert compacted.returncode == 0, compacted.stderr
    hot = project.bth("run", *secret_args(found), env=env)
    assert hot.returncode == 0, hot.stderr

    texts = catalog_texts(bth_home)
    assert any(p.suffix == ".parquet" for p in texts)
    assert any(p.name == "segments.recent" for p in texts)
    assert any(p.suffix == ".json" and "runs" in p.parts for p in texts)
    for kind in (".parquet", ".recent", ".json"):
        assert any(b"--api-key" in data and b"<redacted>" in data
                   for path, data in texts.items() if path.suffix == kind), kind
    objects = git_objects(project.root)
    assert project.git("for-each-ref", "refs/bathos/snapshots/")
    for name, secret in found.items():
        for path, data in texts.items():
            assert secret.encode() not in data, f"{name} stored in {path}"
        assert secret.encode() not in objects, f"{name} stored in a git object"

    assert first.argv == (
        "--api-key", "<redacted>", "--password=<redacted>", "--token", "<redacted>",
        "--hub-id", "<redacted>", "--model", "<redacted>", "--n-passes", "3")
    assert first.params["api_key"] == "<redacted>" and first.params["n_passes"] == "3"
    assert first.environment is not None
    variables = first.environment.variables
    assert variables["MY_HEADER"] == "Bearer <redacted>"
    assert variables["MY_DB"] == "postgresql://ada:<redacted>@db.example.org/x"
    assert variables["MY_PG"] == "host=db.example.org password=<redacted> dbname=x"
    assert variables["MY_MIRROR"] == "https://ada:<redacted>@mirror.example.org/data"
    assert first.git is not None
    assert first.git.excluded == (".env", "certs/server.pem", "id_rsa", "vault.secret")
    assert "notes.txt" in first.git.untracked
    assert project.git("show", f"{first.git.snapshot}:notes.txt")
    assert first.results == {"ok": 1, "config": {
        "api_key": "<redacted>", "db": "postgresql://ada:<redacted>@db.example.org/x"}}
    assert failed.error is not None
    assert "postgresql://ada:<redacted>@db.example.org/x with <redacted>" in failed.error

    logs = project.bth("logs", first.id[:12])
    assert "argv: --api-key <redacted> --password=<redacted> --token <redacted>" in logs.stdout
    shown = project.bth("show", first.id[:12])
    assert "--api-key" in shown.stdout and "server.pem" in shown.stdout
    assert "secret-looking untracked file(s)" in hot.stderr


def test_a_bad_secret_pattern_is_one_line(tmp_path: Path) -> None:
    project = Project(make_repo(tmp_path / "proj"))
    project.write("hello.py", "print('hello')\n")
    init_test_project(project.root)
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[secrets]\nvalues = ["acme-(["]\n')

    done = project.bth("run", "hello.py")

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "secrets.values" in done.stderr and "not a valid regular expression" in done.stderr
    assert "hello" not in done.stdout
