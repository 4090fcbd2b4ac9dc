"""Commands that help write what runs: lint, new-experiment."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bathos_cli import render
from bathos_cli.options import output_format


@click.command("lint")
@click.option("--project-root", type=click.Path(file_okay=False, path_type=Path),
              help="The project to check (default: the one the current directory lies in).")
@output_format(csv=False)
@click.option("--fix", is_flag=True, help="First fix what can be fixed mechanically: write a "
              "skeleton sidecar (TODO text, one residual outcome) beside each script lacking one.")
def lint(project_root: Path | None, json_: bool, fix: bool) -> None:
    """Check a project's scripts: names, sidecars, and what its runs of the last 7 days did.

    \b
      bth lint
      bth lint --fix --project-root ~/proj

    Prints one line per finding, `path[:line]: severity rule: message`. Errors (naming,
    sidecar-missing, sidecar-invalid) are in the files; warnings (sidecar-orphan, sidecar-todo,
    stale-ran, tmp-output) are leftovers and recent runs. Exits 1 when there are errors, 0
    otherwise, 2 on bad usage (no project here).
    """
    import attrs

    from bathos.lint import lint_project

    report = lint_project(project_root, fix=fix)
    for path in report.fixed:
        click.echo(f"bth: wrote {path}, a skeleton sidecar: fill in its TODOs", err=True)
    if json_:
        render.echo_json([attrs.asdict(f) for f in report.findings])
    else:
        for f in report.findings:
            place = f"{f.path}:{f.line}" if f.line else f.path
            fixable = " [fixable: bth lint --fix]" if f.fixable else ""
            click.echo(f"{place}: {f.severity} {f.rule}: {f.message}{fixable}")
    errors, warnings = len(report.errors), len(report.warnings)
    click.echo(f"bth: {render.counted(errors, 'error')}, {render.counted(warnings, 'warning')} "
               f"in {report.root}", err=True)
    sys.exit(1 if errors else 0)


@click.command("new-experiment")
@click.argument("name")
@click.option("--kind", type=click.Choice(["experiment", "benchmark", "validation"]),
              default="experiment", show_default=True,
              help="Which folder and sidecar kind: scripts/experiments, benchmarks or validation.")
def new_experiment(name: str, kind: str) -> None:
    """Write a script using @bth.experiment that logs results, and a sidecar that judges them.

    \b
      bth new-experiment fit_slope
      bth run scripts/experiments/fit_slope.py

    NAME follows the folder's naming rule (verb_noun: snake_case, at least two words). The script
    is a Typer command when the project's interpreter has Typer, else argparse. Neither file is
    overwritten: exits 2 when one exists, or NAME breaks the rule.
    """
    from bathos.scaffold import new_experiment as scaffold

    made = scaffold(name, kind)
    root = Path.cwd()
    for path in (made.script, made.sidecar):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        click.echo(f"  created {shown}", err=True)
    script = made.script.relative_to(root) if made.script.is_relative_to(root) else made.script
    cli = "a Typer command" if made.uses_typer else (
        "argparse: the project's interpreter has no Typer")
    click.echo(f"A new {kind} script ({cli}) and its sidecar; run it: bth run {script}",
               err=True)
