"""The pages: runs (a sortable, filterable table), a run (its provenance as `bth show` describes
it, logs, files, freshness, lineage, metric curves), compare (2 to 10 runs side by side, and the
diff of two) and a campaign (its review). Each is a `<section>`: `bth view` serves one per page,
`bth report` puts several in one file, and `Links` says how they point at each other.

Every string from the catalog is untrusted: it reaches the HTML only through `html.escape`, and
the runs table's data only as JSON inside a script element with `<`, `>` and `&` escaped."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos import describe
from bathos.errors import BathosError, ConfigError
from bathos.pages import charts
from bathos.query import RunQuery

if TYPE_CHECKING:
    import polars as pl

    from bathos.catalog.catalog import Catalog
    from bathos.catalog.rows import Rows
    from bathos.checker import CheckReport
    from bathos.freshness import Verdict
    from bathos.lineage import Lineage
    from bathos.models import Run

log = logging.getLogger("bathos.pages")
LOG_TAIL_BYTES = 8_000
# The runs table judges the freshness of this many completed runs, the newest (judging reads
# every file a run read: thousands would stall the page).
FRESHNESS_LIMIT = 500
COMPARE_MIN, COMPARE_MAX = 2, 10
# The listing columns the runs table shows, in order, then every param and result.
TABLE_COLUMNS = ("id", "name", "project", "status", "outcome", "freshness", "script", "tags",
                 "started_at", "duration_s", "hostname", "commit", "campaign_id")
_BADGES = ("status", "freshness")
_LABELS = {"started_at": "started (UTC)", "duration_s": "duration (s)", "hostname": "host",
           "campaign_id": "campaign"}


@attrs.frozen
class Links:
    """How a page links to a run, a comparison (None: it cannot), a campaign and the runs table:
    formats with `{id}` (`{ids}`: comma-separated)."""

    run: str
    compare: str | None
    campaign: str
    home: str

    @classmethod
    def served(cls) -> Links:
        """The links of `bth view`'s pages."""
        return cls(run="/run/{id}", compare="/compare?ids={ids}", campaign="/campaign/{id}",
                   home="/")

    @classmethod
    def in_report(cls) -> Links:
        """The links inside one report file: to its own sections."""
        return cls(run="#run-{id}", compare=None, campaign="#campaign-{id}", home="#runs")


def _static(name: str) -> str:
    return resources.files("bathos.pages").joinpath("static", name).read_text(encoding="utf-8")


