"""The timeline SVG: escaped labels, no external references, staggered markers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.render.chart import ChartData, render_svg

T0 = datetime(2024, 3, 14, 10, 0, tzinfo=UTC)


def test_chart_escapes_labels_and_references_nothing():
    data = ChartData(
        start=T0,
        width_s=60,
        buckets=[{"other": 3, "warn": 1, "error": n % 3} for n in range(30)],
        markers=[(T0 + timedelta(minutes=5), '<img src="file:///etc/passwd">')],
    )
    svg = render_svg(data)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<img" not in svg and "&lt;img" in svg
    assert "href" not in svg and "url(" not in svg and "<script" not in svg


def test_close_markers_are_staggered():
    markers = [(T0 + timedelta(seconds=s), f"m{s}") for s in (0, 1, 2)]
    svg = render_svg(ChartData(start=T0, width_s=60, buckets=[{"other": 1}] * 10, markers=markers))
    rows = {part.split('cy="')[1].split('"')[0] for part in svg.split("<circle")[1:4]}
    assert len(rows) == 2


def test_empty_chart():
    assert "<svg" in render_svg(ChartData(start=T0, width_s=60, buckets=[]))
