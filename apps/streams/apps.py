from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """Streaming ingestion: receivers for shipper protocols and the per-tenant spool."""

    name = "apps.streams"
    label = "streams"
    verbose_name = "Streams"
