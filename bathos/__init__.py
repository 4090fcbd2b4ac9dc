"""bathos: local-first, zero-server experiment tracking.

    >>> import bathos
    >>> cat = bathos.Catalog()                 # this project's catalog (or ~/.bth/catalog)
    >>> cat.runs(since="7d").to_polars()       # every query returns Rows
    >>> cat.get("1m8cj3xf")                    # a Run, by a unique id prefix
    >>> cat.check().to_polars()                # is each result still valid?

`Catalog` holds every operation on runs; `RunQuery` the criteria that pick them; `Rows` is what
every query returns. Scripts use `import bth` (`bth.experiment`, `bth.log`, `bth.output_dir`).
Every error is a `BathosError`; `help(bathos.Catalog)` and docs/api.md describe the rest.
"""

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from bathos._api import *  # noqa: F403  (the public names: bathos/_api.py)


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return _public()
    # A submodule not imported yet is no attribute: `from bathos import models` then imports it.
    if (name.startswith("_") or importlib.util.find_spec(f"bathos.{name}") is not None
            or name not in _public()):
        raise AttributeError(f"module 'bathos' has no attribute {name!r}")
    value = getattr(_load(), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return ["__version__", *_public()]


def _load() -> Any:
    return importlib.import_module("bathos._api")


def _public() -> list[str]:
    names: list[str] = _load().__all__
    return names
