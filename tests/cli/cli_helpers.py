"""Helpers for the query and upkeep command tests: runs built with the library, `bth` invoked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bathos.ids import new_run_id
from bathos.models import Run, utcnow
from bathos_cli.main import cli


def make_run(**fields: Any) -> Run:
    """A finished run of project `demo`, started now; any field can be given."""
    started = fields.pop("started_at", None) or utcnow()
    fields.setdefault("id", new_run_id())
    fields.setdefault("project", "demo")
    fields.setdefault("status", "completed")
    fields.setdefault("updated_at", started)
    return Run(started_at=started, **fields)


def bth(*args: str) -> Result:
    """`bth ARGS` in this process; stdout and stderr apart. An exception that is not a clean exit
    propagates, so a traceback a user would see fails the test."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def bth_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`bth ARGS` as a real process (same interpreter, same BTH_HOME)."""
    return subprocess.run([sys.executable, "-m", "bathos_cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)
