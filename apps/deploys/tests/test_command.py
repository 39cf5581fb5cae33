"""`manage.py deploy`: the CI scripts' way in."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from apps.deploys.models import Deploy
from conftest import ensure_tenant


def _rows():
    with tenant_context(ensure_tenant("alpha")):
        return list(Deploy.objects.values_list("service", "version", "url", "source"))


def test_deploy_command_records_and_is_idempotent(personas, capsys):
    args = ["--tenant", "alpha", "--project", "alpha-marker", "--service", "pricing"]
    args += ["--version", "v2.14.0", "--at", "2024-03-14T14:02:10Z", "--url", "https://ci/1"]
    call_command("deploy", *args)
    call_command("deploy", *args)
    out = capsys.readouterr().out
    assert "recorded: deploy" in out and "already recorded" in out
    assert _rows() == [("pricing", "v2.14.0", "https://ci/1", "cli")]


def test_deploy_command_defaults_to_now(personas):
    call_command(
        "deploy",
        "--tenant",
        "alpha",
        "--project",
        "alpha-marker",
        "--service",
        "a",
        "--version",
        "1",
    )
    assert len(_rows()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope", "--project", "alpha-marker"], "no tenant"),
        (["--tenant", "alpha", "--project", "nope"], "no project"),
        (["--tenant", "alpha", "--project", "alpha-marker", "--at", "noon"], "ISO 8601"),
    ],
)
def test_deploy_command_errors(personas, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("deploy", *args, "--service", "a", "--version", "1")
