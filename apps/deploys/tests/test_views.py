"""The deploy receivers: the generic marker with ingest tokens, GitHub with signatures."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django_tenants.utils import tenant_context

from apps.deploys import services
from apps.deploys.models import Deploy


def _deploys(token) -> list[Deploy]:
    with tenant_context(token.tenant):
        return list(Deploy.objects.filter(project_id=token.project.pk).order_by("pk"))


def _post(client, url, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data=data, content_type="application/json", **headers)


# --- POST /ingest/deploys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "query", "expected"),
    [
        (  # ours
            {
                "service": "pricing",
                "version": "v2.14.0",
                "ts": "2024-03-14T14:02:10Z",
                "environment": "prod",
                "commit": "41fa09b",
                "url": "https://ci.example/1",
            },
            "",
            ("pricing", "v2.14.0", "2024-03-14T14:02:10+00:00", "prod"),
        ),
        (  # Sentry's deploy shape (the release's version given)
            {
                "version": "backend@1.2.3",
                "environment": "production",
                "projects": ["backend"],
                "dateStarted": "2024-03-14T14:00:00Z",
                "dateFinished": "2024-03-14T14:03:00Z",
            },
            "",
            ("backend", "backend@1.2.3", "2024-03-14T14:00:00+00:00", "production"),
        ),
        (  # a Sentry release (POST /organizations/{org}/releases/)
            {
                "version": "2.0rc2",
                "ref": "6ba09a7c53235ee8a8fa5ee4c1ca8ca886e7fdbb",
                "url": "https://github.com/acme/pump-station/releases/2.0rc2",
                "projects": ["pump-station"],
                "dateReleased": "2024-03-14T14:00:00Z",
            },
            "",
            ("pump-station", "2.0rc2", "2024-03-14T14:00:00+00:00", ""),
        ),
        (  # a Grafana annotation
            {
                "time": 1710424800000,
                "tags": ["deploy", "service:checkout", "version:v9"],
                "text": "Deployed checkout v9",
            },
            "",
            ("checkout", "v9", "2024-03-14T14:00:00+00:00", ""),
        ),
        (  # a Honeycomb marker: the service from the query
            {"message": "deploy #412", "type": "deploy", "start_time": 1710424800},
            "?service=orders",
            ("orders", "", "2024-03-14T14:00:00+00:00", ""),
        ),
    ],
)
def test_marker_shapes(client, alpha_token, body, query, expected):
    response = _post(client, f"/ingest/deploys{query}", body, **alpha_token.bearer)
    assert response.status_code == 201, response.content
    (deploy,) = _deploys(alpha_token)
    got = (deploy.service, deploy.version, deploy.started_at.isoformat(), deploy.environment)
    assert got == expected
    assert deploy.source == "api"


def test_marker_retry_is_one_deploy(client, alpha_token):
    body = {"service": "api", "version": "v2", "ts": "2024-03-14T14:00:00Z"}
    first = _post(client, "/ingest/deploys", body, **alpha_token.bearer)
    again = _post(client, "/ingest/deploys", body, **alpha_token.bearer)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert len(_deploys(alpha_token)) == 1


def test_marker_without_time_is_now(client, alpha_token):
    response = _post(client, "/ingest/deploys", {"service": "api"}, **alpha_token.bearer)
    assert response.status_code == 201
    assert _deploys(alpha_token)[0].started_at is not None


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer aiops_nope"}, {"HTTP_AUTHORIZATION": "Token x"}],
)
def test_marker_needs_a_valid_token(client, alpha_token, headers):
    response = _post(client, "/ingest/deploys", {"service": "api"}, **headers)
    assert response.status_code == 401
    assert _deploys(alpha_token) == []


def test_marker_basic_auth_and_revoked_token(client, alpha_token):
    import base64

    from apps.ingestion.tokens import services as tokens

    basic = base64.b64encode(f"ci:{alpha_token.text}".encode()).decode()
    ok = _post(client, "/ingest/deploys", {"service": "a"}, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert ok.status_code == 201
    tokens.revoke_token(token=alpha_token.row)
    refused = _post(client, "/ingest/deploys", {"service": "b"}, **alpha_token.bearer)
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"version": "v1"}).encode(), 400),  # no service
        (json.dumps({"service": "a", "ts": "yesterday"}).encode(), 400),
        (json.dumps({"service": "a", "status": "exploded"}).encode(), 400),
        (b"[" * 100_000 + b"]" * 100_000, 413),
    ],
)
def test_marker_malformed(client, alpha_token, body, status):
    response = _post(client, "/ingest/deploys", body, **alpha_token.bearer)
    assert response.status_code == status
    assert _deploys(alpha_token) == []


def test_marker_goes_to_the_tokens_tenant_only(client, alpha_token, beta_token):
    _post(client, "/ingest/deploys", {"service": "alpha-only"}, **alpha_token.bearer)
    assert [d.service for d in _deploys(alpha_token)] == ["alpha-only"]
    assert _deploys(beta_token) == []


# --- POST /ingest/deploys/github ---------------------------------------------------------------


def _github_payload(state: str = "success", deployment_id: int = 9001) -> dict:
    return {
        "action": "created",
        "deployment_status": {
            "state": state,
            "environment": "production",
            "target_url": "https://github.com/acme/pricing/actions/runs/1",
            "description": "Deployed by Actions",
            "created_at": "2024-03-14T14:02:40Z",
        },
        "deployment": {
            "id": deployment_id,
            "sha": "41fa09b8a0c3d1e2f3a4b5c6d7e8f9a0b1c2d3e4",
            "ref": "v2.14.0",
            "environment": "production",
            "created_at": "2024-03-14T14:02:10Z",
            "creator": {"login": "octocat"},
            "payload": {},
        },
        "repository": {"name": "pricing", "full_name": "Acme/Pricing"},
    }


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def github_hook(alpha_token):
    _, secret = services.create_hook(
        tenant=alpha_token.tenant, project=alpha_token.project, repository="acme/pricing"
    )
    return secret


def _deliver(client, secret, payload, event="deployment_status", delivery="d-1", signature=None):
    body = json.dumps(payload).encode()
    return client.post(
        "/ingest/deploys/github",
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT=event,
        HTTP_X_GITHUB_DELIVERY=delivery,
        HTTP_X_HUB_SIGNATURE_256=signature or _signed(secret, body),
    )


def test_github_deployment_status_is_stored(client, alpha_token, github_hook):
    response = _deliver(client, github_hook, _github_payload())
    assert response.status_code == 201, response.content
    (deploy,) = _deploys(alpha_token)
    assert (deploy.service, deploy.version, deploy.status) == ("pricing", "v2.14.0", "success")
    assert deploy.started_at.isoformat() == "2024-03-14T14:02:10+00:00"
    assert deploy.finished_at.isoformat() == "2024-03-14T14:02:40+00:00"
    assert (deploy.commit[:7], deploy.author, deploy.environment) == (
        "41fa09b",
        "octocat",
        "production",
    )
    assert deploy.url.startswith("https://github.com/") and deploy.source == "github"


@pytest.mark.parametrize(
    "signature",
    [
        "sha256=" + "0" * 64,
        "sha1=abc",
        "",
        _signed("another-secret", json.dumps(_github_payload()).encode()),
    ],
)
def test_github_bad_signature_is_refused_and_logged(
    client, alpha_token, github_hook, signature, caplog
):
    response = _deliver(client, github_hook, _github_payload(), signature=signature or "none")
    assert response.status_code == 401
    assert _deploys(alpha_token) == []
    assert any("bad signature" in r.getMessage() for r in caplog.records)


def test_github_unknown_repository_is_refused(client, alpha_token, github_hook):
    payload = _github_payload()
    payload["repository"]["full_name"] = "acme/other"
    assert _deliver(client, github_hook, payload).status_code == 401


def test_github_replays_are_idempotent_and_status_moves_forward(client, alpha_token, github_hook):
    first = _deliver(client, github_hook, _github_payload("in_progress"), delivery="d-1")
    done = _deliver(client, github_hook, _github_payload("success"), delivery="d-2")
    replay_old = _deliver(client, github_hook, _github_payload("in_progress"), delivery="d-1")
    replay = _deliver(client, github_hook, _github_payload("success"), delivery="d-2")
    assert [r.status_code for r in (first, done, replay_old, replay)] == [201, 200, 200, 200]
    assert [done.json()["duplicate"], replay.json()["duplicate"]] == [False, True]
    (deploy,) = _deploys(alpha_token)
    assert deploy.status == "success"


def test_github_ping_and_other_events_are_acknowledged(client, alpha_token, github_hook):
    ping = _deliver(
        client,
        github_hook,
        {"zen": "Keep it simple.", "repository": {"full_name": "acme/pricing"}},
        event="ping",
    )
    assert ping.status_code == 202
    assert _deploys(alpha_token) == []


def test_github_form_encoded_payload(client, alpha_token, github_hook):
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(_github_payload())}).encode()
    response = client.post(
        "/ingest/deploys/github",
        data=body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_GITHUB_EVENT="deployment_status",
        HTTP_X_HUB_SIGNATURE_256=_signed(github_hook, body),
    )
    assert response.status_code == 201


def test_hook_secret_is_sealed(alpha_token, github_hook):
    from apps.deploys.hooks.models import DeployHook

    row = DeployHook.objects.get(repository="acme/pricing")
    assert github_hook not in row.secret_sealed


def test_marker_needs_a_token_allowed_deploys(client, alpha_token):
    """A token scoped to logs (a shipper's) cannot write deploy markers; one scoped to deploys
    can."""
    from apps.ingestion.tokens import services as tokens

    def scoped(scopes):
        _row, text = tokens.create_token(
            tenant=alpha_token.tenant, project=alpha_token.project, name="s", scopes=scopes
        )
        return {"HTTP_AUTHORIZATION": f"Bearer {text}"}

    refused = _post(client, "/ingest/deploys", {"service": "a"}, **scoped(("logs",)))
    assert refused.status_code == 401
    assert _deploys(alpha_token) == []
    ok = _post(client, "/ingest/deploys", {"service": "a"}, **scoped(("deploys",)))
    assert ok.status_code == 201
