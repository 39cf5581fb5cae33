"""The PDF renderer is deny-by-default: hostile references in the HTML itself (not just log
text, which is escaped before it gets here) cause zero fetches and no embedded files."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from apps.core.render.fetcher import DenyByDefaultFetcher
from apps.core.render.pdf import PdfTimeout, render_pdf

ROOT = Path(__file__).resolve().parents[4]
STATIC = ROOT / "static"
CSS = STATIC / "css" / "report.css"


class Listener:
    """A loopback TCP listener that counts connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def hostile_html(port: int) -> str:
    url = f"http://127.0.0.1:{port}/"
    return f"""<!doctype html><html><head>
<link rel="stylesheet" href="{url}style.css">
<link rel="attachment" href="file:///etc/passwd">
<link rel="attachment" href="{url}attach">
<style>@import url("{url}import.css"); body {{ background: url("{url}bg.png"); }}
@font-face {{ font-family: X; src: url("file:///dev/urandom"); }}</style>
</head><body style="font-family: X">
<h1>Hostile</h1>
<img src="file:///etc/passwd"><img src="file:///dev/urandom"><img src="{url}img.png">
<a rel="attachment" href="file:///etc/passwd">attach</a>
<object data="{url}obj"></object><embed src="file:///etc/passwd">
<iframe src="{url}frame"></iframe>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">
<image xlink:href="{url}svg.png" width="10" height="10"/><use href="file:///etc/passwd#x"/></svg>
<img src="data:image/svg+xml;utf8,&lt;svg xmlns='http://www.w3.org/2000/svg'&gt;&lt;image href='{url}nested'/&gt;&lt;/svg&gt;">
<img src="../../../../../../etc/passwd.png">
</body></html>"""


def test_hostile_references_cause_zero_fetches_and_no_attachments(listener):
    started = time.monotonic()
    result = render_pdf(hostile_html(listener.port), static_root=STATIC, stylesheet=CSS, timeout=60)
    elapsed = time.monotonic() - started
    time.sleep(0.3)
    assert listener.connections == 0
    assert result.pdf.startswith(b"%PDF")
    assert b"/EmbeddedFile" not in result.pdf and b"/FileAttachment" not in result.pdf
    assert b"root:x:0:0" not in result.pdf
    refused = " ".join(result.refused)
    assert "file:///etc/passwd" in refused and "file:///dev/urandom" in refused
    assert f"127.0.0.1:{listener.port}" in refused
    assert elapsed < 60


def test_fetcher_rules():
    fetcher = DenyByDefaultFetcher(STATIC)
    ok = fetcher.fetch(CSS.as_uri())
    assert ok.read().startswith(b"/*")
    png = "data:image/png;base64,iVBORw0KGgo="
    assert fetcher.fetch(png).read().startswith(b"\x89PNG")
    for url in (
        "file:///etc/passwd",
        "file:///dev/urandom",
        (STATIC / ".." / "aiops" / "settings.py").as_uri(),
        "http://127.0.0.1:9/x.css",
        "https://example.com/a.png",
        "ftp://example.com/a.png",
        "data:text/html,<script>1</script>",
        "file://evil.example/static/css/report.css",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 8


def test_rendering_is_time_bounded():
    big = "<p>" + "word " * 200_000 + "</p>"
    with pytest.raises(PdfTimeout):
        render_pdf(big, static_root=STATIC, stylesheet=CSS, timeout=0.5)


def test_rendering_is_memory_bounded():
    from apps.core.render.pdf import PdfError

    with pytest.raises(PdfError):
        render_pdf("<p>x</p>", static_root=STATIC, stylesheet=CSS, memory=64 * 1024 * 1024)
