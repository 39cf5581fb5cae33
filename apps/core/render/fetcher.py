"""WeasyPrint's URL fetcher, deny-by-default.

Allowed: ``data:`` URLs of images (bounded size) and ``file:`` URLs that resolve (after symlinks)
to a regular file inside the bundled static directory with an expected suffix. Everything else —
http(s), ftp, other files (/etc/passwd, /dev/urandom), redirects — is refused without any I/O.
Refusals are recorded so tests and logs can show what a document asked for.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

MAX_DATA_BYTES = 2 * 1024 * 1024
MAX_FILE_BYTES = 2 * 1024 * 1024
DATA_TYPES = {"image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp"}
FILE_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
}


class Refused(ValueError):
    """A URL the PDF renderer will not fetch."""


class DenyByDefaultFetcher(URLFetcher):
    def __init__(self, static_root: str | os.PathLike):
        super().__init__(timeout=1, allowed_protocols=("data", "file"), allow_redirects=False)
        self.static_root = Path(static_root).resolve()
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url, headers=None):
        try:
            response = self._fetch(str(url))
        except Refused:
            self.refused.append(str(url)[:300])
            raise
        self.served.append(str(url)[:80])
        return response

    def _fetch(self, url: str) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._data(url)
        if scheme == "file":
            return self._file(url)
        raise Refused(f"refused URL scheme {scheme or '(none)'}")

    def _data(self, url: str) -> URLFetcherResponse:
        header, sep, payload = url[5:].partition(",")
        if not sep or len(payload) > MAX_DATA_BYTES * 2:
            raise Refused("malformed or oversized data: URL")
        parts = header.split(";")
        mime = parts[0].strip().lower() or "text/plain"
        if mime not in DATA_TYPES:
            raise Refused(f"refused data: type {mime}")
        try:
            body = (
                base64.b64decode(payload, validate=False)
                if "base64" in parts[1:]
                else (unquote(payload).encode())
            )
        except (binascii.Error, ValueError) as exc:
            raise Refused("undecodable data: URL") from exc
        if len(body) > MAX_DATA_BYTES:
            raise Refused("oversized data: URL")
        return URLFetcherResponse(url, body, {"Content-Type": mime})

    def _file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise Refused("refused remote file URL")
        path = Path(unquote(parts.path))
        suffix = path.suffix.lower()
        if suffix not in FILE_TYPES:
            raise Refused("refused file type")
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise Refused("no such bundled file") from exc
        if not real.is_relative_to(self.static_root) or not real.is_file():
            raise Refused("refused file outside the bundled static directory")
        if real.stat().st_size > MAX_FILE_BYTES:
            raise Refused("oversized bundled file")
        return URLFetcherResponse(
            real.as_uri(), real.read_bytes(), {"Content-Type": FILE_TYPES[suffix]}
        )
