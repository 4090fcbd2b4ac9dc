"""`bth lint`: a project's scripts against its conventions, and its recent runs against their
sidecars.

Rules (`Finding.rule`), each an error or a warning. Errors are in the files as they are now: fix
the file and the error goes. Warnings are about what recent runs did, or leftovers that harm
nothing.

    naming           error    a script's name breaks its folder's rule (verb_noun.py …)
    sidecar-missing  error    a script in a folder that needs a sidecar has none (fixable)
    sidecar-invalid  error    a sidecar that does not validate (file, line, key)
    sidecar-orphan   warning  a sidecar with no script beside it
    sidecar-todo     warning  a sidecar still holding TODO text (as a scaffolded one does)
    stale-ran        warning  a script its sidecar marks stale or superseded ran under that sidecar
                              in the last RECENT_DAYS days
    tmp-output       warning  a run of the project in the last RECENT_DAYS days wrote an output
                              under /tmp (gone at the next reboot, and on no other host)

Files whose name starts with `_` or `.` are helpers (`_bth_env.sh`, `_common.py`), not scripts:
no rule applies to them.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from bathos import config
from bathos.config import SIDECAR_SUFFIX, sidecar_path
from bathos.errors import ConfigError
from bathos.projects import SCRIPT_DIRS

Severity = Literal["error", "warning"]
RECENT_DAYS = 7
# The sidecar kind a scaffolded sidecar gets, by folder under `scripts/` (else experiment).
SIDECAR_KINDS: dict[str, str] = {
    "experiments": "experiment", "benchmarks": "benchmark", "validation": "validation",
}
TMP_DIRS = tuple(dict.fromkeys(("/tmp/", "/var/tmp/", str(Path(tempfile.gettempdir())) + "/")))


@attrs.frozen
class NamingRule:
    """How a folder under `scripts/` names its scripts: `pattern` over the file name, `suffix`
    the files it applies to, `rule` and `example` as a message shows them."""

    pattern: re.Pattern[str]
    suffix: str
    rule: str
    example: str
    dated: bool = False

    def matches(self, name: str) -> bool:
        if not self.pattern.fullmatch(name):
            return False
        return not self.dated or _is_date(name[:6])


def _is_date(text: str) -> bool:
    try:
        dt.datetime.strptime(text, "%y%m%d")
    except ValueError:
        return False
    return True


_WORDS = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+"
VERB_NOUN = NamingRule(re.compile(_WORDS + r"\.py"), ".py",
                       "verb_noun.py: snake_case, at least two words", "train_model.py")
DATED = NamingRule(re.compile(r"\d{6}_[a-z0-9]+(?:_[a-z0-9]+)*\.py"), ".py",
                   "YYMMDD_desc.py: the date it was started, then a snake_case description",
                   "240131_nan_in_loss.py", dated=True)
SLURM = NamingRule(re.compile(_WORDS + r"\.slurm"), ".slurm",
                   "verb_noun.slurm: snake_case, at least two words", "train_model.slurm")
NAMING: dict[str, NamingRule] = {
    "experiments": VERB_NOUN, "benchmarks": VERB_NOUN, "validation": VERB_NOUN,
    "analysis": VERB_NOUN, "data": VERB_NOUN, "slurm": SLURM,
    "debug": DATED, "explore": DATED, "scratch": DATED,
}


@attrs.frozen
class Finding:
    """One thing `lint_project` found: `path` relative to the project root, `line` in it (or
    None), the `rule` broken, its `severity`, and whether `lint_project(fix=True)` can fix it."""

    path: str
    line: int | None
    rule: str
    severity: Severity
    message: str
    fixable: bool = False


@attrs.frozen
class LintReport:
    """What `lint_project` found (errors first, then by path) and the files its fixes wrote."""

    root: Path
    findings: tuple[Finding, ...]
    fixed: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")


def naming_problem(folder: str, name: str) -> str | None:
    """Why the file `name` breaks the naming rule of `scripts/<folder>/`, or None when it keeps
    it (or is not a script there: another suffix, a `_helper`)."""
    rule = NAMING.get(folder)
    if rule is None or name.startswith(("_", ".")) or not name.endswith(rule.suffix):
        return None
    if rule.matches(name):
        return None
    return f"{name} breaks the naming rule of scripts/{folder}/ ({rule.rule}, e.g. {rule.example})"


def project_at(root: Path | None = None) -> config.ProjectConfig:
    """The project at `root` (its `.bth.toml`), else the one the working directory lies in."""
    if root is not None:
        root = root.resolve()
        path = root / config.PROJECT_FILE
        if not path.is_file():
            raise ConfigError(f"{root} is not a bathos project: it has no {config.PROJECT_FILE}",
                              hint="bth init makes one")
        return config.load_project(path)
    project = config.find_project()
    if project is None:
        raise ConfigError(f"{Path.cwd()} is not inside a bathos project (no {config.PROJECT_FILE}"
                          " here or above)", hint="bth init makes one, or give --project-root")
    return project


def lint_project(root: Path | None = None, *, fix: bool = False,
                 now: dt.datetime | None = None) -> LintReport:
    """Check the scripts of the project at `root` (default: the working directory's) and its runs
    of the last RECENT_DAYS days; with `fix`, first fix what can be fixed mechanically (scaffold
    each missing sidecar), then report what is left.

    >>> report = lint_project(Path("~/proj").expanduser())
    >>> [f.message for f in report.errors]
    """
    project = project_at(root)
    findings, stale = _file_findings(project)
    fixed = [_scaffold_sidecar(project, f) for f in findings if f.fixable] if fix else []
    if fixed:
        findings, stale = _file_findings(project)
    findings += _run_findings(project, stale, now)
    findings.sort(key=lambda f: (f.severity != "error", f.path, f.line or 0, f.rule))
    return LintReport(root=project.root, findings=tuple(findings), fixed=tuple(fixed))


def _files(project: config.ProjectConfig) -> Iterator[tuple[str | None, Path]]:
    """(folder, file) for each file under `scripts/<folder>/` and under each directory that
    `[sidecar] required` names elsewhere (folder None), hidden and cache directories left out."""
    folders: dict[Path, str | None] = {project.root / "scripts" / f: f for f in SCRIPT_DIRS}
    for directory in project.sidecar_required:
        base = project.root / directory
        if not any(base.is_relative_to(known) for known in folders):
            folders[base] = None
    for base, folder in folders.items():
        for path in sorted(base.rglob("*")):
            parts = path.relative_to(base).parts
            if path.is_file() and not any(p.startswith(".") or p == "__pycache__"
                                          for p in parts[:-1]):
                yield folder, path


def _file_findings(project: config.ProjectConfig) -> tuple[list[Finding], list[_Stale]]:
    """What is wrong with the files, and the scripts whose valid sidecar marks them stale."""
    findings: list[Finding] = []
    stale: list[_Stale] = []
    for folder, path in _files(project):
        relpath = path.relative_to(project.root).as_posix()
        problem = naming_problem(folder, path.name) if folder else None
        if problem:
            findings.append(Finding(relpath, None, "naming", "error", problem))
        if path.name.endswith(SIDECAR_SUFFIX):
            findings += _sidecar_findings(path, relpath, stale)
        elif path.suffix == ".py" and not path.name.startswith(("_", ".")):
            required = project.requiring_sidecar(path)
            sidecar = sidecar_path(path)
            if required and not sidecar.exists():
                findings.append(Finding(
                    relpath, None, "sidecar-missing", "error",
                    f"{path.name} has no sidecar {sidecar.name} ({required}/ needs one: "
                    "what the run is for, and what each result would mean)", fixable=True))
    return findings, stale


@attrs.frozen
class _Stale:
    """A script whose sidecar (with hash `sha256`) marks it stale or superseded."""

    script: Path
    sha256: str | None
    marked: str


def _sidecar_findings(path: Path, relpath: str, stale: list[_Stale]) -> list[Finding]:
    """An orphan, invalid or TODO sidecar; a valid one marking its scripts stale adds them to
    `stale`."""
    from bathos.errors import SidecarInvalid
    from bathos.hashing import hash_file
    from bathos.sidecar import load_sidecar

    stem = path.name[: -len(SIDECAR_SUFFIX)]
    pattern = re.sub(r"([*?\[])", r"[\1]", stem) + ".*"
    scripts = [p for p in path.parent.glob(pattern) if p != path]
    if not scripts and not stem.startswith(("_", ".")):
        return [Finding(relpath, None, "sidecar-orphan", "warning",
                        f"{path.name} is the sidecar of {stem}.*, which is not there (rename it "
                        "with its script, or remove it)")]
    try:
        spec = load_sidecar(path)
    except SidecarInvalid as exc:
        return [Finding(relpath, exc.line, "sidecar-invalid", "error",
                        f"{exc.key}: {exc.what}" if exc.key else exc.what)]
    if spec.stale or spec.superseded_by:
        marked = f"superseded by {spec.superseded_by}" if spec.superseded_by else "stale"
        sha256 = hash_file(path).sha256
        stale += [_Stale(script, sha256, marked) for script in scripts]
    text = path.read_text(encoding="utf-8")
    return [Finding(relpath, number, "sidecar-todo", "warning",
                    "still TODO: say what the run is for and what each outcome decides")
            for number, line in enumerate(text.splitlines(), 1) if "TODO" in line][:1]


def _run_findings(project: config.ProjectConfig, stale: list[_Stale],
                  now: dt.datetime | None) -> list[Finding]:
    """stale-ran and tmp-output, from the project's runs of the last RECENT_DAYS days."""
    from bathos.catalog.catalog import Catalog
    from bathos.query import naive_utc

    catalog_path = config.catalog_dir(project)
    if not (catalog_path / "runs" / project.slug).is_dir():
        return []
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=RECENT_DAYS)
    rows = Catalog(catalog_path).sql(
        "SELECT r.id, r.script, r.started_at, r.sidecar->>'sha256' AS sidecar_sha256, "
        "o.path AS tmp_output FROM runs r LEFT JOIN outputs o ON o.run_id = r.id AND ("
        + " OR ".join(["starts_with(o.path, ?)"] * len(TMP_DIRS))
        + ") WHERE r.project = ? AND r.started_at >= ? ORDER BY r.started_at",
        [*TMP_DIRS, project.slug, naive_utc(since)]).to_dicts()
    return [*_stale_findings(project, stale, rows), *_tmp_findings(rows)]


