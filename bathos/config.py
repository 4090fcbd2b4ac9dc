"""Where bathos keeps things, and a project's `.bth.toml`.

    $BTH_HOME (default ~/.bth)
      catalog/          (BTH_CATALOG_DIR moves the catalog alone)
      projects.toml     the registry of projects made by `bth init`

Nothing is written outside these paths.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import attrs

from bathos.errors import ConfigError

PROJECT_FILE = ".bth.toml"
SCRATCH_LOCK = ".alive"  # held by a run's processes while any of them lives
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def bth_home() -> Path:
    """`$BTH_HOME`, or `~/.bth`."""
    env = os.environ.get("BTH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".bth"


def catalog_dir(project: ProjectConfig | None = None) -> Path:
    """`$BTH_CATALOG_DIR`, else the project's catalog override, else `$BTH_HOME/catalog`."""
    env = os.environ.get("BTH_CATALOG_DIR")
    if env:
        return Path(env).expanduser()
    if project is not None and project.catalog:
        return (project.root / project.catalog).expanduser()
    return bth_home() / "catalog"


def make_catalog_dir(path: Path) -> Path:
    """Create the catalog directory `path` if needed; one that cannot be made is a ConfigError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable_catalog(path, exc, "made a directory") from None
    return path


def unusable_catalog(path: Path, exc: OSError, doing: str) -> ConfigError:
    """The error for a catalog that cannot be `doing` (made a directory, read): its path is
    wrong, or in the way of a file."""
    return ConfigError(f"catalog {path} cannot be {doing}: {exc.strerror} (check "
                       "$BTH_CATALOG_DIR, the catalog in .bth.toml, and $BTH_HOME)")


def scratch_dir(run_id: str) -> Path:
    """`$BTH_HOME/tmp/<run id>`: a running run's scratch files (its results file), removed when
    it ends."""
    return bth_home() / "tmp" / run_id


def check_slug(slug: str) -> str:
    """A project slug is lower-case letters, digits, `_` and `-`."""
    if not SLUG_RE.match(slug):
        raise ConfigError(
            f"invalid project slug {slug!r} (use lower-case letters, digits, '_' and '-', "
            "e.g. my-project)"
        )
    return slug


def slug_from_name(name: str) -> str:
    """The default slug for a directory name: lower-cased, other characters turned into '-'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug or "project"


@attrs.frozen
class Remote:
    """A catalog reached over SSH, `host:path`."""

    name: str
    host: str
    path: str


@attrs.frozen
class ProjectConfig:
    """A project's `.bth.toml`, with `root` the directory that holds it."""

    root: Path
    slug: str
    catalog: str | None = None
    sync_filter: str = "project"
    python: str | None = None
    env: tuple[str, ...] = ()
    remotes: tuple[Remote, ...] = ()
    slurm_partition: str | None = None
    secret_names: tuple[str, ...] = ()  # [secrets] names: regexes of secret option/variable names
    secret_values: tuple[str, ...] = ()  # [secrets] values: regexes of secret values
    secret_files: tuple[str, ...] = ()  # [secrets] files: globs kept out of git snapshots
    capture_exclude: tuple[str, ...] = ()  # [capture] exclude: globs no run records as its files
    pythonpath: tuple[str, ...] = ()  # [run] pythonpath: directories put on a script's sys.path

    @property
    def path(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def import_paths(self) -> tuple[Path, ...]:
        """Where a script under `bth run` imports the project's own code from, after its own
        directory: `[run] pythonpath` (relative to the root), else the project root."""
        return tuple(self.root / p for p in self.pythonpath) or (self.root,)


def find_project_file(start: Path | None = None) -> Path | None:
    """The nearest `.bth.toml` in `start` or a directory above it."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def find_project(start: Path | None = None) -> ProjectConfig | None:
    """The project that `start` (default: the cwd) lies in, or None."""
    path = find_project_file(start)
    return load_project(path) if path else None


def load_project(path: Path) -> ProjectConfig:
    """Read a `.bth.toml`; a malformed file raises ConfigError naming the line or key."""
    import tomllib  # only inside a project: listings elsewhere do not pay for it

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc} (fix that line)") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                          f"offset {exc.start}; save it as UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return _project_from_dict(path, data)


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{key}] must be a table (fix the key {key!r})")
    return value


def _string(path: Path, table: dict[str, Any], where: str, key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: {where}.{key} must be a string, not {value!r}")
    return value


def _strings(path: Path, table: dict[str, Any], where: str, key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {where}.{key} must be a list of strings")
    return tuple(value)


def _patterns(path: Path, table: dict[str, Any], key: str) -> tuple[str, ...]:
    """`[secrets] names`/`values`: regular expressions, each checked here once."""
    patterns = _strings(path, table, "secrets", key)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{path}: secrets.{key}: {pattern!r} is not a valid regular "
                              f"expression ({exc}; fix or remove it)") from None
    return patterns


def _project_from_dict(path: Path, data: dict[str, Any]) -> ProjectConfig:
    project = _table(path, data, "project")
    run = _table(path, data, "run")
    secrets = _table(path, data, "secrets")
    slug = _string(path, project, "project", "slug") or slug_from_name(path.parent.name)
    try:
        check_slug(slug)
    except ConfigError as exc:
        raise ConfigError(f"{path}: project.slug: {exc}") from None
    catalog = _string(path, project, "project", "catalog")
    if catalog is not None and (not catalog.strip() or "\0" in catalog):
        raise ConfigError(f"{path}: project.catalog must be a directory path, not {catalog!r}")
    sync_filter = _string(path, project, "project", "sync_filter") or "project"
    if sync_filter not in ("project", "none"):
        raise ConfigError(f"{path}: project.sync_filter must be \"project\" or \"none\"")
    env = run.get("env", [])
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise ConfigError(f"{path}: run.env must be a list of variable names")
    remotes = []
    for name, spec in _table(path, data, "remotes").items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: [remotes.{name}] must be a table with host and path")
        host = _string(path, spec, f"remotes.{name}", "host")
        rpath = _string(path, spec, f"remotes.{name}", "path")
        if not host or not rpath:
            raise ConfigError(f"{path}: [remotes.{name}] needs both host and path")
        remotes.append(Remote(name=name, host=host, path=rpath))
    return ProjectConfig(
        root=path.parent,
        slug=slug,
        catalog=catalog,
        sync_filter=sync_filter,
        python=_string(path, run, "run", "python"),
        env=tuple(env),
        remotes=tuple(remotes),
        slurm_partition=_string(path, _table(path, data, "slurm"), "slurm", "partition"),
        secret_names=_patterns(path, secrets, "names"),
        secret_values=_patterns(path, secrets, "values"),
        secret_files=_strings(path, secrets, "secrets", "files"),
        pythonpath=_strings(path, run, "run", "pythonpath"),
        capture_exclude=_strings(path, _table(path, data, "capture"), "capture", "exclude"),
    )
