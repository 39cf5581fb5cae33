"""The analysis job through the whole Django path: evidence from PostgreSQL, a provider, the
validated result on its run row. The local provider on the sample bundles; the openai-compatible
provider against the fake server on 127.0.0.1 (real HTTP, the real `openai` client)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.analysis import selectors, services, tasks
from apps.analysis.models import AISettings, AnalysisRun
from apps.core.tests.analysis.fake_llm import FakeLLM, ok, status
from apps.core.tests.analysis.secrets_corpus import secret_corpus
from apps.incidents.models import Incident, Project
from apps.ingestion import services as ingestion
from apps.ingestion.models import Source
from conftest import MARKERS

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
API_KEY = "sk-test-DJANGO-PATH-KEY-0123456789abcdef"

pytestmark = pytest.mark.usefixtures("allow_fake_llm")


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """The core tests' conftest neutralises the root fixture of this name; these tests need it."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


def ingest(project: Project, *uploads, title: str = "analysis test") -> Incident:
    incident = ingestion.create_incident(
        project=project, title=title, uploads=list(uploads), run_inline=True
    )
    for job in incident.jobs.all():
        ingestion.run_ingest(job.pk)
    return incident


def analyze(incident: Incident, capture) -> AnalysisRun:
    """Request a run like the view does, then run its (captured) job in this process."""
    with capture(execute=False) as callbacks:
        run = services.request_analysis(incident=incident)
    assert len(callbacks) == 1  # exactly one task, queued on commit
    tasks.analyze_incident(run.pk)
    run.refresh_from_db()
    return run


def use_fake(fake: FakeLLM, **kw) -> AISettings:
    return services.save_ai_settings(
        provider=AISettings.Provider.OPENAI,
        base_url=fake.base_url,
        model="fake-model",
        timeout_seconds=5,
        max_tokens=800,
        price_per_1k_tokens=None,
        local_endpoints_only=kw.pop("local_endpoints_only", False),
        new_api_key=API_KEY,
        **kw,
    )


def readme_expectations(bundle: str) -> tuple[str, str, int]:
    text = (SAMPLES / bundle / "README.md").read_text()
    category = re.search(r"Root-cause category: `([^`]+)`", text).group(1)
    name, line = re.search(r"First evidence: `([^`:]+):(\d+)`", text).groups()
    return category, name, int(line)


@pytest.mark.slow
@pytest.mark.parametrize(
    "bundle", ["checkout-db-connections", "worker-oom-crashloop", "tls-cert-expired"]
)
def test_local_provider_on_sample_bundles(personas, django_capture_on_commit_callbacks, bundle):
    category, file_name, line = readme_expectations(bundle)
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        incident = ingest(project, ingestion.upload_from_path(SAMPLES / f"{bundle}.zip"))
        run = analyze(incident, django_capture_on_commit_callbacks)
        assert run.status == AnalysisRun.Status.DONE, run.error
        assert (run.provider, run.model) == ("local", "local-narrative-v1")
        result = run.result
        assert result["status"] == "ok"
        top = result["hypotheses"][0]
        assert top["category"] == category
        assert top["statement"]["status"] == "verified"
        first = top["statement"]["citations"][0]
        source = Source.objects.get(pk=first["source_id"], incident=incident)
        assert source.member.endswith(file_name) and first["line"] == line
        # citation validity of every displayed claim: 100 %, against the stored raw line
        claims = [
            c for s in ("summary", "impact", "contributing_factors", "actions") for c in result[s]
        ]
        claims += [h["statement"] for h in result["hypotheses"]]
        for claim in claims:
            assert claim["status"] == "verified"
            for c in claim["citations"]:
                assert result["evidence"][c["id"]]["line"] == c["line"]
        assert run.evidence_count == len(result["evidence"]) > 0
        assert run.token_estimate and run.latency_ms is not None
        assert selectors.latest_analysis(incident) == run


