"""XSS / HTML injection through rules, fake LLM output and postmortems, into the exports.

    python prove/xss_reports.py            (or `make prove`)

The ≥ 200 payloads of `prove.corpus.xss_payloads` plus `fetch_payloads` (references to a
counting listener on 127.0.0.1, `file:///etc/passwd`, `/dev/urandom`, CSS `url()`/`@import`,
Markdown images and links) are placed where a user or a model puts text:

- tenant custom rules, created through the rule form (title, explanation, remediation), and the
  findings they raise on incidents whose log lines, file names, titles and project carry the
  payloads too;
- the fake OpenAI-compatible server (`apps/core/tests/analysis/fake_llm.py`, real HTTP on 127.0.0.1)
  answers every analysis with the payloads as claim texts, quotes, hypothesis categories and
  actions (verified, unverified and dropped claims), through the real job;
- postmortems drafted from all of that by the real view, action items (text and owner) saved
  through the action form, and one section typed into the editor in the browser.

Driven in Chromium: the rules list and its HTMX partial, every custom rule page and edit form,
dry runs, the incident page, the analysis page, its HTMX panel and the prompt preview, the
postmortem list and editor (HTMX previews, history and diff partials, actions), the timeline SVG,
the PDF button and its status partial. Pass: 0 dialogs, 0 requests to other origins, 0 injected
elements (`INJECTED`), every page 200.

Exports: the PDF of every postmortem (made through the button) with the listener up — the
listener sees 0 connections, the renderer refused 0 URLs (nothing reached the fetcher), and
the PDF has no embedded files (`pdfdetach -list`), no `/URI`, `/JavaScript`, `/Launch`; the
payload text is in `pdftotext`. The Markdown export promises (apps/core/render/document.py)
that every log-, rule-, model- or title-derived string is escaped (`md_escape`) or in a code
fence: parsed by a CommonMark parser *with raw HTML on* it holds no HTML but the evidence
anchors, no link but `#ev-…`, no image; rendered that way and served without a CSP it stays
inert in Chromium. A section the user typed is exported as their Markdown, raw HTML written as
text (`neutralise_html`): checked to be there so, and left out of the inertness check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "xss_reports"))

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context
from markdown_it import MarkdownIt

from apps.core.render.markdown import neutralise_html
from prove.common import OUT, write_result
from prove.corpus import TS, fetch_payloads, xss_payloads

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PER_INCIDENT = 25
ARTIFACTS = OUT / "xss_reports"
EDITED = "went_well"  # the section typed in the browser
# an element or attribute a payload would have produced; `host` is the listener's host:port
INJECTED = """(host) => {
  const bad = [];
  const url = /^(href|src|action|formaction|xlink:href|data|srcdoc|poster|background|srcset)$/i;
  const evil = new RegExp('evil\\\\.example|' + host.replace(/[.:]/g, '\\\\$&')
    + '|^\\\\s*(javascript|data|file):|/etc/passwd|/dev/urandom', 'i');
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (['iframe', 'object', 'embed', 'base', 'frame', 'audio', 'video', 'marquee', 'math',
         'template', 'isindex'].includes(tag)
        || tag === 'meta' && el.hasAttribute('http-equiv')
        || tag === 'script' && !/^\\/static\\//.test(el.getAttribute('src') || '')
        || tag === 'link' && !/^\\/static\\//.test(el.getAttribute('href') || '')
        || tag === 'style' && document.body && document.body.contains(el))
      bad.push('<' + tag + '> ' + el.outerHTML.slice(0, 80));
    for (const a of el.attributes) {
      if (/^on/i.test(a.name) || /^(data-)?hx-/i.test(a.name) && /evil|alert|js:/.test(a.value)
          || url.test(a.name) && evil.test(a.value)
          || a.name === 'style' && /url\\(|expression|behavior/i.test(a.value))
        bad.push(tag + ' ' + a.name + '=' + a.value.slice(0, 60));
    }
  }
  return bad;
}"""


def _login(page, base: str, tenant) -> tuple[Client, object]:
    from apps.tenants.models import Membership, Role

    user, _ = get_user_model().objects.get_or_create(username="xss-reports")
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.MEMBER})
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
    )
    return client, user


def _create_rules(client: Client, prefix: str, payloads: list[str]) -> list[str]:
    """One custom rule per payload through the rule form (the view and all its validation)."""
    rejected = []
    for i, payload in enumerate(payloads):
        response = client.post(
            f"{prefix}rules/custom/new/",
            {
                "rule_id": f"xss-{i:03d}",
                "title": payload[:200],
                "category": "xss-payload",
                "severity": "error",
                "pattern": f"xssrule-{i:03d}-hit",
                "level": "",
                "service": "",
                "explanation": payload,
                "remediation": f"Remediate {payload}",
                "enabled": "on",
            },
        )
        if response.status_code != 302:
            rejected.append(f"{i}: HTTP {response.status_code} {payload[:60]!r}")
    return rejected


def _answer(chunk: list[str], items) -> str:
    """The fake model's answer: every payload of the chunk as model text, in every field."""

    def claim(text: str, k: int, *, kind: str = "fact", good: bool = True) -> dict:
        item = items[k % len(items)]
        quote = item.text[:48] if good else f"not in the line {text}"
        return {"text": text, "kind": kind, "evidence": [item.id], "quote": quote}

    summary = [claim(p, k) for k, p in enumerate(chunk[0:5])]
    summary.append(claim(chunk[5 % len(chunk)], 5, good=False))  # unverified
    summary.append({"text": chunk[0], "evidence": ["E99999"], "quote": chunk[0]})  # dropped
    return json.dumps(
        {
            "summary": summary,
            "impact": [claim(p, k) for k, p in enumerate(chunk[6:10])],
            "hypotheses": [
                {
                    "rank": r + 1,
                    "category": p[:60],
                    "confidence": 0.5,
                    "statement": claim(p, r, kind="hypothesis", good=r % 2 == 0),
                    "contradicting_evidence": [items[-1].id],
                }
                for r, p in enumerate(chunk[10:14])
            ],
            "contributing_factors": [claim(p, k) for k, p in enumerate(chunk[14:18])],
            "actions": [claim(p, k, kind="action") for k, p in enumerate(chunk[18:])],
        }
    )


