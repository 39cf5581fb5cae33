"""`manage.py syslog-listen --token TOKEN [--tcp HOST:PORT] [--udp HOST:PORT]`: a syslog
receiver (RFC 5424 and RFC 3164; TCP with octet counting or LF framing) that stores what it
receives in the token's project, like the HTTP receivers (apps.streams.listener).

Prints `listening tcp HOST:PORT` / `listening udp HOST:PORT` once bound (port 0: a free one)
and runs until interrupted (SIGINT or SIGTERM), storing what it holds before it exits.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from apps.ingestion.tokens import services as tokens
from apps.ingestion.tokens.models import Scope
from apps.streams import listener
from apps.streams.views import limits


class Command(BaseCommand):
    help = "Receive syslog over TCP and/or UDP into a project's stream."

    def add_arguments(self, parser):
        parser.add_argument("--token", required=True, help="an ingest token (selects the project)")
        parser.add_argument("--tcp", help="HOST:PORT to listen on for TCP syslog")
        parser.add_argument("--udp", help="HOST:PORT to listen on for UDP syslog")

    def handle(self, *args, token, tcp, udp, **options):
        if not tcp and not udp:
            raise CommandError("give --tcp HOST:PORT, --udp HOST:PORT or both")
        row = tokens.authenticate(token, Scope.LOGS)
        if row is None:
            raise CommandError("unknown or revoked ingest token, or not one for logs")
        try:
            tcp_at = listener.address(tcp) if tcp else None
            udp_at = listener.address(udp) if udp else None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        spooler = listener.Spooler(row, limits())

        def announce(where: str) -> None:
            self.stdout.write(f"listening {where}")
            self.stdout.flush()

        listener.serve(spooler, tcp=tcp_at, udp=udp_at, announce=announce, stop=stop)
        self.stdout.write(f"stored {spooler.stored} records, dropped {spooler.dropped}")
