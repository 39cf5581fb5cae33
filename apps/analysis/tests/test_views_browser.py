"""*Analyze* in a real browser with a real `qcluster` worker: the HTMX progress panel polls until
the job is done, hostile LLM and log text stays inert (no dialog, no request), citations open the
evidence view."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from apps.analysis import services
from apps.analysis.models import AISettings, AnalysisRun
from apps.core.tests.analysis.fake_llm import FakeLLM, ok
from apps.incidents.models import Project
from apps.ingestion import services as ingestion
from apps.tenants.models import Membership, Role
from conftest import ensure_tenant, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("allow_fake_llm"),
]


def test_analyze_with_worker_renders_hostile_text_inert(
    live_server, page, qcluster, fake_llm: FakeLLM
):
    tenant = ensure_tenant("alpha")
    user = get_user_model().objects.create_user("wendy", password="x-long-password-1")
    Membership.objects.create(tenant=tenant, user=user, role=Role.MEMBER)
    pixel = f"{fake_llm.base_url.rsplit('/v1', 1)[0]}/pixel"
    line = (
        f'2024-01-15T14:02:11Z ERROR api: payment failed <img src="{pixel}-log.png" '
        "onerror=alert(1)><script>alert(2)</script>"
    )
    with tenant_context(tenant):
        project = Project.objects.get(slug="alpha-marker")
        incident = ingestion.create_incident(
            project=project,
            title="hostile",
            uploads=[ingestion.upload_from_text(line + "\n")],
            run_inline=True,
        )
        for job in incident.jobs.all():
            ingestion.run_ingest(job.pk)
        services.save_ai_settings(
            provider=AISettings.Provider.OPENAI,
            base_url=fake_llm.base_url,
            model="fake-model",
            timeout_seconds=10,
            max_tokens=500,
            price_per_1k_tokens=None,
            local_endpoints_only=True,
        )
        e1 = services.build_pack(incident).items[0].id
    hostile = [
        f"![pixel]({pixel}-md.png)",
        f'<img src="{pixel}-html.png" onerror="alert(3)">',
        "<script>alert(4)</script>",
        f'<button hx-get="{pixel}-hx" hx-trigger="load">x</button>',
    ]
    fake_llm.default = ok(
        json.dumps(
            {
                "summary": [
                    {
                        "text": f"Payment failed {h}",
                        "evidence": [e1],
                        "quote": "api: payment failed",
                    }
                    for h in hostile
                ],
                "hypotheses": [
                    {
                        "category": hostile[1],
                        "confidence": 0.6,
                        "statement": {"text": hostile[3], "evidence": [e1], "quote": hostile[2]},
                    }
                ],
            }
        )
    )
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    try:
        page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/analysis/")
        page.get_by_test_id("analyze").click()
        page.locator('[data-testid="run-panel"][data-status="done"]').wait_for(timeout=60_000)
        screenshot(page, "analysis-done")
        assert page.get_by_test_id("history-row").first.inner_text().count("Done") == 1
        claims = page.get_by_test_id("claim")
        assert claims.count() == 5
        assert hostile[0] in claims.first.inner_text()  # markdown shown as text
        assert page.locator("img").count() == 0
        assert page.get_by_test_id("citation").count() == 4  # the hypothesis' quote is wrong
        assert page.get_by_test_id("unverified").count() == 1
        page.wait_for_timeout(500)
        assert page.js_errors == []
        paths = [path for method, path, _, _ in fake_llm.requests if method == "GET"]
        assert not any("pixel" in p for p in paths), paths
        # a citation opens the raw line in the evidence view, still inert
        page.get_by_test_id("citation").first.click()
        page.wait_for_url("**/evidence/**")
        assert "api: payment failed" in page.content()
        page.wait_for_timeout(300)
        assert page.js_errors == []
        assert not any("pixel" in p for _, p, _, _ in fake_llm.requests)
        with tenant_context(tenant):
            assert AnalysisRun.objects.filter(incident=incident).count() == 1
            assert len(fake_llm.chat_bodies()) == 1
        # the preview shows the payload as text (the log line's markup included), sends nothing
        page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/analysis/preview/")
        assert "<script>alert(2)</script>" in page.get_by_test_id("message").last.inner_text()
        screenshot(page, "analysis-preview")
        assert page.js_errors == [] and len(fake_llm.chat_bodies()) == 1
    finally:
        with tenant_context(tenant):
            incident.delete()
            AISettings.objects.all().delete()


def test_owner_configures_provider_and_tests_connection(live_server, page, fake_llm: FakeLLM):
    tenant = ensure_tenant("alpha")
    owner = get_user_model().objects.create_user("olga", password="x-long-password-1")
    Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    key = "sk-browser-ONLY-WRITE-1234567890abcdef"
    fake_llm.required_key = key
    client = Client()
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    try:
        page.goto(f"{live_server.url}/t/alpha/settings/ai/")
        page.get_by_label("Provider").select_option("openai-compatible")
        page.get_by_label("Base URL").fill(fake_llm.base_url)
        page.get_by_label("Model").fill("fake-model")
        page.get_by_label("API key", exact=True).fill(key)
        page.get_by_label("Allow only local endpoints").check()
        page.get_by_test_id("test-connection").click()
        result = page.get_by_test_id("connection")
        result.wait_for()
        assert result.get_attribute("data-ok") == "true", result.inner_text()
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        assert "A key is stored" in page.get_by_test_id("api-key-state").inner_text()
        assert page.get_by_label("API key", exact=True).input_value() == ""
        assert key not in page.content()
        # the stored key is used when the field stays empty
        page.get_by_test_id("test-connection").click()
        page.locator('[data-testid="connection"][data-ok="true"]').wait_for()
        screenshot(page, "analysis-settings")
        assert page.js_errors == []
    finally:
        with tenant_context(tenant):
            AISettings.objects.all().delete()
