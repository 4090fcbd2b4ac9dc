"""What `bth check` says made a run stale, as a user reads it: real `bth run` and `bth check`
processes in a real git repository."""

from __future__ import annotations

from freshness_helpers import CHANGED_MODEL, MODEL_SOURCE, SUMMARISE, Project

from bathos_cli.check import EXIT_STALE


def reason_lines(proj: Project, *args: str) -> list[str]:
    """The reasons `bth check -v ARGS` prints, one a line, each as the user reads it: the first
    after the run's id and script, the others indented below it."""
    done = proj.bth("check", "-v", *args)
    assert done.returncode == EXIT_STALE, done.stderr
    lines = []
    for line in done.stdout.splitlines():
        if line.startswith("      "):
            lines.append(line.strip())
        elif line.startswith("  "):
            lines.append(line.split(None, 2)[2])
    return lines


def test_the_summary_counts_runs_in_the_singular_and_the_plural(project: Project) -> None:
    first = project.train()
    one = project.bth("check", first)
    project.summarise("results/summary.txt")
    two = project.bth("check")

    assert one.stderr.strip() == "1 run checked: 1 fresh"
    assert two.stderr.strip() == "2 runs checked: 2 fresh"


def test_a_reverted_dirty_edit_is_not_called_uncommitted(project: Project) -> None:
    initial = project.git("rev-parse", "HEAD")
    project.write("physics/model.py", CHANGED_MODEL)  # edited, not committed, then run
    run_id = project.train()
    project.git("checkout", "--", "physics/model.py")  # the edit reverted: a clean tree

    assert project.git("status", "--porcelain") == ""
    assert reason_lines(project, run_id) == [
        "physics/model.py modified (differs from the run's uncommitted edit, "
        f"now as committed in {initial[:10]})"]


def test_the_first_commit_that_made_a_run_stale_is_named(project: Project) -> None:
    project.write("physics/model.py", CHANGED_MODEL)
    run_id = project.train()  # on the dirty edit
    project.commit("triple the scale")  # the run's own edit committed: still fresh
    project.write("README.md", "# a project, documented\n")
    project.commit("docs")
    project.write("physics/model.py", MODEL_SOURCE)
    first = project.commit("back to double")
    for factor in (4, 5):
        project.write("physics/model.py", f"def scale(n):\n    return n * {factor}\n")
        project.commit(f"scale by {factor}")

    assert reason_lines(project, run_id) == [
        f"physics/model.py modified in commit {first[:10]} (and 2 later commits)"]
    project.write("physics/model.py", "def scale(n):\n    return n * 6\n")
    assert reason_lines(project, run_id) == [
        f"physics/model.py modified in commit {first[:10]} "
        "(and 2 later commits, and uncommitted edits)"]


def test_files_git_does_not_keep_say_so(project: Project) -> None:
    project.write("results/cache.csv", "x,y\n1,2\n")  # results/ is git-ignored
    project.write("data/extra.csv", "x,y\n1,2\n")  # untracked
    ignored = project.train("results/a.txt", src="results/cache.csv")
    untracked = project.train("results/b.txt", src="data/extra.csv")
    project.write("results/cache.csv", "x,y\n1,3\n")
    project.write("data/extra.csv", "x,y\n1,3\n")

    assert reason_lines(project, ignored) == ["results/cache.csv modified (git-ignored)"]
    assert reason_lines(project, untracked) == ["data/extra.csv modified (untracked)"]


def test_a_difference_against_a_revision_names_it(project: Project) -> None:
    before = project.git("rev-parse", "HEAD")
    project.write("physics/model.py", CHANGED_MODEL)
    run_commit = project.commit("triple the scale")
    clean = project.train("results/a.txt")
    project.write("physics/model.py", "def scale(n):\n    return n * 4\n")
    dirty = project.train("results/b.txt")  # on an uncommitted edit
    project.git("checkout", "--", "physics/model.py")

    older = reason_lines(project, "--against", before, clean)
    head = reason_lines(project, "--against", "main", dirty)

    assert older == [f"physics/model.py modified (differs in {before}, which does not contain "
                     f"the run's commit {run_commit[:10]})"]
    assert head == ["physics/model.py modified (differs from the run's uncommitted edit, "
                    f"in main as committed in {run_commit[:10]})"]
    assert not any("uncommitted)" in line for line in older + head)


def test_verbose_shows_the_upstream_reason_of_a_run_stale_itself(project: Project) -> None:
    parent = project.train("results/a.txt")
    child = project.summarise("results/b.txt", derived_from=parent)
    project.write("physics/model.py", CHANGED_MODEL)  # the parent's module
    project.write(SUMMARISE, "import sys\nprint(sys.argv)\n")  # the child's own script

    terse = project.bth("check", child)
    verbose = reason_lines(project, child)

    assert terse.stdout.splitlines() == [
        "stale (1)", f"  {child[:12]}  {SUMMARISE}  {SUMMARISE} modified (uncommitted)"]
    assert verbose == [
        f"{SUMMARISE} modified (uncommitted)",
        f"{parent[:12]} upstream (parent run is stale: physics/model.py modified (uncommitted))"]
