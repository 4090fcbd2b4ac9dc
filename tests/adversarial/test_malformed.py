"""Records that parse but are not run records, Parquet files of other columns, and results too
deep or too large: each is skipped (or left out) with one warning, `verify` finds exactly it, and
`verify --quarantine` leaves a catalog every command reads. Before, each crashed a reader,
compaction stored it as nonsense, or the run ended `lost`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs
import duckdb
import pytest
from attack_helpers import ok
from project import Project, make_project
from records import make_run

import bathos
from bathos.ids import new_run_id
from bathos.models import unstructure, utcnow


@attrs.define
class Catalog:
    """A catalog of three compacted runs and one hot, with `bth` run outside any project."""

    lib: bathos.Catalog
    demo: Path
    good: list[bathos.Run]
    work: Project

    def plant(self, record: dict[str, object] | bytes) -> Path:
        """A fragment written by hand into project demo."""
        path = self.demo / f"{new_run_id()}.json"
        path.write_bytes(record if isinstance(record, bytes) else json.dumps(record).encode())
        return path

    def count(self) -> tuple[int, str]:
        done = ok(self.work.bth("sql", "--json", "SELECT count(*) AS n FROM runs"))
        return json.loads(done.stdout)[0]["n"], done.stderr

    def every_command_reads(self) -> str:
        """ls, show, sql and compact work and see every good run; their warnings."""
        listed = ok(self.work.bth("ls", "--json"))
        assert {r["id"] for r in json.loads(listed.stdout)} == {r.id for r in self.good}
        for run in (self.good[0], self.good[-1]):  # one compacted, one hot
            ok(self.work.bth("show", run.id))
        n, warnings = self.count()
        assert n == len(self.good)
        ok(self.work.bth("compact"))
        return listed.stderr + warnings

    def verify_finds(self, path: Path, reason: str) -> None:
        found = self.work.bth("verify")
        assert found.returncode == 1, found.stderr
        assert found.stdout.splitlines() == [line for line in found.stdout.splitlines()
                                              if line.startswith(f"{path}: ")]
        assert reason in found.stdout

    def quarantine_clears(self, path: Path) -> None:
        ok(self.work.bth("verify", "--quarantine"))
        assert not path.exists()
        assert (self.demo.parent.parent / "quarantine" / "demo" / path.name).exists()
        assert "0 unreadable" in ok(self.work.bth("verify")).stderr
        assert self.every_command_reads() == ""


@pytest.fixture
def cat(tmp_path: Path, catalog_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    monkeypatch.chdir(tmp_path)
    lib = bathos.Catalog(catalog_dir)
    good = [make_run() for _ in range(3)]
    for run in good:
        lib.write(run)
    lib.compact()
    hot = make_run()
    lib.write(hot)
    (tmp_path / "work").mkdir()
    return Catalog(lib, catalog_dir / "runs" / "demo", [*good, hot], Project(tmp_path / "work"))


def test_json_nested_thousands_deep_is_one_unreadable_fragment(cat: Catalog) -> None:
    deep = cat.plant(b'{"id": "x", "results": ' + b"[" * 5000 + b"]" * 5000 + b"}")

    warnings = cat.every_command_reads()

    assert warnings.count(str(deep)) == 2  # once by ls, once by sql
    assert deep.exists()  # compaction leaves it for verify
    cat.verify_finds(deep, "nested too deep")
    cat.quarantine_clears(deep)


def test_a_manifest_and_kept_rows_nested_thousands_deep_are_read_around(cat: Catalog) -> None:
    manifest, kept = cat.demo / "segments.manifest", cat.demo / "segments.recent"
    deep = b"[" * 5000 + b"]" * 5000
    manifest.write_bytes(b'{"segments": ' + deep + b"}")
    header, *rows = kept.read_bytes().splitlines()
    kept.write_bytes(b"\n".join([header, deep, *rows]) + b"\n")

    listed = ok(cat.work.bth("ls", "--json"))  # every segment is read, as with no manifest
    assert {r["id"] for r in json.loads(listed.stdout)} == {r.id for r in cat.good}
    assert cat.count() == (len(cat.good), "")
    cat.verify_finds(manifest, "not a segment list")
    ok(cat.work.bth("verify", "--quarantine"))
    assert "0 unreadable" in ok(cat.work.bth("verify")).stderr
    assert cat.every_command_reads() == ""


def _set(field: str, value: object) -> Callable[[dict[str, object]], object]:
    def change(record: dict[str, object]) -> object:
        record[field] = value
        return value

    return change


WRONG = {
    "status 7": (_set("status", 7), "status is 7, not one of running"),
    "tags an object": (_set("tags", {"a": 1}), "tags is an object, not a list"),
    "start not a time": (_set("started_at", "last tuesday"), 'started_at is "last tuesday"'),
    "start before UTC's year 1": (_set("started_at", "0001-01-01T00:00:00+01:00"),
                                  'started_at is "0001-01-01T00:00:00+01:00"'),
    "outputs of strings": (_set("outputs", ["out.csv"]), "outputs[0] is \"out.csv\""),
    "results nested deep": (_set("results", json.loads('{"a":' * 40 + "1" + "}" * 40)),
                            "results is nested deeper than 32 levels"),
}


@pytest.mark.parametrize("wrong", WRONG)
def test_a_record_of_wrong_types_is_skipped_never_folded_and_found_by_verify(
    cat: Catalog, wrong: str
) -> None:
    change, reason = WRONG[wrong]
    record = unstructure(make_run())
    change(record)
    bad = cat.plant(record)

    warnings = cat.every_command_reads()

    assert f"skipping unreadable {bad}: not a well-formed run record: {reason}" in warnings
    assert bad.exists()  # not folded into a segment
    assert cat.lib.sql("SELECT count(*) FROM runs WHERE id = ?", [record["id"]]).tuples() == [(0,)]
    cat.verify_finds(bad, reason)
    cat.quarantine_clears(bad)


@pytest.mark.parametrize("name", ["aaa_export.parquet", "zzz_export.parquet"])
def test_a_parquet_file_of_other_columns_in_the_manifest_is_skipped_and_quarantined(
    cat: Catalog, name: str
) -> None:
    foreign = cat.demo / name
    duckdb.sql(f"COPY (SELECT 1 AS x, 'a' AS y) TO '{foreign}' (FORMAT parquet)")
    manifest = cat.demo / "segments.manifest"
    listed = json.loads(manifest.read_text())["segments"]
    manifest.write_text(json.dumps({"segments": [*listed, name]}))
    content = foreign.read_bytes()
    again = attrs.evolve(cat.good[0], status="failed", updated_at=utcnow())
    cat.lib.write(again)  # compaction will merge the segments
    cat.good[0] = again

    warnings = cat.every_command_reads()

    assert f"skipping unreadable {foreign}: a Parquet file that is not a bathos segment" in warnings
    assert foreign.read_bytes() == content
    assert cat.lib.get(again.id).status == "failed"
    cat.verify_finds(foreign, "not a bathos segment")
    cat.quarantine_clears(foreign)


DEEP_LINE = """\
import json, os
with open(os.environ["BTH_RESULTS_PATH"], "a") as fh:
    fh.write(json.dumps({"loss": 0.5}) + "\\n")
    fh.write('{"deep": ' + "[" * 5000 + "]" * 5000 + "}\\n")
