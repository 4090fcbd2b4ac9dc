"""What each tool of `bth mcp` does: one call into the library, its answer made JSON-ready and
bounded, since an agent reads it into a small context.

Every list an answer holds is cut to a bound (a listing pages on with `offset`), every long text
too, and an answer that was cut says so in `note`. The SDK reads each method's signature for the
tool's input schema and its docstring for the tool's description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import attrs
from pydantic import Field

from bathos.catalog.catalog import Catalog
from bathos.query import RunQuery

MAX_PAGE = 200  # runs, rows or points in one answer
MAX_ITEMS = 50  # items of a list inside an answer (a record's outputs, a verdict's reasons)
MAX_CHARS = 2000  # characters of a text inside an answer
MAX_LOG_BYTES = 64_000
MAX_SQL_SECONDS = 60.0

Limit = Annotated[int, Field(ge=1, le=MAX_PAGE, description=f"At most this many (1-{MAX_PAGE}).")]
Offset = Annotated[int, Field(ge=0, description="Skip this many first (to page on: the "
                                                "`next_offset` of the previous answer).")]
RunId = Annotated[str, Field(min_length=4, description="A run id, or a unique prefix of 4+ "
                                                       "of its characters.")]
Project = Annotated[str | None, Field(description="Only this project (default: every project).")]
Since = Annotated[str | None, Field(description="Started at or after: 30m, 12h, 7d, 2w or a "
                                                "date.")]
CampaignId = Annotated[str, Field(description="The campaign's id (a slug).")]
Status = Annotated[list[Literal["running", "completed", "failed", "interrupted", "lost"]] | None,
                   Field(description="Only runs with one of these statuses.")]


class Page(TypedDict):
    """One page of a listing: `items`, where it starts, where the next page starts (None: this
    was the last), and a note when anything in it was cut."""

    items: list[dict[str, Any]]
    offset: int
    next_offset: int | None
    note: str | None


class Answer(TypedDict):
    """A bounded answer that is not a listing: `result`, and a note when anything was cut."""

    result: Any
    note: str | None


@attrs.frozen
class CatalogTools:
    """The tools over one catalog. A tool raises a library error for bad input (the server
    turns it into a tool error)."""

    catalog: Catalog

    def list_runs(self, project: Project = None, since: Since = None,
                  until: Annotated[str | None, Field(description="Started before (as since).")]
                  = None, status: Status = None,
                  tags: Annotated[list[str] | None, Field(description="Has every tag.")] = None,
                  limit: Limit = 20, offset: Offset = 0) -> Page:
        """List runs, newest first, as `bth ls` does: id, project, script, status, outcome,
        times, params, results and tags of each."""
        return self._runs(RunQuery(project=project, all_projects=project is None, since=since,
                                   until=until, status=status, tags=tags or ()), limit, offset)

    def find_runs(self, project: Project = None, since: Since = None, status: Status = None,
                  script: Annotated[str | None, Field(description="Script path or file name "
                                                      "matches this glob.")] = None,
                  params: Annotated[dict[str, str] | None, Field(
                      description="Each param has this value; numbers match by value.")] = None,
                  host: Annotated[str | None, Field(description="Host name glob.")] = None,
                  commit: Annotated[str | None, Field(description="Git commit prefix.")] = None,
                  output: Annotated[str | None, Field(description="Wrote a file whose path "
                                                      "matches this glob.")] = None,
                  campaign: Annotated[str | None, Field(description="In this campaign.")] = None,
                  outcome: Annotated[str | None, Field(description="Its sidecar judged it so.")]
                  = None, limit: Limit = 20, offset: Offset = 0) -> Page:
        """Search runs by script, param values, host, commit, output file, campaign or outcome,
        as `bth find` does; newest first."""
        return self._runs(RunQuery(project=project, all_projects=project is None, since=since,
                                   status=status, script=script, params=params or {}, host=host,
                                   commit=commit, output=output, campaign=campaign,
                                   outcome=outcome), limit, offset)

    def get_run(self, run_id: RunId) -> Answer:
        """Everything recorded about one run, as `bth show --json`: command, times, status,
        git, code and inputs it depended on (with hashes), environment, outputs, results."""
        from bathos.models import unstructure

        return answer(unstructure(self.catalog.get(run_id)))

    def run_logs(self, run_id: RunId, stream: Literal["stdout", "stderr"] = "stdout",
                 lines: Annotated[int, Field(ge=1, le=2000, description="The last this many "
                                             "lines.")] = 100) -> Answer:
        """The last lines a run printed on stdout or stderr (of a running run: so far)."""
        data = self.catalog.read_log(run_id, stream)
        kept = data[-MAX_LOG_BYTES:].decode("utf-8", "replace").splitlines()
        shown = kept[-lines:]
        total = data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
        cut = total - len(shown)
        return {"result": "\n".join(shown),
                "note": f"the last {len(shown)} of {total} lines" if cut > 0 else None}

    def sql(self, query: Annotated[str, Field(description="One read-only DuckDB SELECT over "
                                              "the views (see the schema resource).")],
            limit: Limit = 50,
            timeout: Annotated[float, Field(gt=0, le=MAX_SQL_SECONDS,
                                            description="Stop it after this many seconds.")]
            = 10.0) -> Page:
        """A read-only SQL query over the catalog's views (runs, outputs, dependencies,
        metrics): as `bth sql`, at most `limit` rows; a statement that would write is refused."""
        rows = self.catalog.sql(query, timeout=timeout, limit=limit + 1)
        return page(rows.to_dicts(), 0, limit)

    def check(self, run_ids: Annotated[list[str] | None, Field(
                  description="These runs (ids or prefixes); default: the completed runs the "
                  "other criteria pick.")] = None,
              project: Project = None, since: Since = None,
              script: Annotated[str | None, Field(description="Script glob.")] = None,
              against: Annotated[str | None, Field(description="Judge against this git "
                                                   "revision instead of the working tree.")]
              = None,
              check_outputs: Annotated[bool, Field(description="Also check each output is "
                                                   "present and unchanged.")] = False,
              limit: Limit = 20) -> Page:
        """Whether results are still valid: per run a verdict (fresh, stale, stale-upstream or
        unknown) and the reasons (each file that changed since). Check before citing a run."""
        report = self.catalog.check(run_ids or (), project=project,
                                    all_projects=project is None, since=since, script=script,
                                    against=against, check_outputs=check_outputs,
                                    limit=None if run_ids else limit + 1)
        return page(report.to_dicts(), 0, limit)

    def lineage(self, run_id: RunId,
                descendants: Annotated[bool, Field(description="Also the runs built on it.")]
                = False,
                max_depth: Annotated[int, Field(ge=1, le=50)] = 10) -> Answer:
        """The runs a run came from (and with descendants, the runs built on it): nodes and
        parent -> child edges, named or inferred from files one wrote and another read."""
        graph = self.catalog.lineage(run_id, descendants=descendants, max_depth=max_depth)
        return answer(attrs.asdict(graph))

    def diff(self, run_a: RunId, run_b: RunId) -> Answer:
        """What differs between two runs, section by section: code, command, params,
        environment, inputs and outputs by content hash, results, host, outcome."""
        return answer(self.catalog.diff(run_a, run_b).to_dict())

    def metrics(self, run_ids: Annotated[list[str], Field(min_length=1, max_length=20,
                                                          description="Runs (ids or prefixes).")],
                keys: Annotated[list[str] | None, Field(description="Only these metrics.")]
                = None, limit: Limit = 200, offset: Offset = 0) -> Page:
        """The metric history of runs: one point per row (run_id, key, step, value, time)."""
        points = self.catalog.metrics(run_ids, keys)
        return page(points.slice(offset, limit + 1).to_dicts(), offset, limit)

    def lint(self, project_root: Annotated[str | None, Field(
                 description="The project's directory (default: the server's working "
                 "directory's project).")] = None) -> Page:
        """What `bth lint` finds in a project: scripts without a sidecar, sidecars that do
        not parse, recent runs that bypassed them."""
        from bathos.lint import lint_project

        report = lint_project(Path(project_root) if project_root else None)
        return page([attrs.asdict(f) for f in report.findings], 0, MAX_PAGE)

    def campaign_list(self, project: Project = None, limit: Limit = 20,
                      offset: Offset = 0) -> Page:
        """Campaigns, newest first: id, project, status (open or concluded), mode, question,
        hypothesis, outcome, note, times and how many runs each holds."""
        found = self.catalog.campaigns(project).to_dicts()
        return page(found[offset:offset + limit + 1], offset, limit)

    def campaign_review(self, campaign_id: CampaignId,
                        by: Annotated[str | None, Field(description="What makes the arms: "
                                                        "param:NAME, tag or script (default: "
                                                        "the one param that varies).")] = None,
                        baseline: Annotated[str | None, Field(description="The arm the others "
                                                              "are compared with.")] = None,
                        metrics: Annotated[list[str] | None, Field(description="Only these "
                                                                   "metrics.")] = None) -> Answer:
        """A campaign's review, as `bth campaign review`: its state, verdict lines (each arm
        against the baseline, adjusted p-values), per-arm statistics, anomalies (outliers,
        stale or unfinished runs, confounds) and sidecar outcomes."""
        handle = self.catalog.campaign(campaign_id)
        found = handle.review(by=by, baseline=baseline, metrics=metrics).to_dict()
        del found["values"]  # every run's value: the summary and verdicts say what they show
        return answer({"campaign": attrs.asdict(handle.info), **found})

    # write tools: offered only with `bth mcp --allow-writes`; each records who wrote it
    # (user@host) and when: in an event of the campaign, or in the run's `tag_edits`.
    def campaign_create(self, campaign_id: CampaignId,
                        project: Annotated[str, Field(description="The project it belongs to.")],
                        hypothesis: Annotated[str, Field(min_length=1,
                                                         description="What its runs test.")],
                        question: Annotated[str | None, Field(description="The question it "
                                                              "answers.")] = None,
                        mode: Literal["exploration", "confirmation"] = "exploration") -> Answer:
        """Start a campaign: runs grouped to test a hypothesis (files `bth run --campaign ID`
        under it)."""
        return answer(attrs.asdict(self.catalog.create_campaign(
            campaign_id, project=project, hypothesis=hypothesis, question=question, mode=mode)))

    def campaign_add(self, campaign_id: CampaignId,
                     run_ids: Annotated[list[str], Field(min_length=1, max_length=1000,
                                                         description="Runs (ids or prefixes).")]
                     ) -> Answer:
        """Add runs to an open campaign; the ids added."""
        return answer({"added": self.catalog.campaign(campaign_id).add(run_ids)})

    def campaign_conclude(self, campaign_id: CampaignId,
                          outcome: Annotated[str, Field(min_length=1, description="Its "
                                                        "outcome label (supported, refuted...).")],
                          note: Annotated[str | None, Field(description="Why.")] = None
                          ) -> Answer:
        """Conclude an open campaign with its outcome: it takes no new runs until reopened."""
        return answer(attrs.asdict(self.catalog.campaign(campaign_id).conclude(outcome, note)))

    def tag_run(self, run_id: RunId,
                add: Annotated[list[str] | None, Field(max_length=50,
                                                       description="Tags to add.")] = None,
                remove: Annotated[list[str] | None, Field(max_length=50,
                                                          description="Tags to remove.")] = None
                ) -> Answer:
        """Add tags to or remove tags from a run that has ended: its tags now, and the edit
        recorded in it (added, removed, by, time)."""
        from bathos.models import unstructure

        run = self.catalog.tag(run_id, add=add or (), remove=remove or ())
        edit = run.tag_edits[-1] if run.tag_edits else None
        return answer({"id": run.id, "tags": list(run.tags),  # edit: None if nothing changed
                       "edit": unstructure(edit) if edit and edit.time == run.updated_at
                       else None})

    def _runs(self, query: RunQuery, limit: int, offset: int) -> Page:
        rows = self.catalog.runs(attrs.evolve(query, limit=offset + limit + 1))
        return page(rows.to_dicts()[offset:], offset, limit)


def page(items: list[dict[str, Any]], offset: int, limit: int) -> Page:
    """The first `limit` of `items` (fetched one past the limit, to know there are more), each
    bounded, starting at `offset`."""
    notes: list[str] = []
    shown = [bounded(item, notes) for item in items[:limit]]
    more = len(items) > limit
    if more:
        notes.insert(0, f"more than {limit} found: ask again with offset={offset + limit}")
    return {"items": shown, "offset": offset, "next_offset": offset + limit if more else None,
            "note": "; ".join(dict.fromkeys(notes)) or None}


def answer(value: Any) -> Answer:
    """`value` bounded, with a note of what was cut."""
    notes: list[str] = []
    return {"result": bounded(value, notes), "note": "; ".join(dict.fromkeys(notes)) or None}


def bounded(value: Any, notes: list[str], where: str = "") -> Any:
    """`value` with each list cut to MAX_ITEMS and each text to MAX_CHARS, a note in `notes` for
    each place cut (`outputs: 50 of 1200 shown`)."""
    if isinstance(value, dict):
        return {k: bounded(v, notes, f"{where}.{k}" if where else str(k))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            notes.append(f"{where or 'list'}: {MAX_ITEMS} of {len(value)} shown")
        return [bounded(v, notes, where) for v in value[:MAX_ITEMS]]
    if isinstance(value, str) and len(value) > MAX_CHARS:
        notes.append(f"{where or 'text'}: the first {MAX_CHARS} of {len(value)} characters")
        return value[:MAX_CHARS] + "…"
    return value
