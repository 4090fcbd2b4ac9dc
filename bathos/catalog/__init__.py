"""The catalog: lock-free JSON fragments (hot), sorted Parquet segments (cool), a DuckDB lens.

This package is the only code that touches DuckDB and Parquet files. Its names load on first use,
so a writer (`bth run`) that needs only `store` pays nothing for the query side.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog, RunQuery, VerifyReport
    from bathos.catalog.compact import CompactionReport
    from bathos.catalog.rows import Rows

_EXPORTS = {
    "Catalog": "bathos.catalog.catalog",
    "CompactionReport": "bathos.catalog.compact",
    "Rows": "bathos.catalog.rows",
    "RunQuery": "bathos.catalog.catalog",
    "VerifyReport": "bathos.catalog.catalog",
}
__all__ = ["Catalog", "CompactionReport", "Rows", "RunQuery", "VerifyReport"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bathos.catalog' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
