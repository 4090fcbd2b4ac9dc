"""Helpers for the query and upkeep command tests: runs built with the library, `bth` invoked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from bathos_cli.main import cli


def bth(*args: str) -> Result:
    """`bth ARGS` in this process; stdout and stderr apart. An exception that is not a clean exit
    propagates, so a traceback a user would see fails the test."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def bth_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`bth ARGS` as a real process (same interpreter, same BTH_HOME)."""
    return subprocess.run([sys.executable, "-m", "bathos_cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)
