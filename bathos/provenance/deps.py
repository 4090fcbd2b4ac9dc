"""The code a run depended on: its script and every local module it imports, transitively.

The scan reads source with `ast` and never imports or runs it. Absolute imports resolve against the
script's directory, the repository root and `<repo>/src`; relative imports against the importing
file's package. Anything that does not resolve to a file in the repository (stdlib, third-party,
a typo) is skipped. Parsed import lists are cached by content hash, so an unchanged file is
hashed but never parsed again.

    >>> [d.path for d in scan_dependencies(Path("train.py"), Path("."))]
    ['train.py', 'mylib/__init__.py', 'mylib/data.py']
"""

from __future__ import annotations

import ast
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from bathos.errors import ProvenanceError
from bathos.fsutil import atomic_write_bytes, relative_posix
from bathos.hashing import hash_bytes, hash_file
from bathos.models import Dependency

log = logging.getLogger("bathos.provenance.deps")

_CACHE_FORMAT = 1
# The fields that hold nested statements: if/for/while/with/def/class bodies, try handlers, match.
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


class _Import(NamedTuple):
    """One import statement: `level` 0 is absolute, 1 is `from .`, 2 is `from ..` …"""

    level: int
    module: str
    names: tuple[str, ...] = ()


def scan_dependencies(
    script: Path, repo_root: Path | None, *, cache_dir: Path | None = None
) -> list[Dependency]:
    """The script (role "script") and the local modules it imports (role "module").

    Only files inside `repo_root` (or the script's directory when it is None) are recorded. Order:
    the script first, then by path. `cache_dir` holds parsed import lists (`imports/<sha256>.json`);
    None disables the cache. Raises ProvenanceError when the script itself cannot be read.
    """
    start = str(_canonical(script))
    root = os.path.realpath(repo_root) if repo_root is not None else None
    scanner = _Scanner(start, root, cache_dir)
    found: dict[str, Dependency] = {}
    queue = [start]
    while queue:
        path = queue.pop()
        if path in found:
            continue
        try:
            (sha256, git_blob, size), imported = scanner.scan(path)
        except OSError as exc:
            if path == start:
                raise ProvenanceError(
                    f"cannot read script {path}: {exc.strerror} (check that the path exists)"
                ) from exc
            log.debug("skipping module %s: %s", path, exc)  # vanished since it was resolved
            continue
        role = "script" if path == start else "module"
        found[path] = Dependency(
            path=_record_path(path, root), role=role, sha256=sha256, size=size, git_blob=git_blob
        )
        queue.extend(imported)
    script_dep = found.pop(start)
    return [script_dep, *sorted(found.values(), key=lambda dep: dep.path)]


def file_dependency(
    path: Path, role: str, repo_root: Path | None, *, cap_bytes: int | None = None
) -> Dependency:
    """One file (a sidecar, an input) as a Dependency; above `cap_bytes` its hashes are None."""
    path = _canonical(path)
    root = os.path.realpath(repo_root) if repo_root is not None else None
    try:
        digest = hash_file(path, cap_bytes=cap_bytes)
    except OSError as exc:
        raise ProvenanceError(
            f"cannot hash {role} {path}: {exc.strerror} (check that it exists and is readable)"
        ) from exc
    return Dependency(
        path=_record_path(path, root),
        role=role,
        sha256=digest.sha256,
        size=digest.size,
        git_blob=digest.git_blob,
    )


def _canonical(path: Path) -> Path:
    """An absolute path with its directory's symlinks resolved, keeping the file's own name.

    A symlinked input such as `data/latest.csv` stays recorded under the name the user gave.
    """
    absolute = Path(os.path.abspath(path))
    return Path(os.path.realpath(absolute.parent)) / absolute.name


def _record_path(path: str | Path, root: str | None) -> str:
    """Relative to `root` with `/` separators when inside it, else absolute."""
    return (relative_posix(path, root) if root is not None else None) or str(path)


