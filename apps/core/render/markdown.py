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
# a link's `](#ev-S-L)`, its `]` not backslash-escaped (an even run of backslashes is text)
EVIDENCE_LINK = re.compile(r"(?<!\\)(?:\\\\)*\]\(#ev-(\d{1,18})-(\d{1,18})\)")
# What makes inline Markdown out of plain text, each escaped only where it would (CommonMark
# with GFM tables and strikethrough): a date or a path reads as written in the export.
_INLINE_SPECIAL = re.compile(
    r"""
      \\(?=[!-/:-@\[-`{-~]|$)        # a backslash that would escape what follows (or ends)
    | `                               # code spans
    | \*(?!\s)|(?<!\s)\*              # emphasis (a lone ` * ` between spaces is literal)
    | (?<![0-9A-Za-z])_|_(?![0-9A-Za-z])   # emphasis: `_` at a word edge (snake_case is literal)
    | !(?=\[)                         # an image
    | \](?=[(\[:])                    # a link, reference or definition closes here
    | <(?=[A-Za-z/!?])                # an HTML tag or autolink opens here
    | &(?=\#?[0-9A-Za-z]+;)           # an entity reference
    | ~(?=~)|(?<=~)~                  # strikethrough runs
    """,
    re.VERBOSE,
)
# What a line may start with to become a block: heading, quote, list item, thematic break.
_BLOCK_START = re.compile(r"^(?:(#{1,6})(?=\s|$)|(>)|([-+*=_])(?=\s|$|\3)|(\d{1,9})([.)])(?=\s|$))")

Ref = tuple[int, int]
LinkFor = Callable[[int, int], str]


def anchor(source_id: int, line: int) -> str:
    return f"#ev-{int(source_id)}-{int(line)}"


def _valid_link(url: str) -> bool:
    return bool(EVIDENCE_ANCHOR.match(url))


class _Markdown(MarkdownIt):
    """CommonMark whose links may only point at evidence anchors."""

    def validateLink(self, url: str) -> bool:  # markdown-it's hook, named by it
        return _valid_link(url)


def _parser() -> MarkdownIt:
    md = _Markdown("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.disable("image")
    return md


_MD = _parser()


def md_escape(text: str) -> str:
    """Text (a log line, an LLM sentence, a file name) as literal Markdown on one line.

    Only what Markdown would read as markup is escaped, so the export reads as plain text
    (`2024-03-14 10:01:03`, not `2024\\-03\\-14`): inline markup anywhere, and block markup at
    the start (the text may open a line or a list item). Whitespace runs become one space."""
    flat = " ".join(str(text).split())
    flat = _INLINE_SPECIAL.sub(lambda m: "\\" + m.group(), flat)
    return _BLOCK_START.sub(_escape_block_start, flat, count=1)


def md_cell(text: str) -> str:
    """`md_escape` for a table cell, where `|` ends the cell."""
    return md_escape(text).replace("|", "\\|")


def md_clip(text: str, limit: int) -> str:
    """Plain `text` cut to `limit` characters at a space when there is one, with "…".

    Cut before escaping, never after: a cut escape (`\\` at the end) would escape what
    follows it in the Markdown."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: max(1, limit - 1)]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def md_code(text: str) -> str:
    """Text as an inline code span (shown verbatim, nothing escaped inside): the fence is one
    backtick longer than any run in the text."""
    flat = " ".join(str(text).split())
    longest = max((len(m) for m in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _escape_block_start(m: re.Match) -> str:
    if m.group(4):  # "1." → "1\."
        return f"{m.group(4)}\\{m.group(5)}"
    return "\\" + m.group()


def cite(label: str, source_id: int, line: int) -> str:
    """A citation link in Markdown source: ``[label](#ev-S-L)``."""
    return f"[{md_cell(label)}]({anchor(source_id, line)})"


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
# a `<` that opens a tag, comment or declaration (`<a`, `</`, `<!`, `<?`), not already
# backslash-escaped (an even run of backslashes before it escapes itself); `<*>` stays as is
_LIVE_LT = re.compile(r"(?<!\\)((?:\\\\)*)<(?=[A-Za-z/!?])")


def _escape_lt(text: str) -> str:
    return _LIVE_LT.sub(r"\1&lt;", text)


def neutralise_html(markdown: str) -> str:
    """`markdown` with every `<` that could open HTML outside code written as `&lt;`.

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
