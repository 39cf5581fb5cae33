"""Reading an ingest token from an `Authorization` header (framework-free; the streams' and
the deploy markers' receivers share it).

`Bearer <token>`; `Basic base64(any-user:<token>)` for clients that only do Basic
(python-logging-loki, Promtail's basic_auth, Beats); `Splunk <token>` where HEC is spoken;
`ApiKey <token>` or `ApiKey base64(id:<token>)` where Elasticsearch is.
"""

from __future__ import annotations

import base64
import binascii


def token_from_authorization(header: str | None, *, schemes: frozenset[str]) -> str | None:
    """The token in `header` if its scheme is one of `schemes` (lower-case names), else None."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme not in schemes or not credentials:
        return None
    if scheme == "basic":
        decoded = _b64(credentials)
        if decoded is None or ":" not in decoded:
            return None
        return decoded.partition(":")[2] or None
    if scheme == "apikey":
        decoded = _b64(credentials)
        if decoded is not None and ":" in decoded:
            return decoded.partition(":")[2] or None
        return credentials
    return credentials


def _b64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


BEARER_OR_BASIC = frozenset({"bearer", "basic"})
ELASTIC = BEARER_OR_BASIC | {"apikey"}
SPLUNK = BEARER_OR_BASIC | {"splunk"}
