"""`import bathos` needs none of the CLI or query libraries, and neither does writing a run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import bathos

HEAVY = ("click", "rich", "duckdb", "polars", "pyarrow", "numpy", "scipy", "matplotlib")

# Refuses to import the heavy libraries, so that using one where it is not needed fails loudly.
BLOCKER = f"""
import sys

HEAVY = {HEAVY!r}


class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError(f"{{name}} is blocked in this test")
        return None


sys.meta_path.insert(0, Blocked())
"""


def run_blocked(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def test_import_bathos_loads_no_cli_or_query_library() -> None:
    done = run_blocked(f"""
        import bathos
        bathos.Catalog, bathos.Run, bathos.RunQuery, bathos.Rows, bathos.CompactionReport
        bathos.BathosError, bathos.CatalogError, bathos.RunNotFound, bathos.QueryRefused
        bathos.load_sidecar, bathos.SidecarSpec, bathos.RunOutcome, bathos.CampaignReview
        print(sorted(set(sys.modules) & set({HEAVY!r})))
    """)
    assert done.stdout.strip() == "[]"


def test_writing_a_run_loads_no_cli_or_query_library(tmp_path: Path) -> None:
    done = run_blocked(f"""
        import bathos
        from bathos.ids import new_run_id
        from bathos.models import utcnow

        now = utcnow()
        run = bathos.Run(id=new_run_id(), project="demo", started_at=now, updated_at=now)
        print(bathos.Catalog().write(run))
        print(sorted(set(sys.modules) & set({HEAVY!r})))
    """, cwd=tmp_path)
    path, loaded = done.stdout.splitlines()
    assert loaded == "[]"
    assert bathos.Catalog().get(path.rsplit("/", 1)[1].removesuffix(".json")).project == "demo"


def test_public_names_are_sorted_and_all_resolve() -> None:
    assert bathos.__all__ == sorted(bathos.__all__)
    for name in bathos.__all__:
        assert getattr(bathos, name) is not None
