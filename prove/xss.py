"""XSS / HTML injection: ≥ 200 payloads in log lines, file names, incident titles and project
names, driven through the pages in Debian's Chromium (Playwright).

    python prove/xss.py            (or `make prove`)

Pages: the project list and project pages, the incident page (with its htmx partials), the
events partial, the evidence view of every payload line, the project's group list, every group
page and every incident-group page. Pass: 0 dialogs (alert/confirm/prompt/print), 0 requests
to other origins, 0 injected elements (an `on*` attribute, an htmx attribute with a payload, or a URL attribute
pointing at the attacker origin or a `javascript:`/`data:` URL anywhere in the DOM).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "xss"))

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from prove.common import write_result
from prove.corpus import TS, xss_payloads

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PER_INCIDENT = 25
INJECTED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const url = /^(href|src|action|formaction|xlink:href|data|srcdoc|poster|background)$/i;
      if (/^on/i.test(a.name) || /^(data-)?hx-/i.test(a.name) && /evil|alert|js:/.test(a.value)
          || url.test(a.name) && /evil\\.example|^\\s*(javascript|data):/i.test(a.value))
        bad.push(el.tagName + ' ' + a.name + '=' + a.value.slice(0, 60));
    }
  }
  return bad;
}"""


def _sign_in(page, base, tenant):
    from apps.tenants.models import Membership, Role
    from conftest import PASSWORD

    user, created = get_user_model().objects.get_or_create(username="xss-prover")
    if created:
        user.set_password(PASSWORD)
        user.save()
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.MEMBER})
    page.goto(base + "/login/")
    page.get_by_label("Username").fill("xss-prover")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/t/alpha/$"))


def _seed(tenant, payloads: list[str]):
    """Projects named, incidents titled, files named and log lines carrying the payloads."""
    from apps.incidents.models import Incident, Project
    from apps.ingestion import services

    stamp = int(time.time())
    with tenant_context(tenant):
        for i, payload in enumerate(payloads):
            Project.objects.create(slug=f"xss-{stamp}-{i}", name=payload[:80])
        titles = Project.objects.create(slug=f"xss-{stamp}-titles", name="xss titles")
        for payload in payloads:
            Incident.objects.create(project=titles, title=payload[:200])
        logs = Project.objects.create(slug=f"xss-{stamp}-logs", name="xss logs")
        incidents = []
        for start in range(0, len(payloads), PER_INCIDENT):
            chunk = payloads[start : start + PER_INCIDENT]
            uploads = [
                services.upload_from_text(
                    f"{TS} ERROR svc{j}: request failed {p}\n    at frame {p}\n"
                    f"{TS} WARN svc{j}: {p}\n",
                    name=p[:200] + ".log",
                )
                for j, p in enumerate(chunk)
            ]
            incident = services.create_incident(
                project=logs, title=chunk[0], uploads=uploads, run_inline=True
            )
            for job in incident.jobs.all():
                services.run_ingest(job.pk)
            incidents.append(incident)
    return titles, logs, incidents


def test_xss(live_server, page):
    from apps.ingestion.models import ErrorGroup, Source
    from conftest import ensure_tenant

    tenant = ensure_tenant("alpha")
    payloads = xss_payloads()
    titles, logs, incidents = _seed(tenant, payloads)
    base = live_server.url
    t = f"{base}/t/alpha"
    dialogs: list[str] = []
    foreign: list[str] = []
    injected: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: dialogs.append(f"{d.type}: {d.message}"))
    page.on("pageerror", lambda exc: errors.append(str(exc)[:200]))

    def request(req):
        if not req.url.startswith(base) and not req.url.startswith(("data:", "about:", "blob:")):
            foreign.append(req.url)

    page.on("request", request)
    _sign_in(page, base, tenant)
    urls = [
        f"{t}/",
        f"{t}/projects/{titles.slug}/",
        f"{t}/projects/{logs.slug}/",
        f"{t}/projects/{logs.slug}/groups/",
    ]
    with tenant_context(tenant):
        for incident in incidents:
            urls += [f"{t}/incidents/{incident.pk}/", f"{t}/incidents/{incident.pk}/events/"]
            for source in Source.objects.filter(incident=incident):
                urls.append(f"{t}/incidents/{incident.pk}/evidence/{source.pk}/1/?context=5")
            for group_id in (
                ErrorGroup.objects.filter(occurrences__incident=incident)
                .values_list("group_id", flat=True)
                .distinct()
            ):
                urls.append(f"{t}/incidents/{incident.pk}/groups/{group_id}/")
        for group_id in ErrorGroup.objects.filter(project=logs).values_list("group_id", flat=True):
            urls.append(f"{t}/projects/{logs.slug}/groups/{group_id}/")
    statuses: dict[int, int] = {}
    started = time.monotonic()
    for url in urls:
        response = page.goto(url)
        status = response.status if response else 0
        statuses[status] = statuses.get(status, 0) + 1
        page.wait_for_timeout(50)  # load/revealed triggers fire
        if "/incidents/" in url and url.endswith(("/events/", "/")) and "groups" not in url:
            for summary in page.locator("summary").all()[:30]:
                summary.click()  # expand multi-line events
            page.mouse.move(300, 300)
            page.mouse.move(600, 500)  # hover triggers
        injected += [f"{url}: {hit}" for hit in page.evaluate(INJECTED)]
    page.wait_for_timeout(1500)  # `every 1s` triggers and late requests
    elapsed = time.monotonic() - started
    bad_status = {s: n for s, n in statuses.items() if s != 200}
    print(f"  {len(urls)} page loads, statuses {statuses}")
    for label, items in (("DIALOG", dialogs), ("FOREIGN", foreign), ("INJECTED", injected)):
        for item in items[:10]:
            print("  ", label, item)
    for item in errors[:5]:
        print("   page error", item)
    ok = not dialogs and not foreign and not injected and not bad_status and len(payloads) >= 200
    write_result(
        "xss",
        what="XSS/HTML injection in log lines, file names, incident titles, project names",
        how_many=f"{len(payloads)} payloads × 4 places, {len(urls)} page loads in Chromium,"
        f" {elapsed:.0f} s",
        broke="0"
        if ok
        else f"{len(dialogs)} dialogs, {len(foreign)} foreign requests, {len(injected)}"
        f" injected elements, non-200: {bad_status}",
        ok=ok,
        dialogs=dialogs[:20],
        foreign=foreign[:20],
        injected=injected[:20],
        page_errors=errors[:20],
    )
    assert ok
