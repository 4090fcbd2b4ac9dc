"""The generated parts of docs/ (cli.md's `--help` of every command, api.md's reference of every
public name) must match the code as it is, and every public name must say what it is in
`help()`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bathos
import bth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import apiref

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_match_the_code() -> None:
    cog = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--diff", "@docs/cog.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert cog.returncode == 0, (
        "a generated page of docs/ is out of date with the code: run `cog -r @docs/cog.txt`\n"
        + cog.stdout + cog.stderr
    )


def test_every_public_name_has_a_docstring() -> None:
    missing = apiref.undocumented(bathos) + apiref.undocumented(bth)
    assert not missing, f"no docstring (help() and docs/api.md show nothing for): {missing}"
