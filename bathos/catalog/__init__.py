"""The catalog: lock-free JSON fragments (hot), sorted Parquet segments (cool), a DuckDB lens.

This package is the only code that touches DuckDB and Parquet files; they are imported only when a
query or a compaction needs them. Its public names are exported by `bathos`.
"""
