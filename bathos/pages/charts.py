"""Charts as inline SVG, drawn here so a page needs nothing from the network: line charts (metric
curves, one series per run), interval charts (a campaign's arms: each run a point, the mean with its
confidence interval) and a lineage graph. Colours come from the page's CSS (classes c0..c9), so a
chart follows the light or dark scheme; every text is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from bathos.lineage import Lineage

WIDTH, HEIGHT = 460, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 14, 26, 44
COLOURS = 10


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values spanning [low, high] (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _num(value: float) -> str:
    return f"{value:.4g}"


class _Frame:
    """The plot area of a chart: maps data to pixels, and draws the axes with their ticks."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float], width: int, height: int) -> None:
        self.width, self.height = width, height
        self.x0, self.x1 = _span(xs)
        self.y0, self.y1 = _span(ys, pad=0.05)

    def x(self, value: float) -> float:
        return _LEFT + (value - self.x0) / (self.x1 - self.x0) * (self.width - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        return self.height - _BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (
            self.height - _TOP - _BOTTOM)

    def axes(self, x_label: str, y_label: str, *, x_ticks: bool = True) -> list[str]:
        bottom, right = self.height - _BOTTOM, self.width - _RIGHT
        out = [f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
               f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}"/>']
        for value in ticks(self.y0, self.y1):
            y = self.y(value)
            out.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>'
                       f'<text x="{_LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">'
                       f'{_num(value)}</text>')
        if x_ticks:
            for value in ticks(self.x0, self.x1):
                x = self.x(value)
                out.append(f'<line class="tick" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" '
                           f'y2="{bottom + 4}"/><text x="{x:.1f}" y="{bottom + 16}" '
                           f'text-anchor="middle">{_num(value)}</text>')
        out.append(f'<text x="{(_LEFT + right) / 2:.0f}" y="{self.height - 6}" '
                   f'text-anchor="middle">{escape(x_label)}</text>')
        out.append(f'<text transform="translate(13 {(_TOP + bottom) / 2:.0f}) rotate(-90)" '
                   f'text-anchor="middle">{escape(y_label)}</text>')
        return out


def _span(values: Sequence[float], pad: float = 0.0) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if high == low:
        return low - (abs(low) or 1) * 0.5, high + (abs(high) or 1) * 0.5
    margin = (high - low) * pad
    return low - margin, high + margin


def _svg(body: list[str], title: str, width: int, height: int) -> str:
    return (f'<svg class="chart" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="{_LEFT}" y="16" font-weight="600">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def _legend(labels: Sequence[str], width: int) -> tuple[list[str], int]:
    """A legend under the plot, one row per series: its marks and the rows it takes."""
    if len(labels) < 2:
        return [], 0
    out = []
    for i, label in enumerate(labels):
        y = 4 + i * 15
        out.append(f'<g transform="translate({_LEFT} {y})"><rect class="c{i % COLOURS}" x="0" '
                   f'y="-8" width="14" height="4"/><text x="20" y="-3">{escape(label)}</text>'
                   f'</g>')
    return out, 15 * len(labels) + 4


def line_chart(series: Sequence[tuple[str, Sequence[tuple[float, float]]]], *, title: str,
               x_label: str = "step", y_label: str = "value") -> str:
    """One line per (label, points) series, with axes, a title and a legend when several."""
    points = [p for _, ps in series for p in ps]
    frame = _Frame([p[0] for p in points], [p[1] for p in points], WIDTH, HEIGHT)
    body = frame.axes(x_label, y_label)
    for i, (label, ps) in enumerate(series):
        finite = [(x, y) for x, y in ps if math.isfinite(x) and math.isfinite(y)]
        if len(finite) == 1:
            x, y = finite[0]
            body.append(f'<circle class="c{i % COLOURS}" cx="{frame.x(x):.1f}" '
                        f'cy="{frame.y(y):.1f}" r="3"><title>{escape(label)}</title></circle>')
        elif finite:
            path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in finite)
            body.append(f'<polyline class="series c{i % COLOURS}" points="{path}">'
                        f'<title>{escape(label)}</title></polyline>')
    legend, extra = _legend([label for label, _ in series], WIDTH)
    if legend:
        body.append(f'<g transform="translate(0 {HEIGHT})">' + "".join(legend) + "</g>")
    return _svg(body, title, WIDTH, HEIGHT + extra)


