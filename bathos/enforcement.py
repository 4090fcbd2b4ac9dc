"""Whether a script may run under its sidecar, and in which agent mode.

    admission = admit(script, project, no_sidecar=False, agent_mode=None)
    check_unchanged(admission, catalog, "particles", "scripts/experiments/train.py", sha256)

A script in a directory of the project's `[sidecar] required` (by default scripts/experiments,
scripts/benchmarks and scripts/validation) runs only with a valid sidecar; elsewhere a sidecar is
optional, but one that is there must be valid too, since it judges the run's outcome. A sidecar
that retires its script (`[status] stale`, `superseded_by`) refuses it. Each refusal is a
`SidecarRefused` with a stable `code`; bypassing the sidecar skips every check, and the run
records that it did.

The agent mode comes from the caller, else the sidecar's `agent_mode`, else the project's
`[run] agent_mode`, else the user's `$BTH_HOME/config.toml [run] agent_mode`; None when none
declares one (a person at the keyboard: collaborative rules). Under a declared agent mode, the
sidecar is compared with the one its script's runs were judged by (`check_unchanged`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bathos import config
from bathos.errors import ConfigError, SidecarRefused
from bathos.fsutil import relative_posix

if TYPE_CHECKING:
    from bathos.sidecar import SidecarSpec

log = logging.getLogger("bathos.enforcement")

NO_SIDECAR_HINT = "bth run --no-sidecar runs it anyway, and records that it did"


class Admission(NamedTuple):  # not an attrs class: `bth run` would pay ~0.5 ms to make it
    """A script let in: its sidecar file (`path`, None for a command), the sidecar as loaded
    (None when there is none or it was bypassed), and the agent mode declared (None: none)."""

    path: Path | None
    exists: bool
    spec: SidecarSpec | None
    agent_mode: str | None
    bypassed: bool


def admit(script: Path | None, project: config.ProjectConfig | None, *, no_sidecar: bool,
          agent_mode: str | None, required: bool = True) -> Admission:
    """Check a script's sidecar before its run starts; SidecarRefused when it may not run.
    Unless `required`, a missing sidecar is never refused.

    A script with no sidecar costs a `stat` or two here, and none of the sidecar's code."""
    if agent_mode is not None and agent_mode not in config.AGENT_MODES:
        raise ConfigError(f"agent mode {agent_mode!r} is neither "
                          f"{' nor '.join(map(repr, config.AGENT_MODES))}")
    if script is None:
        return Admission(None, False, None, _declared(agent_mode, None, project), no_sidecar)
    path = config.sidecar_path(script)
    exists = path.is_file()
    spec = None if no_sidecar else _checked(script, _shown(path), exists,
                                            project if required else None)
    return Admission(path, exists, spec, _declared(agent_mode, spec, project), no_sidecar)


def _checked(script: Path, path: Path, exists: bool,
             project: config.ProjectConfig | None) -> SidecarSpec | None:
    """The script's sidecar (`path`, as messages give it), valid and not retiring it; None
    where none is needed."""
    if exists:
        spec = _load(path)
        _check_current(spec, path, script)
        return spec
    required = project.requiring_sidecar(script) if project else None
    if required:
        raise SidecarRefused(
            "sidecar_missing", f"{path} is missing: a script in {required}/ runs only with a "
            "sidecar saying what its run is for and how its outcome is judged", path=path,
            hint=f"bth new-experiment NAME writes a script with its sidecar; {NO_SIDECAR_HINT}")
    return None


def _shown(path: Path) -> Path:
    """`path` as messages give it: relative to the working directory when inside it."""
    relative = relative_posix(path, Path.cwd())
    return Path(relative) if relative else path


def _declared(flag: str | None, spec: SidecarSpec | None,
              project: config.ProjectConfig | None) -> str | None:
    """The first agent mode declared: the caller's, the sidecar's, the project's, the user's."""
    return (flag or (spec.agent_mode if spec else None) or (project.agent_mode if project else None)
            or config.load_user_config().agent_mode)


