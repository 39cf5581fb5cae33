"""Markdown → HTML: raw HTML off, no images, links only to evidence anchors (table-driven)."""

from __future__ import annotations

import pytest

from apps.core.render.markdown import citations_in, cite, md_escape, to_html

HOSTILE = [
    '<img src="file:///etc/passwd">',
    "<script>alert(1)</script>",
    '<link rel=attachment href="file:///etc/passwd">',
    "![x](file:///etc/passwd)",
    "[click](javascript:alert(1))",
    "[home](http://127.0.0.1:9/)",
    "<http://127.0.0.1:9/>",
    "[rel](/t/beta/incidents/1/)",
    '<a href="x" onclick="y">a</a>',
    '[x](#ev-1-2"onmouseover=alert(1))',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_renders_inert(text):
    html = to_html(text)
    assert "<img" not in html and "<script" not in html and "<link" not in html
    assert "<a " not in html  # none of these is an evidence anchor
    assert "<iframe" not in html and "<a href" not in html


def test_evidence_links_are_kept_and_can_point_to_the_evidence_view():
    source = "Pool exhausted " + cite("api.log:12", 3, 12)
    assert 'href="#ev-3-12"' in to_html(source)
    html = to_html(source, link_for=lambda s, n: f"/t/alpha/incidents/1/evidence/{s}/{n}/")
    assert 'href="/t/alpha/incidents/1/evidence/3/12/"' in html
    assert citations_in(source) == [(3, 12)]


def test_md_escape_makes_log_text_literal():
    line = "*bold* [x](#ev-1-1) <img src=x> | `code` # h"
    html = to_html(md_escape(line))
    assert "<em>" not in html and "<a " not in html and "<code>" not in html
    assert "&lt;img src=x&gt;" in html
    assert citations_in(md_escape(line)) == []


def test_tables_render():
    html = to_html("| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<table>" in html and "<td>2</td>" in html
