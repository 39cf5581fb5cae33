"""Deploys read from log lines: rollouts, image changes, start lines with a version. Lines as
Kubernetes, kubelet, kubectl and common servers print them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.correlate.logdeploys import LogDeploys

T0 = datetime(2024, 3, 14, 14, 0, tzinfo=UTC)


def run(lines: list[tuple[str, str]], attrs: list[dict] | None = None) -> list[tuple]:
    """`lines`: (service, message), one second apart."""
    seen = LogDeploys()
    for i, (service, message) in enumerate(lines):
        seen.feed(
            service=service,
            ts=T0 + timedelta(seconds=i),
            message=message,
            source="x.log",
            line=i + 1,
            attrs=(attrs or [{}] * len(lines))[i],
        )
    return [(d.service, d.version, d.kind, d.ref.line) for d in seen.result()]


# the Kubernetes docs' rolling update of nginx-deployment, as `kubectl describe deployment` shows
ROLLING_UPDATE = [
    (
        "k8s",
        "Normal  ScalingReplicaSet  2m  deployment-controller  Scaled up replica set nginx-deployment-2035384211 to 3",
    ),
    (
        "k8s",
        "Normal  ScalingReplicaSet  24s  deployment-controller  Scaled up replica set nginx-deployment-1564180365 to 1",
    ),
    (
        "k8s",
        "Normal  ScalingReplicaSet  22s  deployment-controller  Scaled down replica set nginx-deployment-2035384211 to 2",
    ),
    (
        "k8s",
        "Normal  ScalingReplicaSet  22s  deployment-controller  Scaled up replica set nginx-deployment-1564180365 to 2",
    ),
]


def test_rolling_update_is_one_deploy_of_the_new_replica_set():
    assert run(ROLLING_UPDATE) == [("nginx-deployment", "1564180365", "rollout", 2)]


def test_a_replica_set_created_from_zero_is_a_deploy():
    line = "Scaled up replica set checkout-7d9f8b6c5d from 0 to 1"
    assert run([("events", line)]) == [("checkout", "7d9f8b6c5d", "rollout", 1)]


def test_an_autoscaler_scaling_up_the_running_replica_set_is_not():
    lines = [
        ("events", "Scaled up replica set checkout-7d9f8b6c5d to 4"),
        ("events", "Scaled up replica set checkout-7d9f8b6c5d to 6"),
    ]
    assert run(lines) == []


def test_an_image_change_is_a_deploy_of_the_new_tag():
    lines = [
        ("kubelet", 'Pulling image "ghcr.io/acme/payments:v2.14.0"'),
        ("kubelet", 'Successfully pulled image "ghcr.io/acme/payments:v2.14.0" in 1.2s'),
        ("kubelet", 'Pulling image "ghcr.io/acme/payments:v2.14.1"'),
        ("kubelet", 'Container image "ghcr.io/acme/payments:v2.14.1" already present on machine'),
    ]
    assert run(lines) == [("payments", "v2.14.1", "image", 3)]


def test_describe_image_lines_with_a_registry_port_and_digest():
    lines = [
        ("describe", "    Image:          registry.local:5000/team/orders:1.8.2"),
        ("describe", "    Image:          registry.local:5000/team/orders:1.9.0@sha256:0123abcd"),
    ]
    assert run(lines) == [("orders", "1.9.0", "image", 2)]


def test_a_rollout_and_its_image_pull_are_one_deploy_named_by_the_tag():
    lines = [
        ("events", 'Pulling image "acme/checkout:3.3.9"'),
        ("events", "Scaled up replica set checkout-5f6d8c9b7 from 0 to 1"),
        ("events", 'Pulling image "acme/checkout:3.4.0"'),
    ]
    assert run(lines) == [("checkout", "3.4.0", "rollout", 2)]


@pytest.mark.parametrize(
    ("first", "second", "version"),
    [
        (  # Go's log, the bundled sample's shape
            "pricing v2.13.4 (commit 8d1e7c2) listening on :8080",
            "pricing v2.14.0 (commit 41fa09b) listening on :8080",
            "v2.14.0",
        ),
        (  # Spring Boot
            "Starting OrdersApplication v1.4.2 using Java 17.0.2 with PID 1",
            "Starting OrdersApplication v1.5.0 using Java 17.0.2 with PID 1",
            "v1.5.0",
        ),
        ("server starting version=2024.03.1", "server starting version=2024.03.2", "2024.03.2"),
        ("> checkout-web@3.2.0 start", "> checkout-web@3.3.0 start", "3.3.0"),
    ],
)
def test_a_start_line_with_another_version_is_a_deploy(first, second, version):
    got = run([("svc", first), ("svc", "handled request"), ("svc", second)])
    assert got == [("svc", version, "start", 3)]


def test_a_start_line_at_the_top_of_a_log_is_not_a_deploy_but_later_it_is():
    top = run([("api", "api v3.1.0 started"), ("api", "GET /health 200")])
    assert top == []
    restart = [("api", "GET /health 200")] * 12 + [("api", "api v3.1.0 started")]
    assert run(restart) == [("api", "v3.1.0", "start", 13)]


def test_a_version_field_with_a_start_message():
    lines = [("api", "request served")] * 11 + [("api", "server started")]
    attrs = [{}] * 11 + [{"version": "9.9.1"}]
    assert run(lines, attrs) == [("api", "9.9.1", "start", 12)]


def test_restarts_of_the_running_version_are_not_deploys():
    lines = [("api", "api v3.1.0 started")] + [("api", "GET / 200")] * 11
    lines += [("api", "api v3.1.0 started")]
    assert run(lines) == []


@pytest.mark.parametrize(
    "message",
    [
        'Started GET "/users" for 127.0.0.1 at 2024-03-14 14:00:00 +0000',  # Rails
        "GET /api/v2.1/start HTTP/1.1 200",
        "Starting session 42 of user root.",
        "* Puma version: 6.4.0 (ruby 3.2.2-p53)",  # the server's version, no start
        "Starting gunicorn 21.2.0",  # the server's, not the app's (no v, no `version`)
        "Scaled up replica set worker to 3",  # no pod-template hash
        "image build took 3s",
    ],
)
def test_lines_that_are_not_deploys(message):
    lines = [("svc", "noise")] * 12 + [("svc", message), ("svc", message.replace("1", "2"))]
    assert run(lines) == []


def test_the_first_image_pulled_around_a_rollout_names_its_version():
    lines = [
        ("events", "Scaled up replica set checkout-6f7d9c8b5 from 0 to 1"),
        ("events", 'Pulling image "registry.acme.io/checkout:1.9.0"'),
    ]
    assert run(lines) == [("checkout", "1.9.0", "rollout", 1)]
    assert run(lines[1:]) == []  # a first pull alone: a pod started, maybe not a deploy
