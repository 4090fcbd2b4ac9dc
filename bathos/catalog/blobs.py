"""Content-addressed extras (logs): `catalog/blobs/sha256/<ab>/<rest>.gz`, gzip-compressed.

A blob is named by the sha256 of its uncompressed bytes, so storing the same log twice costs once.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from bathos.errors import CatalogError
from bathos.fsutil import atomic_write_bytes


def blob_path(catalog: Path, ref: str) -> Path:
    algo, _, digest = ref.partition(":")
    if algo != "sha256" or len(digest) != 64:
        raise CatalogError(f"not a blob reference: {ref!r}")
    return catalog / "blobs" / "sha256" / digest[:2] / f"{digest[2:]}.gz"


def blob_ref(data: bytes) -> str:
    """The reference `sha256:<hex>` that `data` has (or would have) as a blob."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(catalog: Path, data: bytes) -> str:
    """Store `data` (once) and return its reference `sha256:<hex>`."""
    ref = blob_ref(data)
    path = blob_path(catalog, ref)
    if not path.exists():
        atomic_write_bytes(path, gzip.compress(data, compresslevel=6))
    return ref


def read_blob(catalog: Path, ref: str) -> bytes:
    path = blob_path(catalog, ref)
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise CatalogError(f"blob {ref} is missing from {catalog} (was the catalog synced "
                           "without blobs?)") from None
    except (OSError, EOFError) as exc:
        raise CatalogError(f"blob {path} is unreadable: {exc}") from exc
