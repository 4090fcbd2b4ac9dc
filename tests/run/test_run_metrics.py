"""Metric history: every number `bth.log` is given is a point (key, step, value, time); a program
that is not Python logs points through `BTH_METRIC` lines on stdout or `$BTH_METRICS_PATH`."""

from __future__ import annotations

import json
import time

import polars as pl
from project import STARTED, Project

from bathos import Catalog

LOOP = """\
import bth

for i in range(1000):
    bth.log(step=i, loss=1.0 / (i + 1))
bth.log(note="done", accuracy=0.75)
"""


def points(run_id: str, **kwargs: object) -> list[tuple[str, int, float]]:
    frame = Catalog().metrics(run_id, **kwargs)  # type: ignore[arg-type]
    return list(frame.select("key", "step", "value").iter_rows())


def sql(project: Project, query: str) -> list[dict[str, object]]:
    done = project.bth("sql", query, "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def test_a_loop_of_logs_keeps_every_point_and_the_last_as_a_result(project: Project) -> None:
    project.write("scripts/experiments/train.py", LOOP)

    run = project.bth_run("scripts/experiments/train.py")

    assert run.results == {"loss": 0.001, "accuracy": 0.75, "note": "done"}
    loss = Catalog().metrics(run.id, keys=["loss"])
    assert loss.columns == ["run_id", "key", "step", "value", "time"]
    assert loss["step"].to_list() == list(range(1000))
    assert loss["value"].to_list() == [1.0 / (i + 1) for i in range(1000)]
    assert loss["time"].is_sorted() and loss["time"].dtype == pl.Datetime("us")
    assert (run.started_at.replace(tzinfo=None) <= loss["time"][0]
            <= loss["time"][-1] <= run.ended_at.replace(tzinfo=None))  # type: ignore[union-attr]
    assert points(run.id, keys=["accuracy"]) == [("accuracy", 0, 0.75)]
    assert sql(project, "SELECT key, count(*) AS n, max(step) AS last, min(value) AS low, "
                        "typeof(any_value(time)) AS t FROM metrics GROUP BY key ORDER BY key") == [
        {"key": "accuracy", "n": 1, "last": 0, "low": 0.75, "t": "TIMESTAMP"},
        {"key": "loss", "n": 1000, "last": 999, "low": 0.001, "t": "TIMESTAMP"},
    ]
    assert sql(project, "SELECT DISTINCT run_id, project FROM metrics") == [
        {"run_id": run.id, "project": run.project}]


def test_points_live_beside_the_run_not_in_its_record(project: Project) -> None:
    project.write("scripts/experiments/train.py", LOOP)
    run = project.bth_run("scripts/experiments/train.py")

    catalog = Catalog()
    fragment = catalog.path / "runs" / run.project / f"{run.id}.json"
    assert b'"step"' not in fragment.read_bytes()
    assert (catalog.path / "runs" / run.project / "metrics" / f"{run.id}.jsonl").is_file()
    assert project.bth("verify").returncode == 0


def test_a_step_left_out_is_one_more_than_the_keys_last(project: Project) -> None:
    project.write("scripts/experiments/train.py",
                  "import bth\nbth.log(a=1)\nbth.log(a=2, b=5)\nbth.log(step=10, a=3)\n"
                  "bth.log(a=4)\nbth.log(b=6)\n")

    run = project.bth_run("scripts/experiments/train.py")

    assert points(run.id) == [("a", 0, 1.0), ("a", 1, 2.0), ("a", 10, 3.0), ("a", 11, 4.0),
                              ("b", 0, 5.0), ("b", 1, 6.0)]
    assert run.results == {"a": 4, "b": 6}


def test_a_decorated_script_run_directly_logs_points(project: Project) -> None:
    project.write("scripts/experiments/fit.py", """\
import bth

@bth.experiment(name="fit")
def main(n: int = 50) -> dict:
    for i in range(n):
        bth.log(step=i, loss=float(n - i))
    return {"final": 1}

if __name__ == "__main__":
    main()
""")
    project.commit("fit")

    done = project.python("scripts/experiments/fit.py")

    assert done.returncode == 0, done.stderr
    [run_id] = Catalog().runs().to_polars()["id"].to_list()
    assert Catalog().get(run_id).results == {"loss": 1.0, "final": 1}
    assert points(run_id) == [("loss", i, float(50 - i)) for i in range(50)]


SHELL = """\
#!/bin/sh
echo "epoch 1"
echo 'BTH_METRIC {"loss": 0.5, "step": 1}'
printf 'BTH_METRIC {"loss": 0.25, "step": 2}\\n'
echo '{"step": 1, "acc": 0.5, "time": 1700000000.5}' >> "$BTH_METRICS_PATH"
echo '{"acc": 0.75}' >> "$BTH_METRICS_PATH"
echo "done"
"""


def test_a_shell_script_logs_through_stdout_lines_and_the_metrics_file(
        project: Project) -> None:
    project.write("scripts/data/train.sh", SHELL)
    (project.root / "scripts/data/train.sh").chmod(0o755)

    done = project.bth("run", "--", "scripts/data/train.sh")

    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    assert 'BTH_METRIC {"loss": 0.5, "step": 1}\n' in done.stdout  # printed as it was
    run = done.run()
    assert points(run.id) == [("acc", 1, 0.5), ("acc", 2, 0.75), ("loss", 1, 0.5),
                              ("loss", 2, 0.25)]
    assert run.results == {"loss": 0.25, "acc": 0.75}
    assert 'BTH_METRIC {"loss": 0.5' in Catalog().read_log(run.id).decode()
    given = Catalog().metrics(run.id, keys=["acc"])["time"][0]
    assert given.isoformat() == "2023-11-14T22:13:20.500000"


def test_bad_metric_lines_are_left_out_with_one_warning(project: Project) -> None:
    project.write("scripts/data/bad.sh", """\
#!/bin/sh
echo 'BTH_METRIC {"loss": 1, "step": 0}'
echo 'BTH_METRIC not json'
echo 'BTH_METRIC {"loss": "high"}'
echo 'BTH_METRIC {"loss": 2, "step": 1.5}'
echo 'say BTH_METRIC {"loss": 9}'
echo '[1, 2]' >> "$BTH_METRICS_PATH"
echo '{"loss": 3, "step": 1}' >> "$BTH_METRICS_PATH"
printf '{"loss": tr' >> "$BTH_METRICS_PATH"
""")
    (project.root / "scripts/data/bad.sh").chmod(0o755)

    done = project.bth("run", "--", "scripts/data/bad.sh")

    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "metric line" in line]
    assert len(warnings) == 1 and "ignored 5 metric line(s)" in warnings[0], done.stderr
    run = done.run()
    assert run.status == "completed"
    assert sorted(points(run.id)) == [("loss", 0, 1.0), ("loss", 1, 3.0)]


