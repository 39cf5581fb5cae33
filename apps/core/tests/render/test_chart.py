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


def test_deploys_are_labelled_lines_the_suspect_in_its_own_colour():
    from apps.core.render.chart import DEPLOY, SUSPECT, DeployMark

    deploys = [
        DeployMark(T0 + timedelta(minutes=2), "api", "v1.2.3"),
        DeployMark(T0 + timedelta(minutes=2, seconds=5), "web<b>", "9", suspect=True),
        DeployMark(T0 + timedelta(minutes=9, seconds=50), "worker", "long-version-name"),
        DeployMark(T0 + timedelta(hours=2), "outside", "x"),
    ]
    svg = render_svg(ChartData(start=T0, width_s=60, buckets=[{"other": 1}] * 10, deploys=deploys))
    groups = svg.split('<g class="deploy">')[1:]
    assert len(groups) == 3 and "outside" not in svg
    assert ">api v1.2.3</text>" in groups[0] and f'stroke="{DEPLOY}"' in groups[0]
    assert ">suspect: web&lt;b&gt; 9</text>" in groups[1] and f'stroke="{SUSPECT}"' in groups[1]
    # two deploys five seconds apart: their labels go on different rows
    rows = [g.split("<text ")[1].split('y="')[1].split('"')[0] for g in groups[:2]]
    assert rows[0] != rows[1]
    # the last one near the right edge: its label ends at its line, inside the chart
    assert 'text-anchor="end"' in groups[2]
    assert "suspect deploy" in svg  # the legend names both kinds


def test_no_deploys_no_deploy_legend():
    svg = render_svg(ChartData(start=T0, width_s=60, buckets=[{"other": 1}] * 10))
    assert "deploy" not in svg
