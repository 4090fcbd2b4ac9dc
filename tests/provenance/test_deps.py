"""scan_dependencies: the script and its local imports, found statically, cached by content."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from gitrepo import hash_object

from bathos.errors import ProvenanceError
from bathos.models import Dependency
from bathos.provenance.deps import file_dependency, scan_dependencies

SCRIPT = """\
import os, sys
import numpy as np                   # third-party: skipped
import mylib.models as models        # src/mylib/__init__.py + src/mylib/models/__init__.py
from mylib import data, CONSTANT     # data is a submodule, CONSTANT a name in __init__
import doesnotexist                  # skipped, never an error
from helpers import helper           # scripts/helpers.py, next to the script
import nspkg.tool                    # a namespace package (no __init__.py)

try:
    import broken                    # a syntax error: hashed, not followed
except ImportError:
    pass


def main():
    import late                      # an import inside a function
    import importlib
    importlib.import_module("mylib.plugins")


if __name__ == "__main__":
    main()
"""

FILES = {
    "scripts/train.py": SCRIPT,
    "scripts/helpers.py": "def helper(): pass\n",
    "scripts/broken.py": "import mylib.unused\ndef oops(:\n",
    "scripts/late.py": "from mylib.util import thing\n",
    "src/mylib/__init__.py": "CONSTANT = 1\nfrom .util import thing\n",
    "src/mylib/util.py": "from . import consts\nthing = consts.VALUE\n",
    "src/mylib/consts.py": "VALUE = 3\n",
    "src/mylib/data.py": "import json\n",
    "src/mylib/models/__init__.py": "from .layers import Dense\n",
    "src/mylib/models/layers.py": "from ..io import load\nclass Dense: pass\n",
    "src/mylib/io.py": "def load(): pass\n",
    "src/mylib/plugins.py": "X = 1\n",
    "src/mylib/unused.py": "raise SystemExit('never imported')\n",
    "nspkg/tool.py": "import os\n",
    "README.md": "# not code\n",
}

EXPECTED_MODULES = [
    "nspkg/tool.py",
    "scripts/broken.py",
    "scripts/helpers.py",
    "scripts/late.py",
    "src/mylib/__init__.py",
    "src/mylib/consts.py",
    "src/mylib/data.py",
    "src/mylib/io.py",
    "src/mylib/models/__init__.py",
    "src/mylib/models/layers.py",
    "src/mylib/plugins.py",
    "src/mylib/util.py",
]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, FILES)
    return root


def paths(deps: list[Dependency]) -> list[str]:
    return [dep.path for dep in deps]


def test_script_and_local_imports_transitively(repo: Path, tmp_path: Path) -> None:
    deps = scan_dependencies(repo / "scripts/train.py", repo, cache_dir=tmp_path / "cache")

    assert deps[0] == Dependency(
        path="scripts/train.py",
        role="script",
        sha256="sha256:" + hashlib.sha256(SCRIPT.encode()).hexdigest(),
        size=len(SCRIPT.encode()),
        git_blob=hash_object(repo / "scripts/train.py"),
    )
    assert paths(deps[1:]) == EXPECTED_MODULES
    assert {dep.role for dep in deps[1:]} == {"module"}


def test_hashes_match_the_files(repo: Path) -> None:
    for dep in scan_dependencies(repo / "scripts/train.py", repo):
        content = (repo / dep.path).read_bytes()
        assert dep.sha256 == "sha256:" + hashlib.sha256(content).hexdigest()
        assert dep.size == len(content)
        assert dep.git_blob == hash_object(repo / dep.path)


def test_relative_imports(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "run.py": "from pkg.a.b import go\n",
            "pkg/__init__.py": "",
            "pkg/a/__init__.py": "",
            "pkg/a/b.py": "from . import sibling\nfrom .. import top\nfrom ..c import d\n",
            "pkg/a/sibling.py": "",
            "pkg/top.py": "",
            "pkg/c/__init__.py": "",
            "pkg/c/d.py": "from ...outside import nothing\n",  # above the repo: ignored
            "pkg/c/e.py": "",
        },
    )
    deps = scan_dependencies(tmp_path / "run.py", tmp_path)
    assert paths(deps) == [
        "run.py",
        "pkg/__init__.py",
        "pkg/a/__init__.py",
        "pkg/a/b.py",
        "pkg/a/sibling.py",
        "pkg/c/__init__.py",
        "pkg/c/d.py",
        "pkg/top.py",
    ]


def test_without_repo_records_the_scripts_directory_with_absolute_paths(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"work/run.py": "import util\nimport mylib\n", "work/util.py": "", "mylib.py": ""},
    )
    deps = scan_dependencies(tmp_path / "work/run.py", None)
    assert paths(deps) == [str(tmp_path / "work/run.py"), str(tmp_path / "work/util.py")]


def test_only_files_inside_the_repository(repo: Path, tmp_path: Path) -> None:
    write_tree(tmp_path, {"elsewhere/run.py": "import localmod\nimport mylib\n"})
    write_tree(tmp_path, {"elsewhere/localmod.py": ""})
    deps = scan_dependencies(tmp_path / "elsewhere/run.py", repo)
    assert paths(deps) == [
        str(tmp_path / "elsewhere/run.py"),
        "src/mylib/__init__.py",
        "src/mylib/consts.py",
        "src/mylib/util.py",
    ]


def test_paths_are_relative_through_a_symlinked_directory(repo: Path, tmp_path: Path) -> None:
    os.symlink(repo, tmp_path / "link")
    deps = scan_dependencies(tmp_path / "link/scripts/train.py", repo)
    assert paths(deps) == ["scripts/train.py", *EXPECTED_MODULES]


def test_a_script_that_is_not_python_is_only_hashed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"run.sh": "#!/bin/sh\nimport x from y\n", "x.py": ""})
    assert paths(scan_dependencies(tmp_path / "run.sh", tmp_path)) == ["run.sh"]


def test_missing_script_raises(tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="cannot read script"):
        scan_dependencies(tmp_path / "absent.py", tmp_path)


def test_cache_holds_parsed_imports_by_content_hash(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = scan_dependencies(repo / "scripts/train.py", repo, cache_dir=cache)

    entries = {p.name for p in (cache / "imports").iterdir()}
    assert entries == {entry_name(d) for d in first if d.path != "scripts/broken.py"}

    # An unchanged file is not parsed again: a doctored entry is believed.
    script_entry = cache / "imports" / entry_name(first[0])
    script_entry.write_text(json.dumps({"format": 1, "imports": [[0, "mylib.unused", []]]}))
    doctored = scan_dependencies(repo / "scripts/train.py", repo, cache_dir=cache)
    assert paths(doctored) == [
        "scripts/train.py",
        "src/mylib/__init__.py",
        "src/mylib/consts.py",
        "src/mylib/unused.py",
        "src/mylib/util.py",
    ]


@pytest.mark.parametrize(
    "garbage", [b"", b"{not json", b"[1, 2]", b'{"format": 1, "imports": [[0]]}', b"\xff\xfe"]
)
def test_a_corrupt_cache_entry_is_parsed_again(repo: Path, tmp_path: Path, garbage: bytes) -> None:
    cache = tmp_path / "cache"
    first = scan_dependencies(repo / "scripts/train.py", repo, cache_dir=cache)
    entry = cache / "imports" / entry_name(first[0])
    entry.write_bytes(garbage)

    again = scan_dependencies(repo / "scripts/train.py", repo, cache_dir=cache)

    assert again == first
    assert json.loads(entry.read_bytes())["format"] == 1  # rewritten


def test_an_edited_file_is_parsed_again(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    scan_dependencies(repo / "scripts/train.py", repo, cache_dir=cache)
    (repo / "scripts/helpers.py").write_text("import mylib.unused\n")
    deps = scan_dependencies(repo / "scripts/train.py", repo, cache_dir=cache)
    assert "src/mylib/unused.py" in paths(deps)


def test_file_dependency(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.csv").write_text("a,b\n1,2\n")

    sidecar = file_dependency(repo / "README.md", "sidecar", repo)
    outside = file_dependency(tmp_path / "outside.csv", "input", repo)
    capped = file_dependency(repo / "README.md", "input", repo, cap_bytes=3)

    assert sidecar == Dependency(
        path="README.md",
        role="sidecar",
        sha256="sha256:" + hashlib.sha256(b"# not code\n").hexdigest(),
        size=11,
        git_blob=hash_object(repo / "README.md"),
    )
    assert outside.path == str(tmp_path / "outside.csv")
    assert outside.role == "input"
    assert (capped.sha256, capped.git_blob, capped.size) == (None, None, 11)
    with pytest.raises(ProvenanceError, match="cannot hash input"):
        file_dependency(repo / "absent.csv", "input", repo)


def entry_name(dep: Dependency) -> str:
    assert dep.sha256 is not None
    return dep.sha256.removeprefix("sha256:") + ".json"


