"""Raw HTML a user types or pastes into a section: text in the product, text in the export."""

from __future__ import annotations

from markdown_it import MarkdownIt

from apps.core.render.markdown import neutralise_html
from apps.reports import selectors, services
from apps.reports.models import SectionKey

# what a Markdown viewer that allows raw HTML would make of the export
RAW_HTML_VIEWER = MarkdownIt("commonmark", {"html": True})

PASTED = (
    "We saw <img src=x onerror=alert(1)> in the proxy log and `a<b>c` in code.\n"
    "<div hx-get=/x hx-trigger=load>block</div>\n\n"
    "```\n<script>alert(2)</script>\n```\n\n"
    "    <indented>code</indented>\n"
)


def test_html_outside_code_is_escaped_and_code_is_kept():
    html = RAW_HTML_VIEWER.render(neutralise_html(PASTED))
    assert "<img" not in html and "<div" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as the text that was typed
    assert "<code>a&lt;b&gt;c</code>" in html  # a code span keeps its `<` (one escape, by HTML)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the fence, escaped once
    assert "&amp;lt;" not in html  # nothing escaped twice
    assert neutralise_html("no angle brackets here") == "no angle brackets here"


def test_unmatched_backticks_do_not_shield_html():
    html = RAW_HTML_VIEWER.render(neutralise_html("a ` b <img src=x onerror=alert(1)>"))
    assert "<img" not in html


def test_export_of_a_typed_section_holds_no_markup(report):
    section = selectors.get_section(report, SectionKey.SUMMARY)
    services.save_section(
        report=report, key=SectionKey.SUMMARY, body=PASTED, base_version=section.version
    )
    exported = services.markdown_export(report)
    html = RAW_HTML_VIEWER.render(exported)
    assert "onerror" in html  # the text is there ...
    assert "<img" not in html and "<div hx-get" not in html and "<script>" not in html  # ... inert


def test_already_escaped_text_is_left_alone():
    # md_escape writes `\<` for drafted log text: it must still read `<`, not `&lt;`
    assert neutralise_html("\\<img src=x>") == "\\<img src=x>"
    assert RAW_HTML_VIEWER.render(neutralise_html("\\<b>")) == "<p>&lt;b&gt;</p>\n"
    # an escaped backslash before `<` leaves the `<` live: that one is escaped
    assert "<b>" not in RAW_HTML_VIEWER.render(neutralise_html("\\\\<b>x</b>"))
