"""`bth init`, bad input to `bth run`, its labelling flags, `bth lineage` and `bth demo`, all run as
real `bth` processes against real git repositories; results checked through `bathos.Catalog`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from gitrepo import git, make_repo
from project import init_test_project

from bathos import Catalog

SCRIPT_DIRS = ("experiments", "analysis", "validation", "benchmarks", "data", "slurm", "debug",
               "explore", "scratch")
TEMPLATE = Path(__file__).parents[2] / "bathos" / "templates" / "bth_env.sh"


def env() -> dict[str, str]:
    """os.environ (with the test's BTH_HOME), a hermetic git, and this venv active for scripts."""
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith("SLURM_") and k not in ("BTH_PROJECT_SLUG", "BTH_RUN_ID")}
    return {**kept, "VIRTUAL_ENV": sys.prefix, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull}


def bth(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bathos_cli", *args], cwd=cwd, env=env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                          check=False)


def started(done: subprocess.CompletedProcess[str]) -> str:
    """The short id `bth run` announced on stderr."""
    found = re.search(r"bth: run (\w+) started", done.stderr)
    assert found, done.stderr
    return found.group(1)


def tree_state(*roots: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns)
            for root in roots for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def registry(bth_home: Path) -> dict[str, str]:
    data = tomllib.loads((bth_home / "projects.toml").read_text())
    return {slug: entry["path"] for slug, entry in data["projects"].items()}


def assert_one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# -- bth init --------------------------------------------------------------------------------------


def test_init_writes_config_skeleton_helper_and_registry(tmp_path: Path, bth_home: Path) -> None:
    root = make_repo(tmp_path / "My_Proj")

    done = bth(root, "init", "--remote", "cluster=login.hpc:~/.bth", "--slurm-partition", "gpu")

    assert done.returncode == 0, done.stderr
    assert "initialised" in done.stderr and done.stdout == ""
    assert tomllib.loads((root / ".bth.toml").read_text()) == {
        "project": {"slug": "my_proj", "sync_filter": "project"},
        "remotes": {"cluster": {"host": "login.hpc", "path": "~/.bth"}},
        "slurm": {"partition": "gpu"},
    }
    assert all((root / "scripts" / name).is_dir() for name in SCRIPT_DIRS)
    helper = root / "scripts" / "slurm" / "_bth_env.sh"
    recorded = Path(sys.executable).parent / "bth"  # the bth this init ran from
    assert helper.read_text() == TEMPLATE.read_text().replace(
        '_bth_recorded=""', f"_bth_recorded={recorded}")
    assert os.access(helper, os.X_OK)
    (root / "scripts" / "scratch" / "260101_try.py").write_text("x = 1\n")
    assert git(root, "check-ignore", "scripts/scratch/260101_try.py")
    assert git(root, "status", "--porcelain", "--untracked-files=all").count("scratch") == 0
    assert registry(bth_home) == {"my_proj": str(root.resolve())}


def test_init_with_a_slug(tmp_path: Path, bth_home: Path) -> None:
    root = make_repo(tmp_path / "proj")

    assert bth(root, "init", "--slug", "water-models").returncode == 0

    assert tomllib.loads((root / ".bth.toml").read_text())["project"]["slug"] == "water-models"
    assert registry(bth_home) == {"water-models": str(root.resolve())}


def test_init_twice_changes_nothing(tmp_path: Path, bth_home: Path) -> None:
    root = make_repo(tmp_path / "proj")
    (root / ".gitignore").write_text("outputs/\n")
    assert bth(root, "init", "--slurm-partition", "gpu").returncode == 0
    before = tree_state(root, bth_home)

    again = bth(root, "init")
    same_options = bth(root, "init", "--slurm-partition", "gpu")

    assert again.returncode == same_options.returncode == 0
    assert "nothing changed" in again.stderr
    assert tree_state(root, bth_home) == before
    assert (root / ".gitignore").read_text().startswith("outputs/\n")


def test_init_says_which_files_it_created_and_which_it_updated(tmp_path: Path,
                                                               bth_home: Path) -> None:
    fresh = make_repo(tmp_path / "fresh")
    kept = make_repo(tmp_path / "kept")
    (kept / ".gitignore").write_text("outputs/\n")

    created = bth(fresh, "init").stderr.splitlines()
    appended = bth(kept, "init").stderr.splitlines()

    assert "  created .gitignore" in created
    assert "  updated .gitignore" in appended and "  created .gitignore" not in appended
    assert "  created .bth.toml" in appended
    assert f"  updated {bth_home / 'projects.toml'}" in appended
    assert (kept / ".gitignore").read_text().startswith("outputs/\n")


def test_init_with_bth_home_a_file_writes_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "proj")
    home = tmp_path / "home-file"
    home.write_text("not a directory\n")

    done = subprocess.run([sys.executable, "-m", "bathos_cli", "init"], cwd=root,
                          env={**env(), "BTH_HOME": str(home)}, capture_output=True, text=True,
                          timeout=120, check=False)

    assert_one_error_line(done, str(home), "Not a directory")
    assert sorted(p.name for p in root.iterdir()) == [".git"]


