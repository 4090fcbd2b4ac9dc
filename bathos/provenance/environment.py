"""The interpreter, package set and environment variables a run saw, with secrets redacted.

Facts about the interpreter come from running it once (`python -I -c …`) and are cached in
`<cache_dir>/interpreters/`, keyed by its path, its binary and the kernel, so a run normally
pays a few `stat` calls. The package set is the hash of the project's lock file, or else of the
names of the installed distributions (cached by the site-packages directories' mtimes); never a
`pip freeze`. The installed distributions themselves (name, version, and where they came from
when PEP 610's `direct_url.json` says) are read from those directories, by bathos, only when
the cache misses, and stored once per distinct environment as a blob in the catalog.

    >>> env = capture_environment(sys.executable, Path("."), environ=os.environ, cache_dir=cache)
    >>> env.packages_source
    'lockfile:uv.lock'
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from bathos.catalog import blobs
from bathos.errors import CatalogError
from bathos.fsutil import atomic_write_bytes
from bathos.hashing import hash_file
from bathos.models import Environment
from bathos.provenance.secrets import REDACTED, Redactor

log = logging.getLogger("bathos.provenance.environment")

KEPT_PREFIXES = ("BTH_", "SLURM_")
KEPT_NAMES = frozenset(
    {"CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED"}
)
LOCK_FILES = (
    "uv.lock",
    "poetry.lock",
    "pixi.lock",
    "Pipfile.lock",
    "requirements*.txt",
    "environment.yml",
    "environment.yaml",
    "conda-lock.yml",
)
PROBE_TIMEOUT_S = 30.0
_CACHE_FORMAT = 1
_WRAPPER_VARIABLES = ("PYENV_VERSION", "PYENV_DIR", "VIRTUAL_ENV", "CONDA_PREFIX", "PATH")
_METADATA_DIRS = (".dist-info", ".egg-info")
_VERSION_TAIL = re.compile(r"-py\d[\d.]*$")  # an egg-info's `-py3.11`
_DIRECT_URL_MAX_BYTES = 64 * 1024
_PACKAGES_FORMAT = 1

# Runs in the target interpreter with -I (no user site, no PYTHON* variables), so it only sees
# the interpreter's own installation. Kept to syntax every Python 3 understands.
_PROBE = """\
import json, platform, site, sys
print(json.dumps({
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "platform": platform.platform(),
    "site_dirs": [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))],
    "user_site": site.getusersitepackages(),
    "in_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
}))
"""


class _Interpreter(NamedTuple):
    version: str
    implementation: str
    platform: str
    site_dirs: list[str]
    user_site: str | None
    in_venv: bool


def select_variables(environ: Mapping[str, str], extra: Sequence[str] = (),
                     redactor: Redactor | None = None) -> dict[str, str]:
    """The variables worth recording, sorted by name; secret-looking names get `<redacted>`.

    Kept: `BTH_*`, `SLURM_*`, thread and device settings, `PYTHONHASHSEED`, and names matching
    `extra` (exact names or fnmatch globs such as `WANDB_*`). Secret-shaped parts of the other
    values (`https://user:<redacted>@host`, `Bearer <redacted>`, a DSN's `password=<redacted>`)
    are redacted as well; `redactor` remembers what was taken out.
    """
    redactor = Redactor() if redactor is None else redactor
    kept: dict[str, str] = {}
    for name in sorted(environ):
        if not (
            name.startswith(KEPT_PREFIXES)
            or name in KEPT_NAMES
            or any(fnmatch.fnmatchcase(name, pattern) for pattern in extra)
        ):
            continue
        kept[name] = redactor.value(name, environ[name])
    return kept


def capture_environment(
    python: str | None,
    project_root: Path | None,
    *,
    environ: Mapping[str, str],
    extra_vars: Sequence[str] = (),
    cache_dir: Path,
    redactor: Redactor | None = None,
    catalog: Path | None = None,
) -> Environment:
    """The environment of a run whose command runs `python` (None: not a Python command).

    `python` is a path or a name looked up on `environ["PATH"]`. Best effort: an interpreter
    that cannot be found or queried leaves the python fields None and logs a warning. The list
    of installed distributions is stored in `catalog` (None: not recorded), even where a lock
    file gives the fingerprint: it says what the run had, the lock file what was asked for.
    """
    variables = select_variables(environ, extra_vars, redactor)
    packages = _lockfile_fingerprint(project_root) if project_root is not None else None
    executable = _find_executable(python, environ) if python is not None else None
    facts = _interpreter_facts(executable, environ, cache_dir) if executable else None
    if facts is None:  # no Python to ask: the platform is the one bathos itself runs on
        ours = _interpreter_facts(sys.executable, environ, cache_dir) if sys.executable else None
        return Environment(
            python_executable=executable or python,
            platform=ours.platform if ours else None,
            packages_fingerprint=packages[0] if packages else None,
            packages_source=packages[1] if packages else None,
            variables=variables,
        )
    installed = _installed(_site_dirs(facts, environ), cache_dir, catalog)
    if packages is None and installed is not None:
        packages = (installed.fingerprint, "installed")
    listed = installed if catalog is not None else None
    return Environment(
        python_executable=executable,
        python_version=facts.version,
        implementation=facts.implementation,
        platform=facts.platform,
        packages_fingerprint=packages[0] if packages else None,
        packages_source=packages[1] if packages else None,
        variables=variables,
        packages_list=listed.listing if listed else None,
        packages_count=listed.total if listed else None,
    )


def _find_executable(python: str, environ: Mapping[str, str]) -> str | None:
    """An absolute path for `python`, searching `PATH` for a bare name (like the shell would)."""
    if os.sep in python:
        return os.path.abspath(os.path.expanduser(python))
    for directory in environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", python)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    log.warning("interpreter %r not found on PATH; python version not recorded", python)
    return None


def _lockfile_fingerprint(project_root: Path) -> tuple[str, str] | None:
    """`("sha256:…", "lockfile:<name>")` for the first lock file found, in LOCK_FILES order."""
    for pattern in LOCK_FILES:
        if "*" in pattern:  # requirements.txt first, then requirements-*.txt and friends by name
            found = [project_root / "requirements.txt", *sorted(project_root.glob(pattern))]
        else:
            found = [project_root / pattern]
        for path in found:
            if not path.is_file():
                continue
            try:
                digest = hash_file(path)
            except OSError as exc:
                log.warning("cannot read lock file %s: %s", path, exc)
                continue
            if digest.sha256 is not None:
                return digest.sha256, f"lockfile:{path.name}"
    return None


def _cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
        return None
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    try:  # a cache: not fsynced, since an entry lost in a crash is only computed again
        atomic_write_bytes(
            path, json.dumps({"format": _CACHE_FORMAT, **data}).encode(), durable=False
        )
    except OSError as exc:
        log.debug("cannot write cache entry %s: %s", path, exc)


def _interpreter_key(executable: str, environ: Mapping[str, str]) -> str | None:
    """Changes when the interpreter, its venv or the kernel changes (`platform` names the kernel).

    The path as given is part of the key: a venv's `python` resolves to its base interpreter, yet
    sees different site-packages. A wrapper script (a pyenv shim) picks its Python by directory
    and variables, so for one the key also holds the cwd and those variables.
    """
    real = os.path.realpath(executable)
    try:
        stat = os.stat(real)
        with open(real, "rb") as fh:
            wrapper = fh.read(2) == b"#!"
    except OSError:
        return None
    chosen_by = (
        [os.getcwd(), *(environ.get(name) for name in _WRAPPER_VARIABLES)] if wrapper else None
    )
    try:
        venv_cfg: int | None = os.stat(
            os.path.join(os.path.dirname(os.path.dirname(executable)), "pyvenv.cfg")
        ).st_mtime_ns
    except OSError:
        venv_cfg = None
    uname = os.uname()
    return _cache_key(
        executable,
        real,
        stat.st_mtime_ns,
        stat.st_size,
        venv_cfg,
        uname.sysname,
        uname.release,
        uname.machine,
        chosen_by,
    )


def _interpreter_facts(
    executable: str, environ: Mapping[str, str], cache_dir: Path
) -> _Interpreter | None:
    key = _interpreter_key(executable, environ)
    if key is None:
        log.warning("interpreter %s does not exist; python version not recorded", executable)
        return None
    path = cache_dir / "interpreters" / f"{key}.json"
    data = _read_json(path)
    facts = _facts_from(data) if data is not None else None
    if facts is None:
        data = _probe(executable, environ)
        facts = _facts_from(data) if data is not None else None
        if facts is None:
            return None
        _write_json(path, {"executable": executable, **facts._asdict()})
    return facts


def _facts_from(data: dict[str, Any]) -> _Interpreter | None:
    try:
        facts = _Interpreter(
            version=data["version"],
            implementation=data["implementation"],
            platform=data["platform"],
            site_dirs=data["site_dirs"],
            user_site=data.get("user_site"),
            in_venv=data["in_venv"],
        )
    except (KeyError, TypeError):
        return None
    if not isinstance(facts.site_dirs, list) or not isinstance(facts.in_venv, bool):
        return None
    texts = [facts.version, facts.implementation, facts.platform, *facts.site_dirs]
    if not all(isinstance(t, str) for t in texts) or not isinstance(facts.user_site, str | None):
        return None
    return facts


def _probe(executable: str, environ: Mapping[str, str]) -> dict[str, Any] | None:
    import subprocess  # only on a cache miss

    try:
        done = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            capture_output=True,
            env=dict(environ),
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot run interpreter %s: %s; python version not recorded", executable, exc)
        return None
    try:  # the last line: a chatty sitecustomize may print before the probe does
        data = json.loads(done.stdout.splitlines()[-1]) if done.returncode == 0 else None
    except (ValueError, IndexError):
        data = None
    if not isinstance(data, dict):
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        log.warning("interpreter %s did not describe itself: %s", executable, detail[0])
        return None
    return data


def _site_dirs(facts: _Interpreter, environ: Mapping[str, str]) -> list[str]:
    """The interpreter's site-packages, with the user site when a normal run would see it."""
    dirs = list(facts.site_dirs)
    if facts.user_site and not facts.in_venv and not environ.get("PYTHONNOUSERSITE"):
        dirs.append(facts.user_site)
    return dirs


class _Installed(NamedTuple):
    fingerprint: str  # of the entry names, as `packages_fingerprint` records it
    listing: str  # the blob of the list
    total: int  # distributions in the list


def _installed(site_dirs: list[str], cache_dir: Path, catalog: Path | None) -> _Installed | None:
    """The installed set's fingerprint and list; cached by the dirs' mtimes, so a warm run reads
    one cache entry and checks the list's blob is in `catalog` with one `stat`.

    The fingerprint is the `sha256:` of the sorted `*.dist-info`/`*.egg-info` names. Installing,
    removing or upgrading a distribution adds or removes such an entry, which changes its
    directory's mtime, which changes the cache key.
    """
    stamps = []
    for directory in dict.fromkeys(site_dirs):
        try:
            stamps.append((directory, os.stat(directory).st_mtime_ns))
        except OSError:
            continue
    if not stamps:
        return None
    path = cache_dir / "packages" / f"{_cache_key(stamps)}.json"
    cached = _installed_from(_read_json(path))
    if cached is not None and (catalog is None or _is_stored(catalog, cached.listing)):
        return cached
    names, found = _distributions([directory for directory, _ in stamps])
    fingerprint = "sha256:" + hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
    data = encode_packages(found)
    listing = blobs.blob_ref(data)
    if catalog is not None:
        try:
            blobs.put_blob(catalog, data)
        except OSError as exc:  # the run says so when it cannot write its record either
            log.debug("cannot store the package list in %s: %s", catalog, exc)
    _write_json(path, {"fingerprint": fingerprint, "distributions": len(names),
                       "list": listing, "packages": len(found)})
    return _Installed(fingerprint, listing, len(found))


def _installed_from(data: dict[str, Any] | None) -> _Installed | None:
    if data is None:
        return None
    fingerprint, listing, total = data.get("fingerprint"), data.get("list"), data.get("packages")
    if not (isinstance(fingerprint, str) and isinstance(listing, str) and isinstance(total, int)):
        return None
    return _Installed(fingerprint, listing, total)


def _is_stored(catalog: Path, ref: str) -> bool:
    try:
        return blobs.blob_path(catalog, ref).exists()
    except CatalogError:  # a doctored cache entry
        return False


def _distributions(site_dirs: list[str]) -> tuple[set[str], list[dict[str, Any]]]:
    """The `*.dist-info`/`*.egg-info` names in `site_dirs`, and the distributions they describe,
    sorted by name: of two with one name, the first along the path, which is the one imported."""
    names: set[str] = set()
    found: dict[str, dict[str, Any]] = {}
    for directory in site_dirs:
        try:
            with os.scandir(directory) as entries:
                here = sorted(e.name for e in entries if e.name.endswith(_METADATA_DIRS))
        except OSError as exc:
            log.debug("cannot list %s: %s", directory, exc)
            continue
        names.update(here)
        for name in here:
            dist = _distribution(os.path.join(directory, name))
            found.setdefault(_canonical(dist["name"]), dist)
    return names, [found[key] for key in sorted(found)]


def _distribution(entry: str) -> dict[str, Any]:
    """Name, version and source of one `*.dist-info` (or `*.egg-info`, a directory or a file),
    from its metadata's headers, else from the entry's own name."""
    stem = os.path.basename(entry).rsplit(".", 1)[0]
    name, _, version = _VERSION_TAIL.sub("", stem).partition("-")
    headers = _headers(entry)
    source, editable = None, False
    if entry.endswith(".dist-info"):
        source, editable = _direct_source(os.path.join(entry, "direct_url.json"))
    return {"name": headers.get("name") or name, "version": headers.get("version") or version
            or None, "source": source, "editable": editable}


def _headers(entry: str) -> dict[str, str]:
    """`Name` and `Version` from the core metadata (RFC 822 headers) of a distribution."""
    if entry.endswith(".dist-info"):
        path = os.path.join(entry, "METADATA")
    else:
        path = os.path.join(entry, "PKG-INFO") if os.path.isdir(entry) else entry
    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the headers end at the first blank line
                key, sep, value = line.partition(":")
                if sep and key.lower() in ("name", "version"):
                    found.setdefault(key.lower(), value.strip())
                if len(found) == 2:
                    break
    except OSError:
        pass
    return found


def _direct_source(path: str) -> tuple[str | None, bool]:
    """Where PEP 610's `direct_url.json` says a distribution came from (`git+URL@commit`, a
    `file://` path, an archive's URL), credentials redacted; and whether it is editable."""
    try:
        with open(path, "rb") as fh:
            info = json.loads(fh.read(_DIRECT_URL_MAX_BYTES))
    except (OSError, ValueError):
        return None, False
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str):
        return None, False
    scheme, sep, rest = url.partition("://")
    user, at, _ = rest.partition("/")[0].rpartition("@")
    if at and user != "git":  # `ssh://git@host` names no one; any other user part may be secret
        url = f"{scheme}{sep}{REDACTED}@{rest[len(user) + 1:]}"
    url = Redactor().text(url)
    vcs, dir_info = info.get("vcs_info"), info.get("dir_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        commit = vcs.get("commit_id")
        url = f"{vcs['vcs']}+{url}" + (f"@{commit}" if isinstance(commit, str) else "")
    return url, isinstance(dir_info, dict) and dir_info.get("editable") is True


def _canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them (`Foo_Bar` is `foo-bar`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def encode_packages(packages: list[dict[str, Any]]) -> bytes:
    """The blob of a package list: the same list always gives the same bytes, so one blob."""
    return json.dumps({"format": _PACKAGES_FORMAT, "packages": packages}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


def decode_packages(data: bytes) -> list[dict[str, Any]]:
    """The list a blob holds, each `{"name", "version", "source", "editable"}` checked (it was read
    from disk); ValueError saying what is wrong."""
    try:
        found = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(found, dict) or found.get("format") != _PACKAGES_FORMAT or not isinstance(
            found.get("packages"), list):
        raise ValueError(f"not a package list of format {_PACKAGES_FORMAT}")
    packages = []
    for item in found["packages"]:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)
                and all(isinstance(item.get(k), str | None) for k in ("version", "source"))
                and isinstance(item.get("editable"), bool)):
            raise ValueError(f"malformed entry {str(item)[:80]}")
        packages.append({k: item[k] for k in ("name", "version", "source", "editable")})
    return packages
