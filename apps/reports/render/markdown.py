"""Markdown → safe HTML: raw HTML off, no images, links only to evidence anchors.

Every piece of text that came from a log or an LLM reaches the output escaped: markdown-it
escapes text and code, `html=False` turns inline/block HTML into text, and `validateLink`
refuses every link target except ``#ev-<source_id>-<line>``. The link policy is applied again
when rendering, so a web page can point those anchors at the evidence view (same origin).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from markdown_it import MarkdownIt

EVIDENCE_ANCHOR = re.compile(r"^#ev-(\d{1,18})-(\d{1,18})$")
EVIDENCE_LINK = re.compile(r"\(#ev-(\d{1,18})-(\d{1,18})\)")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")

Ref = tuple[int, int]
LinkFor = Callable[[int, int], str]


def anchor(source_id: int, line: int) -> str:
    return f"#ev-{int(source_id)}-{int(line)}"


def _valid_link(url: str) -> bool:
    return bool(EVIDENCE_ANCHOR.match(url))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.disable("image")
    md.validateLink = _valid_link
    return md


_MD = _parser()


def md_escape(text: str) -> str:
    """Text (a log line, an LLM sentence, a file name) as literal Markdown inline text."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def cite(label: str, source_id: int, line: int) -> str:
    """A citation link in Markdown source: ``[label](#ev-S-L)``."""
    return f"[{md_escape(label)}]({anchor(source_id, line)})"


def citations_in(markdown: str) -> list[Ref]:
    """The (source_id, line) pairs a Markdown text links to, in order, without duplicates."""
    seen: dict[Ref, None] = {}
    for match in EVIDENCE_LINK.finditer(markdown or ""):
        seen[(int(match[1]), int(match[2]))] = None
    return list(seen)


def merge_refs(*groups: Iterable) -> list[Ref]:
    seen: dict[Ref, None] = {}
    for group in groups:
        for ref in group or ():
            try:
                seen[(int(ref[0]), int(ref[1]))] = None
            except (TypeError, ValueError, IndexError):
                continue
    return list(seen)


def to_html(markdown: str, link_for: LinkFor | None = None) -> str:
    """Escaped HTML for `markdown`. Evidence links get `link_for(source_id, line)` as href
    (default: the in-document anchor); any other link is rendered as its text."""
    tokens = _MD.parse(markdown or "")
    for token in tokens:
        for child in token.children or ():
            if child.type != "link_open":
                continue
            match = EVIDENCE_ANCHOR.match(str(child.attrGet("href") or ""))
            if match is None:  # validateLink already refused it; belt and braces
                child.attrs.pop("href", None)
                continue
            source_id, line = int(match[1]), int(match[2])
            child.attrSet(
                "href", link_for(source_id, line) if link_for else anchor(source_id, line)
            )
            child.attrSet("class", "cite")
    return _MD.renderer.render(tokens, _MD.options, {})


_BACKTICKS = re.compile(r"`+")
# a `<` not already backslash-escaped (an even run of backslashes before it escapes itself)
_LIVE_LT = re.compile(r"(?<!\\)((?:\\\\)*)<")


def _escape_lt(text: str) -> str:
    return _LIVE_LT.sub(r"\1&lt;", text)


def neutralise_html(markdown: str) -> str:
    """`markdown` with every `<` outside code written as `&lt;`.

    The product renders sections with raw HTML off (`to_html`): a `<script>` typed or pasted
    into a section shows as text. A Markdown viewer with raw HTML on would make it markup, so
    the export writes it the way the product shows it. Code blocks and code spans keep their
    `<` (entities are not decoded there)."""
    if "<" not in (markdown or ""):
        return markdown
    lines = markdown.split("\n")
    in_code = [False] * len(lines)
    for token in _MD.parse(markdown):
        if token.type in ("fence", "code_block") and token.map:
            for i in range(token.map[0], min(token.map[1], len(lines))):
                in_code[i] = True
    return "\n".join(
        line if code or "<" not in line else _outside_code_spans(line)
        for line, code in zip(lines, in_code, strict=True)
    )


def _outside_code_spans(line: str) -> str:
    """Escape `<` in a line except inside backtick code spans (CommonMark's matching rule:
    a span closes at the next run of the same length)."""
    out: list[str] = []
    pos = 0
    while pos < len(line):
        opening = _BACKTICKS.search(line, pos)
        if opening is None:
            break
        closing = next(
            (
                m
                for m in _BACKTICKS.finditer(line, opening.end())
                if len(m.group()) == len(opening.group())
            ),
            None,
        )
        if closing is None:  # an unmatched run is literal text
            out.append(_escape_lt(line[pos : opening.end()]))
            pos = opening.end()
            continue
        out.append(_escape_lt(line[pos : opening.start()]))
        out.append(line[opening.start() : closing.end()])
        pos = closing.end()
    out.append(_escape_lt(line[pos:]))
    return "".join(out)