FORKS = """\
import multiprocessing as mp
import bth

def work(n):
    for i in range(100):
        bth.log(step=i, **{f"w{n}": float(i)})
    return n

if __name__ == "__main__":
    for i in range(10):
        bth.log(step=i, parent=float(i))      # buffered when the pool forks
    with mp.get_context("fork").Pool(2) as pool:
        assert pool.map(work, range(4)) == [0, 1, 2, 3]
    proc = mp.get_context("fork").Process(target=work, args=(9,))
    proc.start()
    proc.join()
    bth.log(step=10, parent=10.0)
"""


def test_forked_children_log_their_points_and_never_the_parents_again(
        project: Project) -> None:
    project.write("scripts/experiments/forks.py", FORKS)

    run = project.bth_run("scripts/experiments/forks.py")

    found = Catalog().metrics(run.id)
    counts = dict(found.group_by("key").len().iter_rows())
    assert counts == {"parent": 11, "w0": 100, "w1": 100, "w2": 100, "w3": 100, "w9": 100}
    assert found.select("key", "step").is_duplicated().sum() == 0


def test_bth_metrics_prints_a_step_per_row_and_a_metric_per_column(project: Project) -> None:
    project.write("scripts/experiments/train.py",
                  "import bth\nfor i in range(3):\n    bth.log(step=i, loss=1/(i+1), acc=i/4)\n")
    run = project.bth_run("scripts/experiments/train.py")

    table = project.bth("metrics", run.id[:8])
    as_json = project.bth("metrics", run.id[:8], "--key", "loss", "--json")
    as_csv = project.bth("metrics", run.id[:8], "-k", "acc", "--csv")

    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines() == ["step  acc   loss", "0     0     1",
                                         "1     0.25  0.5", "2     0.5   0.333333"]
    rows = json.loads(as_json.stdout)
    assert [(r["run_id"], r["key"], r["step"], r["value"]) for r in rows] == [
        (run.id, "loss", 0, 1.0), (run.id, "loss", 1, 0.5), (run.id, "loss", 2, 1 / 3)]
    assert rows[0]["time"].endswith("Z")
    assert as_csv.stdout.splitlines()[0] == "run_id,key,step,value,time"
    assert len(as_csv.stdout.splitlines()) == 4
    other = project.bth_run("scripts/experiments/train.py")
    both = project.bth("metrics", run.id, other.id, "-k", "loss").stdout.splitlines()
    assert both[0].split() == ["run", "step", "loss"] and len(both) == 7
    assert both[1].split()[0] == run.id[:12] and both[4].split()[0] == other.id[:12]
    missing = project.bth("metrics", run.id, "--key", "lsos")
    assert (missing.returncode, missing.stdout) == (0, "")
    assert "No points of lsos recorded" in missing.stderr


