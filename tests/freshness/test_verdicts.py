"""The pure half of freshness: verdicts from plain values, no repository, no catalog."""

from __future__ import annotations

import datetime as dt

import pytest

from bathos.freshness import (
    CurrentFile,
    OutputCheck,
    Reason,
    RecordedFile,
    RecordedOutput,
    RecordedRun,
    Verdict,
    check_output,
    compare_file,
    judge_run,
    settle_upstream,
)

STARTED = dt.datetime(2026, 1, 2, 3, 4, 5)
SCRIPT = RecordedFile("train.py", "script", "/repo/train.py", "sha256:aa", "blob-aa")
MODULE = RecordedFile("lib/model.py", "module", "/repo/lib/model.py", "sha256:bb", "blob-bb")
INPUT = RecordedFile("/data/in.csv", "input", "/data/in.csv", "sha256:cc", None)
OUTPUT = RecordedOutput("results/out.txt", "/repo/results/out.txt", "sha256:dd", 10)


def recorded(*deps: RecordedFile, outputs: tuple[RecordedOutput, ...] = (),
             unknown: str | None = None) -> RecordedRun:
    return RecordedRun(id="run1", project="alpha", script="train.py", started_at=STARTED,
                       dependencies=deps, outputs=outputs, unknown_reason=unknown)


def same(dep: RecordedFile) -> CurrentFile:
    return CurrentFile(True, sha256=dep.sha256, git_blob=dep.git_blob)


def verdict(run_id: str, kind: str, *, outputs: tuple[OutputCheck, ...] = (),
            reasons: tuple[Reason, ...] = ()) -> Verdict:
    return Verdict(run_id, "alpha", "train.py", STARTED, kind, reasons, outputs)


# compare_file ------------------------------------------------------------------------------------


def test_compare_file_unchanged_by_blob_or_by_sha256() -> None:
    assert compare_file(MODULE, CurrentFile(True, git_blob="blob-bb")) is None
    assert compare_file(MODULE, CurrentFile(True, sha256="sha256:bb")) is None


def test_compare_file_prefers_the_blob_when_both_sides_have_one() -> None:
    now = CurrentFile(True, sha256="sha256:bb", git_blob="blob-other")

    assert compare_file(MODULE, now) == Reason("lib/model.py", "modified", "module")


def test_compare_file_modified_by_sha256_when_no_blob_was_recorded() -> None:
    reason = compare_file(INPUT, CurrentFile(True, sha256="sha256:new", git_blob="blob-x"))

    assert reason == Reason("/data/in.csv", "modified", "input")


def test_compare_file_deleted_and_renamed() -> None:
    assert compare_file(MODULE, CurrentFile(False)) == Reason("lib/model.py", "deleted", "module")
    renamed = compare_file(MODULE, CurrentFile(False, renamed_to="lib/physics.py"))
    assert renamed == Reason("lib/model.py", "renamed", "module", "now lib/physics.py")


def test_compare_file_without_comparable_hashes_is_not_a_change() -> None:
    unhashed = RecordedFile("big.bin", "input", "/repo/big.bin", None, None)

    assert compare_file(unhashed, CurrentFile(True, sha256="sha256:zz")) is None


def test_reason_describe_names_path_how_detail_and_short_commit() -> None:
    reason = Reason("lib/model.py", "modified", "module", "uncommitted")
    committed = Reason("lib/model.py", "modified", "module", commit="0123456789abcdef")
    again = Reason("lib/model.py", "modified", "module", "and 2 later commits", "0123456789abc")

    assert reason.describe() == "lib/model.py modified (uncommitted)"
    assert committed.describe() == "lib/model.py modified in commit 0123456789"
    assert again.describe() == "lib/model.py modified in commit 0123456789 (and 2 later commits)"


# check_output ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("now", "state"), [
    (CurrentFile(True, sha256="sha256:dd"), "ok"),
    (CurrentFile(True, sha256="sha256:ee"), "modified"),
    (CurrentFile(False), "missing"),
    (CurrentFile(True, git_blob="blob-only"), "unverified"),
])
def test_check_output_states(now: CurrentFile, state: str) -> None:
    assert check_output(OUTPUT, now) == OutputCheck("results/out.txt", state)


def test_check_output_above_the_hash_cap_is_unverified_unless_missing() -> None:
    huge = RecordedOutput("results/huge.bin", "/repo/results/huge.bin", None, 10**10)

    assert check_output(huge, CurrentFile(True, sha256="sha256:any")).state == "unverified"
    assert check_output(huge, CurrentFile(False)).state == "missing"


# judge_run ---------------------------------------------------------------------------------------


