"""Background entry points (django-q2). Thin: claim and run happen in services.

Always queued through `apps.tenants.jobs.enqueue_tenant_task`, which runs them inside the
tenant's schema and refuses to run without one.
"""

from __future__ import annotations

from apps.analysis import services


def analyze_incident(run_id: int) -> str:
    return services.execute_run(run_id)
