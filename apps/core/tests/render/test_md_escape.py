"""md_escape: only what Markdown needs, so the export reads as plain text and stays inert.

Table-driven (what is escaped, what is left alone), then a property: any text, escaped and
rendered by markdown-it in the contexts the drafts use (a paragraph, a list item, a table cell),
comes back as the same plain text with no markup at all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.render.markdown import _MD, citations_in, md_cell, md_clip, md_escape

LEFT_ALONE = [
    "2024-03-14 10:01:03.412 UTC [28250] FATAL:  sorry, too many clients already",
    "POST /api/v1/checkout HTTP/1.1 504 rt=30.001",
    "snake_case_name and file.name (x86_64) {json: 1}",
    "a * b, 3 < 4, x > y, 100%, #123 issue, C:\\temp dir",
    "[14/Mar/2024:10:01:35 +0000] [error] 31#31:",
    "Tom & Jerry; key=value+1; ~user",
]
ESCAPED = [
    ("# heading", "\\# heading"),
    ("> quote", "\\> quote"),
    ("- item", "\\- item"),
    ("+ item", "\\+ item"),
    ("* item", "\\* item"),
    ("1. first", "1\\. first"),
    ("---", "\\---"),
    ("*bold*", "\\*bold\\*"),
    ("_em_ x", "\\_em\\_ x"),
    ("`code`", "\\`code\\`"),
    ("[x](#ev-1-2)", "[x\\](#ev-1-2)"),
    ("![i](file:///etc/passwd)", "\\![i\\](file:///etc/passwd)"),
    ("<script>alert(1)</script>", "\\<script>alert(1)\\</script>"),
    ("<http://127.0.0.1:9/>", "\\<http://127.0.0.1:9/>"),
    ("&amp; &#60;", "\\&amp; \\&#60;"),
    ("~~gone~~", "\\~\\~gone\\~\\~"),
    ("ends with \\", "ends with \\\\"),
    ("a\\*b", "a\\\\\\*b"),
]


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_plain_text_is_left_alone(text):
    assert md_escape(text) == " ".join(text.split())


@pytest.mark.parametrize(("text", "want"), ESCAPED)
def test_markup_is_escaped(text, want):
    assert md_escape(text) == want


def test_cells_escape_pipes_and_clip_cuts_before_escaping():
    assert md_cell("a|b") == "a\\|b"
    clipped = md_clip("x" * 10 + "\\" + "y" * 100, 12)
    assert clipped.endswith("…") and _plain(md_escape(clipped)) == clipped
    assert md_clip("short", 10) == "short"


def test_escaped_link_is_not_a_citation():
    assert citations_in(md_escape("[x](#ev-1-1)")) == []
    assert citations_in("see [x](#ev-1-1)") == [(1, 1)]


def _plain(markdown: str) -> str:
    """The text markdown-it reads out of `markdown`; fails on any markup token."""
    out = []
    for token in _MD.parse(markdown):
        assert token.type in {
            "paragraph_open",
            "paragraph_close",
            "inline",
            "bullet_list_open",
            "bullet_list_close",
            "list_item_open",
            "list_item_close",
            "table_open",
            "table_close",
            "thead_open",
            "thead_close",
            "tbody_open",
            "tbody_close",
            "tr_open",
            "tr_close",
            "th_open",
            "th_close",
            "td_open",
            "td_close",
        }, token.type
        for child in token.children or ():
            assert child.type == "text", (child.type, markdown)
            out.append(child.content)
    return "".join(out)


TEXT = st.text(
    alphabet=st.sampled_from(list("ab1 .-_*#>+=!|[]()<>&;`~\\:/x09"))
    | st.characters(blacklist_categories=("Cc", "Cs")),  # NUL → U+FFFD in any renderer
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_escaped_text_renders_back_to_itself(text):
    plain = " ".join(text.split())
    if not plain:
        return
    assert _plain(md_escape(text)) == plain
    assert _plain("- " + md_escape(text)) == plain
    # table cells: markdown-it trims cells, as every renderer does
    table = f"| h |\n|---|\n| {md_cell(text)} |"
    assert _plain(table) == "h" + plain.strip()