def _seed(tenant, client: Client, user, payloads: list[str], fake) -> dict:
    """Rules, incidents (ingested), analyses from the fake model, drafted postmortems."""
    from apps.analysis import services as analysis
    from apps.analysis.models import AISettings, AnalysisRun
    from apps.incidents.models import Project
    from apps.ingestion import services as ingestion
    from apps.rules.models import CustomRule, Finding

    prefix = tenant.url_prefix
    rejected = _create_rules(client, prefix, payloads)
    stamp = int(time.time())
    incidents, failed_runs = [], []
    with tenant_context(tenant):
        project = Project.objects.create(slug=f"xssr-{stamp}", name=payloads[0][:80])
        analysis.save_ai_settings(
            provider=AISettings.Provider.OPENAI,
            base_url=fake.base_url,
            model="fake-model",
            timeout_seconds=10,
            max_tokens=2000,
            price_per_1k_tokens=None,
            local_endpoints_only=True,
        )
        for start in range(0, len(payloads), PER_INCIDENT):
            chunk = payloads[start : start + PER_INCIDENT]
            uploads = [
                ingestion.upload_from_text(
                    f"{TS} INFO svc{j}: started\n"
                    f"{TS} ERROR svc{j}: xssrule-{start + j:03d}-hit {p}\n"
                    f"{TS} WARN svc{j}: {p}\n",
                    name=p[:200] + ".log",
                )
                for j, p in enumerate(chunk)
            ]
            incident = ingestion.create_incident(
                project=project, title=chunk[-1], uploads=uploads, run_inline=True
            )
            for job in incident.jobs.all():
                ingestion.run_ingest(job.pk)
            items = analysis.build_pack(incident).items
            from apps.core.tests.analysis.fake_llm import ok

            fake.default = ok(_answer(chunk, items))
            run = analysis.request_analysis(incident=incident, user=user)
            analysis.execute_run(run.pk)  # the job body (a re-delivery would be "skipped")
            run.refresh_from_db()
            if run.status != AnalysisRun.Status.DONE:
                failed_runs.append(f"{incident.pk}: {run.status} {run.error[:120]}")
            incidents.append(incident)
        # every rule raised a finding on its line (titles as the form stored them, stripped)
        fired_titles = set(
            Finding.objects.filter(rule_id__startswith="custom.xss-").values_list(
                "title", flat=True
            )
        )
        fired = sum(
            1
            for title in CustomRule.objects.filter(rule_id__startswith="xss-").values_list(
                "title", flat=True
            )
            if title in fired_titles
        )
    reports = []
    for n, incident in enumerate(incidents):
        pm = f"{prefix}incidents/{incident.pk}/postmortem/"
        assert client.post(pm + "draft/").status_code == 302
        for k, p in enumerate(payloads[n * PER_INCIDENT : n * PER_INCIDENT + 3]):
            client.post(pm + "actions/", {"text": f"{k} {p}"[:500], "owner": p[:120]})
        reports.append(pm)
    return {
        "project": project,
        "incidents": incidents,
        "rejected_rules": rejected,
        "fired": fired,
        "failed_runs": failed_runs,
        "llm_calls": len(fake.chat_bodies()),
    }


