"""Tenant jobs under a real django-q2 `qcluster` process against the test database."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection, transaction
from django_q.models import Task
from django_q.tasks import async_task
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.tenants.jobs import TenantTaskError, enqueue_tenant_task, run_tenant_task
from conftest import ensure_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.set_schema_to_public()
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


def test_task_runs_only_in_its_tenant_schema(qcluster):
    alpha, beta = ensure_tenant("alpha"), ensure_tenant("beta")
    name = f"job-{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        enqueue_tenant_task(
            "apps.tenants.tests.jobs_for_tests.write_marker", name, schema_name=beta.schema_name
        )

    def done():
        with tenant_context(beta):
            return Project.objects.filter(name=name).exists()

    wait_for(done)
    with tenant_context(alpha):
        assert not Project.objects.filter(name=name).exists()
    task = wait_for(lambda: Task.objects.filter(success=True).first())
    assert task.result == beta.schema_name


def test_task_without_schema_fails_and_writes_nothing(qcluster):
    with pytest.raises(TenantTaskError):
        enqueue_tenant_task("apps.tenants.tests.jobs_for_tests.write_marker", "x", schema_name="")
    name = f"noschema-{uuid.uuid4().hex[:8]}"
    # bypass the helper: the worker-side entry point must refuse on its own
    async_task(run_tenant_task, "", "apps.tenants.tests.jobs_for_tests.write_marker", name)
    async_task(run_tenant_task, "public", "apps.tenants.tests.jobs_for_tests.write_marker", name)
    failed = wait_for(lambda: Task.objects.filter(success=False).count() >= 2 or None)
    assert failed
    for task in Task.objects.filter(success=False):
        assert "refusing to run" in str(task.result)
    for slug in ("alpha", "beta"):
        with tenant_context(ensure_tenant(slug)):
            assert not Project.objects.filter(name=name).exists()


def test_leaked_tenant_does_not_reach_the_next_task(qcluster):
    beta = ensure_tenant("beta")
    async_task("apps.tenants.tests.jobs_for_tests.leak_tenant", beta.schema_name)
    wait_for(lambda: Task.objects.filter(func__endswith="leak_tenant").exists())
    async_task("apps.tenants.tests.jobs_for_tests.report_schema")
    task = wait_for(lambda: Task.objects.filter(func__endswith="report_schema").first())
    assert task.success
    assert task.result == "public"
