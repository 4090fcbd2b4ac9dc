"""`bth new-experiment`: a script that runs at once under `bth run`, and the sidecar that judges
its results; and the skeleton sidecar `bth lint --fix` writes beside a script that lacks one.

The script is a Typer command when the project's interpreter has Typer, else an argparse one
(bathos does not depend on Typer); both call the same `@bth.experiment` function.
"""

from __future__ import annotations

import logging
import subprocess
from importlib import resources
from pathlib import Path
from string import Template

import attrs

from bathos import config
from bathos.errors import ConfigError
from bathos.fsutil import atomic_write_bytes

log = logging.getLogger("bathos.scaffold")

KIND_DIRS: dict[str, str] = {"experiment": "experiments", "benchmark": "benchmarks",
                             "validation": "validation"}
# Each kind's parameters as the argparse script declares them: (name, type, default).
_PARAMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "experiment": (("n_steps", "int", "200"), ("learning_rate", "float", "0.1")),
    "benchmark": (("repeats", "int", "20"), ("size", "int", "100_000")),
    "validation": (("refinements", "int", "10"),),
}
# The standard-library modules each kind's script imports.
_STDLIB: dict[str, tuple[str, ...]] = {
    "experiment": (), "benchmark": ("statistics", "time"), "validation": ("math",),
}
# A skeleton sidecar's kind table, by kind (the fields each kind needs, as TODOs).
_SKELETON_FIELDS: dict[str, str] = {
    "experiment": 'hypothesis = "TODO: what you expect, and why"\nstage = "exploration"\n',
    "benchmark": ('metric = "TODO: the result this benchmark measures"\n'
                  'baseline_ref = "TODO: the run or commit to compare with"\n'
                  "regression_threshold = 0.1\ntarget = 1.0\n"),
    "validation": ('property = "TODO: what must hold"\n'
                   'reference = "TODO: what it is checked against"\ntolerance = 1e-6\n'),
}


@attrs.frozen
class NewExperiment:
    """What `new_experiment` wrote: the script, its sidecar, and whether the script uses Typer."""

    script: Path
    sidecar: Path
    uses_typer: bool


def _template(name: str) -> Template:
    return Template(resources.files("bathos").joinpath(f"templates/new/{name}")
                    .read_text(encoding="utf-8"))


def sidecar_skeleton(kind: str) -> str:
    """A sidecar of `kind` that validates and says nothing yet: TODO text, and one residual
    outcome, so every run lands in it until real outcomes are written."""
    return (f"# TODO: say what this script's runs are for, before they run.\n\n[{kind}]\n"
            f"{_SKELETON_FIELDS[kind]}\n[outcomes.undecided]\nis_residual = true\n"
            'decision = "TODO: what to do when no other outcome holds"\n'
            'reasoning = "TODO: write the outcomes this run can have, each with its condition"\n')


def _interpreter_has(project: config.ProjectConfig) -> tuple[str, bool, bool]:
    """The interpreter `bth run` gives the project's scripts, and whether it can import Typer
    and `bth` (one probe of it)."""
    from bathos.runner import RunSpec, resolve_python

    python = resolve_python(RunSpec(target="x.py"), project)
    probe = ("import importlib.util as u, sys; sys.exit((u.find_spec('typer') is None) "
             "+ 2 * (u.find_spec('bth') is None))")
    try:
        found = subprocess.run([python, "-c", probe], capture_output=True, timeout=60,
                               check=False).returncode
    except (OSError, subprocess.TimeoutExpired):
        found = 3
    return python, found & 1 == 0, found & 2 == 0 and found < 4


def _main_block(kind: str, uses_typer: bool) -> tuple[str, str]:
    """The imports and the `__main__` block of a script: Typer's, or argparse's."""
    stdlib = sorted({*_STDLIB[kind], *(() if uses_typer else ("argparse",))})
    imports = "".join(f"import {m}\n" for m in stdlib) + "\n" * bool(stdlib) + "import bth\n"
    if uses_typer:
        return imports + "import typer\n", '\n\nif __name__ == "__main__":\n    typer.run(main)\n'
    lines = ['\n\nif __name__ == "__main__":',
             "    parser = argparse.ArgumentParser(description=__doc__)"]
    lines += [f'    parser.add_argument("--{n.replace("_", "-")}", type={t}, default={d})'
              for n, t, d in _PARAMS[kind]]
    lines.append("    main(**vars(parser.parse_args()))")
    return imports, "\n".join(lines) + "\n"


def new_experiment(name: str, kind: str = "experiment", *, root: Path | None = None,
                   typer: bool | None = None) -> NewExperiment:
    """Write `scripts/<kind's folder>/<name>.py` and its sidecar in the project at `root`
    (default: the working directory's); `bth run` on the script completes with a real outcome.

    >>> new_experiment("fit_slope").script
    PosixPath('/home/me/proj/scripts/experiments/fit_slope.py')

    ConfigError for an unknown kind, a name that breaks the folder's naming rule, or a script or
    sidecar already there (neither is overwritten). `typer` None: Typer when the project's
    interpreter has it.
    """
    from bathos.config import sidecar_path
    from bathos.lint import NAMING, naming_problem, project_at

    if kind not in KIND_DIRS:
        raise ConfigError(f"unknown kind {kind!r} (choose from {', '.join(KIND_DIRS)})")
    folder = KIND_DIRS[kind]
    stem = name.removesuffix(".py")
    problem = naming_problem(folder, stem + ".py") if "/" not in stem else (
        f"{name} is a path, not a name (e.g. {NAMING[folder].example.removesuffix('.py')})")
    if problem:
        raise ConfigError(problem)
    project = project_at(root)
    directory = project.root / "scripts" / folder
    script = directory / f"{stem}.py"
    sidecar = sidecar_path(script)
    for path in (script, sidecar):
        if path.exists():
            raise ConfigError(f"{path.relative_to(project.root)} already exists (choose another "
                              "name, or remove it first); nothing written")
    python, has_typer, has_bth = _interpreter_has(project)
    if not has_bth:
        log.warning("the interpreter bth run gives this project's scripts (%s) cannot import bth: "
                    "the new script fails until bathos is installed there", python,
                    extra={"hint": "pip install bathos with that interpreter, or name another "
                                   "in .bth.toml [run] python"})
    uses_typer = has_typer if typer is None else typer
    imports, main = _main_block(kind, uses_typer)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(sidecar, _template(f"{kind}.bth.toml").substitute(name=stem).encode(),
                       durable=False)
    atomic_write_bytes(script, _template(f"{kind}.py.tmpl").substitute(
        name=stem, imports=imports, main=main).encode(), durable=False)
    return NewExperiment(script=script, sidecar=sidecar, uses_typer=uses_typer)
