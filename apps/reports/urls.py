from django.urls import path

from apps.reports import views

app_name = "reports"

PM = "incidents/<int:incident_id>/postmortem/"

urlpatterns = [
    path("projects/<slug:slug>/postmortems/", views.report_list, name="report-list"),
    path("postmortems/template/", views.template_edit, name="template-edit"),
    path(PM, views.report_detail, name="report-detail"),
    path(PM + "draft/", views.report_draft, name="report-draft"),
    path(PM + "section/", views.section_save, name="section-save"),
    path(PM + "preview/", views.section_preview, name="section-preview"),
    path(PM + "regenerate/", views.section_regenerate, name="section-regenerate"),
    path(PM + "history/", views.section_history, name="section-history"),
    path(PM + "restore/", views.version_restore, name="version-restore"),
    path(PM + "actions/", views.action_save, name="action-save"),
    path(PM + "chart.svg", views.report_chart, name="report-chart"),
    path(PM + "postmortem.md", views.report_markdown, name="report-markdown"),
    path(PM + "pdf/", views.pdf_request, name="pdf-request"),
    path(PM + "pdf/status/", views.pdf_status, name="pdf-status"),
    path(PM + "pdf/download/", views.pdf_download, name="pdf-download"),
]
