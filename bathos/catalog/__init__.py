"""The catalog: lock-free JSON fragments (hot), sorted Parquet segments (cool), a DuckDB lens.

This package is the only code that touches DuckDB and Parquet files.
"""

from bathos.catalog.catalog import Catalog, Rows, RunQuery, VerifyReport
from bathos.catalog.compact import CompactionReport

__all__ = ["Catalog", "CompactionReport", "Rows", "RunQuery", "VerifyReport"]
