from django.apps import AppConfig


class StreamTokensConfig(AppConfig):
    name = "apps.ingestion.tokens"
    label = "stream_tokens"
    verbose_name = "Ingest tokens"
