"""SSRF and API-key exfiltration through a tenant's LLM endpoint, against a running gunicorn.

    python prove/ssrf.py            (or `make prove`)

The operator allow-list is ``LLM_EGRESS_ALLOW=127.0.0.2``: a stand-in for an on-premise model
server the operator allowed. Everything else on the machine is internal: a recording TCP
listener on 127.0.0.1 (Redis's stand-in), the app's own gunicorn port, PostgreSQL's port.
An owner of tenant alpha, signed in through the login form, attacks through the settings page:

1. SSRF by base URL, with *Test connection* (gunicorn) and with a saved setting and the analysis
   job (run in this process, as the worker would): loopback in every spelling (``localhost``,
   ``127.1``, decimal, hex, ``0.0.0.0``, ``[::1]``, ``[::ffff:127.0.0.1]``), the app itself, the
   database, the cloud metadata address, private, CGNAT, unique-local and link-local IPv6.
   Pass: every answer is the one generic refusal (or a form error), identical for an open and a
   closed port, and the listeners see 0 connections.
2. Redirect: an allowed server answers 307 (to the internal listener, and to a second allowed
   server). Pass: the answer is the redirect refusal, and neither target sees a request.
3. DNS rebinding: a resolver answering the allowed address first and 127.0.0.1 afterwards,
   injected into the provider (a real rebinding needs an authoritative DNS server with a zero
   TTL, which this machine does not have; what is under test is what the client does with the
   answers). Pass: the connection goes to the checked address; the next resolution is checked
   again and refused; the listener on 127.0.0.1 (same port) sees 0 connections.
4. Key exfiltration: a key saved for server A; *Test connection* and save with server B (same
   host, another port) and the key field empty. Pass: B never sees the key, saving drops it, A
   then answers "authentication failed", and a sealed key copied onto B's URL does not unseal.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ["LLM_EGRESS_ALLOW"] = "127.0.0.2"  # before Django reads its settings
    from prove.common import run_module

    sys.exit(run_module(__file__, "ssrf"))

import httpx2
import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from conftest import MARKERS, PASSWORD
from prove.common import write_result
from prove.isolation import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED = "127.0.0.2"
KEY = "sk-prove-SSRF-KEY-5f4e3d2c1b0a99887766"
REFUSED = "refused by egress policy"
REDIRECT_REFUSED = "refused: the endpoint answered with a redirect"
MESSAGE = re.compile(r'data-ok="(true|false)">(?:✓|✗)?\s*([^<]*?)(?: \(\d+ ms\))?</span>')


class Listener:
    """A TCP listener that accepts, records the first bytes and hangs up: Redis's stand-in."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    self.seen.append(conn.recv(1024))
                except OSError:
                    self.seen.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Owner:
    """The tenant owner, through the login form and the settings page of a running gunicorn."""

    def __init__(self, port: int, tenant) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.prefix = tenant.url_prefix
        self.http = httpx2.Client(base_url=self.base, timeout=30, follow_redirects=False)
        page = self.http.get("/login/")
        response = self.http.post(
            "/login/",
            data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": _csrf(page)},
        )
        assert response.status_code == 302 and "sessionid" in self.http.cookies

    def _form(self, **fields) -> dict:
        page = self.http.get(f"{self.prefix}settings/ai/")
        assert page.status_code == 200, page.status_code
        data = {
            "provider": "openai-compatible",
            "model": "fake-model",
            "api_key": "",
            "timeout_seconds": "5",
            "max_tokens": "500",
            "price_per_1k_tokens": "",
            "csrfmiddlewaretoken": _csrf(page),
        }
        return data | fields

    def test_connection(self, base_url: str, **fields) -> tuple[int, str]:
        response = self.http.post(
            f"{self.prefix}settings/ai/test/",
            data=self._form(base_url=base_url, **fields),
            headers={"HX-Request": "true"},
        )
        body = response.text
        match = MESSAGE.search(body)
        if "Fix the form first" in body:
            return response.status_code, "form rejected"
        return response.status_code, match.group(2).strip() if match else body[:200]

    def save(self, base_url: str, **fields) -> int:
        response = self.http.post(
            f"{self.prefix}settings/ai/", data=self._form(base_url=base_url, **fields)
        )
        return response.status_code

    def settings_page(self) -> str:
        return self.http.get(f"{self.prefix}settings/ai/").text