def test_judge_run_fresh_when_every_dependency_is_the_same() -> None:
    run = recorded(SCRIPT, MODULE, INPUT)

    result = judge_run(run, {d.location: same(d) for d in run.dependencies})

    assert result == Verdict("run1", "alpha", "train.py", STARTED, "fresh")
    assert result.is_ok


def test_judge_run_stale_lists_every_changed_dependency_in_order() -> None:
    run = recorded(SCRIPT, MODULE, INPUT)
    files = {SCRIPT.location: same(SCRIPT), INPUT.location: CurrentFile(True, sha256="sha256:x")}

    result = judge_run(run, files)  # the module is absent from `files`: deleted

    assert result.verdict == "stale"
    assert [(r.path, r.how) for r in result.reasons] == [
        ("lib/model.py", "deleted"), ("/data/in.csv", "modified")]
    assert not result.is_ok


def test_judge_run_unknown_says_why() -> None:
    nothing = judge_run(recorded(), {})
    no_git = judge_run(recorded(SCRIPT, unknown="no git repository and no recorded files"), {})

    assert nothing.verdict == "unknown"
    assert nothing.reasons == (Reason("-", "missing-provenance",
                                      detail="no dependencies were recorded"),)
    assert no_git.reasons[0].detail == "no git repository and no recorded files"
    assert nothing.is_ok


def test_judge_run_checks_outputs_only_when_asked() -> None:
    run = recorded(SCRIPT, outputs=(OUTPUT,))
    files = {SCRIPT.location: same(SCRIPT)}

    unchecked = judge_run(run, files)
    checked = judge_run(run, files, {})

    assert unchecked.outputs == ()
    assert checked.outputs == (OutputCheck("results/out.txt", "missing"),)
    assert checked.verdict == "fresh"
    assert checked.outputs_changed and not checked.is_ok


# settle_upstream ---------------------------------------------------------------------------------


def test_settle_upstream_through_a_two_level_chain() -> None:
    stale = verdict("a", "stale", reasons=(Reason("lib/model.py", "modified", "module"),))
    verdicts = {"a": stale, "b": verdict("b", "fresh"), "c": verdict("c", "fresh"),
                "d": verdict("d", "fresh")}

    settled = settle_upstream(verdicts, {"b": ["a"], "c": ["b"]})

    assert settled["a"] == stale
    assert settled["b"].verdict == "stale-upstream"
    assert settled["b"].reasons[0].path == "a"
    assert "parent run is stale: lib/model.py modified" in settled["b"].reasons[0].detail
    assert settled["c"].verdict == "stale-upstream"
    assert "parent run is stale-upstream" in settled["c"].reasons[0].detail
    assert settled["d"].verdict == "fresh"


def test_settle_upstream_when_a_parent_output_changed() -> None:
    parent = verdict("a", "fresh", outputs=(OutputCheck("results/out.txt", "ok"),
                                            OutputCheck("results/b.txt", "modified")))

    settled = settle_upstream({"a": parent, "b": verdict("b", "fresh")}, {"b": ["a"]})

    assert settled["a"].verdict == "fresh"
    assert settled["b"].verdict == "stale-upstream"
    assert settled["b"].reasons[0].detail == "parent run's output results/b.txt is modified"


def test_settle_upstream_keeps_own_staleness_and_ignores_unknown_or_absent_parents() -> None:
    own = Reason("train.py", "modified", "script")
    verdicts = {"a": verdict("a", "stale", reasons=(Reason("lib/model.py", "deleted"),)),
                "b": verdict("b", "stale", reasons=(own,)), "u": verdict("u", "unknown"),
                "c": verdict("c", "fresh")}

    settled = settle_upstream(verdicts, {"b": ["a"], "c": ["u", "not-checked"]})

    assert settled["b"].verdict == "stale"
    assert settled["b"].reasons == (own, Reason(
        "a", "upstream", detail="parent run is stale: lib/model.py deleted"))
    assert settled["c"].verdict == "fresh"


def test_settle_upstream_stops_at_a_cycle() -> None:
    verdicts = {"a": verdict("a", "fresh"), "b": verdict("b", "fresh"),
                "x": verdict("x", "stale")}

    fresh_loop = settle_upstream(verdicts, {"a": ["b"], "b": ["a"]})
    stale_loop = settle_upstream(verdicts, {"a": ["b"], "b": ["a", "x"]})

    assert {k: v.verdict for k, v in fresh_loop.items()} == {
        "a": "fresh", "b": "fresh", "x": "stale"}
    assert stale_loop["b"].verdict == "stale-upstream"
    assert stale_loop["a"].verdict == "stale-upstream"