def _markdown_findings(md: str) -> list[str]:
    """What a CommonMark renderer with raw HTML on would turn into markup, links or images."""
    from markdown_it import MarkdownIt

    anchor = r'<a id="ev-\d+-\d+">'
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    bad = []
    for token in parser.parse(md):
        for t in [token, *(token.children or ())]:
            content = t.content.strip()
            if t.type == "html_block" and not re.fullmatch(rf"({anchor}</a>\s*)+", content):
                bad.append(f"html block: {content[:80]}")
            if t.type == "html_inline" and not re.fullmatch(rf"{anchor}|</a>", content):
                bad.append(f"inline html: {content[:80]}")
            if t.type == "link_open" and not re.fullmatch(r"#ev-\d+-\d+", t.attrGet("href") or ""):
                bad.append(f"link: {str(t.attrGet('href'))[:80]}")
            if t.type == "image":
                bad.append(f"image: {str(t.attrGet('src'))[:80]}")
    return bad


def _pdf_checks(pdf: bytes, name: str, payloads: list[str]) -> tuple[list[str], int]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    bad = [
        f"{name}: {m.decode()}"
        for m in (
            b"/EmbeddedFile",
            b"/FileAttachment",
            b"/URI",
            b"/JavaScript",
            b"/JS ",
            b"/Launch",
        )
        if m in pdf
    ]
    if b"root:x:0:0" in pdf:
        bad.append(f"{name}: /etc/passwd content")
    listed = subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True)
    if listed.returncode != 0 or not listed.stdout.startswith("0 embedded files"):
        bad.append(f"{name}: pdfdetach: {listed.stdout[:80]} {listed.stderr[:80]}")
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(text.split())
    shown = sum(1 for p in payloads if "".join(p.split())[:30] in flat)
    return bad, shown


