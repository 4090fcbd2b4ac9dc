"""Where bathos keeps things, and a project's `.bth.toml`.

    $BTH_HOME (default ~/.bth)
      catalog/          (BTH_CATALOG_DIR moves the catalog alone)
      projects.toml     the registry of projects made by `bth init`
      config.toml       the user's own defaults, below every project's (`UserConfig`)

Nothing is written outside these paths.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from bathos.errors import ConfigError
from bathos.fsutil import relative_posix

PROJECT_FILE = ".bth.toml"
USER_FILE = "config.toml"
AGENT_MODES = ("collaborative", "autonomous")
SIDECAR_SUFFIX = ".bth.toml"


def sidecar_path(script: Path) -> Path:
    """The sidecar of `script`: `<script_stem>.bth.toml` beside it."""
    return script.with_name(script.stem + SIDECAR_SUFFIX)
# The directories (relative to the project root) whose scripts need a sidecar to run.
SIDECAR_REQUIRED = ("scripts/experiments", "scripts/benchmarks", "scripts/validation")
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


MAX_TAG_CHARS = 100


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as given (each once, in order), each checked: 1 to 100 characters, none of them
    whitespace or a control character (so each reads back as one word)."""
    tags = tuple(tags)
    for tag in tags:
        if not tag or len(tag) > MAX_TAG_CHARS or any(c.isspace() or not c.isprintable()
                                                      for c in tag):
            raise ConfigError(f"invalid tag {tag!r} (a tag is 1 to {MAX_TAG_CHARS} characters, "
                              "without spaces or control characters, e.g. baseline)")
    return tuple(dict.fromkeys(tags))


def slug_from_name(name: str) -> str:
    """The default slug for a directory name: lower-cased, other characters turned into '-'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug or "project"


REMOTE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@attrs.frozen
class Remote:
    """A catalog reached over SSH: `host` is `[user@]host` (a name `~/.ssh/config` may define,
    with its port, user and key), `path` the remote's `$BTH_HOME` (or its catalog directory);
    `scope` says where it is kept: `project` (`.bth.toml`) or `user` (`$BTH_HOME/config.toml`)."""

    name: str
    host: str
    path: str
    scope: str = "project"

    @property
    def spec(self) -> str:
        """`[user@]host:path`, as `bth remote add` takes it."""
        return f"{self.host}:{self.path}"


def parse_target(name: str, target: str, scope: str = "project") -> Remote:
    """The remote `name` at `[user@]host:path` (ConfigError, with an example, if it is not)."""
    host, colon, path = target.partition(":")
    if not REMOTE_NAME_RE.match(name):
        raise ConfigError(f"invalid remote name {name!r} (use letters, digits, '_' and '-', "
                          "e.g. cluster)")
    if not (colon and host and path) or any(c.isspace() for c in host) or "/" in host:
        raise ConfigError(f"remote {target!r} is not [user@]host:path (e.g. "
                          "ana@login.hpc.edu:~/.bth, or an ~/.ssh/config alias: hpc:~/.bth)")
    return Remote(name=name, host=host, path=path, scope=scope)


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
    # [slurm] time, cpus, mem, gres: what `bth submit` asks for when not told
    slurm_defaults: tuple[tuple[str, str], ...] = ()
    secret_names: tuple[str, ...] = ()  # [secrets] names: regexes of secret option/variable names
    secret_values: tuple[str, ...] = ()  # [secrets] values: regexes of secret values
    secret_files: tuple[str, ...] = ()  # [secrets] files: globs kept out of git snapshots
    capture_exclude: tuple[str, ...] = ()  # [capture] exclude: globs no run records as its files
    pythonpath: tuple[str, ...] = ()  # [run] pythonpath: directories put on a script's sys.path
    agent_mode: str | None = None  # [run] agent_mode: collaborative or autonomous
    sidecar_required: tuple[str, ...] = SIDECAR_REQUIRED  # [sidecar] required: directories

    @property
    def path(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def import_paths(self) -> tuple[Path, ...]:
        """Where a script under `bth run` imports the project's own code from, after its own
        directory: `[run] pythonpath` (relative to the root), else the project root."""
        return tuple(self.root / p for p in self.pythonpath) or (self.root,)


    def requiring_sidecar(self, script: Path) -> str | None:
        """The directory of `[sidecar] required` that `script` lies in (or below), or None."""
        inside = relative_posix(os.path.dirname(os.path.realpath(script)), self.root)
        if inside is None:
            return None
        return next((d for d in self.sidecar_required
                     if d in (".", inside) or inside.startswith(f"{d}/")), None)


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
    return _project_from_dict(path, _read_toml(path))


@attrs.frozen
class UserConfig:
    """`$BTH_HOME/config.toml`: the user's own defaults, which a project's `.bth.toml` and a
    script's sidecar override. `agent_mode` (`[run] agent_mode`) says whether an AI agent drives
    this account's runs (collaborative or autonomous); None: no agent declared."""

    agent_mode: str | None = None
    remotes: tuple[Remote, ...] = ()  # [remotes.NAME]: remotes of every project


