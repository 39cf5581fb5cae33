"""The syslog receiver behind `manage.py syslog-listen`: UDP datagrams and TCP streams (RFC 6587
octet counting or LF framing), RFC 5424 and RFC 3164, into the spool like the HTTP receivers.

Receiving threads decode each message (protocols.syslog) into a shared buffer; one thread, the
only one that touches the database, stores the buffer as one spool batch every FLUSH_SECONDS
(or as soon as it holds FLUSH_RECORDS) and kicks the tenant's drain. Syslog has no answer to
wait for, so durability starts when a batch is stored: a batch that cannot be stored (the
database away) stays buffered and is tried again, up to MAX_BUFFERED records, past which the
oldest are dropped and counted. The tenant's quota applies (records over it are dropped and
counted: UDP and TCP syslog cannot be told to slow down). The token is checked again every
TOKEN_RECHECK_SECONDS: once it is revoked, what arrives is dropped and counted.
"""

from __future__ import annotations

import logging
import socketserver
import threading
import time
import uuid
from collections.abc import Callable

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.ingestion.tokens.models import IngestToken
from apps.streams import draining, quotas, services
from apps.streams.models import Protocol
from apps.streams.protocols import Limits, StreamRecord, syslog

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
FLUSH_RECORDS = 5000
MAX_BUFFERED = 200_000
READ_CHUNK = 64 * 1024
TOKEN_RECHECK_SECONDS = 5.0


class Spooler:
    """A buffer of decoded messages, stored in the token's project as spool batches."""

    def __init__(self, token: IngestToken, limits: Limits) -> None:
        self.token = token
        self.limits = limits
        self._lock = threading.Lock()
        self._records: list[StreamRecord] = []
        self._ready = threading.Event()
        self.stored = 0
        self.dropped = 0
        self._token_checked = time.monotonic()
        self._token_live = True

    def add(self, data: bytes) -> None:
        if not data.strip():
            return
        record = syslog.parse_message(data, received_at=timezone.now(), limits=self.limits)
        with self._lock:
            self._records.append(record)
            if len(self._records) > MAX_BUFFERED:
                del self._records[0]
                self.dropped += 1
            if len(self._records) >= FLUSH_RECORDS:
                self._ready.set()

    def flush(self) -> int:
        """Store what is buffered as one batch; the records stored (0 when the database is
        away: they stay buffered)."""
        with self._lock:
            records, self._records = self._records, []
            self._ready.clear()
        if not records:
            return 0
        tenant = self.token.tenant
        try:
            if not self._still_live():
                self.dropped += len(records)
                log.warning("syslog: token revoked, %s records dropped", len(records))
                return 0
            refusal = quotas.take(tenant.pk, len(records))
            if refusal is not None:
                self.dropped += len(records)
                log.warning("syslog: %s records over the quota dropped", len(records))
                return 0
            with schema_context(tenant.schema_name):
                spooled = services.spool_batch(
                    project_id=self.token.project_id,
                    token_id=self.token.pk,
                    protocol=Protocol.SYSLOG,
                    digest=services.batch_digest(Protocol.SYSLOG, uuid.uuid4().hex, b""),
                    body_bytes=sum(len(r.message) for r in records),
                    records=records,
                    received_at=timezone.now(),
                )
        except Exception:
            log.exception("syslog: %s records not stored yet", len(records))
            connection.close()
            with self._lock:
                self._records[:0] = records
            return 0
        self.stored += spooled.records
        try:
            draining.kick(tenant.pk, tenant.schema_name)
        except Exception:
            log.exception("syslog: the drain was not sent (the sweep will)")
        return spooled.records

    def _still_live(self) -> bool:
        """Whether the token is still live (read again at most every TOKEN_RECHECK_SECONDS)."""
        if time.monotonic() - self._token_checked >= TOKEN_RECHECK_SECONDS:
            self._token_live = IngestToken.objects.filter(
                pk=self.token.pk, revoked_at__isnull=True, tenant__is_active=True
            ).exists()
            self._token_checked = time.monotonic()
        return self._token_live

    def run(self, stop: threading.Event) -> None:
        """Flush every FLUSH_SECONDS (sooner when the buffer fills) until `stop`, then once more."""
        while not stop.is_set():
            self._ready.wait(FLUSH_SECONDS)
            self.flush()
        self.flush()


def _udp_handler(spooler: Spooler) -> type[socketserver.BaseRequestHandler]:
    class Datagram(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            spooler.add(self.request[0])

    return Datagram


def _tcp_handler(spooler: Spooler, limits: Limits) -> type[socketserver.BaseRequestHandler]:
    class Stream(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            framer = syslog.Framer(max_frame=limits.max_line_bytes)
            while chunk := self.request.recv(READ_CHUNK):
                for frame in framer.feed(chunk):
                    spooler.add(frame)
            for frame in framer.flush():
                spooler.add(frame)

    return Stream


class _UDPServer(socketserver.UDPServer):
    max_packet_size = 64 * 1024
    allow_reuse_address = True


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def serve(
    spooler: Spooler,
    *,
    tcp: tuple[str, int] | None,
    udp: tuple[str, int] | None,
    announce: Callable[[str], None],
    stop: threading.Event,
) -> None:
    """Listen until `stop` is set; `announce` gets "tcp HOST:PORT" / "udp HOST:PORT" once each
    socket is bound (port 0 picks a free one)."""
    servers: list[socketserver.BaseServer] = []
    if tcp is not None:
        servers.append(_TCPServer(tcp, _tcp_handler(spooler, spooler.limits)))
    if udp is not None:
        servers.append(_UDPServer(udp, _udp_handler(spooler)))
    threads = []
    for server in servers:
        kind = "tcp" if isinstance(server, _TCPServer) else "udp"
        host, port = server.server_address[:2]
        thread = threading.Thread(target=server.serve_forever, name=f"syslog-{kind}", daemon=True)
        thread.start()
        threads.append(thread)
        announce(f"{kind} {host}:{port}")
    try:
        spooler.run(stop)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        spooler.flush()
