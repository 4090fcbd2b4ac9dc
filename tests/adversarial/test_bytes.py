r"""Bytes that are not UTF-8 (an argument, a variable, a file name, the cwd) are recorded as `\xNN`
text, and every command keeps reading the catalog: before, one such byte broke it for good."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from attack_helpers import ok
from project import Project, make_project

from bathos.ids import new_run_id
from bathos.text import original_bytes

E9 = os.fsdecode(b"\xe9")  # the byte 0xe9 as Python gives it: a lone surrogate, "\udce9"
CAFE = "caf\\xe9"  # how the catalog records it


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"ok.py": "print('ok')\n"})


def sql(project: Project, query: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(ok(project.bth("sql", "--json", query)).stdout)
    return rows


def every_command_reads(project: Project, run_id: str) -> None:
    """ls, find, show, sql, check, verify: exit 0, no traceback, the run is there."""
    assert run_id in ok(project.bth("ls")).stdout
    assert run_id in ok(project.bth("find", "--script", "ok.py")).stdout
    assert json.loads(ok(project.bth("show", "--json", run_id)).stdout)["id"].startswith(run_id)
    assert sql(project, "SELECT count(*) AS n FROM runs") == [{"n": 1}]
    assert run_id in ok(project.bth("check", run_id)).stdout
    assert "0 unreadable" in ok(project.bth("verify")).stderr


SOURCES = {
    "argument": ({"args": ("--", f"--label=caf{E9}")},
                 "SELECT argv[1] AS v FROM runs", f"--label={CAFE}"),
    "variable": ({"env": {"SLURM_JOB_ID": "17", "SLURM_JOB_NAME": f"caf{E9}"}},
                 "SELECT slurm->>'job_name' AS v FROM runs", CAFE),
    "file name": ({"untracked": f"data-caf{E9}.csv"},
                  "SELECT git->'untracked'->>0 AS v FROM runs", f"data-{CAFE}.csv"),
    "cwd": ({"cwd": f"caf{E9}"}, "SELECT regexp_extract(cwd, '[^/]*$') AS v FROM runs", CAFE),
}


@pytest.mark.parametrize("source", SOURCES)
def test_an_undecodable_byte_is_recorded_as_an_escape_and_every_command_still_reads(
    project: Project, source: str
) -> None:
    how, query, expected = SOURCES[source]
    cwd = project.root
    if "untracked" in how:
        (project.root / how["untracked"]).write_text("x\n")
    if "cwd" in how:
        cwd = project.root / how["cwd"]
        cwd.mkdir()
    script = os.path.relpath(project.root / "ok.py", cwd)

    done = ok(project.bth("run", script, *how.get("args", ()), env=how.get("env"), cwd=cwd))

    every_command_reads(project, done.run_id)
    assert sql(project, query) == [{"v": expected}]
    assert ok(project.bth("compact")).stderr.startswith("Folded 1 run")
    every_command_reads(project, done.run_id)  # now from the Parquet segment
    assert sql(project, query) == [{"v": expected}]
    assert original_bytes(expected).endswith(b"caf\xe9" + (b".csv" if "untracked" in how else b""))


def test_fragments_of_an_older_bathos_with_surrogate_escapes_are_read_escaped_and_mended(
    project: Project, bth_home: Path
) -> None:
    """An older bathos wrote `\\udce9` JSON escapes: read as `\\xe9`; verify names the file and
    quarantine rewrites it, keeping the original. A fragment of raw invalid UTF-8 is skipped."""
    done = ok(project.bth("run", "ok.py"))
    fragment = next((bth_home / "catalog" / "runs" / "proj").glob("*.json"))
    record = json.loads(fragment.read_bytes())
    record["argv"] = [f"--label=caf{E9}"]
    record["params"] = {"label": f"caf{E9}"}
    old = json.dumps(record).encode()  # what an older bathos wrote: ASCII with \udce9 escapes
    assert b"\\udce9" in old
    fragment.write_bytes(old)
    raw = fragment.with_name(f"{new_run_id()}.json")
    raw.write_bytes(json.dumps({**record, "id": raw.stem, "argv": ["caf"]}).encode()
                    .replace(b'"caf"', b'"caf\xe9"'))

    listed = ok(project.bth("ls"))
    assert done.run_id in listed.stdout and raw.stem[:12] not in listed.stdout
    assert listed.stderr.count(str(raw)) == 1
    assert sql(project, "SELECT argv[1] AS a, params->>'label' AS p FROM runs") == [
        {"a": f"--label={CAFE}", "p": CAFE}]
    found = project.bth("verify")
    assert found.returncode == 1
    assert f"{fragment}: holds undecodable text" in found.stdout
    assert f"{raw}: not valid JSON" in found.stdout

    ok(project.bth("verify", "--quarantine"))

    quarantine = bth_home / "catalog" / "quarantine" / "proj"
    assert (quarantine / fragment.name).read_bytes() == old
    assert (quarantine / raw.name).exists() and not raw.exists()
    assert b"\\udc" not in fragment.read_bytes() and b"caf\\\\xe9" in fragment.read_bytes()
    assert "0 unreadable" in ok(project.bth("verify")).stderr
    ok(project.bth("compact"))
    every_command_reads(project, done.run_id)
