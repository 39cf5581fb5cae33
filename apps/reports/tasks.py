"""django-q2 entry points. Thin: they run inside the tenant schema (apps.tenants.jobs)."""

from apps.reports.services import render_export


def render_pdf(export_id: int) -> str:
    return render_export(export_id)
