"""Freshness verdicts: is a run's result still valid against today's files? Pure: data in, data out.

    fresh           every recorded dependency (script, imported local modules, sidecar, inputs)
                    has the same content today
    stale           one or more dependencies changed; each reason names the path and how
    stale-upstream  the run itself is unchanged, but a run it was derived from is stale (or
                    stale-upstream), or an output of that run it built on changed
    unknown         nothing recorded to judge by

The caller (bathos.checker) reads the catalog and today's files; this module only compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import attrs

VERDICTS = ("fresh", "stale", "stale-upstream", "unknown")


@attrs.frozen
class RecordedFile:
    """A dependency as the run recorded it; `location` is its absolute path today."""

    path: str
    role: str
    location: str
    sha256: str | None
    git_blob: str | None = None


@attrs.frozen
class RecordedOutput:
    path: str
    location: str
    sha256: str | None
    size: int | None = None


@attrs.frozen
class RecordedRun:
    """What a freshness check needs to know about one run."""

    id: str
    project: str
    script: str | None
    started_at: dt.datetime | None
    dependencies: tuple[RecordedFile, ...]
    outputs: tuple[RecordedOutput, ...] = ()
    unknown_reason: str | None = None


@attrs.frozen
class CurrentFile:
    """A file as it is today (in the working tree, or at the revision checked against)."""

    exists: bool
    sha256: str | None = None
    git_blob: str | None = None
    renamed_to: str | None = None


_GONE = CurrentFile(False)


@attrs.frozen
class Reason:
    """Why a run is not fresh: `how` is modified, deleted, renamed, upstream or
    missing-provenance."""

    path: str
    how: str
    role: str = ""
    detail: str = ""
    commit: str | None = None

    def describe(self) -> str:
        """The reason in one line: `src/model.py modified in commit 3f2a9c1d0e (and 2 later
        commits)`, `src/model.py modified (uncommitted)`."""
        text = f"{self.path} {self.how}"
        if self.commit:
            text += f" in commit {self.commit[:10]}"
        if self.detail:
            text += f" ({self.detail})"
        return text


@attrs.frozen
class OutputCheck:
    """An output of the run as it is today: `state` is ok, missing, modified, or unverified (no
    hash allows a comparison, as for a file above the hashing cap)."""

    path: str
    state: str


@attrs.frozen
class Verdict:
    """The judgement of one run: `verdict` is fresh, stale, stale-upstream or unknown; `reasons`
    say why it is not fresh, `outputs` what became of its outputs (when they were checked)."""

    run_id: str
    project: str
    script: str | None
    started_at: dt.datetime | None
    verdict: str
    reasons: tuple[Reason, ...] = ()
    outputs: tuple[OutputCheck, ...] = ()

    @property
    def outputs_changed(self) -> bool:
        """An output is missing, or no longer what the run wrote."""
        return any(o.state in ("missing", "modified") for o in self.outputs)

    @property
    def is_ok(self) -> bool:
        """Nothing shows the result is wrong: fresh (or unknown) and no output changed."""
        return self.verdict in ("fresh", "unknown") and not self.outputs_changed


def _same(recorded: RecordedFile | RecordedOutput, now: CurrentFile) -> bool | None:
    """Equal content, different content, or None when no hash on both sides allows a comparison."""
    blob: str | None = getattr(recorded, "git_blob", None)
    if blob and now.git_blob:
        return blob == now.git_blob
    if recorded.sha256 and now.sha256:
        return recorded.sha256 == now.sha256
    return None


def compare_file(recorded: RecordedFile, now: CurrentFile) -> Reason | None:
    """The reason a dependency is no longer what the run used, or None if it is."""
    if not now.exists:
        if now.renamed_to:
            return Reason(recorded.path, "renamed", recorded.role, f"now {now.renamed_to}")
        return Reason(recorded.path, "deleted", recorded.role)
    same = _same(recorded, now)
    if same is False:
        return Reason(recorded.path, "modified", recorded.role)
    return None


def check_output(recorded: RecordedOutput, now: CurrentFile) -> OutputCheck:
    if not now.exists:
        return OutputCheck(recorded.path, "missing")
    if recorded.sha256 is None:
        return OutputCheck(recorded.path, "unverified")
    same = _same(recorded, now)
    return OutputCheck(recorded.path, "unverified" if same is None else
                       "ok" if same else "modified")


def judge_run(run: RecordedRun, files: Mapping[str, CurrentFile],
              outputs: Mapping[str, CurrentFile] | None = None) -> Verdict:
    """The run's own verdict (fresh, stale or unknown) from today's `files` by location.

    `outputs`, when given, adds the state of each recorded output.
    """
    checked = tuple(check_output(o, outputs.get(o.location, _GONE))
                    for o in run.outputs) if outputs is not None else ()
    if run.unknown_reason or not run.dependencies:
        why = run.unknown_reason or "no dependencies were recorded"
        return Verdict(run.id, run.project, run.script, run.started_at, "unknown",
                       (Reason("-", "missing-provenance", detail=why),), checked)
    reasons = tuple(r for d in run.dependencies
                    if (r := compare_file(d, files.get(d.location, _GONE))) is not None)
    return Verdict(run.id, run.project, run.script, run.started_at,
                   "stale" if reasons else "fresh", reasons, checked)


def settle_upstream(verdicts: Mapping[str, Verdict],
                    parents: Mapping[str, Sequence[str]]) -> dict[str, Verdict]:
    """Mark fresh runs built on a stale (or changed-output) run as stale-upstream, transitively;
    a stale run built on one keeps its verdict and gains the upstream reasons after its own."""
    settled: dict[str, Verdict] = {}

    def settle(run_id: str, trail: frozenset[str]) -> Verdict | None:
        if run_id in settled:
            return settled[run_id]
        own = verdicts.get(run_id)
        if own is None or run_id in trail:
            return own
        result = own
        if own.verdict in ("fresh", "stale"):  # a stale run's upstream reasons come after its own
            upstream = []
            for parent_id in parents.get(run_id, ()):
                parent = settle(parent_id, trail | {run_id})
                if parent is None:
                    continue
                if parent.verdict in ("stale", "stale-upstream"):
                    upstream.append(Reason(parent_id[:12], "upstream", detail=(
                        f"parent run is {parent.verdict}: "
                        + (parent.reasons[0].describe() if parent.reasons else ""))))
                elif parent.outputs_changed:
                    changed = next(o for o in parent.outputs if o.state in ("missing", "modified"))
                    upstream.append(Reason(parent_id[:12], "upstream", detail=(
                        f"parent run's output {changed.path} is {changed.state}")))
            if upstream:
                result = attrs.evolve(
                    own, verdict="stale" if own.verdict == "stale" else "stale-upstream",
                    reasons=(*own.reasons, *upstream))
        settled[run_id] = result
        return result

    for run_id in verdicts:
        settle(run_id, frozenset())
    return settled