def _answer_for(pack, *, extra_summary=()) -> str:
    e1 = pack.items[0]
    quote = " ".join(e1.text.split())[-40:].strip()
    return json.dumps(
        {
            "summary": [
                {"text": "The first error.", "kind": "fact", "evidence": [e1.id], "quote": quote},
                {"text": "Made up.", "kind": "fact", "evidence": ["E999"], "quote": "nothing"},
                *extra_summary,
            ],
            "hypotheses": [
                {
                    "rank": 1,
                    "category": "app-error",
                    "confidence": "high",
                    "statement": {"text": "It failed.", "evidence": [e1.id], "quote": quote},
                }
            ],
            "actions": [{"text": "Look again.", "kind": "action"}],
        }
    )


def test_openai_compatible_provider_through_the_job(
    personas, fake_llm: FakeLLM, django_capture_on_commit_callbacks
):
    fake_llm.required_key = API_KEY
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        use_fake(fake_llm)
        pack = services.build_pack(incident)
        fake_llm.queue(ok(_answer_for(pack), prompt_tokens=321))
        run = analyze(incident, django_capture_on_commit_callbacks)
    assert run.status == AnalysisRun.Status.DONE, run.error
    assert (run.provider, run.model) == ("openai", "fake-model")
    assert (run.prompt_tokens, run.completion_tokens) == (321, 42)
    (body,) = fake_llm.chat_bodies()
    assert run.payload_sha256 == hashlib.sha256(body).hexdigest()
    summary = run.result["summary"]
    assert [c["status"] for c in summary] == ["verified", "dropped"]
    assert summary[0]["citations"][0]["line"] == 1
    assert run.result["hypotheses"][0]["confidence"] == 0.8
    assert run.result["actions"][0]["status"] == "unverified"


def test_malformed_answer_gets_one_repair(personas, fake_llm, django_capture_on_commit_callbacks):
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        use_fake(fake_llm)
        pack = services.build_pack(incident)
        fake_llm.queue(ok("not json at all"), ok(_answer_for(pack)))
        run = analyze(incident, django_capture_on_commit_callbacks)
    assert run.status == AnalysisRun.Status.DONE
    assert run.result["repaired"] is True
    assert [c["attempt"] for c in run.calls] == ["initial", "repair"]


def test_provider_failure_ends_failed_with_a_reason(
    personas, fake_llm, django_capture_on_commit_callbacks
):
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        use_fake(fake_llm)
        AISettings.objects.update(timeout_seconds=2)
        fake_llm.default = status(500)
        run = analyze(incident, django_capture_on_commit_callbacks)
    assert run.status == AnalysisRun.Status.FAILED
    assert run.error.startswith("server_error")
    assert run.result["status"] == "failed"
    assert API_KEY not in run.error and API_KEY not in json.dumps(run.calls)


def test_retried_job_never_duplicates_rows_or_calls(
    personas, fake_llm, django_capture_on_commit_callbacks
):
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        use_fake(fake_llm)
        fake_llm.default = ok(_answer_for(services.build_pack(incident)))
        before = AnalysisRun.objects.count()
        run = analyze(incident, django_capture_on_commit_callbacks)
        assert run.status == AnalysisRun.Status.DONE
        # django-q2 delivers at least once: the same task again, twice
        assert tasks.analyze_incident(run.pk) == "skipped"
        assert tasks.analyze_incident(run.pk) == "skipped"
        assert AnalysisRun.objects.count() == before + 1
        assert len(fake_llm.chat_bodies()) == 1
        # a run whose worker is still within its time slot is not taken over either
        running = AnalysisRun.objects.create(
            incident=incident, status=AnalysisRun.Status.RUNNING, heartbeat_at=run.created_at
        )
        AnalysisRun.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now())
        assert tasks.analyze_incident(running.pk) == "skipped"
        assert len(fake_llm.chat_bodies()) == 1


