"""GitLab deployment events and Argo CD notifications: the payloads as those senders send them
(GitLab's documented example; Argo CD bodies from common notification templates)."""

from __future__ import annotations

import copy
import json

import pytest
from django_tenants.utils import tenant_context

from apps.deploys import services
from apps.deploys.models import Deploy

# GitLab's "Deployment events" example (docs: user/project/integrations/webhook_events).
GITLAB_DEPLOYMENT = {
    "object_kind": "deployment",
    "status": "success",
    "status_changed_at": "2021-04-28 21:50:00 +0200",
    "deployment_id": 15,
    "deployable_id": 796,
    "deployable_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
    "environment": "staging",
    "environment_tier": "staging",
    "environment_slug": "staging",
    "environment_external_url": "https://staging.example.com",
    "project": {
        "id": 30,
        "name": "test-deployment-webhooks",
        "description": "",
        "web_url": "http://10.126.0.2:3000/root/test-deployment-webhooks",
        "avatar_url": None,
        "git_ssh_url": "ssh://vlad@10.126.0.2:2222/root/test-deployment-webhooks.git",
        "git_http_url": "http://10.126.0.2:3000/root/test-deployment-webhooks.git",
        "namespace": "Administrator",
        "visibility_level": 0,
        "path_with_namespace": "root/test-deployment-webhooks",
        "default_branch": "master",
        "ci_config_path": "",
        "homepage": "http://10.126.0.2:3000/root/test-deployment-webhooks",
        "url": "ssh://vlad@10.126.0.2:2222/root/test-deployment-webhooks.git",
        "ssh_url": "ssh://vlad@10.126.0.2:2222/root/test-deployment-webhooks.git",
        "http_url": "http://10.126.0.2:3000/root/test-deployment-webhooks.git",
    },
    "short_sha": "279484c0",
    "user": {
        "id": 1,
        "name": "Administrator",
        "username": "root",
        "avatar_url": "https://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=80",
        "email": "admin@example.com",
    },
    "user_url": "http://10.126.0.2:3000/root",
    "commit_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/commit/"
    "279484c09fbe69ededfced8c1bb6e6d24616b468",
    "commit_title": "Add new file",
    "ref": "1.0.0",
}


def _deploys(token) -> list[Deploy]:
    with tenant_context(token.tenant):
        return list(Deploy.objects.filter(project_id=token.project.pk).order_by("pk"))


@pytest.fixture
def gitlab_secret(alpha_token):
    _, secret = services.create_hook(
        tenant=alpha_token.tenant,
        project=alpha_token.project,
        repository="root/test-deployment-webhooks",
        provider="gitlab",
    )
    return secret


def _gitlab(client, secret, payload, event="Deployment Hook"):
    return client.post(
        "/ingest/deploys/gitlab",
        data=json.dumps(payload).encode(),
        content_type="application/json",
        HTTP_X_GITLAB_EVENT=event,
        HTTP_X_GITLAB_TOKEN=secret,
    )


def test_gitlab_deployment_event_is_stored(client, alpha_token, gitlab_secret):
    response = _gitlab(client, gitlab_secret, GITLAB_DEPLOYMENT)
    assert response.status_code == 201, response.content
    (deploy,) = _deploys(alpha_token)
    assert (deploy.service, deploy.version, deploy.status, deploy.environment) == (
        "test-deployment-webhooks",
        "1.0.0",
        "success",
        "staging",
    )
    assert deploy.started_at.isoformat() == "2021-04-28T19:50:00+00:00"
    assert deploy.commit == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert (deploy.author, deploy.source) == ("root", "gitlab")
    assert deploy.url.endswith("/-/jobs/796")


def test_gitlab_running_then_success_is_one_deploy_and_replays_change_nothing(
    client, alpha_token, gitlab_secret
):
    running = {**GITLAB_DEPLOYMENT, "status": "running"}
    running["status_changed_at"] = "2021-04-28 21:48:00 +0200"
    answers = [
        _gitlab(client, gitlab_secret, running).status_code,
        _gitlab(client, gitlab_secret, GITLAB_DEPLOYMENT).status_code,
        _gitlab(client, gitlab_secret, GITLAB_DEPLOYMENT).json()["duplicate"],
        _gitlab(client, gitlab_secret, running).json()["duplicate"],  # an older status, replayed
    ]
    assert answers == [201, 200, True, True]
    (deploy,) = _deploys(alpha_token)
    assert deploy.status == "success"
    assert deploy.started_at.isoformat() == "2021-04-28T19:48:00+00:00"
    assert deploy.finished_at.isoformat() == "2021-04-28T19:50:00+00:00"


@pytest.mark.parametrize("token", ["", "wrong", "x" * 43])
def test_gitlab_bad_token_is_refused_and_logged(client, alpha_token, gitlab_secret, token, caplog):
    response = _gitlab(client, token, GITLAB_DEPLOYMENT)
    assert response.status_code == 401
    assert _deploys(alpha_token) == []
    assert any("bad token (gitlab" in r.getMessage() for r in caplog.records)


def test_gitlab_secret_of_another_project_is_refused(client, alpha_token, gitlab_secret):
    other = copy.deepcopy(GITLAB_DEPLOYMENT)
    other["project"]["path_with_namespace"] = "root/another"
    assert _gitlab(client, gitlab_secret, other).status_code == 401


