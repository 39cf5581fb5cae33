"""The checks that tell a catalogue match from a look-alike: key names, checksums, randomness.

A pattern of the redaction catalogue finds a candidate by its shape; its validator, one of
these, decides whether the value really is a secret (``password=required`` is a state, a
16-digit number without a valid Luhn checksum is an id, ``127.0.0.1`` names nobody).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from itertools import pairwise


def luhn_ok(digits: str) -> bool:
    """Luhn checksum over the digits of ``digits`` (separators ignored)."""
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


# Words that make a key's value a secret (``DB_PASSWORD=…``, ``"apiKey": …``, ``x-auth-token: …``).
# Matched as whole words of the key (split at ``_``, ``-``, ``.`` and camelCase), or as two
# adjacent words (``api_key``), so ``authorized`` or ``author`` never count as ``auth``.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "apikey",
        "accesskey",
        "privatekey",
        "secretkey",
        "clientsecret",
        "authtoken",
        "session",
        "sessionid",
        "sessid",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "signature",
        "bearer",
    }
)
# One-word keys glued together (``dbpassword``, ``csrftoken``, ``sessionkey``).
_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credential")
_SECRET_PREFIXES = ("session", "passw")
# A key whose last word is one of these names a property of the secret, not the secret itself
# (``token_count=12``, ``session_timeout=30``, ``password_min_length=8``).
_HARMLESS_KEY_SUFFIXES = (
    "count",
    "len",
    "length",
    "size",
    "type",
    "ttl",
    "timeout",
    "expires",
    "expiry",
    "expires_in",
    "limit",
    "max",
    "min",
    "file",
    "path",
    "url",
    "uri",
    "endpoint",
    "name",
    "policy",
    "provider",
    "method",
    "mode",
    "version",
    "enabled",
    "required",
    "age",
    "rotation",
    "used",
    "usage",
    "status",
    "state",
    "error",
    "errors",
    "reason",
    "result",
)
_HARMLESS_VALUES = frozenset(
    {"", "null", "none", "nil", "true", "false", "undefined", "redacted", "[redacted]", "***"}
    # a state, not a value: ``token: expired``, ``auth: failed``, ``password=required``
    | {"ok", "failed", "failure", "expired", "invalid", "missing", "required", "denied"}
    | {"revoked", "rejected", "accepted", "valid", "present", "absent", "empty", "unset", "set"}
    | {"error", "unknown", "changed", "reset", "rotated", "refreshed", "granted", "success"}
)
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey"})
_CAMEL_RE = re.compile(r"([a-z0-9])([A-Z])")


def _key_words(key: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", _CAMEL_RE.sub(r"\1_\2", key).lower()) if w]


def secret_key(key: str) -> bool:
    """True when ``key`` (as written in ``key=value``) names a secret."""
    words = _key_words(key)
    if not words:
        return False
    pairs = [a + b for a, b in pairwise(words)]
    named = any(w in _SECRET_WORDS for w in words + pairs) or any(
        w.endswith(_SECRET_SUFFIXES) or w.startswith(_SECRET_PREFIXES) for w in words
    )
    if not named:
        return False
    if words[-1] in _HARMLESS_KEY_SUFFIXES or "_".join(words[-2:]) in _HARMLESS_KEY_SUFFIXES:
        return False
    return words[0] not in {"max", "min", "num", "n", "is", "has"}


_PAIR_RE = re.compile(r"[A-Za-z_][\w.-]{0,63}=")


def kv_validator(m: re.Match[str], value: str) -> bool:
    value = value.strip("\"'\\")
    if value.lower() in _HARMLESS_VALUES or value.lower() in _AUTH_SCHEMES:
        return False
    if value.isdigit() and len(value) < 6:  # `session=3`, `token=0`: counters, not secrets
        return False
    if m.group("value_bare") is not None and _PAIR_RE.match(value):
        return False  # `authorized: user=postgres`: the next pair, not a value
    return secret_key(m.group("key"))


def auth_validator(m: re.Match[str], value: str) -> bool:
    """``Authorization: Bearer`` with the token already redacted: the scheme is not the secret."""
    return value.lower() not in _AUTH_SCHEMES


def card_validator(m: re.Match[str], value: str) -> bool:
    return luhn_ok(value)


def entropy_validator(m: re.Match[str], value: str) -> bool:
    """Mixed case and digits, and not a URL path: hex ids, uuids and class paths stay readable."""
    if sum(c.isdigit() for c in value) < 3:
        return False
    if not (any(c.isupper() for c in value) and any(c.islower() for c in value)):
        return False
    return max(len(seg) for seg in value.split("/")) >= 24


def _shannon_bits(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def aws_secret_validator(m: re.Match[str], value: str) -> bool:
    """40 characters drawn at random from base64's alphabet, not a word-built path or name:
    both cases several times, a digit or ``+``/``/``, and the randomness of random bytes (a
    random key scores ~4.6-4.9 bits per character; Java paths and identifiers ~4.1-4.3)."""
    upper = sum(c.isupper() for c in value)
    lower = sum(c.islower() for c in value)
    other = sum(c.isdigit() or c in "+/" for c in value)
    return upper >= 4 and lower >= 4 and other >= 1 and _shannon_bits(value) >= 4.45


def prose_secret_validator(m: re.Match[str], value: str) -> bool:
    """Quoted: whatever is quoted. Bare: only what does not read as a word (``password is
    incorrect`` stays; ``password is hunter2`` does not)."""
    if m.group("value_bare") is None:
        return value.lower() not in _HARMLESS_VALUES
    return any(not c.isalpha() for c in value) and len(value) >= 4


def _digits(value: str) -> int:
    return sum(c.isdigit() for c in value)


def phone_validator(m: re.Match[str], value: str) -> bool:
    return 7 <= _digits(value) <= 15


def e164_validator(m: re.Match[str], value: str) -> bool:
    return 10 <= _digits(value) <= 15


def ip_validator(m: re.Match[str], value: str) -> bool:
    """Any address but loopback and unspecified (they say nothing about anyone)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified)


def ipv6_validator(m: re.Match[str], value: str) -> bool:
    return value.count(":") >= 2 and sum(c in _HEX for c in value) >= 4 and ip_validator(m, value)


_HEX = frozenset("0123456789abcdefABCDEF")
