from django.apps import AppConfig


class DeploysConfig(AppConfig):
    name = "apps.deploys"
    label = "deploys"
    verbose_name = "Deploys"

    def ready(self) -> None:
        """After each ingest job (apps.ingestion.hooks): deploys read from the incident's logs,
        its services ordered by when they began failing, the deploys near it judged. The
        import waits for ready(): the module uses the models."""
        from apps.deploys import correlation
        from apps.ingestion import hooks

        hooks.register_findings_sink("deploys", correlation.on_ingest_done)
        # a source deleted or read again: the stored path must not name its lines
        hooks.register_removal_listener("deploys", correlation.on_events_removed)
