"""Analysis pages: roles, the write-only API key, the preview, inert LLM output, query budgets."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.analysis import selectors, services
from apps.analysis.models import AISettings, AnalysisRun
from apps.core.tests.analysis.fake_llm import FakeLLM, ok
from apps.incidents.models import Incident, Project
from apps.ingestion import services as ingestion
from apps.jobs import lifecycle
from conftest import MARKERS

API_KEY = "sk-test-WRITE-ONLY-KEY-9f8e7d6c5b4a39281706"

pytestmark = pytest.mark.usefixtures("allow_fake_llm")


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """The core tests' conftest neutralises the root fixture of this name; these tests need it."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


def url(tenant, name: str, *args) -> str:
    return tenant.url_prefix + reverse(name, urlconf="aiops.urls_tenant", args=args).lstrip("/")


@pytest.fixture
def incident(personas) -> Incident:
    with tenant_context(personas.alpha):
        return Incident.objects.get(title=f"incident {MARKERS['alpha']}")


def settings_post(**overrides) -> dict:
    data = {
        "provider": "local",
        "base_url": "",
        "model": "",
        "api_key": "",
        "timeout_seconds": "30",
        "max_tokens": "1000",
        "price_per_1k_tokens": "",
    }
    return data | overrides


# --- settings: owners only, key write-only ------------------------------------------------------


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_settings_are_owner_only(client, personas, persona):
    client.force_login(getattr(personas, persona))
    assert client.get(url(personas.alpha, "analysis:settings-edit")).status_code == 403
    post = settings_post(provider="openai-compatible", base_url="http://127.0.0.1:1/v1", model="m")
    assert client.post(url(personas.alpha, "analysis:settings-edit"), post).status_code == 403
    assert client.post(url(personas.alpha, "analysis:settings-test"), post).status_code == 403
    with tenant_context(personas.alpha):
        assert not AISettings.objects.exists()