def test_xss_reports(live_server, page):
    from apps.core.tests.analysis.fake_llm import FakeLLM
    from apps.core.tests.render.test_pdf_sandbox import Listener
    from apps.reports.models import PdfExport, Report
    from conftest import ensure_tenant

    assert shutil.which("pdftotext") and shutil.which("pdfdetach"), "apt-get install poppler-utils"
    tenant = ensure_tenant("alpha")
    listener = Listener()
    fake = FakeLLM().start()
    host = f"127.0.0.1:{listener.port}"
    base_payloads = xss_payloads()
    payloads = base_payloads + fetch_payloads(f"http://{host}")
    base = live_server.url
    t = f"{base}{tenant.url_prefix}".rstrip("/")
    dialogs: list[str] = []
    foreign: list[str] = []
    injected: list[str] = []
    errors: list[str] = []
    bad_status: list[str] = []
    page.on("dialog", lambda d: dialogs.append(f"{page.url}: {d.type}: {d.message}"))
    page.on("pageerror", lambda exc: errors.append(str(exc)[:200]))
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith(base) or req.url.startswith(("data:", "about:", "blob:"))
            else foreign.append(f"{page.url} -> {req.url}")
        ),
    )
    started = time.monotonic()
    try:
        client, user = _login(page, base, tenant)
        seeded = _seed(tenant, client, user, payloads, fake)
        incidents = seeded["incidents"]
        loads = 0

        def visit(url: str, *, hx: dict | None = None, settle: int = 50) -> None:
            nonlocal loads
            page.set_extra_http_headers(hx or {})
            response = page.goto(url)
            page.set_extra_http_headers({})
            loads += 1
            if response is None or response.status != 200:
                bad_status.append(f"{url}: {response.status if response else 'no response'}")
            page.wait_for_timeout(settle)
            check(url)

        def check(where: str) -> None:
            injected.extend(f"{where}: {hit}" for hit in page.evaluate(INJECTED, host))

        # --- rules -----------------------------------------------------------------------------
        from apps.rules.models import CustomRule

        with tenant_context(tenant):
            rules = list(CustomRule.objects.filter(rule_id__startswith="xss-").order_by("rule_id"))
        visit(f"{t}/rules/")
        visit(f"{t}/rules/?q=xss", hx={"HX-Request": "true", "HX-Target": "rule-tables"})
        page.goto(f"{t}/rules/")
        page.get_by_test_id("custom-toggle").first.click()  # the HTMX row partial
        page.wait_for_timeout(400)
        page.get_by_test_id("custom-toggle").first.click()
        page.wait_for_timeout(400)
        check("rules: toggled rows")
        for rule in rules:
            visit(f"{t}/rules/custom/{rule.pk}/", settle=0)
            visit(f"{t}/rules/custom/{rule.pk}/edit/", settle=0)
        for rule in rules[::PER_INCIDENT]:  # a dry run per incident's worth of rules
            page.goto(f"{t}/rules/custom/{rule.pk}/edit/")
            page.get_by_test_id("dry-run").click()
            page.get_by_test_id("dry-run-summary").wait_for(timeout=20_000)
            page.wait_for_timeout(100)
            check(f"dry run {rule.rule_id}")

        # --- incidents, analyses, postmortems --------------------------------------------------
        visit(f"{t}/projects/{seeded['project'].slug}/")
        visit(f"{t}/projects/{seeded['project'].slug}/postmortems/")
        visit(f"{t}/projects/{seeded['project'].slug}/postmortems/?q=script")
        hx = {"HX-Request": "true"}
        typed: list[str] = []
        for n, incident in enumerate(incidents):
            i = f"{t}/incidents/{incident.pk}"
            visit(f"{i}/", settle=300)
            visit(f"{i}/timeline/", hx=hx)
            visit(f"{i}/analysis/", settle=200)
            visit(f"{i}/analysis/", hx=hx)
            visit(f"{i}/analysis/preview/")
            visit(f"{i}/postmortem/chart.svg")
            visit(f"{i}/postmortem/", settle=1500)  # every section's preview loads (HTMX)
            if n == 0:  # type every payload into one section, as a user would
                body = "\n\n".join(payloads)
                box = page.get_by_test_id(f"body-{EDITED}")
                box.fill(body)
                box.dispatch_event("input")
                page.wait_for_timeout(2500)  # autosave (800 ms) and preview (300 ms)
                check(f"{i}/postmortem/ (typed)")
                typed.append(body)
            with tenant_context(tenant):
                report = Report.objects.get(incident=incident)
                sections = [
                    (s.key, s.versions.order_by("id").values_list("pk", flat=True).first())
                    for s in report.sections.all()
                ]
            for key, first in sections:
                visit(f"{i}/postmortem/history/?key={key}", hx=hx, settle=0)
                visit(f"{i}/postmortem/preview/?key={key}", hx=hx, settle=0)
                if first is not None:  # the diff of the first version against the current
                    visit(f"{i}/postmortem/history/?key={key}&version={first}", hx=hx, settle=0)
            # the PDF through its button; the status partial polls until it is done
            page.goto(f"{i}/postmortem/")
            page.get_by_test_id("make-pdf").click()
            page.get_by_test_id("download-pdf").wait_for(timeout=120_000)
            check(f"{i}/postmortem/ (pdf made)")
        page.wait_for_timeout(1500)  # `every` triggers and late requests

        # --- exports ---------------------------------------------------------------------------
        pdf_bad: list[str] = []
        md_bad: list[str] = []
        pdf_shown = pdf_total = refused = 0
        for n, incident in enumerate(incidents):
            i = f"{t}/incidents/{incident.pk}"
            chunk = payloads[n * PER_INCIDENT : (n + 1) * PER_INCIDENT]
            with tenant_context(tenant):
                export = PdfExport.objects.filter(report__incident=incident).latest("id")
                refused += export.refused_urls
            response = page.request.get(f"{i}/postmortem/pdf/download/?export={export.pk}")
            if response.status != 200 or "attachment" not in response.headers.get(
                "content-disposition", ""
            ):
                pdf_bad.append(f"{incident.pk}: download {response.status}")
                continue
            bad, shown = _pdf_checks(response.body(), f"postmortem-{n}", chunk)
            pdf_bad += bad
            pdf_shown += shown
            pdf_total += len(chunk)
            response = page.request.get(f"{i}/postmortem/postmortem.md")
            headers = response.headers
            if (
                response.status != 200
                or not headers.get("content-type", "").startswith("text/markdown")
                or "attachment" not in headers.get("content-disposition", "")
                or headers.get("x-content-type-options") != "nosniff"
            ):
                md_bad.append(f"{incident.pk}: markdown response {response.status} {headers}")
            md = response.text()
            (ARTIFACTS / f"postmortem-{n}.md").write_text(md)
            # the user's own Markdown, as typed but for raw HTML written as text (< → &lt;)
            exported = [neutralise_html(body.strip()) for body in typed] if n == 0 else []
            if exported and exported[0] not in md:
                md_bad.append(f"{incident.pk}: the typed section is not exported as typed")
            checked = md
            for body in exported:
                checked = checked.replace(body, "")
            md_bad += [f"{incident.pk}: {hit}" for hit in _markdown_findings(checked)]
            # the worst viewer: raw HTML on, no CSP, served from the app's origin
            html = MarkdownIt("commonmark", {"html": True}).enable("table").render(checked)
            view = f"{base}/__markdown_view__/{n}.html"
            page.route(
                view,
                lambda route, html=html: route.fulfill(
                    status=200, content_type="text/html", body=f"<!doctype html>{html}"
                ),
            )
            visit(view, settle=300)
            page.unroute(view)
        time.sleep(0.5)
        hits = listener.connections
    finally:
        listener.close()
        fake.stop()
    elapsed = time.monotonic() - started
    problems = {
        "dialogs": dialogs,
        "foreign requests": foreign,
        "injected elements": injected,
        "non-200 pages": bad_status,
        "rules rejected": seeded["rejected_rules"],
        "analysis runs not done": seeded["failed_runs"],
        "PDF": pdf_bad,
        "Markdown": md_bad,
    }
    if hits:
        problems["listener hits"] = [f"{hits} connections to {host}"]
    if refused:
        problems["refused fetches"] = [f"{refused} URLs reached the PDF fetcher"]
    not_fired = len(payloads) - seeded["fired"]
    if not_fired:
        problems["rules that raised no finding"] = [str(not_fired)]
    for label, items in problems.items():
        for item in items[:8]:
            print("  ", label.upper(), item)
    for item in errors[:5]:
        print("   page error", item)
    ok = not any(problems.values()) and len(base_payloads) >= 200
    broke = "; ".join(f"{len(v)} {k}" for k, v in problems.items() if v)
    write_result(
        "xss_reports",
        what="XSS/HTML injection in rule names, findings, fake LLM output, postmortems;"
        " Markdown and PDF exports",
        how_many=f"{len(payloads)} payloads ({len(base_payloads)} + {len(payloads) - len(base_payloads)}"
        f" fetch baits) in {len(rules)} custom rules, {len(incidents)} fake-LLM analyses,"
        f" {len(incidents)} postmortems; {loads} page loads in Chromium, {len(incidents)} PDFs and"
        f" Markdown exports; listener hits {hits}, refused fetches {refused}; {elapsed:.0f} s",
        broke="0" if ok else broke,
        ok=ok,
        page_errors=errors[:20],
        llm_calls=seeded["llm_calls"],
        payloads_in_pdf_text=f"{pdf_shown}/{pdf_total}",
        **{k.replace(" ", "_"): v[:20] for k, v in problems.items()},
    )
    assert ok, broke
