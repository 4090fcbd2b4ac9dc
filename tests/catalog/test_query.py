"""Asking the catalog: run ids by prefix, filters, and a SQL lens that only reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from catalog_helpers import tree_digest
from records import make_run, sample_runs, write_runs

import bathos
from bathos import RunQuery
from bathos.catalog.compact import MERGE_AT
from bathos.catalog.store import write_record
from bathos.errors import AmbiguousRunId, CatalogError, ConfigError, QueryRefused, RunNotFound
from bathos.ids import new_run_id
from bathos.models import unstructure

NOW = dt.datetime.now(dt.UTC)


class TestRunIds:
    @pytest.fixture
    def ids(self, make_run, catalog) -> dict[str, str]:
        twins = [new_run_id(now_ms=1_700_000_000_000) for _ in range(2)]  # same millisecond
        loner = new_run_id(now_ms=1_600_000_000_000)
        assert loner[:4] != twins[0][:4]
        for rid in [*twins, loner]:
            catalog.write(make_run(id=rid))
        return {"twin1": twins[0], "twin2": twins[1], "loner": loner}

    def test_unique_prefix_of_four_resolves(self, ids, catalog) -> None:
        assert catalog.resolve(ids["loner"][:4]) == ids["loner"]
        assert catalog.get(ids["loner"][:4]).id == ids["loner"]
        assert catalog.get(ids["twin1"]).id == ids["twin1"]

    def test_prefix_is_case_insensitive(self, ids, catalog) -> None:
        assert catalog.get(ids["loner"][:6].upper()).id == ids["loner"]

    def test_ambiguous_prefix_lists_candidates(self, ids, catalog) -> None:
        prefix = ids["twin1"][:9]
        with pytest.raises(AmbiguousRunId) as caught:
            catalog.get(prefix)

        assert caught.value.candidates == sorted([ids["twin1"], ids["twin2"]])
        assert ids["twin1"] in str(caught.value) and ids["twin2"] in str(caught.value)

    def test_missing_id_is_said_in_library_terms_with_a_hint_for_the_shell(self, ids,
                                                                            catalog) -> None:
        with pytest.raises(RunNotFound, match="run zzzzzzzz not found in catalog") as caught:
            catalog.get("zzzzzzzz")
        assert caught.value.run_id == "zzzzzzzz"
        assert "bth ls" not in str(caught.value)
        assert caught.value.hint == "bth ls --all-projects lists the runs of every project"

    @pytest.mark.parametrize("text", ["", "1m8", "abc!", "1m8c-x"])
    def test_short_or_foreign_prefix_is_a_config_error(self, ids, catalog, text) -> None:
        with pytest.raises(ConfigError, match="at least 4"):
            catalog.get(text)

    def test_empty_catalog_has_no_runs(self, catalog) -> None:
        with pytest.raises(RunNotFound):
            catalog.get("1m8cjbq1")


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory) -> dict[str, object]:
    """Four runs, built once: the tests that use them only read."""
    made = sample_runs(NOW)
    path = tmp_path_factory.mktemp("filters") / "catalog"
    for run in made.values():
        write_record(path, unstructure(run), durable=False)
    return {"catalog": bathos.Catalog(path), **made}


class TestFilters:
    @pytest.fixture
    def runs(self, four_runs) -> dict[str, object]:
        return four_runs

    @pytest.fixture
    def catalog(self, runs) -> bathos.Catalog:
        return runs["catalog"]

    @pytest.mark.parametrize(("criteria", "expected"), [
        ({}, "abcd"),
        ({"project": "alpha"}, "ab"),
        ({"project": ["alpha", "beta"]}, "abcd"),
        ({"since": "7d"}, "bc"),
        ({"until": "3d"}, "ad"),
        ({"since": "15d", "until": "1d"}, "ab"),
        ({"since": (NOW - dt.timedelta(days=3)).isoformat()}, "bc"),
        ({"status": "failed"}, "b"),
        ({"status": ["completed", "interrupted"]}, "acd"),
        ({"tags": ["gpu"]}, "ab"),
        ({"tags": ["gpu", "baseline"]}, "a"),
        ({"script": "train.py"}, "ad"),
        ({"script": "scripts/experiments/*"}, "ab"),
        ({"params": {"lr": "0.1"}}, "a"),
        ({"params": {"lr": "0.1", "n_steps": "1000"}}, "a"),
        ({"host": "node*"}, "ab"),
        ({"commit": "bbbb"}, "b"),
        ({"commit": "cccc3333"}, "b"),  # the snapshot of a dirty tree
        ({"slurm_job": "5000"}, "ab"),
        ({"slurm_job": "5000_2"}, "b"),
        ({"slurm_job": "6000"}, "c"),
        ({"output": "*.png"}, "b"),
        ({"output": "outputs/*"}, "a"),
        ({"campaign": "c1"}, "ab"),
        ({"limit": 2}, "cb"),
    ])
    def test_filter(self, runs, catalog, criteria, expected) -> None:
        found = [r["id"] for r in catalog.runs(**criteria)]
        assert found == [runs[k].id for k in sorted(expected, key=lambda k: runs[k].started_at,
                                                     reverse=True)]

    def test_rows_are_the_same_runs_as_dicts_polars_and_arrow(self, runs, catalog) -> None:
        rows = catalog.runs(RunQuery(project="alpha"))
        newest_first = [runs["b"], runs["a"]]
        assert len(rows) == 2
        assert [r["id"] for r in rows] == [r.id for r in newest_first]
        assert rows[1] == rows.to_dicts()[1]
        frame = rows.to_polars()
        assert frame.columns == list(rows.columns)
        assert frame["id"].to_list() == [r.id for r in newest_first]
        assert frame.schema["started_at"] == pl.Datetime("us")
        assert frame["started_at"].to_list() == [r.started_at.replace(tzinfo=None)
                                                 for r in newest_first]
        assert frame["tags"].to_list() == [list(r.tags) for r in newest_first]
        assert rows.to_arrow().column("id").to_pylist() == [r.id for r in newest_first]
        assert repr(rows).startswith("Rows: 2 row(s), 26 column(s)")

    def test_runs_takes_a_query_or_its_criteria(self, runs, catalog) -> None:
        assert catalog.runs(RunQuery(status="failed")).to_dicts() == \
            catalog.runs(status="failed").to_dicts()
        with pytest.raises(ConfigError, match="not both"):
            catalog.runs(RunQuery(status="failed"), limit=1)

    def test_unknown_status_is_a_config_error(self, runs, catalog) -> None:
        with pytest.raises(ConfigError, match="choose from"):
            catalog.runs(status="done")

    def test_unreadable_time_is_a_config_error(self, runs, catalog) -> None:
        with pytest.raises(ConfigError, match="cannot read time"):
            catalog.runs(since="last tuesday")

    def test_rows_of_any_sql_type_are_json_ready(self, runs, catalog) -> None:
        """Dates as ISO text, intervals in seconds, decimals as floats."""
        rows = catalog.sql("SELECT id, started_at::DATE AS day, "
                           "started_at - min(started_at) OVER () AS since_first, 1.5 AS x "
                           "FROM runs ORDER BY started_at")

        oldest = runs["d"].started_at
        assert json.loads(json.dumps(rows.to_dicts())) == [
            {"id": runs[k].id, "day": runs[k].started_at.date().isoformat(),
             "since_first": (runs[k].started_at - oldest).total_seconds(), "x": 1.5}
            for k in "dabc"
        ]

    def test_rows_to_data_is_json_ready(self, runs, catalog) -> None:
        (row,) = catalog.runs(project="alpha", status="failed").to_dicts()
        assert row["started_at"] == runs["b"].started_at.isoformat().replace("+00:00", "Z")
        assert row["tags"] == ["gpu"]
        assert row["params"] == {"lr": "0.01"}
        assert row["dirty"] is True


@pytest.fixture(scope="module")
def filled(make_run, tmp_path_factory) -> bathos.Catalog:
    """Two runs in a segment and one hot, built once: the tests that use it expect no change."""
    catalog = bathos.Catalog(tmp_path_factory.mktemp("sql") / "catalog")
    for _ in range(2):
        catalog.write(make_run())
    catalog.compact()
    catalog.write(make_run())
    return catalog


class TestReadOnlySql:
    @pytest.fixture
    def catalog(self, filled) -> bathos.Catalog:
        return filled

    @pytest.fixture
    def catalog_dir(self, filled) -> Path:
        return filled.path

    @pytest.mark.parametrize("statement", [
        "DROP VIEW runs",
        "INSERT INTO runs (id) VALUES ('x')",
        "CREATE TABLE copy AS SELECT * FROM runs",
        "COPY (SELECT * FROM runs) TO '{out}'",
        "COPY runs TO '{catalog}/runs/demo/injected.json'",
        "ATTACH '{out}.duckdb' AS other",
        "SET threads = 1",
        "SELECT 1; DROP VIEW runs",
        "PRAGMA version",
        "",
    ])
    def test_writes_are_refused_and_nothing_changes(self, catalog, catalog_dir, tmp_path,
                                                    statement) -> None:
        before = tree_digest(catalog_dir)
        out = tmp_path / "out.csv"
        sql = statement.format(out=out, catalog=catalog_dir)

        with pytest.raises(QueryRefused, match="read-only"):
            catalog.sql(sql)

        assert tree_digest(catalog_dir) == before
        assert not list(tmp_path.glob("out.csv*"))
        assert catalog.sql("SELECT count(*) AS n FROM runs")[0]["n"] == 3

    @pytest.mark.parametrize("read", ["read_text('{secret}')", "read_csv('{secret}')",
                                      "read_text('/etc/hostname')", "glob('/etc/*')"])
    def test_reading_files_outside_the_catalog_is_refused(self, catalog, tmp_path, read) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("s3cret")
        with pytest.raises(CatalogError, match="disabled by configuration"):
            catalog.sql(f"SELECT * FROM {read.format(secret=secret)}")

    def test_selects_and_explain_are_allowed(self, catalog) -> None:
        assert catalog.sql("SELECT count(*) AS n FROM runs")[0]["n"] == 3
        assert len(catalog.sql("WITH r AS (SELECT * FROM runs) SELECT count(*) AS n FROM r")) == 1
        assert catalog.sql("SELECT 1; SELECT 2").tuples() == [(2,)]
        assert catalog.sql("EXPLAIN SELECT * FROM runs").tuples()

    def test_explain_analyze_cannot_write_into_the_catalog(self, catalog, catalog_dir) -> None:
        target = catalog_dir / "runs" / "demo" / "injected.csv"
        with pytest.raises(QueryRefused):
            catalog.sql(f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{target}'")
        assert not target.exists()

    def test_query_error_is_a_catalog_error_with_one_line(self, catalog) -> None:
        with pytest.raises(CatalogError, match="query failed") as caught:
            catalog.sql("SELECT no_such_column FROM runs")
        assert "\n" not in str(caught.value)


def test_schema_lists_views_and_columns(catalog: bathos.Catalog, catalog_dir: Path) -> None:
    schema = catalog.schema()

    assert {"runs", "outputs", "dependencies"} <= set(schema)
    columns = dict(schema["runs"])
    assert columns["id"] == "VARCHAR"
    assert columns["started_at"] == "TIMESTAMP"
    assert columns["record"] == "JSON"
    assert not catalog_dir.exists()  # reading an empty catalog creates nothing


def test_queries_inside_reading_share_one_view_of_the_catalog(catalog: bathos.Catalog) -> None:
    first, later = make_run(), make_run()
    write_runs(catalog, [first], hot=0)
    with catalog.reading() as snap:
        assert [r["id"] for r in snap.runs().to_dicts()] == [first.id]
        catalog.write(later)
        assert [r["id"] for r in snap.runs().to_dicts()] == [first.id]
        with pytest.raises(RunNotFound):
            snap.get(later.id)
        assert snap.get(first.id).id == first.id
        assert catalog.get(later.id).id == later.id  # each query outside reads afresh
        with snap.reading() as inner:
            assert inner is snap
    assert {r["id"] for r in snap.runs().to_dicts()} == {first.id, later.id}


def test_a_reading_reads_afresh_once_compaction_replaced_its_segments(
        catalog: bathos.Catalog) -> None:
    runs = [make_run() for _ in range(MERGE_AT + 1)]
    for run in runs[1:]:  # a small segment each
        catalog.write(run)
        catalog.compact()
    segments = sorted((catalog.path / "runs" / "demo").glob("*.parquet"))
    with catalog.reading() as snap:
        assert len(snap.runs()) == MERGE_AT
        catalog.write(runs[0])
        assert catalog.compact().segments_merged == MERGE_AT  # and the old ones removed
        assert not any(s.exists() for s in segments)
        assert {r["id"] for r in snap.runs().to_dicts()} == {r.id for r in runs}
