"""The postmortem as one document: print HTML (for WeasyPrint) and Markdown (for download).

Input is plain data (no Django). All text is escaped here: `html.escape` for metadata and
evidence, `markdown.to_html` (raw HTML off, evidence-only links) for section bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from apps.core.render.chart import DeployMark
from apps.core.render.markdown import (
    anchor,
    cite,
    md_cell,
    md_escape,
    neutralise_html,
    to_html,
)


@dataclass
class EvidenceLine:
    source_id: int
    line: int
    member: str  # the log file's name inside the upload
    file_name: str  # the uploaded file's original name
    source_sha256: str
    file_sha256: str
    rows: list[tuple[int, str]] = field(default_factory=list)  # (physical line number, text)
    when: str = ""
    missing: bool = False


@dataclass
class ActionRow:
    text: str
    owner: str = ""
    due: str = ""
    done: bool = False
    evidence: list[tuple[str, int, int]] = field(default_factory=list)  # (label, source, line)


@dataclass
class Section:
    key: str
    title: str
    markdown: str


@dataclass
class Document:
    title: str
    subtitle: str  # project and incident
    status: str
    severity: str
    dates: list[tuple[str, str]]
    sections: list[Section]
    actions: list[ActionRow] = field(default_factory=list)
    evidence: list[EvidenceLine] = field(default_factory=list)
    chart_svg: str = ""  # built by chart.render_svg (escaped there)
    deploys: list[DeployMark] = field(default_factory=list)  # the chart's, listed under it
    generated: str = ""
    version_note: str = ""


def _e(value) -> str:
    return escape(str(value), quote=True)


def _actions_html(actions: list[ActionRow]) -> str:
    if not actions:
        return '<p class="muted">No action items yet.</p>'
    rows = "".join(
        f"<tr><td>{n}</td><td>{_e(a.text)}{_evidence_links(a.evidence)}</td>"
        f"<td>{_e(a.owner or '—')}</td>"
        f"<td>{_e(a.due or '—')}</td><td>{'done' if a.done else 'open'}</td></tr>"
        for n, a in enumerate(actions, start=1)
    )
    return (
        '<table class="actions"><thead><tr><th>#</th><th>Action</th><th>Owner</th>'
        f"<th>Due</th><th>Status</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _evidence_links(evidence: list[tuple[str, int, int]]) -> str:
    links = " ".join(
        f'<a class="cite" href="{_e(anchor(source_id, line))}">{_e(label)}</a>'
        for label, source_id, line in evidence
    )
    return f" {links}" if links else ""


def _evidence_html(evidence: list[EvidenceLine]) -> str:
    if not evidence:
        return '<p class="muted">No cited lines.</p>'
    out = []
    by_source: dict[int, list[EvidenceLine]] = {}
    for item in evidence:
        by_source.setdefault(item.source_id, []).append(item)
    for items in by_source.values():
        first = items[0]
        out.append(
            '<div class="source"><h3>'
            f"{_e(first.member)}</h3>"
            f'<p class="digest">file {_e(first.file_name)} · sha256 <code>{_e(first.file_sha256)}</code></p>'
        )
        if first.source_sha256 and first.source_sha256 != first.file_sha256:
            out.append(f'<p class="digest">log sha256 <code>{_e(first.source_sha256)}</code></p>')
        for item in items:
            target = anchor(item.source_id, item.line)[1:]
            if item.missing:
                out.append(
                    f'<div class="ev" id="{target}"><p class="muted">line {item.line}: '
                    "not found (source re-ingested or deleted)</p></div>"
                )
                continue
            lines = "".join(
                f'<tr><td class="ln">{number}</td><td class="tx">{_e(text)}</td></tr>'
                for number, text in item.rows
            )
            when = f' <span class="muted">{_e(item.when)}</span>' if item.when else ""
            out.append(
                f'<div class="ev" id="{target}"><p class="evhead">{_e(first.member)}:{item.line}'
                f'{when}</p><table class="lines">{lines}</table></div>'
            )
        out.append("</div>")
    return "".join(out)


def _when(deploy: DeployMark) -> str:
    return deploy.when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _deploys_html(deploys: list[DeployMark]) -> str:
    if not deploys:
        return ""
    rows = "".join(
        f'<li class="{"suspect" if d.suspect else ""}">{_e(_when(d))}: deploy '
        f"<strong>{_e(d.service)}</strong> {_e(d.version or '(no version)')}"
        f"{' <em>(suspect: errors began after it)</em>' if d.suspect else ''}</li>"
        for d in deploys
    )
    return f'<p class="deploys-head">Deploys in this period</p><ul class="deploys">{rows}</ul>'


def _deploys_markdown(deploys: list[DeployMark]) -> list[str]:
    if not deploys:
        return []
    out = ["**Deploys in this period**", ""]
    out += [
        f"- {_when(d)}: deploy **{md_escape(d.service)}** {md_escape(d.version or '(no version)')}"
        + (" _(suspect: errors began after it)_" if d.suspect else "")
        for d in deploys
    ]
    return [*out, ""]


def to_print_html(doc: Document) -> str:
    """A complete HTML document for WeasyPrint (styles come from the bundled report.css)."""
    dates = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in doc.dates)
    toc = "".join(f'<li><a href="#sec-{_e(s.key)}">{_e(s.title)}</a></li>' for s in doc.sections)
    body = []
    for section in doc.sections:
        body.append(f'<section id="sec-{_e(section.key)}" class="sec sec-{_e(section.key)}">')
        body.append(f"<h2>{_e(section.title)}</h2>")
        if section.key == "timeline" and doc.chart_svg:
            body.append(f'<figure class="chart">{doc.chart_svg}</figure>')
        if section.key == "timeline":
            body.append(_deploys_html(doc.deploys))
        if section.key != "appendix" or section.markdown.strip():
            body.append(to_html(section.markdown))
        if section.key == "actions":
            body.append(_actions_html(doc.actions))
        if section.key == "appendix":
            body.append(_evidence_html(doc.evidence))
        body.append("</section>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(doc.title)}</title></head><body>"
        '<section class="cover"><p class="kicker">Postmortem</p>'
        f'<h1>{_e(doc.title)}</h1><p class="subtitle">{_e(doc.subtitle)}</p>'
        f'<p class="badges"><span class="badge status">{_e(doc.status)}</span>'
        f'<span class="badge sev">{_e(doc.severity)}</span></p>'
        f'<table class="meta">{dates}</table>'
        f'<p class="muted">{_e(doc.version_note)}</p>'
        '<nav class="toc"><h2 class="toc-title">Contents</h2>'
        f"<ol>{toc}</ol></nav></section>"
        f"{''.join(body)}</body></html>"
    )


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def to_markdown(doc: Document) -> str:
    out = [f"# {md_escape(doc.title)}", "", f"_{md_escape(doc.subtitle)}_", ""]
    out += [f"- **Status:** {md_escape(doc.status)}", f"- **Severity:** {md_escape(doc.severity)}"]
    out += [f"- **{md_escape(k)}:** {md_escape(v)}" for k, v in doc.dates]
    out.append("")
    for section in doc.sections:
        out += [f"## {md_escape(section.title)}", ""]
        if section.markdown.strip():
            out += [neutralise_html(section.markdown.strip()), ""]
        if section.key == "timeline":
            out += _deploys_markdown(doc.deploys)
        if section.key == "actions":
            out += ["| # | Action | Owner | Due | Status |", "|---|---|---|---|---|"]
            out += [
                f"| {n} | {md_cell(a.text)}"
                + "".join(f" {cite(label, s, line)}" for label, s, line in a.evidence)
                + f" | {md_cell(a.owner or '—')} | "
                f"{md_cell(a.due or '—')} | {'done' if a.done else 'open'} |"
                for n, a in enumerate(doc.actions, start=1)
            ]
            out.append("")
        if section.key == "appendix":
            for item in doc.evidence:
                out.append(f'<a id="{anchor(item.source_id, item.line)[1:]}"></a>')
                out.append(
                    f"**{md_escape(item.member)}:{item.line}** · file {md_escape(item.file_name)} "
                    f"· sha256 `{item.file_sha256}`"
                    + (f" · log sha256 `{item.source_sha256}`" if item.source_sha256 else "")
                )
                out.append("")
                if item.missing:
                    out += ["_line not found (source re-ingested or deleted)_", ""]
                    continue
                text = "\n".join(f"{number:>6}  {line}" for number, line in item.rows)
                fence = _fence(text)
                out += [f"{fence}text", text, fence, ""]
    return "\n".join(out).rstrip() + "\n"
