"""README's Python snippets, run as they are against the catalog `bth demo` builds, so they can
never drift from the library.

Every ```python block of README.md is taken in order. A block that does `import bth` is a script:
it is written into the demo project and run twice, as `python script.py` and under `bth run`, and
the runs it recorded are read back with `bth ls --json`. Every other block is a notebook: each one
runs in a fresh namespace, its statements one after another (as cells would), with the cwd in the
demo project; the value of each call it shows is checked against the demo's runs, and a comment
that names what a call returns ("as polars", "Rows", "a bathos.Run") must be true.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import polars as pl
import pytest
from project import SIDECAR, Project

import bathos

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
CLAIMS = {"as polars": pl.DataFrame, "Rows": bathos.Rows, "a bathos.Run": bathos.Run}
Runs = list[dict[str, Any]]


@attrs.frozen
class Block:
    source: str
    line: int  # of its first line in README.md

    @property
    def is_script(self) -> bool:
        return any(isinstance(s, ast.Import) and any(a.name == "bth" for a in s.names)
                   for s in ast.parse(self.source).body)


def readme_blocks() -> list[Block]:
    text = README.read_text()
    return [Block(m.group(1), text.count("\n", 0, m.start(1)) + 1) for m in BLOCK.finditer(text)]


@attrs.frozen
class Demo:
    project: Project
    home: Path

    def ls(self, *args: str) -> Runs:
        """`bth ls --json` in the project: what a user sees, newest first."""
        done = self.project.bth("ls", "--json", *args)
        assert done.returncode == 0, done.stderr
        runs: Runs = json.loads(done.stdout)
        return runs

    def one(self, **fields: Any) -> dict[str, Any]:
        [found] = [r for r in self.ls() if fields.items() <= r.items()]
        return found

    def rerun(self) -> str:
        """The id of the demo's rerun of the dirty-tree simulation."""
        [found] = [r["id"] for r in self.ls() if "rerun" in r["tags"]]
        return str(found)

    def sweep(self) -> Runs:
        """The runs of the demo's campaign: two seeds before its physics edit, one after."""
        return [r for r in self.ls() if r["campaign_id"] == "steps"]

    def simulation(self, seed: str) -> str:
        """The id of the demo's simulation run with this seed."""
        [found] = [r["id"] for r in self.ls()
                   if r["params"].get("seed") == seed and "rerun" not in r["tags"]]
        return str(found)


@pytest.fixture
def demo(tmp_path: Path, bth_home: Path, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """The project and catalog `bth demo` makes, the cwd inside that project."""
    done = Project(tmp_path).bth("demo", "--dir", str(tmp_path / "demo"), "--home", str(bth_home))
    assert done.returncode == 0, done.stderr
    root = tmp_path / "demo" / "particles"
    monkeypatch.chdir(root)
    return Demo(Project(root), bth_home)


def show(block: Block) -> list[tuple[str, Any, str]]:
    """Run a notebook block statement by statement in a fresh namespace; for each call it shows
    (alone or assigned to a name): the call (`cat.runs(since='7d')`), its value, the line's
    comment."""
    tree = ast.parse(block.source)
    ast.increment_lineno(tree, block.line - 1)  # a traceback names README's own line
    lines = README.read_text().splitlines()
    namespace: dict[str, Any] = {}
    shown = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr):
            value = eval(compile(ast.Expression(stmt.value), str(README), "eval"), namespace)
        else:
            exec(compile(ast.Module([stmt], type_ignores=[]), str(README), "exec"), namespace)
            if not isinstance(stmt, ast.Assign):
                continue
            value = namespace[ast.unparse(stmt.targets[0])]
        shown.append((ast.unparse(stmt.value), value, lines[stmt.lineno - 1].partition("# ")[2]))
    return shown


def records(value: Any) -> Runs:
    """The rows of a query's result, whatever shape it comes in."""
    return value if isinstance(value, list) else list(value.to_dicts())


def ids(value: Any) -> list[str]:
    return [row["id"] for row in records(value)]


def check_catalog(cat: Any, demo: Demo) -> None:
    assert isinstance(cat, bathos.Catalog)
    assert cat.path == demo.home / "catalog"


def check_runs(value: Any, demo: Demo) -> None:
    assert ids(value) == [r["id"] for r in demo.ls()]
    assert len(ids(value)) == 11  # two simulations, a summary, a failure, a rerun, the sweep's 6


def check_find(value: Any, demo: Demo) -> None:
    assert ids(value) == [demo.simulation(seed="1")]


def check_typed(frame: Any, demo: Demo) -> None:
    assert frame["id"][0] == demo.simulation(seed="1")
    assert set(frame["id"][1:3]) == {demo.simulation(seed="2"), demo.rerun()}
    assert set(frame["id"][3:]) == {r["id"] for r in demo.sweep()}
    assert frame.schema["params.seed"] == pl.Int64
    assert frame["params.seed"].to_list() == [1, 2, 2, 11, 11, 12, 12, 13, 13]
    assert frame["params.n_steps"].to_list()[:3] == [300, 300, 300]
    assert sorted(frame["params.n_steps"].to_list()[3:]) == [100] * 3 + [300] * 3


def check_failed(value: Any, demo: Demo) -> None:
    assert records(value) == demo.ls("--status", "failed")
    assert [r["script"] for r in value] == ["scripts/experiments/fit_unstable_model.py"]


