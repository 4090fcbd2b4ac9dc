"""Fixtures for catalog tests: runs built with the library, fast setup writes, subprocesses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import records

from bathos.catalog.store import write_record
from bathos.models import Run, unstructure

MakeRun = Callable[..., Run]


@pytest.fixture(scope="session")
def make_run() -> MakeRun:
    """A finished run of project `demo`, started now; any field can be given."""
    return records.make_run


@pytest.fixture
def write_fast(catalog_dir: Path) -> Callable[[Iterable[Run]], None]:
    """Write fragments without fsync: setup for tests that are not about durability."""

    def write(runs: Iterable[Run]) -> None:
        for run in runs:
            write_record(catalog_dir, unstructure(run), durable=False)

    return write


@pytest.fixture
def python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run Python code in a child process (same interpreter, same BTH_HOME); fail on error."""

    def run(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            capture_output=True, text=True, timeout=timeout,
        )
        assert done.returncode == 0, done.stderr
        return done

    return run


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start Python code in a child process; the test waits for or kills it."""
    started: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args], text=True, **popen
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process this test started and waited for: certainly not running now."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
