from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """Streaming ingestion: receivers for shipper protocols and the per-tenant spool."""

    name = "apps.streams"
    label = "streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from apps.ingestion import hooks
        from apps.streams.selectors import template_history

        hooks.register_history_provider("streams", template_history)