def document(title: str, sections: Iterable[str], links: Links) -> str:
    """A whole HTML page: the sections, with the styles and script inline."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
            f"<title>{escape(title)}</title><style>{_static('view.css')}</style></head><body>"
            f"<header class=\"top\"><span class=\"brand\">bathos</span>"
            f"<a href=\"{escape(links.home)}\">runs</a>"
            f"<span class=\"muted\">{escape(title)}</span></header>"
            + "".join(sections)
            + f"<script>{_static('view.js')}</script></body></html>\n")


def section(page_id: str, heading: str, body: str) -> str:
    return (f'<section class="page" id="{escape(page_id)}"><h1>{escape(heading)}</h1>'
            f"{body}</section>")


def _json_script(data: Any, cls: str) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" class="{cls}">{text}</script>'


def _badge(value: str | None) -> str:
    if not value:
        return ""
    return f'<span class="badge b-{escape(value)}">{escape(value)}</span>'


# --- runs ------------------------------------------------------------------------------------

def runs_table(catalog: Catalog, rows: Rows, query: RunQuery | None = None) -> dict[str, Any]:
    """The runs table's data: `columns` (key, label, kind: text, num or badge) and `rows` (one
    list of values per run, newest first), with the freshness verdicts of the newest completed
    runs `query` picks (else of the rows themselves)."""
    data = rows.flattened().to_dicts()
    verdicts = _verdicts(catalog, query, data)
    extra = sorted({k for r in data for k in r if k.startswith(("params.", "results."))},
                   key=lambda k: (not k.startswith("params."), k))
    keys = [*TABLE_COLUMNS, *extra]
    columns = [{"key": k, "label": _LABELS.get(k, k), "kind": _kind(k, data)} for k in keys]
    values = [[_table_value(k, r, verdicts) for k in keys] for r in data]
    return {"columns": columns, "rows": values, "sort": keys.index("started_at")}


def _verdicts(catalog: Catalog, query: RunQuery | None,
              data: list[dict[str, Any]]) -> dict[str, str]:
    """The freshness verdicts of the newest `FRESHNESS_LIMIT` completed runs of each project."""
    def judge(project: str) -> CheckReport:
        if query is None:
            ids = [r["id"] for r in data if r["project"] == project and r["status"] == "completed"]
            return catalog.check(ids[:FRESHNESS_LIMIT])
        return catalog.check(query=attrs.evolve(query, project=project, all_projects=False,
                                                status="completed", limit=FRESHNESS_LIMIT))

    found: dict[str, str] = {}
    for judged in _by_project({r["project"] for r in data}, judge).values():
        if isinstance(judged, str):
            log.info("freshness not judged: %s", judged)
        else:
            found.update((v.run_id, v.verdict) for v in judged.verdicts)
    return found


def _by_project(projects: Iterable[str], judge: Callable[[str], CheckReport]
                ) -> dict[str, CheckReport | str]:
    """`judge(project)` of each project, or why it cannot be judged: judged project by project,
    so a project whose repository is gone leaves only its own runs unjudged."""
    found: dict[str, CheckReport | str] = {}
    for project in sorted(projects):
        try:
            found[project] = judge(project)
        except BathosError as exc:
            found[project] = str(exc)
    return found


def _kind(key: str, data: list[dict[str, Any]]) -> str:
    if key in _BADGES:
        return "badge"
    present = [r.get(key) for r in data if r.get(key) is not None]
    numeric = present and all(isinstance(v, int | float) and not isinstance(v, bool)
                              for v in present)
    return "num" if numeric else "text"


def _table_value(key: str, row: dict[str, Any], verdicts: dict[str, str]) -> Any:
    if key == "freshness":
        return verdicts.get(row["id"])
    value = row.get(key)
    if key == "outcome" and isinstance(value, dict):
        return value.get("label")
    if key == "started_at" and value:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        return when.strftime("%Y-%m-%d %H:%M:%S")
    if key == "duration_s" and value is not None:
        return round(value, 2)
    if key == "commit" and value:
        return value[:8] + ("*" if row.get("dirty") else "")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict | list) and key != "tags":
        return describe.cell(value)
    return value


def runs_body(table: dict[str, Any], links: Links, *, detailed: Sequence[str] | None = None,
              note: str = "") -> str:
    """The runs table (filled by the page's script from `table`); `detailed` lists the runs
    that have a page to link to (None: every run)."""
    data = {**table, "links": attrs.asdict(links), "detailed": detailed}
    compare = ('<button class="compare" disabled>Compare selected (0)</button>'
               if links.compare else "")
    return (f'<div class="runs-table">{_json_script(data, "runs-data")}'
            f'<p class="muted">{escape(note)}</p>'
            '<div class="controls"><input class="search" type="search" '
            'placeholder="search every column" aria-label="search runs">'
            '<button class="prev">← previous</button><button class="next">next →</button>'
            f'<span class="status muted"></span>{compare}</div>'
            '<div class="table-wrap"><table class="runs"></table></div>'
            '<p class="muted">Click a heading to sort; type in a filter box to keep the rows '
            'that contain the text (in a number column also &gt;, &lt;, &gt;=, &lt;= or '
            '= a number).</p></div>')


# --- a run -----------------------------------------------------------------------------------

@attrs.frozen
class RunReads:
    """What the pages of some runs read of the catalog, read for all of them at once: their
    records, each one's freshness verdict (or why it is not judged), their metric points, and
    each one's lineage (or why it cannot be traced)."""

    runs: dict[str, Run]
    verdicts: dict[str, Verdict | str]
    points: pl.DataFrame
    lineages: dict[str, Lineage | str]

    @classmethod
    def of(cls, catalog: Catalog, run_ids: Sequence[str]) -> RunReads:
        """The reads of the runs `run_ids` (whole ids)."""
        from bathos.lineage import trace_all

        runs = {run.id: run for run in map(catalog.get, run_ids)}
        ids = list(runs)
        verdicts: dict[str, Verdict | str] = {}
        judged = _by_project({r.project for r in runs.values()}, lambda project: catalog.check(
            [r for r in ids if runs[r].project == project]))
        for run_id, run in runs.items():
            found = judged[run.project]
            if isinstance(found, str):
                verdicts[run_id] = found
        verdicts.update((v.run_id, v) for found in judged.values() if not isinstance(found, str)
                        for v in found.verdicts)
        lineages: dict[str, Lineage | str]
        try:
            lineages = dict(trace_all(catalog, ids, descendants=True, max_depth=50))
        except BathosError as exc:
            lineages = dict.fromkeys(ids, str(exc))
        return cls(runs, verdicts, catalog.metrics(ids), lineages)


def run_body(catalog: Catalog, run_id: str, links: Links, reads: RunReads | None = None) -> str:
    """One run (a whole id): every field `bth show` prints, freshness, files, logs, lineage and
    curves (from `reads` when they were read for several runs at once)."""
    from bathos.models import unstructure

    reads = reads or RunReads.of(catalog, [run_id])
    run = reads.runs[run_id]
    record = unstructure(run)
    try:
        sidecar = catalog.sidecar(run)
    except BathosError:
        sidecar = None
    lines = describe.record_lines(record, catalog.tracked_changes(run), sidecar)
    badges = " ".join(b for b in (_badge(run.status), _outcome(record)) if b)
    return "".join([
        f'<p>{badges} <span class="mono">{escape(run.id)}</span> '
        f'{escape(run.name or "")}</p>',
        _freshness(reads.verdicts.get(run.id)),
        "<h2>Metrics</h2>", _curves(reads.points.filter(reads.points["run_id"] == run.id),
                                    [run.id]),
        "<h2>Lineage</h2>", _lineage(reads.lineages[run.id], links),
        "<h2>Provenance</h2>", _provenance(lines),
        *(_files(title, record.get(key) or [], fields)
          for title, key, fields in describe.FILE_LISTS),
        "<h2>Logs (tail)</h2>", _logs(catalog, run),
    ])


def _outcome(record: dict[str, Any]) -> str:
    outcome = record.get("outcome") or {}
    label = outcome.get("label")
    return f'<span class="badge">outcome: {escape(label)}</span>' if label else ""


def _provenance(lines: Iterable[describe.RecordLine]) -> str:
    out: list[str] = []
    in_list = False
    for line in lines:
        if isinstance(line, str):
            if line.startswith(tuple(t for t, _, _ in describe.FILE_LISTS)):
                in_list = True
                continue
            in_list = False
            out.append(f"</dl><h3>{escape(line)}</h3><dl class=\"fields\">")
        elif not in_list:
            key, value = line
            out.append(f"<dt>{escape(key)}</dt><dd>{escape(value)}</dd>")
    return ('<div class="provenance"><dl class="fields">' + "".join(out) + "</dl></div>")


def _files(title: str, items: list[dict[str, Any]], fields: Sequence[str]) -> str:
    if not items:
        return f"<h2>{escape(title)}</h2><p class=\"muted\">none recorded</p>"
    head = "".join(f"<th>{escape(f)}</th>" for f in fields)
    body = "".join("<tr>" + "".join(
        f'<td class="{"num" if f == "size" else "mono"}">{escape(describe.cell(item.get(f)))}</td>'
        for f in fields) + "</tr>" for item in items)
    return (f"<h2>{escape(title)} ({len(items)})</h2><table class=\"files\"><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")


def _freshness(verdict: Verdict | str | None) -> str:
    if isinstance(verdict, str):
        return f'<h2>Freshness</h2><p class="muted">not judged: {escape(verdict)}</p>'
    if verdict is None:
        return ""
    reasons = "".join(f"<li>{escape(r.describe())}</li>" for r in verdict.reasons)
    outputs = "".join(f"<li>{escape(o.path)}: {escape(o.state)}</li>" for o in verdict.outputs)
    return (f"<h2>Freshness</h2><p class=\"freshness\">{_badge(verdict.verdict)}</p>"
            + (f"<ul class=\"reasons\">{reasons}{outputs}</ul>" if reasons or outputs else
               "<p class=\"muted\">nothing it read has changed</p>"))


def _logs(catalog: Catalog, run: Run) -> str:
    out = []
    for stream in ("stdout", "stderr"):
        try:
            data = catalog.read_log(run, stream)
        except BathosError as exc:
            out.append(f'<h3>{stream}</h3><p class="muted">{escape(str(exc))}</p>')
            continue
        tail = data[-LOG_TAIL_BYTES:].decode("utf-8", "replace")
        cut = (f'<p class="muted">the last {LOG_TAIL_BYTES:,} of {len(data):,} bytes</p>'
               if len(data) > LOG_TAIL_BYTES else "")
        out.append(f"<h3>{stream}</h3>{cut}<pre class=\"log\">{escape(tail) or '(empty)'}</pre>")
    return "".join(out)


def _lineage(graph: Lineage | str, links: Links) -> str:
    if isinstance(graph, str):
        return f'<p class="muted">{escape(graph)}</p>'
    if not graph.edges:
        return '<p class="muted">no parents and no children</p>'
    return (charts.lineage_graph(graph, links.run) +
            '<p class="muted">parents left, children right; dashed: inferred from files one run '
            "wrote and the other read</p>")


def _curves(points: pl.DataFrame, ids: Sequence[str]) -> str:
    if points.is_empty():
        return '<p class="muted">no metrics logged</p>'
    out = []
    for key in sorted(set(points["key"].to_list())):
        series = []
        for run_id in ids:
            picked = points.filter((points["key"] == key) & (points["run_id"] == run_id))
            if not picked.is_empty():
                series.append((run_id[:describe.SHORT_ID],
                               list(zip(picked["step"].cast(float).to_list(),
                                        picked["value"].cast(float).to_list(), strict=True))))
        out.append(charts.line_chart(series, title=key, x_label="step", y_label=key))
    return '<div class="charts">' + "".join(out) + "</div>"


# --- compare ---------------------------------------------------------------------------------

def compare_body(catalog: Catalog, run_ids: Sequence[str], links: Links) -> str:
    """2 to 10 runs: params and results side by side (differences highlighted), their curves
    overlaid, and the diff of the first two."""
    if not COMPARE_MIN <= len(run_ids) <= COMPARE_MAX:
        raise ConfigError(f"compare takes {COMPARE_MIN} to {COMPARE_MAX} runs, not "
                          f"{len(run_ids)}")
    runs = [catalog.get(r) for r in run_ids]
    ids = [r.id for r in runs]
    head = "".join(f'<th class="mono"><a href="{escape(links.run.format(id=r.id))}">'
                   f"{escape(r.id[:describe.SHORT_ID])}</a><br>{escape(r.name or r.script or '')}"
                   "</th>" for r in runs)
    table = [f"<table class=\"compare\"><thead><tr><th></th>{head}</tr></thead><tbody>"]
    for group in ("params", "results"):
        values = [getattr(r, group) or {} for r in runs]
        keys = sorted({k for v in values for k in v})
        if keys:
            table.append(f'<tr><th colspan="{len(runs) + 1}">{group}</th></tr>')
        for key in keys:
            cells = [describe.cell(v.get(key)) if key in v else "" for v in values]
            differs = ' class="differs"' if len(set(cells)) > 1 else ""
            table.append(f"<tr{differs}><th>{escape(key)}</th>" + "".join(
                f"<td{differs}>{escape(c)}</td>" for c in cells) + "</tr>")
    table.append("</tbody></table>")
    diff = catalog.diff(runs[0], runs[1])
    diff_text = "".join(f'<span class="d-{escape(style)}">{escape(text)}</span>\n' if style
                        else f"{escape(text)}\n" for text, style in describe.diff_lines(diff))
    return "".join([
        "<h2>Params and results</h2><p class=\"muted\">highlighted: not the same in every run"
        "</p>", *table,
        "<h2>Metrics</h2>", _curves(catalog.metrics(ids), ids),
        f"<h2>Diff of {escape(ids[0][:describe.SHORT_ID])} and "
        f"{escape(ids[1][:describe.SHORT_ID])}</h2><pre class=\"diff\">{diff_text}</pre>",
    ])


# --- a campaign ------------------------------------------------------------------------------

def campaign_body(catalog: Catalog, campaign_id: str, links: Links, *,
                  detailed: Sequence[str] | None = None) -> str:
    """A campaign: its question and state, the review's verdict lines, each metric's arms
    (every run a point, the mean with its interval) and the anomalies, then its runs (those in
    `detailed` linked to their pages; None: all)."""
    handle = catalog.campaign(campaign_id)
    info = handle.info
    fields = [("project", info.project), ("question", info.question),
              ("hypothesis", info.hypothesis), ("mode", info.mode), ("status", info.status),
              ("outcome", info.outcome), ("note", info.note), ("runs", str(len(info.run_ids)))]
    out = ['<dl class="fields">' + "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in fields if v) + "</dl>"]
    try:
        review = handle.review()
    except BathosError as exc:
        out.append(f'<h2>Review</h2><p class="muted">{escape(str(exc))}</p>')
    else:
        out.append(_review(review))
    rows = handle.runs()
    if len(rows):
        out.append("<h2>Runs</h2>" + runs_body(runs_table(
            catalog, rows, RunQuery(all_projects=True, campaign=campaign_id)), links,
            detailed=detailed))
    return "".join(out)


def _review(review: Any) -> str:
    lines = review.verdicts["line"].to_list()
    out = ["<h2>Review</h2>",
           f'<p class="muted">arms by {escape(review.by)}, baseline '
           f"{escape(str(review.baseline))}, p-values adjusted by {escape(review.correction)}"
           "</p>",
           "".join(f'<p class="verdict">{escape(line)}</p>' for line in lines)
           or '<p class="muted">no verdict</p>']
    summary = review.summary
    charts_html = []
    for metric in sorted(set(review.values["metric"].to_list())):
        arms = []
        for arm in review.arms:
            values = review.values.filter((review.values["metric"] == metric)
                                          & (review.values["arm"] == arm))["value"].to_list()
            row = summary.filter((summary["metric"] == metric) & (summary["arm"] == arm))
            stats = row.row(0, named=True) if len(row) else {}
            arms.append((arm, [float(v) for v in values if v is not None], stats.get("mean"),
                         stats.get("mean_ci_low"), stats.get("mean_ci_high")))
        charts_html.append(charts.interval_chart(arms, title=f"{metric} by arm", y_label=metric))
    out.append('<div class="charts">' + "".join(charts_html) + "</div>")
    out.append('<p class="muted">each run a point; bar: the arm\'s mean, whiskers: its 95% '
               "confidence interval</p>")
    out.append(_anomalies(review.anomalies.to_dicts()))
    return "".join(out)


def _anomalies(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<h2>Anomalies</h2><p class="muted">none found</p>'
    keys = ("kind", "arm", "metric", "run_ids", "value", "detail")
    head = "".join(f"<th>{k}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{escape(describe.cell(r.get(k)))}</td>" for k in keys)
                   + "</tr>" for r in rows)
    return (f"<h2>Anomalies ({len(rows)})</h2><table class=\"anomalies\"><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")


# --- whole pages -----------------------------------------------------------------------------

def runs_page(catalog: Catalog, query: RunQuery, *, scope: str) -> str:
    """`bth view`'s front page: the runs `query` picks (`scope` names them)."""
    links = Links.served()
    rows = catalog.runs(query)
    body = runs_body(runs_table(catalog, rows, query), links,
                     note=f"{describe.counted(len(rows), 'run')} in {scope}, newest first")
    return document("runs", [section("runs", "Runs", body + _campaign_list(catalog, links))],
                    links)


def run_page(catalog: Catalog, run_id: str) -> str:
    links = Links.served()
    run_id = catalog.resolve(run_id)
    return document(f"run {run_id[:describe.SHORT_ID]}", [section(
        f"run-{run_id}", f"Run {run_id[:describe.SHORT_ID]}", run_body(catalog, run_id, links))],
        links)


def compare_page(catalog: Catalog, run_ids: Sequence[str]) -> str:
    links = Links.served()
    return document("compare", [section("compare", f"Compare {len(run_ids)} runs",
                                        compare_body(catalog, run_ids, links))], links)


def campaign_page(catalog: Catalog, campaign_id: str) -> str:
    links = Links.served()
    return document(f"campaign {campaign_id}", [section(
        f"campaign-{campaign_id}", f"Campaign {campaign_id}",
        campaign_body(catalog, campaign_id, links))], links)


def _campaign_list(catalog: Catalog, links: Links) -> str:
    found = catalog.campaigns().to_dicts()
    if not found:
        return ""
    items = "".join(
        f'<li><a href="{escape(links.campaign.format(id=c["id"]))}">{escape(c["id"])}</a> '
        f'<span class="muted">{escape(str(c.get("status") or ""))} · '
        f'{escape(str(c.get("question") or c.get("hypothesis") or ""))}</span></li>'
        for c in found)
    return f"<h2>Campaigns</h2><ul>{items}</ul>"


# --- a report --------------------------------------------------------------------------------

# A report gives this many runs a page of their own (the runs named, else the newest), so its
# size grows with the table's rows, not with every run's logs and charts.
REPORT_RUN_PAGES = 20


def report(catalog: Catalog, *, query: RunQuery | None = None, campaign: str | None = None,
           run_ids: Sequence[str] = ()) -> str:
    """One self-contained HTML file: the runs table of the runs `query` picks, of a
    campaign's members or of the runs named; pages for up to `REPORT_RUN_PAGES` of them; the
    campaign's page; and, for 2 to 10 runs named, their comparison."""
    with catalog.reading() as snap:
        return _report(snap, query=query, campaign=campaign, run_ids=run_ids)


def _report(catalog: Catalog, *, query: RunQuery | None, campaign: str | None,
            run_ids: Sequence[str]) -> str:
    links = Links.in_report()
    if run_ids:
        ids = [catalog.resolve(r) for r in run_ids]
        rows = _rows_of(catalog, ids)
    elif campaign is not None:
        rows = catalog.campaign(campaign).runs()
    elif query is not None:
        rows = catalog.runs(query)
    else:
        raise ConfigError("a report needs runs: a query, a campaign or run ids")
    listed = [r["id"] for r in rows.to_dicts()]
    detailed = (ids if run_ids else listed)[:REPORT_RUN_PAGES]
    if campaign is not None:  # the campaign's page, with its runs, comes first
        sections = [section(f"campaign-{campaign}", f"Campaign {campaign}",
                            campaign_body(catalog, campaign, links, detailed=detailed))]
    else:
        note = (f"{describe.counted(len(listed), 'run')}, newest first; "
                f"{describe.counted(len(detailed), 'run')} with a page here")
        sections = [section("runs", "Runs", runs_body(runs_table(catalog, rows, query), links,
                                                      detailed=detailed, note=note))]
    if run_ids and COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        sections.append(section("compare", f"Compare {len(ids)} runs",
                                compare_body(catalog, ids, links)))
    reads = RunReads.of(catalog, detailed)
    sections += [section(f"run-{r}", f"Run {r[:describe.SHORT_ID]}",
                         run_body(catalog, r, links, reads)) for r in detailed]
    return document("report", sections, links)


def write_report(catalog: Catalog, path: str | os.PathLike[str], *,
                 query: RunQuery | None = None, campaign: str | None = None,
                 run_ids: Sequence[str] = ()) -> int:
    """Write the pages into one self-contained HTML file at `path` (atomically: a file there
    is replaced whole or not at all) and return its size in bytes: the runs table of the runs
    `query` picks, of `campaign`'s members or of the `run_ids` named; a page for each of the
    first 20; the campaign's review; and the comparison of 2 to 10 `run_ids`.

    >>> bathos.write_report(cat, "sweep.html", campaign="lr-sweep")"""
    from bathos.fsutil import atomic_write_bytes

    data = report(catalog, query=query, campaign=campaign, run_ids=run_ids).encode("utf-8")
    atomic_write_bytes(Path(path), data)
    return len(data)


def _rows_of(catalog: Catalog, ids: Sequence[str]) -> Rows:
    """The listing rows of the runs `ids`, newest first."""
    from bathos.catalog.rows import LISTING_COLUMNS, OBJECT_COLUMNS, Rows

    found = catalog.sql(f"SELECT {', '.join(LISTING_COLUMNS)} FROM runs WHERE "
                        "list_contains(?, id) ORDER BY started_at DESC, id DESC", [list(ids)])
    return Rows(found.columns, found.types, found.tuples(), objects=OBJECT_COLUMNS)
