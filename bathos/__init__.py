"""bathos: local-first, zero-server experiment tracking.

    >>> import bathos
    >>> cat = bathos.Catalog()
    >>> cat.runs(since="7d")          # a polars DataFrame
    >>> cat.get("1jd3k")              # a Run

Importing bathos is cheap: names load on first use, and DuckDB, polars and pyarrow only when a
query needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AmbiguousRunId": "bathos.errors",
    "BathosError": "bathos.errors",
    "CheckReport": "bathos.checker",
    "Provenance": "bathos.checker",
    "Verdict": "bathos.freshness",
    "check": "bathos.checker",
    "trace_file": "bathos.checker",
    "Catalog": "bathos.catalog",
    "CatalogError": "bathos.errors",
    "CompactionReport": "bathos.catalog",
    "ConfigError": "bathos.errors",
    "Dependency": "bathos.models",
    "Environment": "bathos.models",
    "Git": "bathos.models",
    "Host": "bathos.models",
    "Logs": "bathos.models",
    "Output": "bathos.models",
    "ProvenanceError": "bathos.errors",
    "QueryRefused": "bathos.errors",
    "Rows": "bathos.catalog",
    "Run": "bathos.models",
    "RunNotFound": "bathos.errors",
    "RunQuery": "bathos.catalog",
    "Sidecar": "bathos.models",
    "Slurm": "bathos.models",
    "VerifyReport": "bathos.catalog",
    "current_run_id": "bathos.experiment",
    "experiment": "bathos.experiment",
    "log_result": "bathos.experiment",
    "output_dir": "bathos.experiment",
    "trace_lineage": "bathos.lineage",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from bathos.checker import CheckReport, Provenance, check, trace_file
    from bathos.freshness import Verdict
    from bathos.catalog import Catalog, CompactionReport, Rows, RunQuery, VerifyReport
    from bathos.errors import (
        AmbiguousRunId,
        BathosError,
        CatalogError,
        ConfigError,
        ProvenanceError,
        QueryRefused,
        RunNotFound,
    )
    from bathos.experiment import current_run_id, experiment, log_result, output_dir
    from bathos.lineage import trace_lineage
    from bathos.models import (
        Dependency,
        Environment,
        Git,
        Host,
        Logs,
        Output,
        Run,
        Sidecar,
        Slurm,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bathos' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