def interval_chart(arms: Sequence[tuple[str, Sequence[float], float | None, float | None,
                                        float | None]], *, title: str, y_label: str) -> str:
    """Per arm (label, run values, mean, CI low, CI high): each run a point, the mean a bar with
    its interval as whiskers."""
    width = max(WIDTH, _LEFT + _RIGHT + 70 * len(arms))
    ys = [v for _, values, *bounds in arms
          for v in [*values, *(b for b in bounds if b is not None)]]
    frame = _Frame([0, len(arms)], ys, width, HEIGHT)
    body = frame.axes("arm", y_label, x_ticks=False)
    for i, (label, values, mean, low, high) in enumerate(arms):
        cx, colour = frame.x(i + 0.5), f"c{i % COLOURS}"
        body.append(f'<text x="{cx:.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="middle">'
                    f'{escape(label)}</text>')
        for j, value in enumerate(v for v in values if math.isfinite(v)):
            jitter = ((j * 7) % 11 - 5) * 2.2
            body.append(f'<circle class="{colour}" opacity="0.55" cx="{cx - 14 + jitter:.1f}" '
                        f'cy="{frame.y(value):.1f}" r="2.6"><title>{_num(value)}</title></circle>')
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
            x = cx + 10
            body.append(f'<line class="ci {colour}" x1="{x:.1f}" y1="{frame.y(low):.1f}" '
                        f'x2="{x:.1f}" y2="{frame.y(high):.1f}"/>'
                        f'<line class="ci {colour}" x1="{x - 5:.1f}" y1="{frame.y(low):.1f}" '
                        f'x2="{x + 5:.1f}" y2="{frame.y(low):.1f}"/>'
                        f'<line class="ci {colour}" x1="{x - 5:.1f}" y1="{frame.y(high):.1f}" '
                        f'x2="{x + 5:.1f}" y2="{frame.y(high):.1f}"/>')
        if mean is not None and math.isfinite(mean):
            body.append(f'<line class="mean {colour}" x1="{cx + 2:.1f}" y1="{frame.y(mean):.1f}" '
                        f'x2="{cx + 18:.1f}" y2="{frame.y(mean):.1f}"><title>mean '
                        f'{_num(mean)}</title></line>')
    return _svg(body, title, width, HEIGHT)


def lineage_graph(graph: Lineage, run_href: str, short: int = 12) -> str:
    """The runs around `graph.root` in columns by generation (parents left, children right),
    solid edges for named parents, dashed for ones inferred from files; `run_href` formats a
    node's link (`{id}`)."""
    depth = {graph.root: 0}
    for step, pick, sign in ((graph.parents, "parent", -1), (graph.children, "child", 1)):
        frontier = [graph.root]
        while frontier:
            following = []
            for run_id in frontier:
                for edge in step(run_id):
                    other = getattr(edge, pick)
                    if other not in depth:
                        depth[other] = depth[run_id] + sign
                        following.append(other)
            frontier = following
    columns: dict[int, list[str]] = {}
    for run_id, d in sorted(depth.items(), key=lambda item: (item[1], item[0])):
        columns.setdefault(d, []).append(run_id)
    low = min(columns)
    box_w, box_h, gap_x, gap_y = 150, 38, 60, 14
    place = {run_id: (10 + (d - low) * (box_w + gap_x), 10 + i * (box_h + gap_y))
             for d, ids in columns.items() for i, run_id in enumerate(ids)}
    width = 20 + len(columns) * (box_w + gap_x) - gap_x
    height = 20 + max(len(ids) for ids in columns.values()) * (box_h + gap_y) - gap_y
    body = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path class="arrow" '
            'd="M 0 0 L 10 5 L 0 10 z"/></marker></defs>']
    for edge in graph.edges:
        if edge.parent in place and edge.child in place:
            (x1, y1), (x2, y2) = place[edge.parent], place[edge.child]
            kind = "edge inferred" if edge.inferred else "edge"
            body.append(f'<path class="{kind}" marker-end="url(#arrow)" d="M {x1 + box_w} '
                        f'{y1 + box_h / 2} C {x1 + box_w + gap_x / 2} {y1 + box_h / 2} '
                        f'{x2 - gap_x / 2} {y2 + box_h / 2} {x2} {y2 + box_h / 2}">'
                        f'<title>{"inferred from files" if edge.inferred else "derived from"}'
                        f'</title></path>')
    for run_id, (x, y) in place.items():
        node = graph.nodes.get(run_id)
        script = (node.script or "-").rsplit("/", 1)[-1] if node else ""
        label = f"{script[:16]} · {node.status}" if node else "not in the catalog"
        root = " root" if run_id == graph.root else ""
        body.append(f'<a href="{escape(run_href.format(id=run_id))}"><g class="node{root}">'
                    f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4"/>'
                    f'<text x="{x + 6}" y="{y + 15}" class="mono">{escape(run_id[:short])}</text>'
                    f'<text x="{x + 6}" y="{y + 30}">{escape(label)}</text></g></a>')
    return (f'<svg class="chart lineage" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="lineage">'
            + "".join(body) + "</svg>")
