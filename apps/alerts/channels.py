"""A channel's secret part (webhook URL, routing key, signing secret): sealed at rest, bound
to the tenant's schema and the channel's kind, opened only by the delivery job."""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

from apps.alerts.models import Channel
from apps.core.sealing import SealError, seal, unseal

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def _context(kind: str) -> str:
    return f"{connection.schema_name}:alert-channel:{kind}"


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def seal_config(kind: str, config: dict[str, str]) -> str:
    return seal(
        json.dumps(config, sort_keys=True), secret=settings.SECRET_KEY, context=_context(kind)
    )


def open_config(channel: Channel) -> dict[str, str]:
    """The channel's secret settings; `SealError` when they no longer unseal (a lost key)."""
    data = json.loads(unseal(channel.sealed, secrets=_secrets(), context=_context(channel.kind)))
    if not isinstance(data, dict):
        raise SealError("not a channel configuration")
    return data


def url_hint(url: str) -> str:
    """What the page may show of a secret URL: its host and the last four characters."""
    host = urlsplit(url).hostname or "?"
    return f"{host} …{url.rstrip('/')[-4:]}"


def key_hint(key: str) -> str:
    return f"key …{key[-4:]}" if len(key) > 8 else "key set"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")