def _load(path: Path) -> SidecarSpec:
    from bathos.errors import SidecarInvalid
    from bathos.sidecar import load_sidecar

    try:
        return load_sidecar(path)
    except SidecarInvalid as exc:
        raise SidecarRefused("sidecar_invalid", str(exc), path=path, line=exc.line, key=exc.key,
                             hint=f"bth lint shows every problem; {NO_SIDECAR_HINT}") from exc


def _check_current(spec: SidecarSpec, path: Path, script: Path) -> None:
    """SidecarRefused when the sidecar retires its script: its results would be stale at once."""
    if spec.superseded_by:
        raise SidecarRefused(
            "script_stale", f"{path}: status.superseded_by: {script.name} is superseded by "
            f"{spec.superseded_by}", path=path, key="status.superseded_by",
            hint=f"run {spec.superseded_by} instead; {NO_SIDECAR_HINT}")
    if spec.stale:
        raise SidecarRefused(
            "script_stale", f"{path}: status.stale: {script.name} is marked stale (retired)",
            path=path, key="status.stale",
            hint=f"set stale = false in its [status] to revive it; {NO_SIDECAR_HINT}")


def check_unchanged(admission: Admission, catalog: Path, project: str, script: str,
                    sha256: str | None) -> None:
    """Under a declared agent mode, compare the sidecar (`sha256`) with the one the script's
    runs were judged by: the sidecar of the latest run not in autonomous mode (a person was
    there, and accepted it), or else of its first run. Changed: SidecarRefused in autonomous
    mode (the goalposts moved), one warning in collaborative mode. Without a declared agent
    mode or a sidecar, nothing is read."""
    if admission.spec is None or admission.path is None or admission.agent_mode is None or (
            sha256 is None):
        return
    judged = _judged_by(catalog, project, script)
    if judged is None or judged[1] == sha256:
        return
    run_id, before = judged
    message = (f"{_shown(admission.path)} changed since run {run_id} of {script} was judged by it "
               f"({before[:15]}… then, {sha256[:15]}… now)")
    if admission.agent_mode == "autonomous":
        raise SidecarRefused(
            "sidecar_changed", f"{message}: in autonomous mode a run is judged by the sidecar "
            "its script's runs were judged by", path=_shown(admission.path),
            hint="restore the sidecar, or have a person run the script once without "
                 "--agent-mode autonomous to accept it")
    log.warning("%s: its runs are no longer judged alike", message)


# The run whose sidecar a script's runs are held to: its latest one not in autonomous mode, else
# its first. Read from the stored columns (dependencies, agent_mode), never from each `record`:
# ~0.1 s over 16,000 runs of the script in a catalog of 100,000 (benchmarks/make_catalog.py).
_JUDGED_BY = """
SELECT id, sha256 FROM (
    SELECT id, started_at, agent_mode IS DISTINCT FROM 'autonomous' AS by_person,
           list_filter(dependencies, lambda d: d.role = 'sidecar')[1].sha256 AS sha256
    FROM runs WHERE project = ? AND script = ?)
WHERE sha256 IS NOT NULL
ORDER BY by_person DESC, CASE WHEN by_person THEN started_at END DESC, started_at, id LIMIT 1
"""


def _judged_by(catalog: Path, project: str, script: str) -> tuple[str, str] | None:
    """(run id, sidecar hash) of the run whose sidecar the script's runs are held to; None when
    none had one, or the catalog cannot be read (a warning says so: the run is not held up)."""
    from bathos.catalog.catalog import Catalog
    from bathos.errors import CatalogError

    if not catalog.is_dir():
        return None
    try:
        rows = Catalog(catalog).sql(_JUDGED_BY, [project, script]).tuples()
    except CatalogError as exc:
        log.warning("cannot tell whether %s's sidecar changed since its earlier runs: %s",
                    script, exc)
        return None
    return (str(rows[0][0]), str(rows[0][1])) if rows else None