def test_api_key_is_write_only_and_sealed(client, personas, fake_llm: FakeLLM):
    client.force_login(personas.owner)
    edit = url(personas.alpha, "analysis:settings-edit")
    post = settings_post(
        provider="openai-compatible", base_url=fake_llm.base_url, model="fake-model"
    )
    response = client.post(edit, post | {"api_key": API_KEY}, follow=True)
    assert response.status_code == 200
    assert API_KEY not in response.content.decode()
    page = client.get(edit).content.decode()
    assert API_KEY not in page and "A key is stored" in page
    with tenant_context(personas.alpha):
        ai = selectors.ai_settings()
        assert ai.api_key_sealed and API_KEY not in ai.api_key_sealed
        assert services.api_key(ai) == API_KEY
        raw = json.dumps(list(AISettings.objects.values()), default=str)
        assert API_KEY not in raw and API_KEY[8:24] not in raw
    # saving again without typing a key keeps it; a sealed value does not open in another tenant
    client.post(edit, post | {"model": "other-model"})
    with tenant_context(personas.alpha):
        sealed = selectors.ai_settings().api_key_sealed
        assert services.api_key(selectors.ai_settings()) == API_KEY
    with tenant_context(personas.beta):
        assert services.api_key(AISettings(api_key_sealed=sealed)) is None
    # test connection: uses the stored key; the answer never echoes it
    fake_llm.required_key = API_KEY
    response = client.post(
        url(personas.alpha, "analysis:settings-test"), post, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'data-ok="true"' in body and API_KEY not in body
    fake_llm.required_key = "another-key"
    body = client.post(url(personas.alpha, "analysis:settings-test"), post).content.decode()
    assert 'data-ok="false"' in body and API_KEY not in body and "another-key" not in body
    # remove it
    client.post(edit, post | {"clear_api_key": "on"})
    with tenant_context(personas.alpha):
        assert not selectors.ai_settings().has_api_key


def test_policy_switch_refuses_public_endpoints(client, personas, fake_llm: FakeLLM):
    client.force_login(personas.owner)
    edit = url(personas.alpha, "analysis:settings-edit")
    public = settings_post(
        provider="openai-compatible",
        base_url="https://93.184.215.14/v1",
        model="gpt-4o-mini",
        local_endpoints_only="on",
    )
    response = client.post(edit, public)
    assert response.status_code == 200 and "only local endpoints" in response.content.decode()
    with tenant_context(personas.alpha):
        assert not AISettings.objects.exists()
    local = public | {"base_url": fake_llm.base_url}
    assert client.post(edit, local).status_code == 302
    with tenant_context(personas.alpha):
        assert selectors.ai_settings().local_endpoints_only


# --- test connection: egress policy, generic answers, the key stays with its host ---------------


def _test_connection(client, personas, post) -> tuple[int, str]:
    response = client.post(
        url(personas.alpha, "analysis:settings-test"), post, HTTP_HX_REQUEST="true"
    )
    return response.status_code, response.content.decode()


def test_internal_endpoint_refused_without_the_operator_allow_list(
    client, personas, fake_llm: FakeLLM, settings
):
    settings.LLM_EGRESS_ALLOW = []
    client.force_login(personas.owner)
    for base_url in (fake_llm.base_url, "http://127.0.0.1:9/v1", "http://169.254.169.254/v1"):
        post = settings_post(provider="openai-compatible", base_url=base_url, model="m")
        status, body = _test_connection(client, personas, post)
        assert status == 200 and 'data-ok="false"' in body
        assert "✗ refused by egress policy</span>" in body
    assert fake_llm.requests == []
    settings.LLM_EGRESS_ALLOW = ["127.0.0.1"]
    post = settings_post(provider="openai-compatible", base_url=fake_llm.base_url, model="m")
    assert 'data-ok="true"' in _test_connection(client, personas, post)[1]


def test_a_200_that_is_not_json_is_a_generic_failure_not_a_500(client, personas, fake_llm: FakeLLM):
    from apps.core.tests.analysis.fake_llm import Reply

    fake_llm.models_reply = Reply(200, "<html>INTERNAL ADMIN PAGE</html>")
    client.force_login(personas.owner)
    post = settings_post(provider="openai-compatible", base_url=fake_llm.base_url, model="m")
    status, body = _test_connection(client, personas, post)
    assert status == 200 and 'data-ok="false"' in body
    assert "✗ not an OpenAI-compatible endpoint</span>" in body
    assert "INTERNAL" not in body
    fake_llm.models_reply = Reply(503, "<html>INTERNAL ERROR PAGE</html>")
    status, body = _test_connection(client, personas, post)
    assert status == 200 and "INTERNAL" not in body and "503" not in body


def test_the_stored_key_never_follows_a_new_base_url(client, personas, fake_llm: FakeLLM):
    """Key saved for one server; *Test connection* and save with another server and the key
    field empty: the other server never sees the key, and saving drops it."""
    other = FakeLLM().start()
    try:
        client.force_login(personas.owner)
        edit = url(personas.alpha, "analysis:settings-edit")
        post = settings_post(
            provider="openai-compatible", base_url=fake_llm.base_url, model="fake-model"
        )
        client.post(edit, post | {"api_key": API_KEY})
        moved = post | {"base_url": other.base_url}
        status, body = _test_connection(client, personas, moved)
        assert status == 200 and 'data-ok="true"' in body  # it answered, without our key
        (request,) = other.requests
        assert request[1] == "/v1/models"
        assert API_KEY not in json.dumps(request[3]) and API_KEY not in request[2].decode()
        with tenant_context(personas.alpha):
            assert services.api_key(selectors.ai_settings()) == API_KEY  # a test saves nothing
        # the original server still gets the key (same origin, key kept)
        fake_llm.required_key = API_KEY
        assert 'data-ok="true"' in _test_connection(client, personas, post)[1]
        # saving the new base URL without a key drops the stored one
        assert client.post(edit, moved).status_code == 302
        with tenant_context(personas.alpha):
            assert not selectors.ai_settings().has_api_key
        assert "No key stored" in client.get(edit).content.decode()
        # a new key typed with the new URL is kept, and sealed for that host only
        client.post(edit, moved | {"api_key": "sk-new-key-for-other-host-000111"})
        with tenant_context(personas.alpha):
            ai = selectors.ai_settings()
            assert services.api_key(ai) == "sk-new-key-for-other-host-000111"
            ai.base_url = fake_llm.base_url  # the sealed value copied onto another host
            assert services.api_key(ai) is None  # fails closed
    finally:
        other.stop()


def test_keys_sealed_before_are_bound_to_their_host_by_the_migration(personas):
    """Migration 0002 re-seals a key sealed with the old tenant-only context."""
    import importlib

    from django.apps import apps as django_apps
    from django.conf import settings as django_settings

    from apps.core.sealing import seal

    migration = importlib.import_module("apps.analysis.migrations.0002_bind_api_key_to_host")
    with tenant_context(personas.alpha):
        legacy = seal(
            API_KEY,
            secret=django_settings.SECRET_KEY,
            context=f"analysis.api_key:{connection.schema_name}",
        )
        AISettings.objects.create(
            pk=AISettings.SINGLETON_PK,
            provider="openai-compatible",
            base_url="https://llm.example.com/v1",
            model="m",
            api_key_sealed=legacy,
        )
        assert services.api_key(selectors.ai_settings()) is None  # the new context: closed

        class Editor:  # what RunPython hands the function: only its connection is used
            pass

        editor = Editor()
        editor.connection = connection
        migration.bind_to_host(django_apps, editor)
        ai = selectors.ai_settings()
        assert ai.api_key_sealed != legacy and services.api_key(ai) == API_KEY
        ai.base_url = "https://evil.example/v1"
        assert services.api_key(ai) is None


# --- analyze: members; viewers read -------------------------------------------------------------


def test_viewer_cannot_analyze_but_reads(client, personas, incident):
    with tenant_context(personas.alpha):
        before = AnalysisRun.objects.count()
    client.force_login(personas.viewer)
    response = client.post(url(personas.alpha, "analysis:analysis-start", incident.pk))
    assert response.status_code == 403
    with tenant_context(personas.alpha):
        assert AnalysisRun.objects.count() == before
    page = client.get(url(personas.alpha, "analysis:analysis-detail", incident.pk))
    assert page.status_code == 200
    assert 'data-testid="analyze"' not in page.content.decode()


def test_member_analyzes_one_row_per_request(
    client, personas, incident, django_capture_on_commit_callbacks
):
    with tenant_context(personas.alpha):
        AnalysisRun.objects.filter(incident=incident).delete()
    client.force_login(personas.member)
    start = url(personas.alpha, "analysis:analysis-start", incident.pk)
    assert client.get(start).status_code == 405
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(start)
        second = client.post(start, HTTP_HX_REQUEST="true")
    assert len(callbacks) == 2
    assert first.status_code == 302
    assert second.status_code == 200 and "?run=" in second["HX-Redirect"]
    with tenant_context(personas.alpha):
        runs = list(AnalysisRun.objects.filter(incident=incident))
        assert [r.status for r in runs] == ["queued", "queued"]
        assert all(r.requested_by_id == personas.member.pk for r in runs)
    # while queued, the panel polls itself
    panel = client.get(first["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in panel and "<html" not in panel
    connection.set_schema_to_public()
    with tenant_context(personas.alpha):
        services.execute_run(runs[1].pk)
    panel = client.get(first["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "every 2s" not in panel and 'data-status="done"' in panel
    assert (
        'id="history" class="mt-4 rounded-lg border border-slate-200 bg-white" data-testid="history" hx-swap-oob="true"'
        in panel
    )


def test_a_run_its_job_abandoned_stops_polling_and_says_so(client, personas, incident, settings):
    """A job that raised after the database stayed away leaves its run `running`; with Redis
    nothing delivers it again. Past the re-delivery time it shows as stopped, not polled."""
    retry = settings.Q_CLUSTER["retry"]
    with tenant_context(personas.alpha):
        AnalysisRun.objects.filter(incident=incident).delete()
        now = timezone.now()
        recent = AnalysisRun.objects.create(
            incident=incident, status="running", heartbeat_at=now - timedelta(seconds=retry)
        )
        lost = AnalysisRun.objects.create(
            incident=incident, status="running", heartbeat_at=now - timedelta(seconds=retry + 300)
        )
    client.force_login(personas.member)
    detail = url(personas.alpha, "analysis:analysis-detail", incident.pk)
    panel = client.get(f"{detail}?run={recent.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in panel and 'data-status="running"' in panel
    panel = client.get(f"{detail}?run={lost.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert "every 2s" not in panel and 'data-status="lost"' in panel
    assert "stopped without finishing" in panel and "Press <em>Analyze</em>" in panel
    history = client.get(f"{detail}?run={lost.pk}").content.decode()
    assert history.count(">Stopped</td>") == 1 and history.count(">Running</td>") == 1
    # a late re-delivery (the ORM broker's) still claims it and runs it to the end
    connection.set_schema_to_public()
    with tenant_context(personas.alpha):
        assert services.execute_run(lost.pk) == "done"
        lost.refresh_from_db()
        assert lost.status == "done" and not lost.is_lost


def test_done_run_links_verified_citations_only(client, personas, incident):
    with tenant_context(personas.alpha):
        pack = services.build_pack(incident)
        item = pack.items[0]
        run = _run_with_answer(
            incident,
            pack,
            {
                "summary": [
                    {"text": "An API failure.", "evidence": [item.id], "quote": "api: failure"},
                    {"text": "Guess without evidence.", "evidence": []},
                    {"text": "Invented.", "evidence": ["E77"], "quote": "whatever"},
                ]
            },
        )
    client.force_login(personas.viewer)
    body = client.get(url(personas.alpha, "analysis:analysis-detail", incident.pk)).content.decode()
    link = reverse(
        "incidents:evidence",
        urlconf="aiops.urls_tenant",
        args=[incident.pk, item.ref.source_id, item.ref.line],
    ).lstrip("/")
    assert f'href="{personas.alpha.url_prefix}{link}"' in body or link in body
    assert body.count('data-testid="citation"') == 1
    assert 'data-testid="evidence-sent"' in body and MARKERS["alpha"] in body
    assert body.count('data-testid="unverified"') == 1
    assert "Invented." not in body and "1 claim dropped" in body
    assert run.result["summary"][0]["citations"][0]["source_id"] == item.ref.source_id


def test_insufficient_evidence_is_said_honestly(client, personas):
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        quiet = ingestion.create_incident(
            project=project,
            title="quiet",
            uploads=[ingestion.upload_from_text("2024-01-01T00:00:00Z INFO all good\n")],
            run_inline=True,
        )
        for job in quiet.jobs.all():
            ingestion.run_ingest(job.pk)
        run = AnalysisRun.objects.create(incident=quiet)
        services.execute_run(run.pk)
    client.force_login(personas.member)
    body = client.get(url(personas.alpha, "analysis:analysis-detail", quiet.pk)).content.decode()
    assert 'data-testid="insufficient"' in body and "Insufficient evidence" in body


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "![pixel](https://evil.example/track.png)",
    "[click me](javascript:alert(3))",
    '<div hx-get="/t/alpha/settings/ai/" hx-trigger="load">x</div>',
    "{{ request.user }} {% csrf_token %}",
]


def test_llm_output_renders_inert(client, personas, incident):
    with tenant_context(personas.alpha):
        pack = services.build_pack(incident)
        item = pack.items[0]
        claims = [
            {"text": f"Claim {payload}", "evidence": [item.id], "quote": "api: failure"}
            for payload in XSS
        ]
        _run_with_answer(
            incident,
            pack,
            {
                "summary": claims,
                "impact": [{"text": XSS[0], "evidence": [], "quote": XSS[1]}],
                "hypotheses": [
                    {"category": XSS[1], "statement": {"text": XSS[4], "evidence": [item.id]}}
                ],
            },
        )
    client.force_login(personas.member)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        body = client.get(
            url(personas.alpha, "analysis:analysis-detail", incident.pk), **headers
        ).content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body
        assert 'hx-get="/t/alpha/settings/ai/"' not in body and 'hx-trigger="load"' not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "![pixel](https://evil.example/track.png)" in body  # shown as text, not an image
        assert 'href="https://evil.example' not in body and 'href="javascript:' not in body
        assert "{{ request.user }}" in body


def _run_with_answer(incident, pack, answer: dict) -> AnalysisRun:
    from apps.core.analysis.providers import AnalysisProvider, ProviderResult, Usage, run_analysis

    class Canned(AnalysisProvider):
        name = "canned"
        model = "canned-1"

        def analyze(self, pack, *, repair=None):
            return ProviderResult(json.dumps(answer), None, Usage(10, 5), 3, self.model, "ab" * 32)

    run = AnalysisRun.objects.create(incident=incident)
    claim = lifecycle.claim(AnalysisRun, run.pk)
    done = services.outcome(run_analysis(pack, Canned()), pack)
    lifecycle.finish(claim, done.status, error=done.error, **done.fields)
    run.refresh_from_db()
    return run


# --- preview --------------------------------------------------------------------------------------


def test_preview_shows_the_redacted_payload_tokens_and_cost(client, personas, fake_llm):
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        leaky = ingestion.create_incident(
            project=project,
            title="leaky",
            uploads=[
                ingestion.upload_from_text(
                    f"2024-01-01T00:00:00Z ERROR git push failed token {secret} user=a@b.example\n"
                )
            ],
            run_inline=True,
        )
        for job in leaky.jobs.all():
            ingestion.run_ingest(job.pk)
        services.save_ai_settings(
            provider=AISettings.Provider.OPENAI,
            base_url=fake_llm.base_url,
            model="fake-model",
            timeout_seconds=5,
            max_tokens=500,
            price_per_1k_tokens=Decimal("0.01"),
            local_endpoints_only=False,
            new_api_key=API_KEY,
        )
        expected_body = services.preview(leaky).body_json
    client.force_login(personas.viewer)
    response = client.get(url(personas.alpha, "analysis:analysis-preview", leaky.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert secret not in body and "a@b.example" not in body and API_KEY not in body
    assert "&lt;SECRET:" in body and "&lt;EMAIL:" in body
    assert "git push failed token" in body
    assert 'data-testid="token-estimate"' in body and 'data-testid="cost"' in body
    assert "at most 0.0" in body
    assert fake_llm.requests == []  # a preview sends nothing
    # the preview is the body the job sends
    fake_llm.default = ok("{}")
    with tenant_context(personas.alpha):
        run = AnalysisRun.objects.create(incident=leaky)
        services.execute_run(run.pk)
    sent = json.loads(fake_llm.chat_bodies()[0])
    shown = json.loads(expected_body)
    assert sent["messages"] == shown["messages"] and sent["model"] == shown["model"]
    assert sent["max_tokens"] == shown["max_tokens"] == 500


# --- query budgets --------------------------------------------------------------------------------


def test_query_budgets(client, personas, incident, django_assert_num_queries):
    with tenant_context(personas.alpha):
        for _ in range(3):
            run = AnalysisRun.objects.create(incident=incident)
            services.execute_run(run.pk)
    client.force_login(personas.member)
    detail = url(personas.alpha, "analysis:analysis-detail", incident.pk)
    client.get(detail)  # warm the session
    # tenant, session, user, membership, incident, run, history, settings, and the
    # search_path twice (public for the domain, then the tenant's)
    with django_assert_num_queries(8 + 2):
        assert client.get(detail).status_code == 200
    with django_assert_num_queries(7 + 2):  # the polled panel (+ history once finished)
        assert client.get(detail, HTTP_HX_REQUEST="true").status_code == 200
    connection.set_schema_to_public()
    with tenant_context(personas.alpha):
        for _ in range(10):
            run = AnalysisRun.objects.create(incident=incident)
            services.execute_run(run.pk)
    with django_assert_num_queries(8 + 2):  # more history, same count
        assert client.get(detail).status_code == 200


def test_run_parameter_is_scoped_to_the_incident(client, personas, incident):
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        other = Incident.objects.create(project=project, title="other")
        foreign = AnalysisRun.objects.create(incident=other)
        own = AnalysisRun.objects.create(incident=incident)
    client.force_login(personas.member)
    detail = url(personas.alpha, "analysis:analysis-detail", incident.pk)
    assert client.get(detail + f"?run={own.pk}").status_code == 200
    assert client.get(detail + f"?run={foreign.pk}").status_code == 404
    assert client.get(detail + "?run=abc").status_code == 404
    assert client.get(detail + "?run=abc", HTTP_HX_REQUEST="true").status_code == 404
