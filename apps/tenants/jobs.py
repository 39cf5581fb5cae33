"""Tenant-aware background jobs on django-q2.

django-q2 knows nothing of tenants, so every tenant task goes through `enqueue_tenant_task`:
it is queued on commit, carries its `schema_name` explicitly, runs inside `schema_context`
and refuses to run without a schema. The worker's connection is reset to public before every
task: a task that calls `set_tenant` must not leak its tenant into the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils.module_loading import import_string
from django_q.signals import pre_execute
from django_q.tasks import async_task
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

log = logging.getLogger(__name__)


class TenantTaskError(RuntimeError):
    """A tenant task was asked to run without a valid, active tenant schema."""


def enqueue_tenant_task(
    func: str | Callable[..., Any], *args: Any, schema_name: str, **kwargs: Any
) -> None:
    """Queue `func(*args, **kwargs)` to run in `schema_name`, once the transaction commits."""
    _check_schema_name(schema_name)
    transaction.on_commit(lambda: send_tenant_task(func, *args, schema_name=schema_name, **kwargs))


def send_tenant_task(
    func: str | Callable[..., Any], *args: Any, schema_name: str, **kwargs: Any
) -> str:
    """Hand `func(*args, **kwargs)` to django-q2 now, to run in `schema_name`; the task id.

    For callers whose rows are already committed (the ingest dispatcher); everyone else uses
    `enqueue_tenant_task`.
    """
    _check_schema_name(schema_name)
    path = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    task_name = kwargs.pop("task_name", None)
    q_options = {"task_name": task_name} if task_name else {}
    return async_task(run_tenant_task, schema_name, path, *args, q_options=q_options, **kwargs)


def _check_schema_name(schema_name: str) -> None:
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantTaskError("tenant tasks need the schema_name of a tenant")


def run_tenant_task(schema_name: str, func_path: str, *args: Any, **kwargs: Any) -> Any:
    """The worker-side entry point: enter the tenant's schema, run, always return to public."""
    connection.set_schema_to_public()
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantTaskError(f"refusing to run {func_path} without a tenant schema")
    if not get_tenant_model().objects.filter(schema_name=schema_name).exists():
        raise TenantTaskError(f"refusing to run {func_path}: no tenant with schema {schema_name}")
    func = import_string(func_path)
    try:
        with schema_context(schema_name):
            return func(*args, **kwargs)
    finally:
        connection.set_schema_to_public()


def _reset_schema(sender, func, task, **kwargs) -> None:
    connection.set_schema_to_public()


pre_execute.connect(_reset_schema, dispatch_uid="aiops-reset-schema-before-task")