def test_gitlab_other_events_are_acknowledged(client, alpha_token, gitlab_secret):
    push = {"object_kind": "push", "project": GITLAB_DEPLOYMENT["project"]}
    assert _gitlab(client, gitlab_secret, push, event="Push Hook").status_code == 202
    assert _deploys(alpha_token) == []


# --- Argo CD -----------------------------------------------------------------------------------

# The body of a common `template.app-sync-succeeded` webhook (ServiceNow's DevOps template).
ARGO_TEMPLATE_BODY = {
    "titleLink": "https://argocd.example.com/applications/checkout",
    "syncStatus": "Synced",
    "repo": "https://github.com/acme/deploy.git",
    "revision": "9f2c1e0d5b7a4c3e2f1a0b9c8d7e6f5a4b3c2d1e",
    "path": "/repos/acme/deploy/statuses/9f2c1e0d5b7a4c3e2f1a0b9c8d7e6f5a4b3c2d1e",
    "commitAuthor": "Jane Doe <jane@example.com>",
    "commitMessage": "checkout: bump to v3.4.0",
    "commitTags": "[]",
    "startedAt": "2024-03-14T14:02:10Z",
    "finishedAt": "2024-03-14T14:02:55Z",
    "message": "checkout app is synced",
}

# `{"app": {{toJson .app}}}`: the Application object itself (trimmed to what is read).
ARGO_APPLICATION = {
    "app": {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "payments", "namespace": "argocd"},
        "spec": {
            "destination": {"namespace": "prod", "server": "https://kubernetes.default.svc"},
            "source": {"repoURL": "https://github.com/acme/payments.git", "targetRevision": "HEAD"},
        },
        "status": {
            "health": {"status": "Healthy"},
            "sync": {"status": "Synced", "revision": "41fa09b8a0c3d1e2f3a4b5c6d7e8f9a0b1c2d3e4"},
            "operationState": {
                "phase": "Succeeded",
                "startedAt": "2024-03-14T14:10:00Z",
                "finishedAt": "2024-03-14T14:10:40Z",
            },
            "summary": {"images": ["ghcr.io/acme/payments:v2.14.1"]},
        },
    }
}


@pytest.fixture
def argo_secret(alpha_token):
    _, secret = services.create_hook(
        tenant=alpha_token.tenant, project=alpha_token.project, repository="", provider="argocd"
    )
    return secret


def _argo(client, body, **headers):
    return client.post(
        "/ingest/deploys/argocd",
        data=json.dumps(body).encode(),
        content_type="application/json",
        **headers,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            ARGO_TEMPLATE_BODY,
            ("checkout", "9f2c1e0d5b7a", "success", "2024-03-14T14:02:10+00:00", ""),
        ),
        (
            ARGO_APPLICATION,
            ("payments", "v2.14.1", "success", "2024-03-14T14:10:00+00:00", "prod"),
        ),
    ],
)
def test_argocd_notification_is_stored(client, alpha_token, argo_secret, body, expected):
    response = _argo(client, body, HTTP_X_DEPLOY_TOKEN=argo_secret)
    assert response.status_code == 201, response.content
    (deploy,) = _deploys(alpha_token)
    got = (
        deploy.service,
        deploy.version,
        deploy.status,
        deploy.started_at.isoformat(),
        deploy.environment,
    )
    assert got == expected
    assert deploy.source == "argocd" and len(deploy.commit) == 40


def test_argocd_with_an_ingest_token_and_replays(client, alpha_token):
    first = _argo(client, ARGO_TEMPLATE_BODY, **alpha_token.bearer)
    again = _argo(client, ARGO_TEMPLATE_BODY, **alpha_token.bearer)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert len(_deploys(alpha_token)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_DEPLOY_TOKEN": "nokey.nosecret"},
        {"HTTP_AUTHORIZATION": "Bearer aiops_nope"},
    ],
)
def test_argocd_bad_secret_is_refused_and_logged(client, alpha_token, argo_secret, headers, caplog):
    response = _argo(client, ARGO_TEMPLATE_BODY, **headers)
    assert response.status_code == 401
    assert _deploys(alpha_token) == []
    assert any("bad token (argocd)" in r.getMessage() for r in caplog.records)


def test_argocd_right_key_wrong_secret_is_refused(client, alpha_token, argo_secret):
    key = argo_secret.split(".", 1)[0]
    response = _argo(client, ARGO_TEMPLATE_BODY, HTTP_X_DEPLOY_TOKEN=f"{key}.guess")
    assert response.status_code == 401


def test_argocd_body_without_an_application_is_400(client, alpha_token, argo_secret):
    response = _argo(client, {"syncStatus": "Synced"}, HTTP_X_DEPLOY_TOKEN=argo_secret)
    assert response.status_code == 400


def test_deploy_hook_command_for_argocd(alpha_token, capsys):
    from django.core.management import call_command

    call_command(
        "deploy-hook",
        "create",
        "--tenant",
        alpha_token.tenant.slug,
        "--project",
        alpha_token.project.slug,
        "--provider",
        "argocd",
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert "." in secret and len(secret) > 40
