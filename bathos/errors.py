"""The errors bathos raises: one base class, families below it, specific classes below those.

    BathosError
    ├── ConfigError            bad .bth.toml, bad paths, bad user input to the library
    │   └── InvalidTimeSpec
    ├── CatalogError           the catalog cannot be read or written
    │   ├── RunNotFound
    │   ├── AmbiguousRunId
    │   ├── CompactionBusy
    │   ├── QueryRefused       a `sql` statement that would write, attach or copy files
    │   └── QueryTimeout       a query that ran past its time limit
    └── ProvenanceError        git, host or environment capture failed

The CLI maps every BathosError to `Error: <message>` on stderr and exit code 1.
"""

from __future__ import annotations


class BathosError(Exception):
    """Base of every error bathos raises on purpose; its message says what to do next."""


class ConfigError(BathosError):
    """Configuration or input given to bathos is wrong."""


class InvalidTimeSpec(ConfigError):
    """A `--since`/`--until` value that is neither a duration nor an ISO date."""


class CatalogError(BathosError):
    """The catalog cannot be read or written."""


class RunNotFound(CatalogError):
    """No run has this id or id prefix."""

    def __init__(self, run_id: str, catalog: str) -> None:
        self.run_id = run_id
        self.catalog = catalog
        super().__init__(
            f"run {run_id} not found in catalog {catalog} (try: bth ls --all-projects)"
        )


class AmbiguousRunId(CatalogError):
    """An id prefix that matches more than one run."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        self.prefix = prefix
        self.candidates = candidates
        shown = ", ".join(candidates[:10]) + (" …" if len(candidates) > 10 else "")
        super().__init__(
            f"run id prefix {prefix!r} matches {len(candidates)} runs: {shown} "
            "(type more characters of the id)"
        )


class CompactionBusy(CatalogError):
    """Another process is compacting this catalog right now."""


class QueryRefused(CatalogError):
    """A query that would change files; the catalog's SQL lens is read-only."""


class QueryTimeout(CatalogError):
    """A query that ran longer than its time limit and was stopped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"query stopped after {seconds:g} s, its time limit (narrow the query, "
                         "or allow it more time)")


class ProvenanceError(BathosError):
    """Capturing provenance (git, host, environment) failed."""
