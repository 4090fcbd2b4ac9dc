"""Many uncompacted runs (a SLURM array leaves tens of thousands) neither exhaust a reader's
memory nor change any answer: hot rows are loaded in batches and spilled to Parquet inside the
catalog, compaction sorts them in bounded chunks, and each run is seen exactly once throughout.

The batch, spill and chunk sizes are made small here, so a few thousand runs cross every
boundary; `benchmarks/bench_memory.py` measures the real sizes on 100,000 runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import attrs
import duckdb
import pytest
from records import by_duckdb, make_run

import bathos
from bathos import RunQuery
from bathos.catalog import compact, lens, segments
from bathos.catalog.store import write_record
from bathos.models import Dependency, Host, Output, Run, unstructure

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
EVERYTHING = ("SELECT id, project, status, started_at, updated_at, params, results, outputs, "
              "dependencies, record FROM runs ORDER BY id")


def realistic_run(i: int, project: str = "demo", **fields: object) -> Run:
    """A finished run with arguments, results, dependencies and outputs, started i s before NOW."""
    digest = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
    fields.setdefault("started_at", NOW - dt.timedelta(seconds=i))
    return make_run(
        project=project, script="scripts/train.py", argv=("--seed", str(i), "--lr", "0.01"),
        params={"seed": str(i), "lr": "0.01"}, results={"loss": 1 / (i + 1), "step": i},
        dependencies=(Dependency("scripts/train.py", "script", digest, 2048),
                      Dependency("src/model.py", "module", digest, 4096)),
        outputs=(Output(f"out/{i}/model.pt", 10 * i, digest, 1.7e9),),
        tags=("sweep",), **fields)


def write(catalog_dir: Path, runs: list[Run]) -> None:
    for run in runs:
        write_record(catalog_dir, unstructure(run), durable=False)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lens, "BATCH_ROWS", 70)
    monkeypatch.setattr(lens, "SPILL_ROWS", 300)
    monkeypatch.setattr(compact, "CHUNK_BYTES", 250_000)


@pytest.fixture
def no_auto_compaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTH_COMPACT_THRESHOLD", str(10**9))


def scratch_left(catalog_dir: Path) -> list[Path]:
    return sorted((catalog_dir / lens.SCRATCH).glob("*/*"))


@pytest.mark.usefixtures("small_batches", "no_auto_compaction")
def test_every_hot_run_is_read_once_across_batches_and_spills(catalog_dir: Path) -> None:
    runs = [realistic_run(i, project=("alpha", "beta")[i % 2]) for i in range(2_500)]
    write(catalog_dir, runs)
    catalog = bathos.Catalog()

    with lens.connect(catalog_dir) as con:  # while a read is open, its spilled rows lie inside
        spilled = scratch_left(catalog_dir)  # the catalog
        assert spilled and all(p.suffix == ".parquet" for p in spilled)
        assert con.sql("SELECT count(*), count(DISTINCT id) FROM runs").fetchall() == [
            (2_500, 2_500)]
    assert scratch_left(catalog_dir) == []
    hot = catalog.sql(EVERYTHING).tuples()
    assert [row[0] for row in hot] == sorted(run.id for run in runs)

    catalog.compact()

    assert catalog.sql(EVERYTHING).tuples() == hot
    assert not list((catalog_dir / "runs").glob("*/*.json"))
    assert scratch_left(catalog_dir) == []


@pytest.mark.usefixtures("small_batches")
def test_compaction_in_chunks_loses_and_duplicates_nothing(catalog_dir: Path) -> None:
    first = [realistic_run(i) for i in range(600)]
    write(catalog_dir, first)
    catalog = bathos.Catalog()
    catalog.compact()
    # Newer states of a third of them (the next compaction merges the segment) and new runs,
    # some started at the same second as older ones.
    newer = [attrs.evolve(run, results={"loss": 0.0}, updated_at=run.updated_at
                          + dt.timedelta(seconds=5)) for run in first[::3]]
    later = [realistic_run(i // 2) for i in range(1_500)]
    write(catalog_dir, [*newer, *later])

    report = catalog.compact()

    assert (report.folded, report.segments_written, report.segments_merged) == (1_700, 1, 1)
    live = segments.read_manifest(catalog_dir / "runs" / "demo")
    assert live is not None and len(live) == 1
    stored = duckdb.sql(  # in the order the segment holds them
        "SELECT id, started_at, results->>'loss' FROM read_parquet(?)",
        params=[str(catalog_dir / "runs" / "demo" / live[0])]).fetchall()
    expected = {run.id: run for run in [*first, *later]} | {run.id: run for run in newer}
    assert sorted(row[0] for row in stored) == sorted(expected)  # each run once
    assert [row[1:2] for row in stored] == sorted(row[1:2] for row in stored)
    assert {row[0] for row in stored if row[2] == "0.0"} == {run.id for run in newer}
    assert scratch_left(catalog_dir) == []


def test_listing_many_running_runs_keeps_only_what_it_shows(catalog_dir: Path) -> None:
    alive = Host(socket.gethostname(), "ana", os.getpid())
    write(catalog_dir, [realistic_run(i) for i in range(300)])
    bathos.Catalog().compact()
    write(catalog_dir, [realistic_run(i * 7 - 500, status="running", host=alive)
                        for i in range(1_500)])
    catalog = bathos.Catalog()

    for query in (RunQuery(limit=10), RunQuery(status="running", limit=25),
                  RunQuery(tags=("sweep",), since="2h", limit=40)):
        assert catalog.runs(query).to_dicts() == by_duckdb(catalog, query)


def peak_rss_mb(*command: str, env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Run `command`; its peak RSS in MB (measured by a parent of its own) and its stdout."""
    measure = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", measure, *command], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    *out, peak_kb = done.stdout.splitlines()
    return int(peak_kb) / 1024, "\n".join(out)


def test_a_reader_of_thousands_of_hot_runs_stays_small(catalog_dir: Path,
                                                       tmp_path: Path) -> None:
    write(catalog_dir, [realistic_run(i) for i in range(4_000)])
    env = dict(os.environ, BTH_COMPACT_THRESHOLD=str(10**9))

    peak, out = peak_rss_mb(sys.executable, "-m", "bathos_cli", "sql",
                            "SELECT count(DISTINCT id) FROM runs", env=env, cwd=tmp_path)

    assert "4000" in out
    assert peak < 400  # was ~760 MB: every hot row parsed at once, as one JSON document


def test_compaction_removes_what_killed_readers_left(catalog_dir: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    dead = catalog_dir / lens.SCRATCH / f"{host}-{gone.pid}-0a0b0c0d"
    live = catalog_dir / lens.SCRATCH / f"{host}-{os.getpid()}-0e0f0a0b"
    for directory in (dead, live):
        directory.mkdir(parents=True)
        (directory / "hot-00000.parquet").write_bytes(b"PAR1")
    write(catalog_dir, [realistic_run(0)])

    bathos.Catalog().compact()

    assert not dead.exists()
    assert (live / "hot-00000.parquet").exists()