def _csrf(page: httpx2.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def _run_analysis(tenant) -> str:
    """*Analyze* on alpha's marker incident, its job run here as the worker runs it."""
    from apps.analysis import services
    from apps.analysis.models import AnalysisRun
    from apps.incidents.models import Incident

    with tenant_context(tenant):
        incident = Incident.objects.get(title=f"incident {MARKERS['alpha']}")
        run = services.request_analysis(incident=incident)
        services.execute_run(run.pk)
        return AnalysisRun.objects.get(pk=run.pk).error


def test_ssrf(personas) -> None:
    from apps.analysis import selectors, services
    from apps.core.analysis.providers import OpenAICompatibleProvider, ProviderError
    from apps.core.evidence import build_evidence_pack
    from apps.core.tests.analysis.fake_llm import FakeLLM, Reply
    from apps.core.tests.analysis.incident import incident_pack_kwargs

    assert settings.LLM_EGRESS_ALLOW == [ALLOWED], settings.LLM_EGRESS_ALLOW
    tenant = personas.alpha
    internal = Listener()
    closed_port = Listener().port  # bound and closed again: nothing listens there
    server_a = FakeLLM(host=ALLOWED).start()
    server_b = FakeLLM(host=ALLOWED).start()
    redirector = FakeLLM(host=ALLOWED).start()
    failures: list[str] = []
    counts: dict[str, int] = {}
    try:
        with gunicorn(workers=1, threads=2) as app_port:
            owner = Owner(app_port, tenant)
            pg_port = int(settings.DATABASES["default"].get("PORT") or 5432)

            # 1. SSRF by base URL: Test connection, every spelling of "inside"
            p = internal.port
            targets = [
                f"http://127.0.0.1:{p}/v1",
                f"http://localhost:{p}/v1",
                f"http://127.1:{p}/v1",
                f"http://2130706433:{p}/v1",
                f"http://0x7f000001:{p}/v1",
                f"http://0.0.0.0:{p}/v1",
                f"http://[::1]:{p}/v1",
                f"http://[::ffff:127.0.0.1]:{p}/v1",
                f"http://[::ffff:7f00:1]:{p}/v1",
                f"http://127.0.0.1:{closed_port}/v1",
                f"http://127.0.0.1:{app_port}/v1",
                f"http://127.0.0.1:{pg_port}/v1",
                "http://169.254.169.254/latest/meta-data/",
                "http://[fd00:ec2::254]/latest/meta-data/",
                "http://10.0.0.1/v1",
                "http://172.16.0.1/v1",
                "http://192.168.0.1/v1",
                "http://100.64.0.1/v1",
                "http://[fd00::1]/v1",
                "http://[fe80::1]/v1",
            ]
            answers: dict[str, str] = {}
            for url in targets:
                status, message = owner.test_connection(url)
                answers[url] = message
                if status != 200 or message not in (REFUSED, "form rejected"):
                    failures.append(f"test connection {url}: HTTP {status} {message!r}")
            open_closed = {answers[targets[0]], answers[f"http://127.0.0.1:{closed_port}/v1"]}
            if len(open_closed) != 1:
                failures.append(f"open and closed ports answer differently: {open_closed}")
            counts["ssrf_targets"] = len(targets)
            counts["form_rejected"] = sum(m == "form rejected" for m in answers.values())

            # ... and through a saved setting and the analysis job
            for url in (targets[0], "http://169.254.169.254/latest/meta-data/"):
                if owner.save(url) != 302:
                    failures.append(f"saving {url} was not accepted (the job must refuse it)")
                    continue
                error = _run_analysis(tenant)
                if error != f"egress: {REFUSED}":
                    failures.append(f"analysis against {url}: {error!r}")

            # 2. redirects: to the internal listener and to another allowed server
            for target in (f"http://127.0.0.1:{p}/v1", server_b.base_url):
                redirector.default = Reply(307, "", {"location": f"{target}/chat/completions"})
                redirector.models_reply = Reply(307, "", {"location": f"{target}/models"})
                status, message = owner.test_connection(redirector.base_url)
                if (status, message) != (200, REDIRECT_REFUSED):
                    failures.append(f"redirect to {target}: HTTP {status} {message!r}")
                owner.save(redirector.base_url)
                error = _run_analysis(tenant)
                if error != f"redirect: {REDIRECT_REFUSED}":
                    failures.append(f"analysis redirected to {target}: {error!r}")
            counts["redirects_answered"] = len(redirector.requests)

            # 4. key exfiltration by a changed base URL
            server_a.required_key = KEY
            if owner.save(server_a.base_url, api_key=KEY) != 302:
                failures.append("saving server A with a key failed")
            if owner.test_connection(server_a.base_url) != (200, "ok"):
                failures.append("server A does not accept its own key")
            status, message = owner.test_connection(server_b.base_url)
            if status != 200:
                failures.append(f"test connection to B: HTTP {status}")
            owner.save(server_b.base_url)
            if "No key stored" not in owner.settings_page():
                failures.append("the key survived a save with another host")
            owner.save(server_a.base_url)
            if owner.test_connection(server_a.base_url) != (200, "authentication failed"):
                failures.append("the dropped key came back for server A")
            with tenant_context(tenant):
                sealed = services.seal_api_key(KEY, server_a.base_url)
                moved = selectors.ai_settings()
                moved.base_url, moved.api_key_sealed = server_b.base_url, sealed
                if services.api_key(moved) is not None:
                    failures.append("a key sealed for A unseals for B")
            leaked = [r for r in server_b.requests if KEY in repr(r)]
            if leaked:
                failures.append(f"server B saw the key in {len(leaked)} requests")
            counts["server_b_requests"] = len(server_b.requests)

        # 3. DNS rebinding (in this process: the resolver is injected, see the docstring)
        twin_permitted = FakeLLM(host=ALLOWED)
        twin_internal = Listener(port=twin_permitted.port)
        twin_permitted.start()
        answers_given: list[str] = []

        def rebinding(host: str, port: int) -> list[str]:
            answers_given.append(host)
            return [ALLOWED] if len(answers_given) == 1 else ["127.0.0.1"]

        url = f"http://rebind.example:{twin_permitted.port}/v1"
        try:
            first = OpenAICompatibleProvider(
                base_url=url,
                api_key=None,
                model="fake-model",
                timeout=3,
                egress_allow=settings.LLM_EGRESS_ALLOW,
                resolver=rebinding,
            )
            if first.test_connection().message != "ok" or len(twin_permitted.requests) != 1:
                failures.append("rebinding: the checked address was not the one connected to")
            second = OpenAICompatibleProvider(
                base_url=url,
                api_key=None,
                model="fake-model",
                timeout=3,
                max_retries=2,
                egress_allow=settings.LLM_EGRESS_ALLOW,
                resolver=rebinding,
            )
            if second.test_connection().message != REFUSED:
                failures.append("rebinding: the second answer was not checked again")
            try:
                second.analyze(build_evidence_pack(**incident_pack_kwargs()))
                failures.append("rebinding: the analysis went out")
            except ProviderError as exc:
                if exc.kind != "egress":
                    failures.append(f"rebinding: analysis failed as {exc.kind}")
            if twin_internal.seen:
                failures.append(f"rebinding reached 127.0.0.1 {len(twin_internal.seen)} times")
        finally:
            twin_permitted.stop()
            twin_internal.close()
    finally:
        for server in (server_a, server_b, redirector):
            server.stop()
        internal.close()

    if internal.seen:
        failures.append(f"the internal listener saw {len(internal.seen)} connections")
    counts["internal_connections"] = len(internal.seen)
    row = write_result(
        "ssrf",
        what=(
            "LLM SSRF by base URL (20 internal spellings incl. metadata, the app, the database),"
            " 307 redirects, DNS rebinding (injected resolver), key exfiltration by a changed"
            " base URL; real gunicorn, owner signed in"
        ),
        how_many=(
            f"{counts['ssrf_targets']} targets by Test connection, 2 by the analysis job, 2"
            " redirects × 2 paths, 3 rebinding resolutions, 4 key steps"
        ),
        broke="; ".join(failures) or "nothing",
        ok=not failures,
        **counts,
    )
    assert row["ok"], failures
