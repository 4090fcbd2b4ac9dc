"""What a run is judged against: its own snapshot, the working tree, the index, or `--against`."""

from __future__ import annotations

import os

import pytest
from freshness_helpers import CHANGED_MODEL, Project, check, reason_for

from bathos.errors import ConfigError


def test_a_run_from_a_dirty_tree_is_judged_against_its_snapshot(project: Project) -> None:
    project.write("physics/model.py", CHANGED_MODEL)  # edited, not committed, then run
    run_id = project.train()

    dirty = project.verdict(run_id)
    edit = project.commit("triple the scale")
    committed = project.verdict(run_id)
    project.git("revert", "--no-edit", edit)
    revert = project.git("rev-parse", "HEAD")
    reverted = project.verdict(run_id)

    assert dirty.verdict == "fresh"
    assert committed.verdict == "fresh"
    assert reverted.verdict == "stale"
    model = reason_for(reverted, "physics/model.py")
    assert (model.how, model.commit) == ("modified", revert)


def test_against_another_branch_and_back(project: Project) -> None:
    run_id = project.train()
    project.git("checkout", "-q", "-b", "experiment")
    project.write("physics/model.py", CHANGED_MODEL)
    changed_on_branch = project.commit("triple the scale on a branch")
    project.git("checkout", "-q", "main")

    here = project.verdict(run_id)
    there = project.verdict(run_id, against="experiment")
    main_ = project.verdict(run_id, against="main")
    project.git("checkout", "-q", "experiment")
    on_branch = project.verdict(run_id)
    back_against_main = project.verdict(run_id, against="main")

    assert here.verdict == "fresh"
    assert there.verdict == "stale"
    model = reason_for(there, "physics/model.py")
    assert (model.how, model.commit) == ("modified", changed_on_branch)
    assert check(runs=[run_id], against="experiment").against == "experiment"
    assert main_.verdict == "fresh"
    assert on_branch.verdict == "stale"
    assert back_against_main.verdict == "fresh"


def test_against_a_revision_where_a_module_is_deleted(project: Project) -> None:
    run_id = project.train()
    project.git("rm", "-q", "physics/units.py")
    gone = project.commit("drop units")
    project.git("checkout", "-q", "HEAD~1")  # the module is back in the working tree

    against = project.verdict(run_id, against=gone)

    units = reason_for(against, "physics/units.py")
    assert (units.how, units.commit) == ("deleted", gone)
    assert project.verdict(run_id).verdict == "fresh"


def test_against_an_unknown_revision_is_bad_input(project: Project) -> None:
    run_id = project.train()

    with pytest.raises(ConfigError, match="nosuchrev"):
        check(runs=[run_id], against="nosuchrev")


def test_files_whose_index_blob_is_not_their_content(project: Project) -> None:
    """A symlinked module and a CRLF input under `text=auto`: git's index keeps the link text and
    the normalised text, so only the content hash can say they are unchanged."""
    project.write("shared/units_impl.py", "METRE = 1.0\nFOOT = 0.3048\n")
    os.remove(project.root / "physics/units.py")
    os.symlink("../shared/units_impl.py", project.root / "physics/units.py")
    project.write(".gitattributes", "*.csv text=auto\n")
    (project.root / "data/input.csv").write_bytes(b"x,y\r\n1,2\r\n")
    project.commit("share units; windows data")
    run_id = project.train()

    fresh = project.verdict(run_id)
    project.write("shared/units_impl.py", "METRE = 1.0\nFOOT = 0.3\n")
    stale = project.verdict(run_id)

    assert fresh.verdict == "fresh", fresh.reasons
    assert [r.describe() for r in stale.reasons] == ["physics/units.py modified (uncommitted)"]


def test_a_racily_clean_index_entry_is_not_trusted(project: Project) -> None:
    """An entry stamped no older than the index itself may hide an edit made in the same tick."""
    run_id = project.train()
    model = project.root / "physics/model.py"
    future = os.stat(model).st_mtime_ns + 3600 * 10**9
    os.utime(model, ns=(future, future))
    project.git("add", "physics/model.py")  # the entry now looks newer than the index

    model.write_text(CHANGED_MODEL.replace("3", "4"))  # same size: only the content differs
    os.utime(model, ns=(future, future))

    assert reason_for(project.verdict(run_id), "physics/model.py").how == "modified"


def test_an_output_that_is_also_a_tracked_input(project: Project) -> None:
    """A run's committed output read by a later run: checked as an output by its content."""
    prepare = project.summarise("data/clean.csv")
    project.commit("cleaned data")
    project.train(src="data/clean.csv")

    report = check(check_outputs=True)

    by_id = {v.run_id: v for v in report.verdicts}
    assert [(o.path, o.state) for o in by_id[prepare].outputs] == [("data/clean.csv", "ok")]
    assert report.ok
    assert {v.verdict for v in report.verdicts} == {"fresh"}