def _stale_findings(project: config.ProjectConfig, stale: list[_Stale],
                    rows: list[dict[str, Any]]) -> list[Finding]:
    """A run that recorded the hash a stale sidecar has now ran while the sidecar said so: runs
    from before it was marked do not count."""
    from bathos.query import script_forms

    findings = []
    for entry in stale:
        forms = set(script_forms(str(entry.script)))
        ids = sorted({r["id"] for r in rows
                      if r["script"] in forms and r["sidecar_sha256"] == entry.sha256})
        if ids:
            findings.append(Finding(
                entry.script.relative_to(project.root).as_posix(), None, "stale-ran", "warning",
                f"marked {entry.marked} in its sidecar, yet ran {len(ids)} time(s) under it in "
                f"the last {RECENT_DAYS} days (last: run {ids[-1][:8]})"))
    return findings


def _tmp_findings(rows: list[dict[str, Any]]) -> list[Finding]:
    by_run: dict[str, list[str]] = {}
    scripts: dict[str, str] = {}
    for row in rows:
        if row["tmp_output"]:
            by_run.setdefault(row["id"], []).append(row["tmp_output"])
            scripts[row["id"]] = row["script"] or f"run {row['id'][:8]}"
    return [Finding(scripts[run_id], None, "tmp-output", "warning",
                    f"run {run_id[:8]} wrote {', '.join(paths[:3])}{' …' * (len(paths) > 3)} "
                    "under a temporary directory: gone at the next reboot, and on no other "
                    "host (write to bth.output_dir() or outputs/)")
            for run_id, paths in by_run.items()]


def _scaffold_sidecar(project: config.ProjectConfig, finding: Finding) -> str:
    """Write the skeleton sidecar of the script `finding` names; its path from the root."""
    from bathos.fsutil import atomic_write_bytes
    from bathos.scaffold import sidecar_skeleton

    script = project.root / finding.path
    parts = Path(finding.path).parts
    folder = parts[1] if parts[0] == "scripts" and len(parts) > 2 else ""
    kind = SIDECAR_KINDS.get(folder, "experiment")
    sidecar = sidecar_path(script)
    atomic_write_bytes(sidecar, sidecar_skeleton(kind).encode(),
                       durable=False)
    return sidecar.relative_to(project.root).as_posix()