def test_init_refuses_to_overwrite_a_different_config_without_force(tmp_path: Path,
                                                                    bth_home: Path) -> None:
    root = make_repo(tmp_path / "proj")
    assert bth(root, "init", "--slug", "abc").returncode == 0
    config = root / ".bth.toml"
    original = config.read_bytes()

    refused = bth(root, "init", "--slug", "xyz")

    assert_one_error_line(refused, "already exists", "--force")
    assert config.read_bytes() == original
    forced = bth(root, "init", "--slug", "xyz", "--force")
    assert forced.returncode == 0, forced.stderr
    assert tomllib.loads(config.read_text())["project"]["slug"] == "xyz"
    assert registry(bth_home) == {"xyz": str(root.resolve())}


def test_init_in_a_moved_project_updates_the_registry(tmp_path: Path, bth_home: Path) -> None:
    old = make_repo(tmp_path / "old" / "proj")
    assert bth(old, "init").returncode == 0
    new = tmp_path / "new" / "proj"
    new.parent.mkdir()
    shutil.move(old, new)

    done = bth(new, "init")

    assert done.returncode == 0, done.stderr
    assert registry(bth_home) == {"proj": str(new.resolve())}


def test_init_outside_git_warns(tmp_path: Path, bth_home: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()

    done = bth(root, "init")

    assert done.returncode == 0, done.stderr
    assert re.search(r"warning: .*not inside a git repository", done.stderr)
    assert (root / ".bth.toml").is_file()
    assert registry(bth_home) == {"plain": str(root.resolve())}


@pytest.mark.parametrize(("args", "fragment"), [
    (("--slug", "my project"), "invalid project slug"),
    (("--remote", "cluster"), "NAME=host:path"),
])
def test_init_bad_input(tmp_path: Path, bth_home: Path, args: tuple[str, ...],
                        fragment: str) -> None:
    root = make_repo(tmp_path / "proj")

    done = bth(root, "init", *args)

    assert_one_error_line(done, fragment)
    assert not (root / ".bth.toml").exists()
    assert not (bth_home / "projects.toml").exists()


# -- bth run: bad input ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "proj")
    init_test_project(root)
    (root / "scripts" / "experiments" / "hello.py").write_text("print('hello')\n")
    (root / "notes.txt").write_text("not executable\n")
    (root / "bad_interpreter.sh").write_text("#!/no/such/interpreter\necho hi\n")
    (root / "bad_interpreter.sh").chmod(0o755)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.mark.parametrize(("args", "fragment"), [
    (("scripts/experiments/missing.py",), "does not exist"),
    (("scripts/experiments",), "is a directory"),
    (("--", "no-such-cmd-xyz"), "not found"),
    (("--", "notes.txt"), "neither a .py script nor executable"),
    (("--", "./bad_interpreter.sh"), "cannot start"),
    (("--derived-from", "zzzzzzzz", "scripts/experiments/hello.py"), "zzzzzzzz not found"),
    (("--python", "/no/such/python", "scripts/experiments/hello.py"), "--python"),
    (("--project", "Bad Slug", "scripts/experiments/hello.py"), "invalid project slug"),
])
def test_run_bad_input_records_nothing(project: Path, args: tuple[str, ...],
                                       fragment: str) -> None:
    done = bth(project, "run", *args)

    assert_one_error_line(done, fragment)
    assert len(Catalog().runs()) == 0


def test_an_unknown_option_before_the_script_is_no_such_option(project: Path) -> None:
    done = bth(project, "run", "--tga", "x", "scripts/experiments/hello.py")

    assert done.returncode == 2
    assert "Error: No such option '--tga'." in done.stderr and "'--tag'" in done.stderr
    assert "not found" not in done.stderr and "Traceback" not in done.stderr
    assert len(Catalog().runs()) == 0


def test_options_after_the_script_are_the_script_s(project: Path) -> None:
    done = bth(project, "run", "scripts/experiments/hello.py", "--tga", "x", "--tag", "y")

    assert done.returncode == 0, done.stderr
    run = Catalog().get(started(done))
    assert (run.argv, run.tags) == (("--tga", "x", "--tag", "y"), ())


@pytest.mark.parametrize(("typed", "suggested"), [
    ("sqll", "Did you mean 'sql'?"),
    ("lgs", "(Did you mean one of: 'logs', 'ls'?)"),
    ("rnu", "Did you mean 'run'?"),
])
def test_a_mistyped_command_gets_a_suggestion(tmp_path: Path, typed: str, suggested: str) -> None:
    done = bth(tmp_path, typed)

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"Error: No such command {typed!r}. {suggested}"


@pytest.mark.parametrize(("config", "fragments"), [
    ('[project]\nslug = "proj"\nthis is not toml\n', ("not valid TOML", "line 3")),
    ('[project]\nslug = "proj"\n[run]\npython = 3\n', ("run.python",)),
    ('[project]\nslug = "my proj"\n', ("project.slug", "invalid project slug")),
])
def test_run_with_a_bad_config_records_nothing(project: Path, config: str,
                                               fragments: tuple[str, ...]) -> None:
    (project / ".bth.toml").write_text(config)

    done = bth(project, "run", "scripts/experiments/hello.py")

    assert_one_error_line(done, ".bth.toml", *fragments)
    assert len(Catalog().runs()) == 0


def test_a_failing_script_is_a_run_not_an_error(project: Path) -> None:
    (project / "scripts" / "experiments" / "boom.py").write_text("raise SystemExit('boom')\n")

    done = bth(project, "run", "scripts/experiments/boom.py")

    assert done.returncode == 1
    assert "boom" in done.stderr and "Error:" not in done.stderr
    assert Catalog().get(started(done)).status == "failed"


# -- bth run: labels -------------------------------------------------------------------------------


def test_run_labels_are_stored(project: Path, bth_home: Path) -> None:
    Catalog().create_campaign("c1", project="other", hypothesis="the labels are kept")
    done = bth(project, "run", "--tag", "baseline", "--tag", "tip3p", "--name", "first try",
               "--agent-mode", "autonomous", "--campaign", "c1", "--project", "other",
               "scripts/experiments/hello.py")

    assert done.returncode == 0, done.stderr
    run = Catalog().get(started(done))
    assert (run.project, run.name, run.tags) == ("other", "first try", ("baseline", "tip3p"))
    assert (run.agent_mode, run.campaign_id, run.parent_run_id) == ("autonomous", "c1", None)
    assert (bth_home / "catalog" / "runs" / "other" / f"{run.id}.json").is_file()


def test_unknown_agent_mode_is_a_usage_error(project: Path) -> None:
    done = bth(project, "run", "--agent-mode", "sometimes", "scripts/experiments/hello.py")

    assert done.returncode == 2
    assert "sometimes" in done.stderr
    assert len(Catalog().runs()) == 0


# -- bth lineage -----------------------------------------------------------------------------------

WRITE_CSV = "import sys\nopen(sys.argv[2], 'w').write('a,b\\n1,2\\n')\n"
READ_CSV = ("import sys\ndata = open(sys.argv[2]).read()\n"
            "open(sys.argv[4], 'w').write(str(len(data)))\n")


@pytest.fixture
def chain(project: Path) -> dict[str, str]:
    """Run `a` writes a.csv; `b` reads it with --derived-from a; `c` reads it without."""
    experiments = project / "scripts" / "experiments"
    (experiments / "write_csv.py").write_text(WRITE_CSV)
    (experiments / "read_csv.py").write_text(READ_CSV)
    (project / "outputs").mkdir()
    a = bth(project, "run", "scripts/experiments/write_csv.py", "--", "--out", "outputs/a.csv")
    b = bth(project, "run", "--derived-from", started(a), "scripts/experiments/read_csv.py",
            "--", "--data", "outputs/a.csv", "--out", "outputs/b.txt")
    c = bth(project, "run", "scripts/experiments/read_csv.py",
            "--", "--data", "outputs/a.csv", "--out", "outputs/c.txt")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr + b.stderr + c.stderr
    return {name: Catalog().get(started(done)).id for name, done in zip("abc", (a, b, c),
                                                                          strict=True)}


def edges(run_id: str, *, descendants: bool = False) -> set[tuple[str, str, bool]]:
    graph = Catalog().lineage(run_id, descendants=descendants)
    return {(e.parent, e.child, e.inferred) for e in graph.edges}


def test_derived_from_and_inferred_lineage(project: Path, chain: dict[str, str]) -> None:
    a, b, c = chain["a"], chain["b"], chain["c"]

    text = bth(project, "lineage", b[:8])
    descendants = bth(project, "lineage", a, "--descendants")
    as_json = bth(project, "lineage", c, "--format", "json")
    dot = bth(project, "lineage", c, "--format", "dot")

    assert text.returncode == descendants.returncode == as_json.returncode == dot.returncode == 0
    assert a[:8] in text.stdout
    assert b[:8] in descendants.stdout and c[:8] in descendants.stdout
    graph = json.loads(as_json.stdout)
    assert graph["root"] == c
    assert [(e["parent"], e["child"], e["inferred"]) for e in graph["edges"]] == [(a, c, True)]
    assert set(graph["nodes"]) == {a, c}
    assert dot.stdout.startswith("digraph")
    assert a[:8] in dot.stdout and c[:8] in dot.stdout
    run_b = Catalog().get(b)
    assert run_b.parent_run_id == a
    assert {d.path for d in run_b.dependencies if d.role == "input"} == {"outputs/a.csv"}
    assert edges(b) == {(a, b, False)}  # explicit wins over the inferred edge it also has
    assert edges(c) == {(a, c, True)}
    assert edges(a) == set()
    assert edges(a, descendants=True) == {(a, b, False), (a, c, True)}


def test_an_input_has_one_parent_the_latest_run_that_wrote_its_bytes(project: Path) -> None:
    """Fixed seeds write identical files: each reader's parent is the newest producer of those
    bytes at that path before it started, else (a copied file) the newest producer anywhere."""
    experiments = project / "scripts" / "experiments"
    (experiments / "write_csv.py").write_text(WRITE_CSV)
    (experiments / "read_csv.py").write_text(READ_CSV)
    (project / "outputs").mkdir()

    def run(script: str, *args: str) -> str:
        done = bth(project, "run", f"scripts/experiments/{script}", "--", *args)
        assert done.returncode == 0, done.stderr
        return Catalog().resolve(started(done))

    def read(data: str, out: str) -> str:
        return run("read_csv.py", "--data", data, "--out", out)

    first = run("write_csv.py", "--out", "outputs/a.csv")
    early = read("outputs/a.csv", "outputs/early.txt")
    second = run("write_csv.py", "--out", "outputs/a.csv")  # the same bytes, again
    late = read("outputs/a.csv", "outputs/late.txt")
    elsewhere = run("write_csv.py", "--out", "outputs/b.csv")
    shutil.copy(project / "outputs" / "b.csv", project / "outputs" / "copy.csv")
    copied = read("outputs/copy.csv", "outputs/copied.txt")

    assert edges(early) == {(first, early, True)}
    assert edges(late) == {(second, late, True)}
    assert edges(copied) == {(elsewhere, copied, True)}
    assert edges(first, descendants=True) == {(first, early, True)}
    assert edges(second, descendants=True) == {(second, late, True)}


def test_lineage_of_an_unknown_run(project: Path) -> None:
    done = bth(project, "lineage", "zzzzzzzz")

    assert done.returncode == 2
    assert done.stderr.startswith("Error: run zzzzzzzz not found")


# -- bth demo --------------------------------------------------------------------------------------


def test_demo_tells_the_story_in_its_own_home(tmp_path: Path, bth_home: Path) -> None:
    demo = tmp_path / "demo"

    done = bth(tmp_path, "demo", "--dir", str(demo))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Explore further" in done.stdout
    assert done.stdout.rstrip().endswith("bth report -o report.html writes the same pages into "
                                         "one file)")  # the demo ends telling of bth view
    cat = Catalog(demo / "bth-home" / "catalog")
    runs = [r for r in cat.runs().to_dicts() if r["campaign_id"] is None]
    assert sorted(r["status"] for r in runs) == ["completed"] * 4 + ["failed"]
    # a seed sweep into a campaign, reviewed: the verdict first, the physics edit a confound
    sweep = cat.campaign("steps").runs().to_dicts()
    assert sorted((r["params"]["n_steps"], r["dirty"]) for r in sweep) == [
        ("100", False), ("100", False), ("100", True), ("300", False), ("300", False),
        ("300", True)]
    review = done.stdout.split("$ bth campaign review steps\n", 1)[1].splitlines()
    assert review[0].startswith("n_steps=300 shows no clear difference from baseline "
                                "(n_steps=100) on spread: +")
    assert review[0].endswith("n = 3 vs 3")
    assert any(line.startswith("confound") and line.endswith(
        "n_steps=100 ran from 2 versions of the code it read: sim/physics.py differs")
        for line in review)
    [rerun] = [r for r in runs if "rerun" in r["tags"]]
    [dirty] = [r for r in runs if r["dirty"] and r is not rerun]
    assert rerun["parent_run_id"] == dirty["id"]
    assert sum(r["parent_run_id"] is not None for r in runs) == 2  # the summary and the rerun
    assert f"outputs byte-identical to run {dirty['id'][:12]}'s (1 file)" in done.stderr
    # the metric history of the dirty run, and its diff from the first simulation
    history = cat.metrics([dirty["id"]])
    assert history["step"].to_list() == list(range(30, 301, 30))
    assert history["value"][-1] == pytest.approx(dirty["results"]["spread"], abs=1e-6)
    assert "-DAMPING = 0.95" in done.stdout and "+DAMPING = 0.90" in done.stdout
    assert "outcome: too_wide → bounded" in done.stdout  # bth diff names the sidecar's verdicts
    # the sidecars judged each run: the physics edit turned too_wide into bounded
    outcomes = {r["id"]: (o.label if (o := cat.get(r["id"]).outcome) else "-") for r in runs}
    assert outcomes[dirty["id"]] == outcomes[rerun["id"]] == "bounded"
    assert sorted(outcomes.values()) == ["-", "bounded", "bounded", "error", "too_wide"]
    assert not (bth_home / "projects.toml").exists()
    assert registry(demo / "bth-home") == {"particles": str((demo / "particles").resolve())}


def test_the_demo_s_commands_can_be_pasted_into_a_shell(tmp_path: Path) -> None:
    demo = tmp_path / "my demo"  # a space in the path, too
    done = bth(tmp_path, "demo", "--dir", str(demo))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    [sql] = [line[2:] for line in lines if line.startswith("$ bth sql ")]
    [explore] = [line.split(": ", 1)[1] for line in lines if line.startswith("Explore further")]
    shell = {**env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
             "BTH_HOME": str(demo / "bth-home")}

    pasted = [subprocess.run(["bash", "-c", line], cwd=demo / "particles", env=shell,
                             capture_output=True, text=True, timeout=120, check=False)
              for line in (sql, explore)]

    assert [p.returncode for p in pasted] == [0, 0], [p.stderr for p in pasted]
    assert "completed" in pasted[0].stdout and "failed" in pasted[0].stdout
    assert pasted[1].stdout.count("particles") >= 4
