"""Outbound HTTP that cannot be turned against the inside (SSRF guard). No Django here.

A tenant chooses where its evidence packs go (the LLM base URL; later alert webhooks). Without a
guard that URL reaches whatever the server can: Redis on 127.0.0.1, the database, the cloud
metadata service on 169.254.169.254, other hosts of the private network. `egress_client` gives
an httpx client that

- resolves the host itself and checks every address AT CONNECT TIME, then connects to the very
  address it checked (pinned), so a name that answers a public address to a check and 127.0.0.1
  to the connect (DNS rebinding) cannot slip through; TLS SNI, certificate check and ``Host``
  stay on the original name (httpcore passes the URL's host to ``start_tls``);
- refuses loopback, link-local (incl. 169.254.169.254), private (RFC 1918, fc00::/7), CGNAT
  (100.64/10), unspecified, multicast, reserved and documentation addresses, and the same
  addresses wrapped in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
  6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``), unless the operator's allow-list names the host
  or a network holding the address (an on-premise Ollama or vLLM is a real use);
- never follows a redirect: a 3xx answer is an `EgressRefused` failure, so a 307 cannot re-send
  a request body elsewhere;
- ignores proxy environment variables (a proxy would be the only address checked).

The allow-list is an argument (``"ollama.internal,10.0.0.0/8,127.0.0.1"`` split into entries);
callers read it from settings. The resolver is an argument too: tests inject one that answers
differently on each call, which is the honest way to exercise rebinding without a DNS server.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

REFUSED = "refused by egress policy"
REDIRECT_REFUSED = "refused: the endpoint answered with a redirect"

# Not covered by `ipaddress`' is_private/is_global on every Python version, or worth saying.
_ALWAYS_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "100.64.0.0/10",  # CGNAT (RFC 6598)
        "169.254.0.0/16",  # link-local, incl. the cloud metadata service
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, incl. broadcast
        "fe80::/10",
        "fc00::/7",
        "fec0::/10",  # deprecated site-local
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """The policy refused a destination or an answer. ``str()`` is safe to show; the address
    is kept on the object for logs only."""

    def __init__(self, reason: str = REFUSED, *, host: str = "", address: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.host = host
        self.address = address


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = ip.packed
    if ip in _NAT64:
        return ipaddress.IPv4Address(packed[-4:])
    if packed[:12] == bytes(12) and int(ip) > 1:  # ::a.b.c.d (IPv4-compatible, deprecated)
        return ipaddress.IPv4Address(packed[-4:])
    return None


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet; False for anything internal or special."""
    inner = _embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    if (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or not ip.is_global
    ):
        return False
    return not any(ip.version == n.version and ip in n for n in _ALWAYS_INTERNAL)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound connections may go.

    ``allow`` entries are host names (exact, case-insensitive), addresses or networks
    (``10.0.0.0/8``, ``fd00::/8``); an internal address is refused unless an entry allows it.
    ``internal_only`` (a tenant's "only local endpoints") additionally refuses public addresses.
    """

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    internal_only: bool = False
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_allow_list(
        cls,
        entries: Iterable[str] = (),
        *,
        internal_only: bool = False,
        resolver: Resolver | None = None,
    ) -> EgressPolicy:
        hosts: set[str] = set()
        networks = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(_normal_host(entry))
        return cls(
            allow_hosts=frozenset(hosts),
            allow_networks=tuple(networks),
            internal_only=internal_only,
            resolver=resolver or system_resolver,
        )

    def permits(self, host: str, ip: IPAddress) -> bool:
        """May a connection for ``host`` go to ``ip``?"""
        public = is_public(ip)
        if self.internal_only and public:
            return False
        if public:
            return True
        if _normal_host(host) in self.allow_hosts:
            return True
        candidates = [ip] + ([inner] if (inner := _embedded_ipv4(ip)) else [])
        return any(
            c.version == n.version and c in n for c in candidates for n in self.allow_networks
        )

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for ``host``: all of them permitted, else `EgressRefused`.

        One refused address refuses the name: a name answering both a public and an internal
        address is an attack, not a configuration. Resolution errors are `OSError`.
        """
        literal = _parse_ip(host)
        if literal is not None:
            found = [literal]
        else:
            found = [ip for a in self.resolver(host, port) if (ip := _parse_ip(a)) is not None]
        if not found:
            raise OSError(f"{host!r} did not resolve")
        for ip in found:
            if not self.permits(host, ip):
                raise EgressRefused(host=host, address=str(ip))
        return found


class _GuardedBackend(httpcore2.SyncBackend):
    """httpcore's network backend, resolving and checking the host itself, then connecting to
    the checked address only (never to the name, which the OS would resolve again)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        try:
            addresses = self.policy.addresses(host, port)
        except OSError as exc:  # no such name: a connect error like any other
            raise httpcore2.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for ip in addresses:
            try:
                return super().connect_tcp(
                    str(ip), port, timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        raise EgressRefused()


class EgressTransport(httpx2.HTTPTransport):
    """`httpx2.HTTPTransport` whose connection pool connects through `_GuardedBackend`."""

    def __init__(self, policy: EgressPolicy, *, verify: bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        # The same pool HTTPTransport builds, with our network backend (httpx2 has no argument
        # for it; httpcore2's ConnectionPool does).
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,  # httpx's default limits
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )


def _refuse_redirects(response: httpx2.Response) -> None:
    if response.is_redirect or 300 <= response.status_code < 400:
        response.close()
        raise EgressRefused(REDIRECT_REFUSED, host=response.url.host)


class EgressClient(httpx2.Client):
    """An `httpx2.Client` under an `EgressPolicy`; redirects are never followed."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any) -> None:
        kwargs.update(
            transport=EgressTransport(policy),
            trust_env=False,
            follow_redirects=False,
            event_hooks={"request": [], "response": [_refuse_redirects]},
        )
        super().__init__(**kwargs)
        self.policy = policy

    def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        kwargs["follow_redirects"] = False  # whatever a caller (the openai SDK) asks for
        return super().send(request, **kwargs)


def egress_client(
    allow: Iterable[str] = (),
    *,
    internal_only: bool = False,
    resolver: Resolver | None = None,
    **kwargs: Any,
) -> EgressClient:
    """A client that may reach public addresses and the operator-allowed internal ones."""
    policy = EgressPolicy.from_allow_list(allow, internal_only=internal_only, resolver=resolver)
    return EgressClient(policy, **kwargs)


def endpoint_origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, normalised (default ports filled in, host lowercased):
    what a credential for that endpoint is bound to."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _normal_host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme, 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def literal_address(url: str) -> IPAddress | None:
    """The address ``url``'s host names literally (``http://10.0.0.5/``), else None (no DNS)."""
    return _parse_ip(urlsplit(url.strip()).hostname or "")