"""
DEEP_LOG = """\
import bth
value = 1
for _ in range(40):
    value = {"a": value}
bth.log(loss=0.5, deep=value)
raise SystemExit(3)
"""
LARGE_LOG = """\
import bth
bth.log(loss=0.5, samples=["x" * 1000] * 2000)
"""
RESULTS = {
    "deep line": (DEEP_LINE, 0, "completed", {}, "nested deeper than 32 levels"),
    "deep log": (DEEP_LOG, 3, "failed", {"loss": 0.5}, "'deep' nested deeper than 32 levels"),
    "large": (LARGE_LOG, 0, "completed", {}, "2.0 MB of JSON, over the 1 MB limit"),
}


@pytest.mark.parametrize("case", RESULTS)
def test_results_too_deep_or_too_large_are_left_out_and_the_run_is_still_recorded(
    tmp_path: Path, case: str
) -> None:
    script, code, status, kept, reason = RESULTS[case]
    project = make_project(tmp_path / "proj", {"write.py": script})

    done = project.bth("run", "write.py")

    assert done.returncode == code, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and reason in warnings[0]
    run = done.run()
    assert (run.status, run.exit_code, run.results) == (status, code, kept)
    assert "0 unreadable" in ok(project.bth("verify")).stderr


def test_verify_lists_every_bad_file_at_once_and_quarantine_leaves_a_catalog_all_commands_read(
    cat: Catalog,
) -> None:
    """Each attack on the catalog's files, together: verify names each, quarantine fixes all."""
    mended = make_run()
    old = {**unstructure(mended), "argv": ["caf\udce9"]}
    surrogates = cat.plant(json.dumps(old).encode())  # as an older bathos wrote it
    cat.good.append(mended)  # read, with the byte escaped
    raw = cat.plant(json.dumps(unstructure(make_run())).encode().replace(b'"demo"', b'"d\xe9"'))
    deep = cat.plant(b'{"id": "x", "params": ' + b"{" * 3000 + b"}" * 3000 + b"}")
    wrong = cat.plant({**unstructure(make_run()), "status": 7})
    foreign = cat.demo / "export.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{foreign}' (FORMAT parquet)")
    manifest = cat.demo / "segments.manifest"
    (seg,) = json.loads(manifest.read_text())["segments"]
    manifest.write_text(json.dumps({"segments": [seg, seg, "export.parquet", "/etc/passwd"]}))

    found = cat.work.bth("verify")

    assert found.returncode == 1
    named = sorted({line.split(": ", 1)[0] for line in found.stdout.splitlines()})
    assert named == sorted(str(p) for p in (surrogates, raw, deep, wrong, foreign, manifest))
    assert len(found.stdout.splitlines()) == 7  # the manifest twice: the repeat and the path

    ok(cat.work.bth("verify", "--quarantine"))

    assert "0 unreadable" in ok(cat.work.bth("verify")).stderr
    assert cat.every_command_reads() == ""
    assert cat.lib.get(mended.id).argv == ("caf\\xe9",)


DEEP_RETURN = """\
import bth

@bth.experiment(name="deep")
def main() -> dict:
    value = 1
    for _ in range(40):
        value = {"a": value}
    return {"loss": 0.5, "deep": value}

main()
"""


def test_results_a_decorated_function_returns_are_bounded_when_it_runs_directly(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "proj", {"direct.py": DEEP_RETURN})

    done = project.python("direct.py")

    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "not recorded" in line]
    assert len(warnings) == 1 and "'deep' nested deeper than 32 levels" in warnings[0]
    (run,) = bathos.Catalog().runs(status="completed").to_polars()["id"].to_list()
    assert bathos.Catalog().get(run).results == {"loss": 0.5}
    assert "0 unreadable" in ok(project.bth("verify")).stderr
