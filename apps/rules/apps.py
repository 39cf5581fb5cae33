from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "apps.rules"
    label = "rules"

    def ready(self) -> None:
        """Plug the rules into the ingest job's extension points (apps.ingestion.hooks): each
        job runs this tenant's catalogue, and its findings are saved and the diagnosis redone.
        The imports wait for ready(): the modules they load use the models."""
        from apps.ingestion import hooks
        from apps.rules import diagnosis, services

        def save_findings(job, findings, source_ids) -> None:
            diagnosis.save_job_findings(job, findings, source_ids)
            diagnosis.refresh_diagnosis(job.incident)

        hooks.register_catalogue_provider(services.tenant_catalogue)
        hooks.register_findings_sink("rules", save_findings)
