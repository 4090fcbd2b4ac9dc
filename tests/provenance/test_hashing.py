"""hash_file: sha256 and git's blob id from one streamed read, and the size cap."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from gitrepo import hash_object

from bathos.hashing import CHUNK_BYTES, hash_bytes, hash_file


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"print('hello')\n",
        bytes(range(256)) * 10,
        os.urandom(CHUNK_BYTES),  # exactly one chunk
        os.urandom(2 * CHUNK_BYTES + 12345),  # several chunks and a tail
    ],
    ids=["empty", "small", "binary", "one-chunk", "multi-chunk"],
)
def test_hash_file_matches_hashlib_and_git(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(content)

    digest = hash_file(path)

    assert digest.sha256 == "sha256:" + hashlib.sha256(content).hexdigest()
    assert digest.git_blob == hash_object(path)
    assert digest.size == len(content)
    assert digest.mtime == os.stat(path).st_mtime


def test_hash_bytes_agrees_with_hash_file(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_bytes(b"import os\n")
    digest = hash_file(path)
    assert hash_bytes(b"import os\n") == (digest.sha256, digest.git_blob)


def test_cap_keeps_only_size_and_mtime_above_it(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 1000)

    above = hash_file(path, cap_bytes=999)
    at_cap = hash_file(path, cap_bytes=1000)

    assert (above.sha256, above.git_blob, above.size) == (None, None, 1000)
    assert above.mtime == os.stat(path).st_mtime
    assert at_cap.sha256 == "sha256:" + hashlib.sha256(b"x" * 1000).hexdigest()


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "absent.txt")
