"""The incident timeline as a standalone SVG (server-side; no script, no external references).

Stacked event-rate bars by level, numbered markers for key events, and the project's deploys
as labelled lines across the plot (service and version; the suspect deploy in its own colour).
Every label is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape

W, H, PAD_L, PAD_R, PAD_T, PLOT_H, AXIS_H, LEGEND_H = 760, 246, 48, 12, 42, 150, 22, 20
MARKER_ROWS = (PAD_T - 12, PAD_T - 29)  # staggered so close markers stay readable
MARKER_GAP = 15
LEVEL_FILLS = (("other", "#cbd5e1"), ("warn", "#f59e0b"), ("error", "#dc2626"))
DEPLOY, SUSPECT = "#0f766e", "#be185d"  # teal, and magenta for the suspect deploy
DEPLOY_ROWS = (PAD_T + 10, PAD_T + 22, PAD_T + 34, PAD_T + 46)  # label baselines in the plot
CHAR_W = 5.2  # an approximate glyph width at 9px: enough to keep labels from overlapping
MAX_DEPLOYS = 12


@dataclass
class DeployMark:
    when: datetime
    service: str
    version: str = ""
    suspect: bool = False

    @property
    def label(self) -> str:
        name = f"{self.service} {self.version}".strip()[:40]
        return f"suspect: {name}" if self.suspect else name


@dataclass
class ChartData:
    start: datetime
    width_s: int  # seconds per bucket
    buckets: list[dict[str, int]]  # per bucket: {"other": n, "warn": n, "error": n}
    markers: list[tuple[datetime, str]] = field(default_factory=list)  # (when, short label)
    deploys: list[DeployMark] = field(default_factory=list)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.width_s * len(self.buckets))


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def render_svg(data: ChartData, title: str = "Events over time") -> str:
    n = max(len(data.buckets), 1)
    plot_w = W - PAD_L - PAD_R
    peak = max((sum(b.values()) for b in data.buckets), default=0) or 1
    base_y = PAD_T + PLOT_H
    span = max((data.end - data.start).total_seconds(), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'role="img" aria-label="{escape(title)}" font-family="DejaVu Sans, sans-serif" font-size="10">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>',
        f'<line x1="{PAD_L}" y1="{base_y}" x2="{W - PAD_R}" y2="{base_y}" stroke="#64748b" stroke-width="1"/>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + 4}" text-anchor="end" fill="#475569">{peak}</text>',
        f'<text x="{PAD_L - 6}" y="{base_y}" text-anchor="end" fill="#475569">0</text>',
    ]
    out += _bars(data, plot_w / n, peak, base_y)
    out += _time_axis(data, plot_w, span, base_y)
    out += _deploys(data, plot_w, span, base_y)
    out += _markers(data, plot_w, span, base_y)
    out += _legend(bool(data.deploys))
    out.append("</svg>")
    return "".join(out)


def _bars(data: ChartData, step: float, peak: int, base_y: int) -> list[str]:
    """One stacked bar per bucket, a segment per level class."""
    out = []
    for index, bucket in enumerate(data.buckets):
        y = float(base_y)
        x = PAD_L + index * step
        for key, fill in LEVEL_FILLS:
            count = int(bucket.get(key, 0))
            if not count:
                continue
            h = max(count / peak * PLOT_H, 0.8)
            y -= h
            out.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(max(step - 0.6, 0.6))}" '
                f'height="{_fmt(h)}" fill="{fill}"/>'
            )
    return out


def _time_axis(data: ChartData, plot_w: float, span: float, base_y: int) -> list[str]:
    """Five times under the plot: clock times within three hours, else dates too."""
    fmt = "%H:%M:%S" if span <= 3 * 3600 else "%m-%d %H:%M"
    out = []
    for tick in range(5):
        x = PAD_L + plot_w * tick / 4
        when = data.start + timedelta(seconds=span * tick / 4)
        anchor = "start" if tick == 0 else "end" if tick == 4 else "middle"
        out.append(
            f'<text x="{_fmt(x)}" y="{base_y + 14}" text-anchor="{anchor}" fill="#475569">'
            f"{escape(when.strftime(fmt))}</text>"
        )
    return out


def _markers(data: ChartData, plot_w: float, span: float, base_y: int) -> list[str]:
    """The numbered key events, each on the first row where it does not crowd the last one."""
    out = []
    last_x = [float("-inf")] * len(MARKER_ROWS)
    for number, (when, label) in enumerate(data.markers, start=1):
        offset = (when - data.start).total_seconds() / span
        if not 0 <= offset <= 1:
            continue
        x = PAD_L + plot_w * offset
        row = next(
            (r for r, prev in enumerate(last_x) if x - prev >= MARKER_GAP),
            min(range(len(last_x)), key=lambda r: last_x[r]),
        )
        last_x[row] = x
        cy = MARKER_ROWS[row]
        out.append(
            f'<line x1="{_fmt(x)}" y1="{cy + 7}" x2="{_fmt(x)}" y2="{base_y}" '
            f'stroke="#4f46e5" stroke-width="1" stroke-dasharray="3 2"/>'
            f'<circle cx="{_fmt(x)}" cy="{cy}" r="7" fill="#4f46e5"/>'
            f'<text x="{_fmt(x)}" y="{cy + 3.5}" text-anchor="middle" fill="#ffffff" '
            f'font-size="{9 if number < 10 else 7.5}">{number}</text>'
            f"<title>{escape(label)}</title>"
        )
    return out


def _deploys(data: ChartData, plot_w: float, span: float, base_y: int) -> list[str]:
    """A solid line per deploy from the top of the plot to its base, a triangle on top and
    "service version" beside it, each label on the first row where it fits; the suspect first
    (it is never the one left out), then the others oldest first, up to MAX_DEPLOYS."""
    inside = [d for d in data.deploys if 0 <= (d.when - data.start).total_seconds() / span <= 1]
    chosen = sorted(inside, key=lambda d: (not d.suspect, d.when))[:MAX_DEPLOYS]
    taken: list[list[tuple[float, float]]] = [[] for _ in DEPLOY_ROWS]
    out = []
    for deploy in sorted(chosen, key=lambda d: (d.when, d.suspect)):
        x = PAD_L + plot_w * (deploy.when - data.start).total_seconds() / span
        colour, width = (SUSPECT, 2) if deploy.suspect else (DEPLOY, 1.2)
        label = deploy.label
        text_w = len(label) * CHAR_W
        right = x + 5 + text_w <= W - PAD_R
        left, end = (x + 5, x + 5 + text_w) if right else (x - 5 - text_w, x - 5)
        row = next(
            (r for r, spans in enumerate(taken) if all(end < a or left > b for a, b in spans)),
            None,
        )
        out.append(
            f'<g class="deploy"><line x1="{_fmt(x)}" y1="{PAD_T}" x2="{_fmt(x)}" y2="{base_y}" '
            f'stroke="{colour}" stroke-width="{width}"/>'
            f'<path d="M{_fmt(x - 5)} {PAD_T}h10l-5 7z" fill="{colour}"/>'
            f"<title>deploy {escape(label)} at {deploy.when:%Y-%m-%d %H:%M:%S} UTC</title>"
        )
        if row is not None:  # no room left: the line and its title still say it
            taken[row].append((left, end))
            out.append(
                f'<rect x="{_fmt(left - 1)}" y="{DEPLOY_ROWS[row] - 8}" width="{_fmt(text_w + 2)}" '
                f'height="10" fill="#ffffff" fill-opacity="0.85"/>'
                f'<text x="{_fmt(x + 5 if right else x - 5)}" y="{DEPLOY_ROWS[row]}" '
                f'text-anchor="{"start" if right else "end"}" fill="{colour}" font-size="9">'
                f"{escape(label)}</text>"
            )
        out.append("</g>")
    return out


def _legend(deploys: bool = False) -> list[str]:
    legend_y = H - 6
    x = PAD_L
    out = []
    step = 96 if deploys else 110
    for key, fill in LEVEL_FILLS:
        name = {"other": "info / debug", "warn": "warning", "error": "error / fatal"}[key]
        out.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{x + 14}" y="{legend_y}" fill="#334155">{escape(name)}</text>'
        )
        x += step
    key_event = "key event" if deploys else "key event (numbered as in the timeline)"
    out.append(
        f'<circle cx="{x + 5}" cy="{legend_y - 4}" r="5" fill="#4f46e5"/>'
        f'<text x="{x + 14}" y="{legend_y}" fill="#334155">{key_event}</text>'
    )
    if deploys:
        for colour, name, at in ((DEPLOY, "deploy", 90), (SUSPECT, "suspect deploy", 160)):
            out.append(
                f'<path d="M{x + at} {legend_y - 9}h10l-5 7z" fill="{colour}"/>'
                f'<text x="{x + at + 14}" y="{legend_y}" fill="#334155">{name}</text>'
            )
    return out
