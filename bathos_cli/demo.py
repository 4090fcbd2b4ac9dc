"""`bth demo`: a guided tour on a scratch project, with real runs and the real commands.

The project is a copy of `examples/demo` (shipped inside the wheel as `bathos/examples`), made a
git repository with two commits. Only the demo commits on a user's behalf, so that code lives here
rather than in bathos' git provenance, which never moves HEAD.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from bathos_cli import render

DEMO_NAME = "particles"
# The demo's campaign: a seed sweep of the simulation, 100 against 300 steps.
SWEEP = "steps"
SWEEP_STEPS = (100, 300)
SWEEP_SEEDS = (11, 12, 13)


def _say(text: str) -> None:
    click.echo()
    click.secho(text, fg="cyan", bold=True)


class _Tour:
    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.env = {**os.environ, "BTH_HOME": str(home)}
        self.env.pop("BTH_CATALOG_DIR", None)
        self.env.pop("BTH_RUN_ID", None)

    def bth(self, *args: str) -> None:
        """Show and run one command, its output going straight to the terminal."""
        import subprocess  # here, not at the top: `bth --help` imports every command module

        click.secho("$ " + shlex.join(["bth", *args]), bold=True)  # as it would be pasted
        subprocess.run([sys.executable, "-m", "bathos_cli", *args], cwd=self.root, env=self.env,
                       check=False)

    def sweep(self, commands: list[list[str]]) -> None:
        """Show and run commands one after the other, each one's own output shown only if it
        fails (one at a time: runs in one tree at once would each take the others' new files
        for outputs of their own)."""
        import subprocess

        for args in commands:
            click.secho("$ " + shlex.join(["bth", *args]), bold=True)
            done = subprocess.run([sys.executable, "-m", "bathos_cli", *args], cwd=self.root,
                                  env=self.env, capture_output=True, text=True, check=False)
            if done.returncode:
                click.echo(done.stdout + done.stderr, nl=False)

    def newest_id(self) -> str:
        from bathos.catalog.catalog import Catalog

        newest = Catalog(Path(self.env["BTH_HOME"]) / "catalog").runs(all_projects=True, limit=1)
        return str(newest[0]["id"])[: render.SHORT_ID]


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the demo project (default: a new temporary directory).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="BTH_HOME for the demo (default: a scratch one beside the project).")
def demo(directory: Path | None, home: Path | None) -> None:
    """Tour bathos on a scratch project: tracked runs, a failure, a campaign's seed sweep, a
    dirty tree, lineage, sidecar outcomes, a metric history, a diff of two runs, a rerun and
    the campaign's review."""
    import tempfile

    base = directory or Path(tempfile.mkdtemp(prefix="bth-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    home = (home or base / "bth-home").resolve()
    os.environ["BTH_HOME"] = str(home)  # `bth init` registers the demo there, not in yours
    root = prepare_demo_project(base.resolve(), python=sys.executable)
    tour = _Tour(root, home)
    _say(f"A small git project in {root}, registered with `bth init`. Let's run its scripts.")
    tour.bth("run", "scripts/experiments/simulate_particles.py", "--",
             "--n-steps", "300", "--seed", "1", "--out", "outputs/sim.csv")
    sim = tour.newest_id()
    _say("The summary reads the simulation's CSV and says it derives from that run:")
    tour.bth("run", "--derived-from", sim, "scripts/analysis/summarize_positions.py", "--",
             "--data", "outputs/sim.csv", "--out", "outputs/summary.json")
    summary = tour.newest_id()
    _say("A run that fails is recorded too, with its exit code and logs:")
    tour.bth("run", "--tag", "tuning", "scripts/experiments/fit_unstable_model.py", "--",
             "--learning-rate", "10")
    _say("A campaign groups runs under a hypothesis stated before they run. A small seed sweep "
         "into one: does the spread grow from 100 to 300 steps?")
    tour.bth("campaign", "create", SWEEP, "--hypothesis",
             "After 300 steps the walkers spread wider than after 100")
    tour.sweep([_sweep_run(n, seed) for seed in SWEEP_SEEDS[:2] for n in SWEEP_STEPS])
    edited = change_physics(root)
    _say(f"Now {edited.relative_to(root)} is edited but not committed, and the sweep's last "
         "seed runs:")
    tour.sweep([_sweep_run(n, SWEEP_SEEDS[2]) for n in SWEEP_STEPS])
    _say("bathos snapshots the dirty tree and pins it, so this exact code stays reachable:")
    tour.bth("run", "scripts/experiments/simulate_particles.py", "--",
             "--n-steps", "300", "--seed", "2", "--out", "outputs/sim2.csv")
    sim2 = tour.newest_id()
    _say("Every run of the project, newest first (the * marks a dirty tree):")
    tour.bth("ls")
    _say("The simulation's sidecar (simulate_particles.bth.toml) said before it ran what each "
         "result would mean; bth run judged each run by it. The physics edit turned too_wide "
         "into bounded; the failed fit is an error:")
    tour.bth("ls", "-c", "id,script,status,results.spread,outcome")
    _say("Which code, arguments, environment and host made the second simulation, how its "
         "sidecar judged it (the outcome, the condition that fired, the values it saw), and what "
         "it produced:")
    tour.bth("show", sim2)
    _say("Where the summary came from:")
    tour.bth("lineage", summary)
    _say("Which results are still valid? The physics edit made the first simulation stale, and "
         "the summary built on it stale-upstream (exit code 1 says so to scripts and CI):")
    tour.bth("check", "-v", "--check-outputs")
    _say("The simulation logs its spread every 30 steps (bth.log(step=t, spread=…)); the "
         "history of a run:")
    tour.bth("metrics", sim2)
    _say("What differs between the two simulations: the uncommitted physics edit (a diff from "
         "the pinned code), the seed, the output, the results:")
    tour.bth("diff", sim, sim2)
    _say("Rerun the dirty-tree run from its pinned snapshot, in a scratch checkout (it would "
         "work just the same after the edit is gone): are its outputs byte-identical?")
    tour.bth("rerun", sim2)
    _say("The campaign's review: statistics per arm, each arm against the baseline (Welch's "
         "interval, Hedges' g, Holm-adjusted p-values) and anomalies, the verdicts first. Three "
         "seeds settle nothing here, and the review says why: the physics edit mid-sweep left "
         "each arm with two versions of sim/physics.py:")
    tour.bth("campaign", "review", SWEEP)
    _say("Ask anything with SQL:")
    tour.bth("sql", "SELECT status, count(*) AS runs, round(avg(duration_s), 2) AS avg_s "
             "FROM runs GROUP BY status ORDER BY status")
    _say(f"Explore further: cd {shlex.quote(str(root))} && "
         f"BTH_HOME={shlex.quote(tour.env['BTH_HOME'])} bth ls")
    _say("See it all in a browser (the runs, each run's charts and lineage, comparisons, the "
         "campaign's review), served on this machine until Ctrl-C: cd "
         f"{shlex.quote(str(root))} && BTH_HOME={shlex.quote(tour.env['BTH_HOME'])} bth view "
         "(bth report -o report.html writes the same pages into one file)")


def _sweep_run(n_steps: int, seed: int) -> list[str]:
    return ["run", "--campaign", SWEEP, "scripts/experiments/simulate_particles.py", "--",
            "--n-steps", str(n_steps), "--seed", str(seed),
            "--out", f"outputs/{SWEEP}/n{n_steps}-s{seed}.csv"]


def examples_dir() -> Path:
    """Where the example files are: inside the installed package, or beside it in a checkout."""
    import bathos
    from bathos.errors import ConfigError

    here = Path(bathos.__file__).resolve().parent
    for candidate in (here / "examples", here.parent / "examples"):
        if (candidate / "demo").is_dir():
            return candidate
    raise ConfigError("the bathos examples are missing from this installation (reinstall bathos)")


def prepare_demo_project(directory: Path, *, python: str) -> Path:
    """Copy the demo into `directory/particles`, commit it, and make it a bathos project.

    `python` is the interpreter its scripts run with (one where `import bth` works).
    """
    import shutil

    from bathos.errors import ConfigError
    from bathos.projects import init_project

    root = directory / DEMO_NAME
    if root.exists():
        raise ConfigError(f"{root} already exists (give an empty --dir)")
    shutil.copytree(examples_dir() / "demo", root,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / ".gitignore").write_text("outputs/\n__pycache__/\n")
    _commit_all(root, "Particle simulation: first version")
    init_project(root, python=python)
    _commit_all(root, "Track experiments with bathos")
    return root


def _commit_all(root: Path, message: str) -> None:
    """Make `root` a repository if needed and commit every non-ignored file on its branch."""
    import pygit2

    from bathos.errors import ProvenanceError

    try:
        repo = (pygit2.Repository(str(root)) if (root / ".git").exists()
                else pygit2.init_repository(str(root), initial_head="main"))
        repo.index.add_all()
        repo.index.write()
        tree = repo.index.write_tree()
        who = pygit2.Signature("bathos demo", "demo@bathos.invalid")
        parents = [] if repo.head_is_unborn else [repo.head.target]
        repo.create_commit("HEAD", who, who, message, tree, parents)
    except (pygit2.GitError, OSError) as exc:
        raise ProvenanceError(f"cannot commit the demo project in {root}: {exc}") from exc


def change_physics(root: Path) -> Path:
    """Edit the simulation's physics module (uncommitted), as a researcher would between runs."""
    path = root / "sim" / "physics.py"
    path.write_text(path.read_text().replace("DAMPING = 0.95", "DAMPING = 0.90"))
    return path
