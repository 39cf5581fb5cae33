"""The egress policy with real HTTP servers on loopback (no Django): redirects, internal
addresses, the operator's allow-list, DNS rebinding, and what *Test connection* may say."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import httpx2
import pytest

from apps.core.analysis.egress import (
    REDIRECT_REFUSED,
    REFUSED,
    EgressPolicy,
    EgressRefused,
    egress_client,
    endpoint_origin,
    is_public,
)
from apps.core.analysis.providers import OpenAICompatibleProvider, ProviderError, run_analysis
from apps.core.evidence import build_evidence_pack

from .fake_llm import FakeLLM, Reply, ok
from .incident import incident_pack_kwargs

API_KEY = "sk-test-EGRESS-KEY-00112233445566778899"
INTERNAL_MARKER = "INTERNAL-SERVICE-BODY-7f3a"  # what an internal service would answer


@pytest.fixture
def recorder() -> Iterator[FakeLLM]:
    """A second listener that only records: it must never hear from us."""
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pack():
    return build_evidence_pack(**incident_pack_kwargs())


def provider(base_url: str, allow=(), **kw) -> OpenAICompatibleProvider:
    opts = {"timeout": 3.0, "max_retries": 0} | kw
    return OpenAICompatibleProvider(
        base_url=base_url, api_key=API_KEY, model="fake-model", egress_allow=allow, **opts
    )


# --- addresses --------------------------------------------------------------------------------

INTERNAL = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.20",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "0.0.0.0",  # noqa: S104 (a target, not a bind)
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "203.0.113.9",  # documentation
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_allow_list_names_hosts_and_networks() -> None:
    policy = EgressPolicy.from_allow_list(["Ollama.Internal", "10.0.0.0/8", "127.0.0.1", " "])
    ip = ipaddress.ip_address
    assert policy.permits("ollama.internal.", ip("192.168.5.5"))  # the named host, any address
    assert policy.permits("x", ip("10.9.8.7")) and policy.permits("x", ip("::ffff:10.9.8.7"))
    assert policy.permits("x", ip("127.0.0.1")) and not policy.permits("x", ip("127.0.0.2"))
    assert not policy.permits("other.internal", ip("192.168.5.5"))
    assert policy.permits("api.openai.com", ip("93.184.215.14"))
    local_only = EgressPolicy.from_allow_list(["127.0.0.1"], internal_only=True)
    assert local_only.permits("x", ip("127.0.0.1"))
    assert not local_only.permits("x", ip("93.184.215.14"))


def test_one_internal_answer_refuses_the_name() -> None:
    policy = EgressPolicy(resolver=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(EgressRefused) as err:
        policy.addresses("mixed.example", 443)
    assert str(err.value) == REFUSED and err.value.address == "127.0.0.1"


def test_origin_normalises_what_the_key_is_bound_to() -> None:
    assert endpoint_origin("https://API.openai.com/v1") == "https://api.openai.com:443"
    assert endpoint_origin("https://api.openai.com:443/x") == "https://api.openai.com:443"
    assert endpoint_origin("http://api.openai.com/v1") == "http://api.openai.com:80"
    assert endpoint_origin("http://[::1]:8000/v1") == "http://[::1]:8000"
    assert endpoint_origin("https://evil.example/v1") != endpoint_origin("https://api.openai.com")


# --- internal endpoints, real listener --------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.0.0.2", "[::ffff:127.0.0.1]", "0.0.0.0"],  # noqa: S104
)
def test_internal_endpoint_refused_without_the_allow_list(
    fake_llm: FakeLLM, pack, host: str
) -> None:
    """A real server listens there; the policy refuses before a byte is sent, and says only
    that (no closed/open port, no status, no body to tell services apart)."""
    fake_llm.default = Reply(500, INTERNAL_MARKER)
    base_url = f"http://{host}:{fake_llm.port}/v1"
    check = provider(base_url).test_connection()
    assert (check.ok, check.message, check.latency_ms) == (False, REFUSED, 0)
    with pytest.raises(ProviderError) as err:
        provider(base_url, max_retries=2).analyze(pack)
    assert (err.value.kind, err.value.message) == ("egress", REFUSED)
    assert run_analysis(pack, provider(base_url)).error.message == REFUSED
    assert fake_llm.requests == []


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.255.255.1:6379/v1",
        "http://[::1]:5432/v1",
        "http://[fe80::1]/v1",
        "http://100.64.0.1/v1",
    ],
)
def test_other_internal_targets_refused_without_a_connection(base_url: str) -> None:
    assert provider(base_url).test_connection().message == REFUSED


def test_closed_port_open_port_and_error_page_look_alike_when_refused(fake_llm) -> None:
    fake_llm.models_reply = Reply(404, INTERNAL_MARKER)
    closed = provider("http://127.0.0.1:9/v1").test_connection()
    open_ = provider(fake_llm.base_url).test_connection()
    assert closed == open_  # same message, no latency: nothing to tell the ports apart
    assert fake_llm.requests == []


@pytest.mark.parametrize("allow", [("127.0.0.1",), ("127.0.0.0/8",), ("localhost",)])
def test_allow_list_lets_the_operator_reach_a_local_server(fake_llm, pack, allow) -> None:
    host = "localhost" if allow == ("localhost",) else "127.0.0.1"
    base_url = f"http://{host}:{fake_llm.port}/v1"
    check = provider(base_url, allow).test_connection()
    assert check.ok and check.message == "ok"
    fake_llm.queue(ok("{}"))
    run_analysis(pack, provider(base_url, allow), allow_repair=False)
    assert len(fake_llm.chat_bodies()) == 1


# --- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_is_a_failure_and_the_pack_goes_nowhere_else(
    fake_llm: FakeLLM, recorder: FakeLLM, pack, code: int
) -> None:
    """Both servers are allowed: the redirect itself is what is refused."""
    target = {"location": f"{recorder.base_url}/chat/completions"}
    fake_llm.default = Reply(code, "", target)
    fake_llm.models_reply = Reply(code, "", {"location": f"{recorder.base_url}/models"})
    allow = ("127.0.0.1",)
    with pytest.raises(ProviderError) as err:
        provider(fake_llm.base_url, allow, max_retries=2).analyze(pack)
    assert (err.value.kind, err.value.message) == ("redirect", REDIRECT_REFUSED)
    assert not err.value.retryable
    assert provider(fake_llm.base_url, allow).test_connection().message == REDIRECT_REFUSED
    assert len(fake_llm.chat_bodies()) == 1  # the one request, not retried
    assert recorder.requests == []


def test_the_client_refuses_redirects_even_when_asked_to_follow(fake_llm, recorder) -> None:
    fake_llm.default = Reply(307, "", {"location": recorder.base_url})
    with egress_client(["127.0.0.1"]) as client, pytest.raises(EgressRefused) as err:
        client.post(f"{fake_llm.base_url}/chat/completions", json={}, follow_redirects=True)
    assert str(err.value) == REDIRECT_REFUSED
    assert recorder.requests == []


# --- DNS rebinding ----------------------------------------------------------------------------


class Rebinding:
    """A resolver that gives a permitted answer first and 127.0.0.1 afterwards, recording calls.

    Injecting the resolver is the honest way to test rebinding here: a real rebinding attack
    needs an authoritative DNS server with a zero TTL, which a test cannot run without root
    and a name delegated to it. What matters is what the client does with the answers: it must
    connect to the address it checked, and check every new resolution again. (The "permitted"
    answer is 127.0.0.2, allowed by the test's allow-list, as a stand-in for a public address:
    a test must not open connections to the internet.)"""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return ["127.0.0.2"] if len(self.calls) == 1 else ["127.0.0.1"]


@pytest.fixture
def twin_listeners() -> Iterator[tuple[FakeLLM, FakeLLM]]:
    """Two servers on the same port: 127.0.0.2 (permitted) and 127.0.0.1 (internal)."""
    for _ in range(20):
        permitted = FakeLLM(host="127.0.0.2")
        try:
            internal = FakeLLM(host="127.0.0.1", port=permitted.port)
        except OSError:  # port taken on 127.0.0.1: try another
            permitted.server.server_close()
            continue
        permitted.start(), internal.start()
        try:
            yield permitted, internal
        finally:
            permitted.stop()
            internal.stop()
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


def test_rebinding_connects_to_the_checked_address_only(twin_listeners, pack) -> None:
    permitted, internal = twin_listeners
    resolver = Rebinding()
    url = f"http://rebind.example:{permitted.port}/v1"
    p = provider(url, ("127.0.0.2",), resolver=resolver)
    assert p.test_connection().message == "ok"
    assert resolver.calls == ["rebind.example"]  # one resolution, the connection went there
    assert [r[1] for r in permitted.requests] == ["/v1/models"]
    assert internal.requests == []
    # A new connection resolves again, and the new answer is checked again: refused.
    again = provider(url, ("127.0.0.2",), resolver=resolver)
    assert again.test_connection().message == REFUSED
    with pytest.raises(ProviderError) as err:
        again.analyze(pack)
    assert err.value.kind == "egress"
    assert internal.requests == []


def test_tls_keeps_the_name_while_connecting_to_the_address() -> None:
    """The connection goes to the pinned address, and the TLS ClientHello still names the host
    (SNI), so certificates are checked against the name the tenant typed."""
    hellos: list[bytes] = []
    listener = socket.create_server(("127.0.0.2", 0))
    listener.settimeout(3)
    port = listener.getsockname()[1]

    def accept() -> None:
        conn, _ = listener.accept()
        hellos.append(conn.recv(4096))
        conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        client = egress_client(["127.0.0.2"], resolver=Rebinding(), timeout=2)
        with pytest.raises(httpx2.ConnectError):  # the listener hangs up mid-handshake
            client.get(f"https://tls.example:{port}/v1/models")
        thread.join(3)
    finally:
        listener.close()
    assert len(hellos) == 1 and b"tls.example" in hellos[0]


# --- what *Test connection* says about odd answers --------------------------------------------


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, f"<html>{INTERNAL_MARKER}</html>", {"content-type": "text/html"}), "not an OpenAI-compatible endpoint"),
        (Reply(200, f"<html>{INTERNAL_MARKER}</html>"), "not an OpenAI-compatible endpoint"),
        (Reply(200, {"data": [{"name": INTERNAL_MARKER}]}), "not an OpenAI-compatible endpoint"),
        (Reply(200, {"data": "x"}), "not an OpenAI-compatible endpoint"),
        (Reply(404, INTERNAL_MARKER), "not an OpenAI-compatible endpoint"),
        (Reply(500, {"error": {"message": INTERNAL_MARKER}}), "the endpoint reported a server error"),
        (Reply(401, {"error": {"message": INTERNAL_MARKER}}), "authentication failed"),
        (Reply(429, INTERNAL_MARKER), "rate limited"),
    ],
)  # fmt: skip
def test_connection_check_says_only_a_generic_class(fake_llm, reply: Reply, message: str) -> None:
    fake_llm.models_reply = reply
    check = provider(fake_llm.base_url, ("127.0.0.1",)).test_connection()
    assert (check.ok, check.message) == (False, message)
    assert INTERNAL_MARKER not in repr(check)


def test_run_errors_never_carry_the_body(fake_llm, pack) -> None:
    fake_llm.default = Reply(400, {"error": {"message": INTERNAL_MARKER}})
    res = run_analysis(pack, provider(fake_llm.base_url, ("127.0.0.1",)))
    assert res.error.message == "HTTP 400 (not an OpenAI-compatible endpoint)"
    assert INTERNAL_MARKER not in repr(res)
    fake_llm.default = Reply(200, f"<html>{INTERNAL_MARKER}</html>")
    res = run_analysis(pack, provider(fake_llm.base_url, ("127.0.0.1",)))
    assert res.error.kind == "invalid_response" and INTERNAL_MARKER not in repr(res)
