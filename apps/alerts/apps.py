from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    label = "alerts"

    def ready(self) -> None:
        """Listen to incidents (apps.incidents.hooks: opened, escalated, resolved) and to the
        ingest job's findings (apps.ingestion.hooks, after the rules app saved them). The
        imports wait for ready(): the modules they load use the models."""
        from apps.alerts import triggers
        from apps.incidents import hooks as incident_hooks
        from apps.ingestion import hooks as ingestion_hooks

        incident_hooks.register("alerts", triggers.on_incident)
        ingestion_hooks.register_findings_sink("alerts", triggers.on_findings)
