from django.apps import AppConfig


class StreamTokensConfig(AppConfig):
    name = "apps.streams.tokens"
    label = "stream_tokens"
    verbose_name = "Ingest tokens"
