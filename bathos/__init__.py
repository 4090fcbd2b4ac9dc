"""bathos: local-first, zero-server experiment tracking.

    >>> import bathos
    >>> cat = bathos.Catalog()
    >>> cat.runs(since="7d")          # a polars DataFrame
    >>> cat.get("1m8cj3xf")           # a Run
    >>> bathos.check(project="particles").to_polars()

Importing bathos is cheap: names load on first use, and DuckDB, polars and pyarrow only when a
query needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AmbiguousRunId",
    "BathosError",
    "Catalog",
    "CatalogError",
    "CheckReport",
    "CompactionReport",
    "ConfigError",
    "Dependency",
    "Environment",
    "Git",
    "Host",
    "Logs",
    "Output",
    "Provenance",
    "ProvenanceError",
    "QueryRefused",
    "QueryTimeout",
    "Rows",
    "Run",
    "RunNotFound",
    "RunQuery",
    "Sidecar",
    "Slurm",
    "Verdict",
    "VerifyReport",
    "__version__",
    "check",
    "current_run_id",
    "experiment",
    "log_result",
    "output_dir",
    "trace_file",
    "trace_lineage",
]

_HOMES = {
    "bathos.catalog": ("Catalog", "CompactionReport", "Rows", "RunQuery", "VerifyReport"),
    "bathos.checker": ("CheckReport", "Provenance", "check", "trace_file"),
    "bathos.errors": ("AmbiguousRunId", "BathosError", "CatalogError", "ConfigError",
                      "ProvenanceError", "QueryRefused", "QueryTimeout", "RunNotFound"),
    "bathos.experiment": ("current_run_id", "experiment", "log_result", "output_dir"),
    "bathos.freshness": ("Verdict",),
    "bathos.lineage": ("trace_lineage",),
    "bathos.models": ("Dependency", "Environment", "Git", "Host", "Logs", "Output", "Run",
                      "Sidecar", "Slurm"),
}
_EXPORTS = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:
    from bathos.catalog import Catalog, CompactionReport, Rows, RunQuery, VerifyReport
    from bathos.checker import CheckReport, Provenance, check, trace_file
    from bathos.errors import (
        AmbiguousRunId,
        BathosError,
        CatalogError,
        ConfigError,
        ProvenanceError,
        QueryRefused,
        QueryTimeout,
        RunNotFound,
    )
    from bathos.experiment import current_run_id, experiment, log_result, output_dir
    from bathos.freshness import Verdict
    from bathos.lineage import trace_lineage
    from bathos.models import Dependency, Environment, Git, Host, Logs, Output, Run, Sidecar, Slurm


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bathos' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
