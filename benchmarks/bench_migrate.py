"""What bringing history up to date costs: importing a catalog of the older bathos, and rewriting
records of an older schema.

    python benchmarks/bench_migrate.py [--runs 2000]

In a scratch BTH_HOME it writes N single-row Parquet run files as the older bathos did (the
builders of tests/legacy_catalog.py, versions 0, 4, 9 and 15 in turn, each under a new id) and
times `Catalog.import_legacy` over them, then again (nothing to write); then writes N fragments of
schema version 0 and times `Catalog.migrate`, then again (a current catalog). Prints seconds and
runs per second. Nothing is asserted; ~/.bth is never read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import legacy_catalog  # noqa: E402  (the tests' builders of legacy files)

ROWS = (legacy_catalog.v0_row, legacy_catalog.v4_row, legacy_catalog.v9_row,
        legacy_catalog.v15_row)


def timed(label: str, count: int, work: object) -> None:
    started = time.perf_counter()
    result = work()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:<34} {seconds:7.2f} s  {count / seconds:9.0f} runs/s  {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    n = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["BTH_HOME"] = str(Path(scratch) / "home")
        from bathos import Catalog
        from bathos.ids import new_run_id

        old = Path(scratch) / "old" / "catalog"
        for i in range(n):
            row = {**ROWS[i % len(ROWS)](), "id": str(uuid.uuid4())}
            legacy_catalog.write_run_file(old, row, flat="project_slug" not in row)
        cat = Catalog()
        timed(f"import {n} legacy runs", n,
              lambda: cat.import_legacy(old).imported)
        timed("import them again", n, lambda: cat.import_legacy(old).unchanged)

        directory = cat.path / "runs" / "md-benchmarks"
        record = json.loads((HERE.parent / "tests" / "data" / "v0_run.json").read_text())
        for _ in range(n):
            run_id = new_run_id()
            (directory / f"{run_id}.json").write_text(json.dumps({**record, "run_id": run_id}))
        timed(f"migrate {n} fragments of version 0", n,
              lambda: cat.migrate().upgraded)
        timed("migrate a current catalog", n, lambda: cat.migrate().upgraded)


if __name__ == "__main__":
    main()
