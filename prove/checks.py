"""One hostile file through the web upload and the job, classified by what the user sees.

Used by prove/hostile.py (≥ 500 files) and the always-on subset in `make test`.
Outcomes: `rejected-at-upload` (form error or 413, reason on the page), `rejected-by-job`
(job failed, reason on the incident page), `rejected-400` (Django's generic Bad Request), `accepted-with-warnings` (job done, warnings or
skipped members shown), `accepted` (clean); `crash` is anything else: an exception, a 500,
a job left running, a job failed by an internal exception (not a reasoned refusal), or a
failure/warning the page does not show.
"""

from __future__ import annotations

import io
import re

from django.utils.html import escape
from django_tenants.utils import tenant_context

# "KeyError: …", "CharacterNotInRepertoire: …": the job's catch-all caught an exception
INTERNAL = re.compile(r"^(?:[A-Z][a-z0-9]*){2,}: ")  # a CamelCase exception class name
OUTCOMES = (
    "accepted",
    "accepted-with-warnings",
    "rejected-at-upload",
    "rejected-400",
    "rejected-by-job",
    "crash",
)


def push(client, tenant, project_slug: str, item, title: str) -> tuple[str, str]:
    """Upload `item` as a new incident, run its job as the worker would; (outcome, detail)."""
    from apps.incidents.models import Incident
    from apps.ingestion import services
    from apps.ingestion.models import IngestJob

    url = f"{tenant.url_prefix}projects/{project_slug}/incidents/new/"
    # a plain stream with a name: the client sends the name as is (SimpleUploadedFile would
    # sanitise it on our side first), and the server's multipart parser meets it raw
    upload = io.BytesIO(item.data)
    upload.name = item.name
    try:
        response = client.post(url, {"title": title, "files": [upload]})
    except Exception as exc:  # the view raised: a 500 in production
        return "crash", f"upload raised {type(exc).__name__}: {exc}"[:300]
    if response.status_code == 400:  # Django's SuspiciousOperation: a generic "Bad Request"
        return "rejected-400", "400 " + response.content.decode(errors="replace")[:100]
    if response.status_code == 413:
        return "rejected-at-upload", "413 " + response.content.decode(errors="replace")[:100]
    if response.status_code == 200:
        body = response.content.decode()
        form = response.context and response.context.get("form")
        errors = [str(e) for field in (form.errors.values() if form else []) for e in field]
        if not errors:
            return "crash", "200 without a form error"
        if not all(escape(e) in body for e in errors):
            return "crash", f"form error not shown: {errors[0][:100]}"
        return "rejected-at-upload", errors[0][:200]
    if response.status_code != 302:
        return "crash", f"HTTP {response.status_code}"
    with tenant_context(tenant):
        incident = Incident.objects.get(title=title)
        jobs = list(incident.jobs.all())
        for job in jobs:
            try:
                services.run_ingest(job.pk)  # what the worker runs
            except Exception as exc:
                return "crash", f"job raised {type(exc).__name__}: {exc}"[:300]
        jobs = list(incident.jobs.all())
        sources = list(incident.sources.all())
    page = client.get(f"{tenant.url_prefix}incidents/{incident.pk}/")
    if page.status_code != 200:
        return "crash", f"incident page HTTP {page.status_code}"
    body = page.content.decode()
    shown: list[str] = []
    for job in jobs:
        if job.status not in (IngestJob.Status.DONE, IngestJob.Status.FAILED):
            return "crash", f"job left {job.status}"
        if job.status == IngestJob.Status.FAILED:
            if not job.error or escape(job.error) not in body:
                return "crash", f"failure reason not shown: {job.error[:100]!r}"
            if INTERNAL.match(job.error):  # run_ingest's catch-all: an exception, not a verdict
                return "crash", f"job failed with an internal error: {job.error[:200]}"
            return "rejected-by-job", job.error[:200]
        shown += job.warnings
    for source in sources:
        if source.status == "skipped" and not source.warnings:
            return "crash", f"source {source.member!r} skipped without a reason"
        shown += source.warnings
    missing = [w for w in shown if escape(w) not in body]
    if missing:
        return "crash", f"warning not shown: {missing[0][:100]!r}"
    if shown:
        return "accepted-with-warnings", shown[0][:200]
    return "accepted", f"{sum(s.event_count for s in sources)} events"
