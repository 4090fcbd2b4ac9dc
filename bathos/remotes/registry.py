"""Where remotes are kept: `[remotes.NAME]` tables in a project's `.bth.toml` (that project's
remotes) and in `$BTH_HOME/config.toml` (remotes of every project). A project's remote of a name
hides the user's.

Adding appends a table and removing cuts one out, line by line, so the rest of the file (its
comments too) stays as the user wrote it; the result is parsed again before it replaces the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from bathos import config
from bathos.config import Remote
from bathos.errors import ConfigError
from bathos.fsutil import atomic_write_bytes


def list_remotes(start: Path | None = None) -> list[Remote]:
    """The remotes the project `start` (default: the cwd) lies in has, then the user's own
    (those a project remote of the same name hides left out)."""
    project = config.find_project(start)
    own = list(project.remotes) if project else []
    names = {r.name for r in own}
    return own + [r for r in config.load_user_config().remotes if r.name not in names]


def find_remote(name: str, start: Path | None = None) -> Remote:
    """The remote called `name`; ConfigError naming those there are."""
    remotes = list_remotes(start)
    for remote in remotes:
        if remote.name == name:
            return remote
    known = ", ".join(r.name for r in remotes) or "none yet"
    raise ConfigError(f"no remote {name!r} (remotes: {known})",
                      hint="bth remote add NAME [user@]host:path adds one")


def default_remote(start: Path | None = None) -> Remote:
    """The one remote there is; ConfigError when there are none or several."""
    remotes = list_remotes(start)
    if len(remotes) == 1:
        return remotes[0]
    if not remotes:
        raise ConfigError("no remote to sync with", hint="bth remote add NAME [user@]host:path")
    raise ConfigError(f"several remotes ({', '.join(r.name for r in remotes)}): name the one "
                      "to sync with")


def _file_for(scope: str, start: Path | None) -> Path:
    if scope == "user":
        return config.user_config_path()
    found = config.find_project_file(start)
    if found is None:
        raise ConfigError("not inside a bathos project (no .bth.toml here or above): a remote "
                          "of every project goes to the user's config instead",
                          hint="bth remote add --user NAME SPEC, or bth init first")
    return found


def add_remote(name: str, target: str, *, scope: str = "project",
               start: Path | None = None) -> Remote:
    """Keep the remote `name` at `[user@]host:path` in the project's `.bth.toml` (`scope`
    project) or the user's config.toml (`user`); a name already used there is a ConfigError."""
    remote = config.parse_target(name, target, scope)
    path = _file_for(scope, start)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if name in _tables(path, text):
        raise ConfigError(f"{path} already has a remote {name!r}",
                          hint=f"bth remote remove {name} first")
    table = (f"[remotes.{name}]\nhost = {_quoted(remote.host)}\npath = {_quoted(remote.path)}\n")
    _replace(path, (text.rstrip("\n") + "\n\n" if text.strip() else "") + table, name, True)
    return remote


def remove_remote(name: str, *, start: Path | None = None) -> Remote:
    """Forget the remote `name` (the project's, else the user's); ConfigError if there is none."""
    remote = find_remote(name, start)
    path = _file_for(remote.scope, start)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.replace(" ", "") in (f"[remotes.{name}]", f'[remotes."{name}"]')
        if not inside:
            kept.append(line)
    _replace(path, "".join(kept).rstrip("\n") + "\n", name, False)
    return remote


def _quoted(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _tables(path: Path, text: str) -> dict[str, object]:
    try:
        remotes = tomllib.loads(text).get("remotes", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc} (fix that line)") from None
    return remotes if isinstance(remotes, dict) else {}


def _replace(path: Path, text: str, name: str, present: bool) -> None:
    """Write `text` to `path` once it parses with the remote `name` there (or gone)."""
    if (name in _tables(path, text)) != present:
        raise ConfigError(f"cannot edit [remotes.{name}] in {path} line by line (edit the file "
                          "by hand)")
    atomic_write_bytes(path, text.encode("utf-8"))