class _Scanner:
    """Hashes files, reads or parses their imports, and resolves those to local files.

    Paths are plain strings here: a scan makes thousands of lookups, and pathlib would triple
    the time of a cached scan.
    """

    def __init__(self, script: str, root: str | None, cache_dir: Path | None) -> None:
        script_dir = os.path.dirname(script)
        roots = [script_dir]
        if root is not None:
            roots += [root, os.path.join(root, "src")]
        # Where absolute imports are found, in the order Python would most likely look.
        self._roots = [r for r in dict.fromkeys(roots) if os.path.isdir(r)]
        self._prefix = os.path.join(root if root is not None else script_dir, "")
        self._cache = cache_dir / "imports" if cache_dir is not None else None
        self._resolved: dict[tuple[str, _Import], list[str] | None] = {}
        self._is_file: dict[str, bool] = {}

    def scan(self, path: str) -> tuple[tuple[str, str, int], list[str]]:
        """`((sha256, git_blob, size), local files imported)`; raises OSError if unreadable."""
        with open(path, "rb") as fh:
            source = fh.read()
        sha256, git_blob = hash_bytes(source)
        imports = self._imports(sha256.removeprefix("sha256:"), source, path)
        files: dict[str, None] = {}
        for imp in imports:
            for found in self._resolve(imp, path):
                if found.startswith(self._prefix):
                    files[found] = None
        return (sha256, git_blob, len(source)), list(files)

    def _imports(self, key: str, source: bytes, path: str) -> list[_Import]:
        cached = self._read_cache(key)
        if cached is not None:
            return cached
        imports = _parse_imports(source)
        if imports is None:
            # Not cached: another interpreter's grammar may parse it; a broken file is rare.
            log.debug("cannot parse %s; not following its imports", path)
            return []
        self._write_cache(key, imports)
        return imports

    def _read_cache(self, key: str) -> list[_Import] | None:
        if self._cache is None:
            return None
        try:
            data = json.loads((self._cache / f"{key}.json").read_bytes())
            if data["format"] != _CACHE_FORMAT:
                return None
            return [
                _Import(int(level), str(module), tuple(str(name) for name in names))
                for level, module, names in data["imports"]
            ]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None  # missing, partial or foreign: parse again and overwrite

    def _write_cache(self, key: str, imports: list[_Import]) -> None:
        if self._cache is None:
            return
        data = {"format": _CACHE_FORMAT, "imports": [list(imp) for imp in imports]}
        try:
            # Not fsynced: a cache entry lost in a crash is only parsed again.
            atomic_write_bytes(
                self._cache / f"{key}.json", json.dumps(data).encode(), durable=False
            )
        except OSError as exc:
            log.debug("cannot write import cache in %s: %s", self._cache, exc)

    def _resolve(self, imp: _Import, importer: str) -> list[str]:
        if imp.level == 0:
            for root in self._roots:
                files = self._resolve_in(root, imp)
                if files:
                    return files
            return []
        base = os.path.dirname(importer)
        for _ in range(imp.level - 1):
            base = os.path.dirname(base)
        init = os.path.join(base, "__init__.py")
        return ([init] if self._file(init) else []) + (self._resolve_in(base, imp) or [])

    def _resolve_in(self, base: str, imp: _Import) -> list[str] | None:
        """The files `imp` executes when looked up in directory `base`; None if not found there.

        `a.b` executes `a/__init__.py` (when present) and `a/b.py` or `a/b/__init__.py`; each name
        of `from a.b import c` may be a submodule `a/b/c.py` or `a/b/c/__init__.py` as well.
        """
        key = (base, imp)
        if key not in self._resolved:
            self._resolved[key] = self._lookup(base, imp)
        return self._resolved[key]

    def _lookup(self, base: str, imp: _Import) -> list[str] | None:
        files: list[str] = []
        here = base
        parts = imp.module.split(".") if imp.module else []
        for i, part in enumerate(parts):
            package = os.path.join(here, part)
            init = os.path.join(package, "__init__.py")
            module = package + ".py"
            if self._file(init):
                files.append(init)
            elif i == len(parts) - 1 and self._file(module):
                files.append(module)
                return files  # a plain module: imported names are attributes, not submodules
            elif not os.path.isdir(package):  # not even a namespace package
                return None
            here = package
        for name in imp.names:
            if name == "*":
                continue
            init = os.path.join(here, name, "__init__.py")
            module = os.path.join(here, name + ".py")
            if self._file(init):
                files.append(init)
            elif self._file(module):
                files.append(module)
        return files

    def _file(self, path: str) -> bool:
        if path not in self._is_file:
            self._is_file[path] = os.path.isfile(path)
        return self._is_file[path]


def _parse_imports(source: bytes) -> list[_Import] | None:
    """Every import in the source, wherever it appears (functions, try blocks, if branches)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to report
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found: dict[_Import, None] = {}
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[_Import(0, alias.name)] = None
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            found[_Import(node.level, node.module or "", names)] = None
    if b"import_module" in source or b"__import__" in source:
        for node in ast.walk(tree):
            dynamic = _dynamic_import(node) if isinstance(node, ast.Call) else None
            if dynamic:
                found[_Import(0, dynamic)] = None
    return list(found)


def _statements(tree: ast.Module) -> Iterator[ast.AST]:
    """Every statement, nested ones included, in source order.

    Import statements never sit inside an expression, so expressions (most of a tree) are not
    visited (`ast.walk` would visit them all).
    """
    stack: list[ast.AST] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        for field in _BLOCK_FIELDS:
            block = getattr(node, field, None)
            if block:
                stack.extend(reversed(block))


def _dynamic_import(call: ast.Call) -> str | None:
    """The module of `importlib.import_module("a.b")` or `__import__("a")` with a literal name."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not call.args:
        return None
    arg = call.args[0]
    if (
        isinstance(arg, ast.Constant)
        and isinstance(arg.value, str)
        and arg.value[:1].isidentifier()
    ):
        return arg.value  # not "" and not relative (".sub" needs a package argument)
    return None
