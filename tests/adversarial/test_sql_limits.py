"""`bth sql` can be stopped and reads nothing outside the catalog: Ctrl-C cancels a runaway
query (exit 130, one line), `--timeout` ends it (exit 124, one line), and no path outside the
catalog — DuckDB's default temporary directory `.tmp` in the working directory included — is
readable through a query. Every case runs a real `bth sql` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from records import make_run

import bathos
from bathos import QueryTimeout
from bathos.catalog.store import write_record
from bathos.models import unstructure

RUNAWAY = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"


def bth_sql(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bathos_cli", "sql", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def workdir(tmp_path: Path, catalog_dir: Path) -> Path:
    """A working directory outside any project, beside a catalog holding one run."""
    write_record(catalog_dir, unstructure(make_run()))
    cwd = tmp_path / "work"
    cwd.mkdir()
    return cwd


def test_ctrl_c_cancels_a_runaway_query(workdir: Path) -> None:
    proc = bth_sql(RUNAWAY, cwd=workdir)
    # Start-up and imports take well under a second of CPU; past two, the query is running.
    while cpu_seconds(proc.pid) < 2.0:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130
    assert err.splitlines() == ["Interrupted."]
    assert out == ""


def test_timeout_ends_a_runaway_query_with_one_line(workdir: Path) -> None:
    proc = bth_sql("--timeout", "1", RUNAWAY, cwd=workdir)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 124
    assert len(err.splitlines()) == 1
    assert err.startswith("Error: query stopped after 1 s, its time limit")
    assert out == ""


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_timeout_must_be_a_positive_number(workdir: Path, value: str) -> None:
    proc = bth_sql("--timeout", value, "SELECT 1", cwd=workdir)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 2
    assert "--timeout" in err and "Traceback" not in err


def test_library_query_stops_at_its_timeout(catalog_dir: Path) -> None:
    catalog = bathos.Catalog(catalog_dir)
    with pytest.raises(QueryTimeout, match="time limit") as raised:
        catalog.sql(RUNAWAY, timeout=0.5)
    assert raised.value.seconds == 0.5
    assert catalog.sql("SELECT 42").tuples() == [(42,)]  # the next query runs as usual


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_text('.tmp/secret.txt')",
    "SELECT * FROM read_text('{cwd}/.tmp/secret.txt')",
    "SELECT * FROM read_blob('.tmp/*')",
    "SELECT * FROM glob('.tmp/*')",
    "SELECT * FROM read_csv('.tmp/secret.txt', header = false)",
    "SELECT * FROM read_text('{home}/projects.toml')",
    "SELECT * FROM read_text('{cwd}/../outside.txt')",
])
def test_no_file_outside_the_catalog_is_readable(workdir: Path, bth_home: Path,
                                                 query: str) -> None:
    (workdir / ".tmp").mkdir()
    (workdir / ".tmp" / "secret.txt").write_text("sk-live-planted\n")
    (workdir.parent / "outside.txt").write_text("sk-live-planted\n")
    (bth_home / "projects.toml").write_text('secret = "sk-live-planted"\n')

    proc = bth_sql(query.format(cwd=workdir, home=bth_home), cwd=workdir)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 1
    assert "sk-live-planted" not in out + err
    assert len(err.splitlines()) == 1 and "Permission Error" in err
