"""`bth init`: a project's `.bth.toml`, its `scripts/` skeleton, and the registry of projects.

The registry `$BTH_HOME/projects.toml` holds one entry per slug with the project's path, so
commands can find a project that moved or that the cwd is not inside.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from bathos import config
from bathos.config import PROJECT_FILE, ProjectConfig, Remote
from bathos.errors import ConfigError
from bathos.fsutil import atomic_write_bytes

log = logging.getLogger("bathos.projects")

# Folder -> purpose, as the reference layout describes them.
SCRIPT_DIRS: dict[str, str] = {
    "experiments": "Typer experiment runners (verb_noun.py), each with its sidecar; tracked",
    "analysis": "Post-hoc analysis and plots (verb_noun.py)",
    "validation": "Correctness checks (verb_noun.py), each with its sidecar",
    "benchmarks": "Performance benchmarks (verb_noun.py), each with its sidecar; tracked",
    "data": "Data pipeline and conversion (verb_noun.py)",
    "slurm": "SLURM job files (verb_noun.slurm) and _bth_env.sh",
    "debug": "Debugging a specific issue (YYMMDD_desc.py)",
    "explore": "Open-ended investigation (YYMMDD_desc.py)",
    "scratch": "Catch-all, ephemeral (YYMMDD_desc.py); git-ignored",
}
ENV_HELPER = "scripts/slurm/_bth_env.sh"


@attrs.frozen
class InitReport:
    """What `init_project` did: the config, the paths it created, and the files that were there
    and it changed (a `.gitignore` it appended to)."""

    project: ProjectConfig
    created: tuple[str, ...]
    in_git: bool
    updated: tuple[str, ...] = ()


@attrs.define
class _Changes:
    """The paths `init_project` created and updated, relative to the project `root` (or not,
    outside it)."""

    root: Path
    created: list[str] = attrs.field(factory=list)
    updated: list[str] = attrs.field(factory=list)

    def note(self, path: Path, *, existed: bool, shown: str | None = None) -> None:
        name = shown or (str(path.relative_to(self.root)) if path.is_relative_to(self.root)
                         else str(path))
        (self.updated if existed else self.created).append(name)


def registry_path() -> Path:
    return config.bth_home() / "projects.toml"


def read_registry() -> dict[str, Path]:
    """slug -> project root for every registered project."""
    path = registry_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror} (is $BTH_HOME a directory?)"
                          ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is unreadable: {exc} (fix or delete it)",
                          hint="bth init in a project registers it again") from exc
    projects = data.get("projects", {})
    return {slug: Path(entry["path"]) for slug, entry in projects.items()
            if isinstance(entry, dict) and isinstance(entry.get("path"), str)}


def register(slug: str, root: Path) -> bool:
    """Record (or move) a project in the registry; True if the registry changed.

    An entry left at `root` under another slug (before `bth init --force --slug …`) is dropped.
    """
    found = read_registry()
    entries = {s: p for s, p in found.items() if p != root} | {slug: root}
    if entries == found:
        return False
    body = {"projects": {s: {"path": str(p)} for s, p in sorted(entries.items())}}
    atomic_write_bytes(registry_path(), tomli_w.dumps(body).encode())
    return True


def _check_registry() -> None:
    """Fail before `bth init` writes anything when the registry cannot be read or written."""
    read_registry()
    home = config.bth_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"$BTH_HOME {home} cannot be made a directory: {exc.strerror} (point "
                          "BTH_HOME at a directory)") from None
    if not os.access(home, os.W_OK):
        raise ConfigError(f"$BTH_HOME {home} cannot be written (point BTH_HOME at a directory "
                          "of yours)")


def _config_dict(project: ProjectConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"project": {"slug": project.slug, "sync_filter": project.sync_filter}}
    if project.catalog:
        data["project"]["catalog"] = project.catalog
    run: dict[str, Any] = {"python": project.python} if project.python else {}
    if project.env:
        run["env"] = list(project.env)
    if run:
        data["run"] = run
    if project.remotes:
        data["remotes"] = {r.name: {"host": r.host, "path": r.path} for r in project.remotes}
    if project.slurm_partition:
        data["slurm"] = {"partition": project.slurm_partition}
    return data


def parse_remote(spec: str) -> Remote:
    """`NAME=[user@]host:path` as given to `bth init --remote`."""
    name, sep, target = spec.partition("=")
    if not sep:
        raise ConfigError(f"remote {spec!r} is not NAME=host:path (the host may be user@host or "
                          "an ~/.ssh/config alias; e.g. cluster=login.hpc:~/.bth)")
    return config.parse_target(name, target)


def env_helper_text(bth: str | None = None) -> str:
    """`scripts/slurm/_bth_env.sh`, naming `bth` (default: `bth_executable()`) as the one to
    use in a job whose PATH lacks it."""
    text = resources.files("bathos").joinpath("templates/bth_env.sh").read_text(encoding="utf-8")
    bth = bth_executable() if bth is None else bth
    return text.replace('_bth_recorded=""', f"_bth_recorded={shlex.quote(bth)}"
                        if bth else '_bth_recorded=""', 1)


def bth_executable() -> str:
    """The absolute path of the `bth` command of this installation ("" if it has none): beside
    the interpreter (a venv, `uv tool`), else on PATH."""
    beside = Path(sys.executable).parent / "bth"
    if os.access(beside, os.X_OK):
        return str(beside.absolute())
    found = shutil.which("bth")
    return os.path.abspath(found) if found else ""


def _write_if_changed(path: Path, text: str, changes: _Changes) -> None:
    existed = path.exists()
    if existed and path.read_text(encoding="utf-8") == text:
        return
    atomic_write_bytes(path, text.encode(), durable=False)
    changes.note(path, existed=existed)


def _ensure_gitignore(root: Path, changes: _Changes) -> None:
    path = root / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if {"scripts/scratch/", "scripts/scratch", "/scripts/scratch/", "/scripts/scratch"} & {
            line.strip() for line in lines}:
        return
    text = "\n".join([*lines, "# bathos: ephemeral scripts", "scripts/scratch/"]) + "\n"
    _write_if_changed(path, text, changes)


def init_project(
    root: Path,
    *,
    slug: str | None = None,
    remotes: tuple[Remote, ...] = (),
    slurm_partition: str | None = None,
    python: str | None = None,
    force: bool = False,
) -> InitReport:
    """Make `root` a bathos project; running it again with the same options changes nothing."""
    from bathos.provenance.git import repo_root_of

    root = root.resolve()
    existing = root / PROJECT_FILE
    changes = _Changes(root)
    new_config = None
    if existing.exists() and not force:
        project = config.load_project(existing)
        asked = {"slug": slug, "remotes": remotes or None, "slurm_partition": slurm_partition}
        if any(v is not None and getattr(project, k) != v for k, v in asked.items()):
            raise ConfigError(f"{existing} already exists with other settings",
                              hint="bth init --force overwrites it")
    else:
        project = ProjectConfig(
            root=root, slug=config.check_slug(slug or config.slug_from_name(root.name)),
            remotes=remotes, slurm_partition=slurm_partition, python=python,
        )
        new_config = tomli_w.dumps(_config_dict(project))
    _check_registry()
    if new_config is not None:
        _write_if_changed(existing, new_config, changes)
    for folder in SCRIPT_DIRS:
        directory = root / "scripts" / folder
        if not directory.is_dir():
            directory.mkdir(parents=True)
            changes.note(directory, existed=False, shown=f"scripts/{folder}/")
    _write_if_changed(root / ENV_HELPER, env_helper_text(), changes)
    (root / ENV_HELPER).chmod(0o755)
    _ensure_gitignore(root, changes)
    registry_existed = registry_path().exists()
    if register(project.slug, root):
        changes.note(registry_path(), existed=registry_existed)
    in_git = repo_root_of(root) is not None
    if not in_git:
        log.warning("%s is not inside a git repository: runs will record no code version "
                    "(git init to get full provenance)", root)
    return InitReport(project=project, created=tuple(changes.created), in_git=in_git,
                      updated=tuple(changes.updated))