def check_get(run: Any, demo: Demo) -> None:
    failed = demo.one(status="failed")
    assert (run.id, run.status, run.exit_code) == (failed["id"], "failed", 1)
    assert run.git.commit == failed["commit"]
    assert "scripts/experiments/fit_unstable_model.py" in {d.path for d in run.dependencies}
    assert run.outputs == ()


def check_sql(value: Any, demo: Demo) -> None:
    averages = {r["script"]: r["avg(duration_s)"] for r in records(value)}
    assert averages.keys() == {r["script"] for r in demo.ls()}
    assert all(seconds > 0 for seconds in averages.values())


def check_producer(found: Any, demo: Demo) -> None:
    summary = demo.one(script="scripts/analysis/summarize_positions.py")
    assert (found.run_id, found.matched_by) == (summary["id"], "path")
    assert found.verdict.verdict == "stale-upstream"


def check_freshness(value: Any, demo: Demo) -> None:
    verdicts = {r["run_id"]: r["verdict"] for r in records(value)}
    assert verdicts == {
        demo.simulation(seed="1"): "stale",  # bth demo edits the physics after it
        demo.one(script="scripts/analysis/summarize_positions.py")["id"]: "stale-upstream",
        demo.simulation(seed="2"): "fresh",
        demo.rerun(): "fresh",  # the same pinned code as the run it reran
        # the sweep's runs before the edit are stale, those after it (on a dirty tree) fresh
        **{r["id"]: "fresh" if r["dirty"] else "stale" for r in demo.sweep()},
    }


def check_sims(value: Any, demo: Demo) -> None:
    assert ids(value) == [demo.rerun(), demo.simulation(seed="2")]


def check_history(frame: Any, demo: Demo) -> None:
    assert frame.columns == ["step", "spread"]
    assert frame["step"].to_list() == list(range(30, 301, 30))  # the demo logs every 30 steps
    assert frame["spread"][-1] == pytest.approx(demo.one(id=demo.rerun())["results"]["spread"],
                                                abs=1e-6)


def check_reproduced(value: Any, demo: Demo) -> None:
    assert value is True


NOTEBOOK_CHECKS: dict[str, Callable[[Any, Demo], None]] = {
    "bathos.Catalog()": check_catalog,
    "cat.runs(since='7d').to_polars()": check_runs,
    "cat.runs(params={'seed': '1'}, status='completed')": check_find,
    "cat.runs(script='simulate*', flatten=True).to_polars().sort('params.seed')": check_typed,
    "cat.runs(status='failed', limit=20)": check_failed,
    "cat.get(failed[0]['id'])": check_get,
    "cat.sql('SELECT script, avg(duration_s) FROM runs GROUP BY 1').to_polars()": check_sql,
    "cat.check().to_polars()": check_freshness,
    "cat.producer_of('outputs/summary.json')": check_producer,
    "cat.runs(script='simulate*', limit=2)": check_sims,
    "cat.metrics(sims[0]['id']).pivot('key', index='step', values='value')": check_history,
    "cat.diff(sims[1]['id'], sims[0]['id']).outputs_identical": check_reproduced,
}


def test_notebook_snippets_return_the_demo_runs(demo: Demo) -> None:
    shown = [s for block in readme_blocks() if not block.is_script for s in show(block)]
    assert sorted(c for c, _, _ in shown) == sorted(NOTEBOOK_CHECKS), \
        "every call README shows needs its check here, and every check its call"
    for callee, value, comment in shown:
        NOTEBOOK_CHECKS[callee](value, demo)
        for claim, kind in CLAIMS.items():
            assert claim not in comment or isinstance(value, kind), (callee, claim, type(value))


def test_script_snippet_records_its_run(demo: Demo) -> None:
    [block] = [b for b in readme_blocks() if b.is_script]
    script = "scripts/experiments/benchmark_tip3p.py"
    demo.project.write(script, block.source)
    demo.project.write(script.replace(".py", ".bth.toml"), SIDECAR)  # its directory needs one
    expected = {
        "script": script,
        "status": "completed",
        "name": "benchmark_tip3p",
        "tags": ["tip3p", "nvt"],
        "params": {"n_steps": "1000", "out": "outputs/energies.csv"},
        "results": {"energy": -41.2},  # returned: it wins over the last value logged
    }

    direct = demo.project.python(script)
    assert direct.returncode == 0, direct.stderr
    [newest, *_] = demo.ls()
    assert expected.items() <= newest.items()

    tracked = demo.project.bth_run(script)
    assert [r["id"] for r in demo.ls("--tag", "tip3p")] == \
        [tracked.id, newest["id"]]  # one run each: under `bth run` the script adds to its run
    assert expected.items() <= demo.one(id=tracked.id).items()

    queried = demo.project.bth("sql", "--json", "SELECT run_id, count(*) AS points, min(step) AS "
                               "first, max(step) AS last FROM metrics WHERE key = 'energy' "
                               "GROUP BY run_id ORDER BY run_id")
    assert json.loads(queried.stdout) == [
        {"run_id": run_id, "points": 10, "first": 0, "last": 900}
        for run_id in sorted([newest["id"], tracked.id])]
    history = bathos.Catalog().metrics(tracked.id)
    assert history["value"].to_list() == [-41.2 - 1 / (s + 1) for s in range(0, 1000, 100)]