def test_policy_forbids_non_local_endpoint_at_run_time(
    personas, fake_llm, django_capture_on_commit_callbacks
):
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        use_fake(fake_llm)
        AISettings.objects.update(local_endpoints_only=True, base_url="https://93.184.215.14/v1")
        run = analyze(incident, django_capture_on_commit_callbacks)
    assert run.status == AnalysisRun.Status.FAILED
    assert "only local endpoints" in run.error
    assert fake_llm.requests == []


def test_prompt_for_tenant_a_never_carries_tenant_b(
    personas, fake_llm, django_capture_on_commit_callbacks
):
    for tenant, own, other in (
        (personas.alpha, MARKERS["alpha"], MARKERS["beta"]),
        (personas.beta, MARKERS["beta"], MARKERS["alpha"]),
    ):
        with tenant_context(tenant):
            incident = Incident.objects.get(title=f"incident {own}")
            use_fake(fake_llm)
            fake_llm.default = ok("{}")
            analyze(incident, django_capture_on_commit_callbacks)
        body = fake_llm.chat_bodies()[-1].decode()
        assert own in body and other not in body
        connection.set_schema_to_public()


def test_secret_corpus_never_reaches_the_server(
    personas, fake_llm, django_capture_on_commit_callbacks, monkeypatch
):
    corpus = secret_corpus(1040)
    assert len({kind for kind, _, _ in corpus}) >= 15
    text = "".join(line.replace(" svc-", " ERROR svc-", 1) + "\n" for _, line, _ in corpus)
    monkeypatch.setattr(services, "TOKEN_BUDGET", 200_000)
    monkeypatch.setattr(selectors, "MAX_GROUPS", 200)
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        incident = ingest(project, ingestion.upload_from_text(text, "secrets.log"))
        use_fake(fake_llm)
        fake_llm.default = ok("{}")
        run = analyze(incident, django_capture_on_commit_callbacks)
        preview = services.preview(incident).body_json
    assert run.evidence_count >= 40  # a good part of the corpus was really sent
    sent = [b.decode("utf-8") for b in fake_llm.chat_bodies()]
    sent = [json.dumps(json.loads(b), ensure_ascii=False) for b in sent] + sent + [preview]
    kinds_sent = {k for k, line, _ in corpus if any(line[:25] in s for s in sent)}
    leaked = sorted({k for k, _, secret in corpus for s in sent if secret in s})
    assert leaked == []
    assert len(set(re.findall(r"<SECRET:([a-z0-9-]+):\d+>", sent[0]))) >= 5, kinds_sent


@pytest.mark.django_db(transaction=True)
def test_job_rides_out_a_database_restart_during_the_provider_call(personas, fake_llm, monkeypatch):
    """The worker's connection is terminated (as by `pg_ctl restart -m fast`) while the model
    answers: the result is still stored, on the one run, after one provider call."""
    import threading

    from apps.core.tests.analysis.fake_llm import Reply, completion
    from apps.tenants.tests.test_outage import terminate_backend

    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        use_fake(fake_llm)
        try:
            fake_llm.queue(
                Reply(200, completion(_answer_for(services.build_pack(incident))), hang=1)
            )
            run = AnalysisRun.objects.create(incident=incident)
            pid = connection.connection.info.backend_pid

            def kill_when_the_model_is_asked() -> None:
                while not fake_llm.chat_bodies():
                    time.sleep(0.02)
                terminate_backend(pid)

            killer = threading.Thread(target=kill_when_the_model_is_asked)
            killer.start()
            status = tasks.analyze_incident(run.pk)
            killer.join()
            assert connection.connection.info.backend_pid != pid  # it did reconnect
            run.refresh_from_db()
            assert status == run.status == AnalysisRun.Status.DONE, run.error
            assert run.attempts == 1 and len(fake_llm.chat_bodies()) == 1
            assert AnalysisRun.objects.filter(incident=incident, pk__gte=run.pk).count() == 1
        finally:  # transactional: leave the tenant's settings and runs as other tests expect
            AnalysisRun.objects.filter(incident=incident).delete()
            AISettings.objects.all().delete()