def test_bth_metrics_of_a_run_without_points_says_so(project: Project) -> None:
    run = project.bth_run("scripts/experiments/hello.py")

    done = project.bth("metrics", run.id)

    assert (done.returncode, done.stdout) == (0, "")
    assert "No metric points" in done.stderr


def test_points_survive_compaction_each_once(project: Project) -> None:
    project.write("scripts/experiments/train.py", LOOP)
    first = project.bth_run("scripts/experiments/train.py")
    second = project.bth_run("scripts/experiments/train.py")
    query = "SELECT run_id, key, step, value, time FROM metrics ORDER BY ALL"
    before = sql(project, query)

    assert project.bth("compact").returncode == 0

    metrics_dir = Catalog().path / "runs" / first.project / "metrics"
    assert not list(metrics_dir.glob("*.jsonl"))
    assert len(list(metrics_dir.glob("seg-*.parquet"))) == 1
    assert sql(project, query) == before and len(before) == 2 * 1001
    assert Catalog().metrics([second.id, first.id]).select("run_id").unique(
        maintain_order=True)["run_id"].to_list() == [second.id, first.id]
    assert project.bth("verify").returncode == 0


def test_a_running_run_shows_the_points_it_has_written(project: Project) -> None:
    project.write("scripts/experiments/slow.py", """\
import os, time
import bth

bth.log(step=0, loss=1.0)  # the first point of a process is written at once
open("ready", "w").close()
while not os.path.exists("go"):
    time.sleep(0.05)
bth.log(step=1, loss=0.5)
""")
    proc = project.popen("run", "scripts/experiments/slow.py")
    try:
        started = proc.stderr.readline().decode()  # type: ignore[union-attr]
        run_id = STARTED.search(started).group(1)  # type: ignore[union-attr]
        while not (project.root / "ready").exists():
            time.sleep(0.05)

        assert points(run_id) == [("loss", 0, 1.0)]
    finally:
        (project.root / "go").touch()
        done = project.wait(proc)
    assert done.returncode == 0, done.stderr
    assert points(run_id) == [("loss", 0, 1.0), ("loss", 1, 0.5)]