def user_config_path() -> Path:
    return bth_home() / USER_FILE


def load_user_config() -> UserConfig:
    """The user's `$BTH_HOME/config.toml` (defaults when it does not exist); a malformed file
    raises ConfigError naming the line or key."""
    path = user_config_path()
    if not path.is_file():
        return UserConfig()
    data = _read_toml(path)
    return UserConfig(agent_mode=_agent_mode(path, _table(path, data, "run")),
                      remotes=_remotes(path, data, "user"))


def _remotes(path: Path, data: dict[str, Any], scope: str) -> tuple[Remote, ...]:
    """`[remotes.NAME]` tables, each with `host` and `path`."""
    remotes = []
    for name, spec in _table(path, data, "remotes").items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: [remotes.{name}] must be a table with host and path")
        host = _string(path, spec, f"remotes.{name}", "host")
        rpath = _string(path, spec, f"remotes.{name}", "path")
        if not host or not rpath:
            raise ConfigError(f"{path}: [remotes.{name}] needs both host and path")
        remotes.append(Remote(name=name, host=host, path=rpath, scope=scope))
    return tuple(remotes)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only inside a project: listings elsewhere do not pay for it

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc} (fix that line)") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                          f"offset {exc.start}; save it as UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _agent_mode(path: Path, run: dict[str, Any]) -> str | None:
    mode = _string(path, run, "run", "agent_mode")
    if mode is not None and mode not in AGENT_MODES:
        raise ConfigError(f"{path}: run.agent_mode must be \"collaborative\" or "
                          f"\"autonomous\", not {mode!r}")
    return mode


def _required_dirs(path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    """`[sidecar] required`: directories relative to the project root (default SIDECAR_REQUIRED;
    an empty list requires no sidecar anywhere)."""
    table = _table(path, data, "sidecar")
    if "required" not in table:
        return SIDECAR_REQUIRED
    dirs = _strings(path, table, "sidecar", "required")
    for directory in dirs:
        if not directory.strip() or Path(directory).is_absolute() or ".." in Path(directory).parts:
            raise ConfigError(f"{path}: sidecar.required: {directory!r} must be a directory "
                              "relative to the project root (e.g. \"scripts/experiments\")")
    return tuple(posixpath.normpath(d) for d in dirs)


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


SLURM_DEFAULTS = ("time", "cpus", "mem", "gres")


def _slurm_defaults(path: Path, table: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """`[slurm] time = "2:00:00"`, `cpus = 4`, `mem = "16G"`, `gres = "gpu:1"`."""
    defaults = []
    for key in SLURM_DEFAULTS:
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
            raise ConfigError(f"{path}: slurm.{key} must be a string (or a number for cpus), "
                              f"not {value!r}")
        defaults.append((key, str(value)))
    return tuple(defaults)


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
    return ProjectConfig(
        root=path.parent,
        slug=slug,
        catalog=catalog,
        sync_filter=sync_filter,
        python=_string(path, run, "run", "python"),
        env=tuple(env),
        remotes=_remotes(path, data, "project"),
        slurm_partition=_string(path, _table(path, data, "slurm"), "slurm", "partition"),
        slurm_defaults=_slurm_defaults(path, _table(path, data, "slurm")),
        secret_names=_patterns(path, secrets, "names"),
        secret_values=_patterns(path, secrets, "values"),
        secret_files=_strings(path, secrets, "secrets", "files"),
        pythonpath=_strings(path, run, "run", "pythonpath"),
        capture_exclude=_strings(path, _table(path, data, "capture"), "capture", "exclude"),
        agent_mode=_agent_mode(path, run),
        sidecar_required=_required_dirs(path, data),
    )
