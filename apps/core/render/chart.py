"""The incident timeline as a standalone SVG (server-side; no script, no external references).

Stacked event-rate bars by level, markers for key events. Every label is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape

W, H, PAD_L, PAD_R, PAD_T, PLOT_H, AXIS_H, LEGEND_H = 760, 246, 48, 12, 42, 150, 22, 20
MARKER_ROWS = (PAD_T - 12, PAD_T - 29)  # staggered so close markers stay readable
MARKER_GAP = 15
LEVEL_FILLS = (("other", "#cbd5e1"), ("warn", "#f59e0b"), ("error", "#dc2626"))


@dataclass
class ChartData:
    start: datetime
    width_s: int  # seconds per bucket
    buckets: list[dict[str, int]]  # per bucket: {"other": n, "warn": n, "error": n}
    markers: list[tuple[datetime, str]] = field(default_factory=list)  # (when, short label)

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
    out += _markers(data, plot_w, span, base_y)
    out += _legend()
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


def _legend() -> list[str]:
    legend_y = H - 6
    x = PAD_L
    out = []
    for key, fill in LEVEL_FILLS:
        name = {"other": "info / debug", "warn": "warning", "error": "error / fatal"}[key]
        out.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{x + 14}" y="{legend_y}" fill="#334155">{escape(name)}</text>'
        )
        x += 110
    out.append(
        f'<circle cx="{x + 5}" cy="{legend_y - 4}" r="5" fill="#4f46e5"/>'
        f'<text x="{x + 14}" y="{legend_y}" fill="#334155">key event (numbered as in the timeline)</text>'
    )
    return out
