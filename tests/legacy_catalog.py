"""Catalogs of the older bathos (0.x), built as it wrote them: one single-row Parquet file per run
(flat `runs/run_<uuid>.parquet` before 0.4, `runs/<slug>/run_<uuid>.parquet` since), fields
added version by version, and a DuckDB `bathos.db` holding its campaigns."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

# The ids of the runs `build` writes, by the schema version that wrote them.
V0 = "0b6f6e2e-4c1a-4d7e-9a51-6f1d2a3b4c5d"
V4 = "1c7a8f3d-5e2b-4f8a-8b62-7a2e3b4c5d6e"
V9 = "2d8b9a4e-6f3c-4a9b-9c73-8b3f4c5d6e7f"
V15 = "3e9cab5f-7a4d-4bac-8d84-9c4a5d6e7f80"
ONLY_IN_DB = "4fadbc6a-8b5e-4cbd-9e95-ad5b6e7f8091"
CAMPAIGN = "tip3p-vs-spce"
START = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)

_TIME = pa.timestamp("us", tz="UTC")
_OUTPUT = pa.struct([("path", pa.string()), ("status", pa.string()), ("size", pa.int64()),
                     ("mtime", pa.float64()), ("sha256", pa.string())])


def v0_row() -> dict[str, Any]:
    """The first version: no project, times as text, results as JSON text."""
    return {"id": V0, "schema_version": 0, "command": "python train.py --lr 0.1",
            "argv": ["--lr", "0.1"], "git_hash": "a" * 40, "git_branch": "main",
            "git_dirty": "false", "timestamp": "2025-03-01T09:00:00Z", "duration_s": 61.5,
            "exit_code": 0, "hostname": "", "status": "completed", "tags": ["baseline"],
            "metadata": json.dumps({"loss": 0.42})}


def v4_row() -> dict[str, Any]:
    """Projects and SLURM; a run stopped by Ctrl-C."""
    return {**v0_row(), "id": V4, "schema_version": 4, "project_slug": "md-benchmarks",
            "timestamp": "2025-03-02T09:00:00+00:00", "exit_code": 130, "status": "killed",
            "hostname": "node017", "slurm_job_id": "81234", "slurm_array_task_id": "3",
            "output_paths": ["outputs/run1.parquet"], "metadata": "{}"}


def v9_row() -> dict[str, Any]:
    """Typed times, lineage, campaigns, hashed outputs; run outside git."""
    return {"id": V9, "schema_version": 9, "project_slug": "md-benchmarks",
            "command": "scripts/experiments/benchmark_tip3p.py --n-steps 1000",
            "argv": ["--n-steps", "1000"], "script_sha256": "b" * 64, "git_hash": "",
            "git_branch": "", "git_dirty": "unknown", "timestamp": START + dt.timedelta(days=2),
            "duration_s": 12.0, "exit_code": -1, "hostname": "node018", "slurm_job_id": None,
            "slurm_array_task_id": None, "status": "abandoned",
            "output_paths": ["outputs/a.csv", "outputs/b.csv"],
            "output_metadata": [
                {"path": "outputs/a.csv", "status": "present", "size": 12, "mtime": 1.7e9,
                 "sha256": "c" * 64},
                {"path": "outputs/b.csv", "status": "missing", "size": None, "mtime": None,
                 "sha256": None}],
            "tags": [], "metadata": json.dumps({"energy": -41.2}), "parent_run_id": V4,
            "campaign_id": CAMPAIGN, "agent_mode": "autonomous"}


def v15_row() -> dict[str, Any]:
    """Every field of the last version, and a dirty tree pinned under refs/bathos/wip."""
    return {**v9_row(), "id": V15, "schema_version": 15, "git_hash": "d" * 40,
            "git_branch": "spce", "git_dirty": "true",
            "git_dirty_content_id": "diff-sha256:" + "e" * 64, "git_provenance_source": "repo",
            "timestamp": START + dt.timedelta(days=3), "exit_code": 0, "status": "completed",
            "output_metadata": [], "output_paths": [], "outcome": "bounded",
            "sidecar_sha256": "f" * 64, "sidecar_path": "scripts/experiments/x.bth.toml",
            "sidecar_mode": "declared", "agent_mode": "collaborative", "parent_run_id": V9,
            "dependency_lock_sha256": "1" * 64}


def _schema(row: dict[str, Any]) -> pa.Schema:
    kinds = {"argv": pa.list_(pa.string()), "tags": pa.list_(pa.string()),
             "output_paths": pa.list_(pa.string()), "output_metadata": pa.list_(_OUTPUT),
             "duration_s": pa.float64(), "exit_code": pa.int32(), "schema_version": pa.int32()}
    return pa.schema([(k, _TIME if isinstance(v, dt.datetime) else kinds.get(k, pa.string()))
                      for k, v in row.items()])


def write_run_file(catalog: Path, row: dict[str, Any], *, flat: bool) -> Path:
    """A run's single-row Parquet file, where the older bathos put it."""
    directory = catalog / "runs" if flat else catalog / "runs" / row["project_slug"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"run_{row['id']}.parquet"
    pq.write_table(pa.Table.from_pylist([row], schema=_schema(row)), path)
    return path


def write_database(catalog: Path) -> Path:
    """`bathos.db`: one run found only there, and a concluded campaign of the v9 and v15 runs."""
    path = catalog / "bathos.db"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE runs (id VARCHAR, schema_version INTEGER, project_slug VARCHAR, "
                "command VARCHAR, timestamp TIMESTAMPTZ, duration_s DOUBLE, exit_code INTEGER, "
                "status VARCHAR, tags VARCHAR[], metadata JSON)")
    con.execute("INSERT INTO runs VALUES (?, 12, 'md-benchmarks', 'python eval.py', ?, 3.0, 1, "
                "'failed', ['eval'], '{\"auc\": 0.5}')", [ONLY_IN_DB, START])
    con.execute("INSERT INTO runs VALUES (?, 15, 'md-benchmarks', 'stale copy', ?, 1.0, 0, "
                "'running', [], '{}')", [V15, START])
    con.execute("CREATE TABLE campaigns (id VARCHAR, project_slug VARCHAR, name VARCHAR, "
                "mode VARCHAR, question VARCHAR, hypothesis VARCHAR, status VARCHAR, "
                "started_at TIMESTAMPTZ, concluded_at TIMESTAMPTZ, conclusion VARCHAR, "
                "outcome_label VARCHAR)")
    con.execute("INSERT INTO campaigns VALUES (?, 'md-benchmarks', 'TIP3P vs SPC/E', "
                "'exploration', 'Which water model?', 'SPC/E is closer', 'concluded', ?, ?, "
                "'SPC/E wins', 'confirmed')",
                [CAMPAIGN, START, START + dt.timedelta(days=5)])
    con.execute("CREATE TABLE campaign_runs (campaign_id VARCHAR, run_id VARCHAR, "
                "evalue DOUBLE, seq INTEGER)")
    con.execute("INSERT INTO campaign_runs VALUES (?, ?, 0.5, 1), (?, ?, 0.01, 2)",
                [CAMPAIGN, V9, CAMPAIGN, V15])
    con.close()
    return path


def build(catalog: Path) -> Path:
    """A legacy catalog in `catalog`: v0 and v4 runs flat (before 0.4), v9 and v15 in their
    project's directory, and its `bathos.db`."""
    write_run_file(catalog, v0_row(), flat=True)
    write_run_file(catalog, v4_row(), flat=True)
    write_run_file(catalog, v9_row(), flat=False)
    write_run_file(catalog, v15_row(), flat=False)
    write_database(catalog)
    return catalog
