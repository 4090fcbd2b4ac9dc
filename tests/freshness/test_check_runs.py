"""`bathos.check` against real repositories, with runs recorded by real `bth run` processes."""

from __future__ import annotations

import polars as pl
from freshness_helpers import CHANGED_MODEL, Project, check, reason_for
from project import SIDECAR


def test_fresh_after_a_commit_that_touches_other_files(project: Project) -> None:
    run_id = project.train()
    project.write("README.md", "# a project\n\nNow with more words.\n")
    project.write("notes/todo.py", "TODO = []\n")
    project.commit("docs")

    verdict = project.verdict(run_id)

    assert verdict.verdict == "fresh"
    assert verdict.reasons == ()


def test_stale_when_an_imported_module_changes_committed_or_not(project: Project) -> None:
    run_id = project.train()
    project.write("physics/model.py", CHANGED_MODEL)

    uncommitted = reason_for(project.verdict(run_id), "physics/model.py")
    commit = project.commit("triple the scale")
    committed = project.verdict(run_id)

    assert (uncommitted.how, uncommitted.role, uncommitted.detail, uncommitted.commit) == (
        "modified", "module", "uncommitted", None)
    assert committed.verdict == "stale"
    assert [(r.path, r.how, r.commit) for r in committed.reasons] == [
        ("physics/model.py", "modified", commit)]


def test_stale_when_the_sidecar_or_an_input_changes(project: Project) -> None:
    run_id = project.train()

    project.write("scripts/experiments/train.bth.toml", SIDECAR.replace("exploration", "ablation"))
    sidecar = project.verdict(run_id)
    project.git("checkout", "--", "scripts/experiments/train.bth.toml")
    restored = project.verdict(run_id)
    project.write("data/input.csv", "x,y\n1,3\n")
    commit = project.commit("new data")
    data = project.verdict(run_id)

    assert [(r.path, r.how, r.role) for r in sidecar.reasons] == [
        ("scripts/experiments/train.bth.toml", "modified", "sidecar")]
    assert restored.verdict == "fresh"
    assert [(r.path, r.how, r.role, r.commit) for r in data.reasons] == [
        ("data/input.csv", "modified", "input", commit)]


def test_a_deleted_module_and_a_renamed_one(project: Project) -> None:
    run_id = project.train()

    project.git("rm", "-q", "physics/units.py")
    deleted_in = project.commit("drop units")
    deleted = project.verdict(run_id)
    project.git("reset", "-q", "--hard", "HEAD~1")
    project.git("mv", "physics/model.py", "physics/scaling.py")
    renamed = project.verdict(run_id)

    units = reason_for(deleted, "physics/units.py")
    assert (units.how, units.commit) == ("deleted", deleted_in)
    model = reason_for(renamed, "physics/model.py")
    assert (model.how, model.detail) == ("renamed", "now physics/scaling.py")


def test_stale_upstream_through_a_two_level_chain(project: Project) -> None:
    a = project.train("results/a.txt")
    b = project.summarise("results/b.txt", derived_from=a)
    c = project.summarise("results/c.txt", src="results/b.txt")  # inferred: reads b's output
    other = project.summarise("results/other.txt")

    project.write("physics/model.py", CHANGED_MODEL)
    report = check()
    by_id = {v.run_id: v for v in report.verdicts}

    assert by_id[a].verdict == "stale"
    assert by_id[b].verdict == "stale-upstream"
    assert by_id[b].reasons[0].path == a[:12]
    assert by_id[c].verdict == "stale-upstream"
    assert by_id[c].reasons[0].path == b[:12]
    assert by_id[other].verdict == "fresh"
    assert project.verdict(c).verdict == "stale-upstream"  # the chain is followed for one run
    frame = report.to_polars()
    assert frame.height == len(report.verdicts) == 4
    assert frame.schema["reasons"] == pl.List(pl.Struct({
        "path": pl.String, "how": pl.String, "role": pl.String, "detail": pl.String,
        "commit": pl.String}))
    upstream = frame.filter(pl.col("run_id") == c).explode("reasons").unnest("reasons")
    assert upstream.select("verdict", "path", "how").rows() == [
        ("stale-upstream", b[:12], "upstream")]


def test_an_upstream_chain_stays_fresh_when_nothing_changed(project: Project) -> None:
    a = project.train("results/a.txt")
    b = project.summarise("results/b.txt", derived_from=a)
    c = project.summarise("results/c.txt", src="results/b.txt")

    report = check(check_outputs=True)

    assert {v.run_id: v.verdict for v in report.verdicts} == dict.fromkeys((a, b, c), "fresh")
    assert report.ok


def test_outputs_missing_modified_and_unverified(project: Project) -> None:
    run_id = project.train()
    huge_run = project.bth_run("--out", "results/huge.txt", "--", "sh", "-c",
                               "head -c 4000 /dev/zero > results/huge.txt",
                               env={"BTH_HASH_CAP_MB": "0.0001"}).id
    child = project.summarise("results/child.txt", derived_from=run_id)

    (project.root / "results/out.txt").write_text("edited\n")
    unchecked = project.verdict(run_id)
    edited = project.verdict(run_id, check_outputs=True)
    (project.root / "results/out.txt").unlink()
    missing = project.verdict(run_id, check_outputs=True)
    huge = project.verdict(huge_run, check_outputs=True)

    assert unchecked.outputs == ()
    assert [(o.path, o.state) for o in edited.outputs] == [("results/out.txt", "modified")]
    assert edited.verdict == "fresh" and not edited.is_ok
    assert [(o.path, o.state) for o in missing.outputs] == [("results/out.txt", "missing")]
    assert [(o.path, o.state) for o in huge.outputs] == [("results/huge.txt", "unverified")]
    assert huge.is_ok
    assert project.verdict(child).verdict == "stale-upstream"
    assert "results/out.txt is missing" in project.verdict(child).reasons[0].detail


def test_a_parent_output_changed_makes_its_child_stale_upstream_whatever_is_checked(
        project: Project) -> None:
    parent = project.train("results/a.txt")
    child = project.summarise("results/b.txt", derived_from=parent)
    (project.root / "results/a.txt").write_text("edited by hand\n")

    alone = project.verdict(child)
    together = {v.run_id: v for v in check().verdicts}

    assert alone.verdict == "stale-upstream"
    assert together[child] == alone
    assert together[parent].verdict == "fresh"
    assert together[parent].outputs == ()  # outputs are shown only when asked for
