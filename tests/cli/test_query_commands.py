"""`bth ls`, `find`, `show` and `sql`: what they print is the library's data, and bad input is told
apart from errors by exit code, with one line on stderr and no traceback."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_helpers import bth, bth_process
from records import make_run, sample_runs

import bathos
from bathos import RunQuery
from bathos.catalog.store import write_record
from bathos.ids import new_run_id
from bathos.models import Git, Host, Run, unstructure

NOW = dt.datetime.now(dt.UTC)


def build(path: Path, runs: list[Run], compact_after: int) -> None:
    """A catalog at `path`: the first `compact_after` runs compacted, the rest hot."""
    catalog = bathos.Catalog(path)
    for i, run in enumerate(runs, 1):
        write_record(path, unstructure(run), durable=False)
        if i == compact_after:
            catalog.compact()


@pytest.fixture(scope="module")
def many_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """25 runs in two projects, with nested results, params, tags; some compacted, some hot.
    Built once: the tests that use it only read."""
    runs = [
        make_run(
            project="alpha" if i % 2 else "beta", started_at=NOW - dt.timedelta(minutes=i),
            status=("completed", "failed")[i % 5 == 0], script=f"scripts/step_{i}.py",
            params={"seed": str(i)}, results={"loss": 1 / (i + 1), "curve": [i, {"ok": True}]},
            tags=("sweep",) if i % 3 else (), duration_s=i * 1.5, exit_code=i % 5,
            host=Host("node01", "ana", 100 + i), git=Git("/r", f"{i:040x}", dirty=i % 2 == 0),
        )
        for i in range(25)
    ]
    path = tmp_path_factory.mktemp("many") / "catalog"
    build(path, runs, compact_after=13)
    return path, [r.id for r in runs]


@pytest.fixture
def many(many_built, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    path, ids = many_built
    monkeypatch.setenv("BTH_CATALOG_DIR", str(path))
    return SimpleNamespace(ids=ids, catalog=bathos.Catalog(), path=path)


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


class TestJsonAndCsv:
    def test_ls_json_is_the_library_data(self, many) -> None:
        result = bth("ls", "--json", "--all-projects")

        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == many.catalog.runs(RunQuery(limit=20)).to_dicts()
        assert len(json.loads(result.stdout)) == 20

    def test_find_json_is_the_library_data(self, many) -> None:
        result = bth("find", "--json", "--project", "alpha", "--status", "completed")

        expected = many.catalog.runs(RunQuery(project="alpha", status=["completed"])).to_dicts()
        assert json.loads(result.stdout) == expected

    def test_show_json_is_the_library_record(self, many) -> None:
        result = bth("show", many.ids[7][:12], "--json")  # the short id ls shows

        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == unstructure(many.catalog.get(many.ids[7]))

    @pytest.mark.parametrize("query", [
        "SELECT project, status, count(*) AS n, list(id ORDER BY id) AS ids, "
        "max(started_at) AS last FROM runs GROUP BY ALL ORDER BY ALL",
        "SELECT started_at::DATE AS day, max(started_at) - min(started_at) AS span, "
        "count(*) AS n FROM runs GROUP BY ALL",
    ], ids=["lists-and-times", "dates-and-intervals"])
    def test_sql_json_is_the_library_data(self, many, query) -> None:
        result = bth("sql", query, "--json")

        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == many.catalog.sql(query).to_dicts()

    def test_ls_csv_has_a_header_row(self, many) -> None:
        result = bth("ls", "--csv", "--all-projects", "--limit", "5")

        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert result.stdout.splitlines()[0].startswith("id,project,status,")
        assert [r["id"] for r in rows] == many.ids[:5]
        assert json.loads(rows[0]["results"]) == {"loss": 1.0, "curve": [0, {"ok": True}]}

    def test_sql_csv_has_a_header_row(self, many) -> None:
        result = bth("sql", "SELECT id, status FROM runs ORDER BY started_at DESC LIMIT 3",
                     "--csv")

        lines = result.stdout.splitlines()
        assert lines[0] == "id,status"
        assert [line.split(",")[0] for line in lines[1:]] == many.ids[:3]

    def test_sql_csv_of_no_rows_still_has_its_header(self, many) -> None:
        result = bth("sql", "SELECT id, status FROM runs WHERE false", "--csv")

        assert result.stdout.splitlines() == ["id,status"]

    def test_table_lists_short_ids_and_columns(self, many) -> None:
        result = bth("ls", "--all-projects", "-n", "3")

        header, *lines = result.stdout.splitlines()
        assert header.split() == ["id", "project", "status", "script", "started", "duration",
                                  "host", "commit"]
        assert [line.split()[0] for line in lines] == [rid[:12] for rid in many.ids[:3]]

    def test_show_prints_the_record_in_sections(self, many) -> None:
        result = bth("show", many.ids[0])

        assert result.exit_code == 0
        for section in ("Run", "Time (UTC)", "Command", "Code", "Host", "Results"):
            assert f"\n{section}\n" in result.stdout
        assert many.ids[0] in result.stdout


class TestRunIds:
    def test_missing_run_exits_2_and_says_how_to_list_runs(self, many) -> None:
        result = bth("show", "zzzzzzzz")

        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (f"Error: run zzzzzzzz not found in catalog {many.path} "
                                 "(bth ls --all-projects lists the runs of every project)\n")

    def test_too_short_prefix_exits_2(self, many) -> None:
        result = bth("show", many.ids[0][:3])

        assert result.exit_code == 2
        assert "at least 4" in result.stderr

    def test_ambiguous_prefix_exits_2_naming_candidates(self, catalog) -> None:
        twins = [new_run_id(now_ms=1_700_000_000_000) for _ in range(2)]
        for rid in twins:
            catalog.write(make_run(id=rid))

        result = bth("show", twins[0][:9])

        assert result.exit_code == 2
        assert all(rid in result.stderr for rid in twins)


class TestReadOnlySql:
    @pytest.mark.parametrize("statement", [
        "DROP VIEW runs",
        "INSERT INTO runs (id) VALUES ('x')",
        "CREATE TABLE t AS SELECT 1",
        "COPY (SELECT * FROM runs) TO '{out}'",
        "ATTACH '{out}' AS other",
        "SET threads = 1",
        "SELECT count(*) FROM runs; DROP VIEW runs",
    ])
    def test_writes_are_refused_with_one_line(self, many, tmp_path, statement) -> None:
        before = digest(many.path)
        out = tmp_path / "out.file"

        result = bth("sql", statement.format(out=out))

        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("Error: queries are read-only")
        assert digest(many.path) == before
        assert not out.exists()

    def test_refusal_in_a_real_process_has_no_traceback(self, many) -> None:
        before = digest(many.path)

        done = bth_process("sql", "DROP VIEW runs")

        assert done.returncode == 1
        assert done.stderr.startswith("Error: ")
        assert len(done.stderr.splitlines()) == 1
        assert "Traceback" not in done.stderr
        assert digest(many.path) == before

    def test_reading_another_file_is_refused(self, many, tmp_path) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("s3cret")

        result = bth("sql", f"SELECT content FROM read_text('{secret}')")

        assert result.exit_code == 1
        assert "s3cret" not in result.stdout + result.stderr
        assert result.stderr.startswith("Error: ")

    def test_sql_without_a_query_is_bad_usage(self) -> None:
        assert bth("sql").exit_code == 2

    def test_schema_lists_the_views(self, many) -> None:
        result = bth("sql", "--schema")

        assert result.exit_code == 0
        assert "runs:" in result.stdout and "outputs:" in result.stdout
        assert "  started_at  TIMESTAMP" in result.stdout


@pytest.fixture(scope="module")
def three_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    made = {key: run for key, run in sample_runs(NOW).items() if key in "abc"}
    path = tmp_path_factory.mktemp("three") / "catalog"
    build(path, list(made.values()), compact_after=2)
    return path, {key: run.id for key, run in made.items()}


class TestFilters:
    @pytest.fixture
    def runs(self, three_built, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
        path, ids = three_built
        monkeypatch.setenv("BTH_CATALOG_DIR", str(path))
        return ids

    @pytest.mark.parametrize(("args", "expected"), [
        ([], "cba"),
        (["-p", "alpha"], "ba"),
        (["--since", "15d", "--until", "1d"], "ba"),
        (["--status", "failed", "--status", "interrupted"], "b"),
        (["--tag", "gpu", "--tag", "baseline"], "a"),
        (["--script", "eval.py"], "b"),
        (["--param", "lr=0.1"], "a"),
        (["--host", "node0*"], "ba"),
        (["--commit", "dddd"], "c"),
        (["--slurm-job", "5000"], "ba"),
        (["--slurm-job", "5000_2"], "b"),
        (["--output", "*.parquet"], "a"),
        (["--campaign", "c1"], "ba"),
        (["--limit", "1"], "c"),
    ])
    def test_find(self, runs, args, expected) -> None:
        result = bth("find", "--json", *args)

        assert result.exit_code == 0, result.stderr
        assert [r["id"] for r in json.loads(result.stdout)] == [runs[k] for k in expected]

    @pytest.mark.parametrize(("args", "expected"), [
        (["--project", "alpha"], "ba"),
        (["--since", "7d", "--status", "completed"], "c"),
        (["--until", "3d", "--tag", "baseline"], "a"),
    ])
    def test_ls(self, runs, args, expected) -> None:
        result = bth("ls", "--json", *args)

        assert [r["id"] for r in json.loads(result.stdout)] == [runs[k] for k in expected]

    def test_inside_a_project_ls_shows_that_project(self, runs, tmp_path, monkeypatch) -> None:
        project = tmp_path / "work" / "beta-repo"
        (project / "src").mkdir(parents=True)
        (project / ".bth.toml").write_text('[project]\nslug = "alpha"\n')
        monkeypatch.chdir(project / "src")

        assert [r["id"] for r in json.loads(bth("ls", "--json").stdout)] == [runs["b"], runs["a"]]
        assert [r["id"] for r in json.loads(bth("find", "--json").stdout)] == [runs["b"], runs["a"]]
        every = json.loads(bth("ls", "--json", "--all-projects").stdout)
        assert [r["id"] for r in every] == [runs["c"], runs["b"], runs["a"]]
        other = json.loads(bth("ls", "--json", "-p", "beta").stdout)
        assert [r["id"] for r in other] == [runs["c"]]

    @pytest.mark.parametrize("args", [
        ["ls", "--status", "done"],
        ["ls", "--since", "last tuesday"],
        ["find", "--param", "lr"],
    ])
    def test_bad_filter_values_exit_2(self, runs, args) -> None:
        result = bth(*args)

        assert result.exit_code == 2
        assert result.stdout == ""
        assert "Traceback" not in result.stderr

    def test_no_match_says_so_on_stderr(self, runs) -> None:
        result = bth("ls", "--project", "alpha", "--tag", "nowhere")

        assert result.exit_code == 0
        assert result.stdout == ""
        assert result.stderr == "No runs in project alpha match these criteria.\n"
