from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The incident workspace: projects, incidents, uploads, events, timeline, error groups and
    evidence pages. The top of the app ladder: it reads every app below it and nothing imports it.
    """

    name = "apps.workspace"
    label = "workspace"
