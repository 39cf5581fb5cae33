"""Deploy markers in the senders' shapes, GitHub's deployment events and its signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from apps.core.correlate.markers import (
    MarkerError,
    from_generic,
    from_github,
    github_signature_ok,
    repository_of,
)

T = datetime(2024, 3, 14, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("obj", "service", "expected"),
    [
        ({"service": "api", "version": "v2", "ts": "2024-03-14T14:00:00Z"}, None, ("api", "v2", T)),
        ({"app": "api", "release": "r7", "started_at": 1710424800}, None, ("api", "r7", T)),
        (
            {"projects": ["backend"], "version": "b@1", "dateStarted": "2024-03-14T14:00:00Z"},
            None,
            ("backend", "b@1", T),
        ),
        ({"time": 1710424800000, "tags": ["service=web", "version:9"]}, None, ("web", "9", T)),
        ({"message": "deploy #4", "start_time": 1710424800}, "orders", ("orders", "", T)),
        ({"service": "api"}, "ignored", ("api", "", None)),  # no time: the receiver's
    ],
)
def test_generic_shapes(obj, service, expected):
    m = from_generic(obj, service=service)
    assert (m.service, m.version, m.started_at) == expected


@pytest.mark.parametrize(
    "obj",
    [
        [],
        "x",
        {},
        {"version": "v"},
        {"service": "a", "ts": "noon"},
        {"service": "a", "status": "bad"},
    ],
)
def test_generic_refusals(obj):
    with pytest.raises(MarkerError):
        from_generic(obj)


def _github(state, **deployment):
    return {
        "deployment_status": {"state": state, "created_at": "2024-03-14T14:05:00Z"},
        "deployment": {
            "id": 7,
            "sha": "a" * 40,
            "ref": "main",
            "created_at": "2024-03-14T14:00:00Z",
        }
        | deployment,
        "repository": {"name": "pricing", "full_name": "Acme/Pricing"},
    }


@pytest.mark.parametrize(
    ("state", "status", "finished"),
    [
        ("success", "success", True),
        ("queued", "pending", False),
        ("in_progress", "in_progress", False),
        ("failure", "failure", True),
        ("weird", "pending", False),
    ],
)
def test_github_states(state, status, finished):
    m = from_github("deployment_status", _github(state))
    assert m is not None
    assert (m.status, m.finished_at is not None) == (status, finished)
    assert (m.service, m.version, m.external_id, m.started_at) == ("pricing", "main", "7", T)


def test_github_version_and_service_from_the_payload():
    m = from_github(
        "deployment_status", _github("success", ref="a" * 40, payload={"service": "quotes"})
    )
    assert m is not None and (m.service, m.version) == ("quotes", "a" * 12)


def test_github_other_events_are_not_deploys():
    assert from_github("ping", {"zen": "x"}) is None
    assert from_github("push", _github("success")) is None
    with pytest.raises(MarkerError):
        from_github("deployment_status", {"deployment": "x"})


def test_repository_of():
    assert repository_of(_github("success")) == "acme/pricing"
    assert repository_of([]) == ""


def test_github_signature():
    body = b'{"a": 1}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert github_signature_ok("s3cret", body, good)
    assert not github_signature_ok("s3cret", body + b" ", good)
    assert not github_signature_ok("other", body, good)
    assert not github_signature_ok("", body, "sha256=")
    assert not github_signature_ok("s3cret", body, None)
    assert not github_signature_ok("s3cret", body, good.replace("sha256=", "sha1="))
