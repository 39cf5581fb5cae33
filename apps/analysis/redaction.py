"""Secret and PII redaction for everything that leaves the building (evidence packs, prompts).

The catalogue is data: each `Pattern` has a name, the placeholder kind it produces, a regex whose
group ``value`` (or the whole match) is the secret, positive and negative examples (the tests run
them all), and an optional validator (Luhn for cards, key-name checks for ``key=value`` pairs).

A `Redactor` instance is meant to live for one evidence pack: the same secret value always gets
the same placeholder (``<SECRET:jwt:1>``, ``<EMAIL:2>``, ``<CARD:3>``, ``<IP:4>``) so the text
still reads consistently and citations still line up. Only a hash of each value is kept.

Every regex is written to run in linear time on hostile input: quantifiers are bounded, and any
pattern that starts with a repeated class is anchored by a negative lookbehind on that class so
the engine never rescans inside a run (the usual quadratic trap of ``search`` with ``[\\w]+@``).
``redact`` is idempotent: placeholders never match a pattern.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# A placeholder as produced by this module; used to skip already-redacted values.
PLACEHOLDER_RE = re.compile(r"<(?:SECRET:[a-z0-9-]{1,32}|EMAIL|CARD|IP):\d{1,9}>")


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
_SECRET_KEY_WORDS = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "privatekey",
    "private_key",
    "clientsecret",
    "client_secret",
    "session",
    "cookie",
    "credential",
    "authorization",
    "auth",
    "signature",
)
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
)
_HARMLESS_VALUES = frozenset(
    {"", "null", "none", "nil", "true", "false", "undefined", "redacted", "[redacted]", "***"}
)
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey"})
_CAMEL_RE = re.compile(r"([a-z0-9])([A-Z])")


def secret_key(key: str) -> bool:
    """True when ``key`` (as written in ``key=value``) names a secret."""
    k = _CAMEL_RE.sub(r"\1_\2", key).lower().replace("-", "_").replace(".", "_")
    if not any(w.replace("-", "_") in k for w in _SECRET_KEY_WORDS):
        return False
    if k in {"author", "authors", "authority", "oauth_provider"} or k.startswith("author_"):
        return False
    last = k.rsplit("_", 1)[-1]
    if last in _HARMLESS_KEY_SUFFIXES or k.startswith(("max_", "min_", "num_", "n_")):
        return False
    return not (k.startswith("is_") or k.startswith("has_"))


def _kv_validator(m: re.Match[str], value: str) -> bool:
    value = value.strip("\"'\\")
    if value.lower() in _HARMLESS_VALUES or value.lower() in _AUTH_SCHEMES:
        return False
    if value.isdigit() and len(value) < 6:  # `session=3`, `token=0`: counters, not secrets
        return False
    return secret_key(m.group("key"))


def _auth_validator(m: re.Match[str], value: str) -> bool:
    """``Authorization: Bearer`` with the token already redacted: the scheme is not the secret."""
    return value.lower() not in _AUTH_SCHEMES


def _card_validator(m: re.Match[str], value: str) -> bool:
    return luhn_ok(value)


def _entropy_validator(m: re.Match[str], value: str) -> bool:
    """Mixed case and digits, and not a URL path: hex ids, uuids and class paths stay readable."""
    if sum(c.isdigit() for c in value) < 3:
        return False
    if not (any(c.isupper() for c in value) and any(c.islower() for c in value)):
        return False
    return max(len(seg) for seg in value.split("/")) >= 24


@dataclass(frozen=True, slots=True)
class Pattern:
    """One catalogue entry. ``kind`` is SECRET, EMAIL, CARD or IP; ``label`` names the secret."""

    name: str
    kind: str
    label: str
    regex: str
    examples: tuple[str, ...]  # each contains one value that must be redacted
    negatives: tuple[str, ...] = ()  # must come out unchanged
    validator: Callable[[re.Match[str], str], bool] | None = None
    flags: int = 0
    optional: bool = False  # only with Redactor(include_ips=True)
    # Prefilter: skip the regex unless one of these literals occurs (case-sensitive / lowercase).
    needles: tuple[str, ...] = ()
    needles_ci: tuple[str, ...] = ()
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A placeholder is matched (and kept) first, so no pattern ever sees inside one.
        regex = f"(?P<_ph>{PLACEHOLDER_RE.pattern})|(?:{self.regex})"
        object.__setattr__(self, "compiled", re.compile(regex, self.flags | re.VERBOSE))


_B64 = r"A-Za-z0-9+/"
_TOK = r"A-Za-z0-9_\-"

# Order matters: specific shapes first, generic key=value and high-entropy catch-alls last.
CATALOGUE: tuple[Pattern, ...] = (
    Pattern(
        "pem-block",
        "SECRET",
        "pem",
        r"""(?P<value>-----BEGIN[ ][A-Z0-9 ]{0,40}-----
            (?:[\s\S]{0,20000}?-----END[ ][A-Z0-9 ]{0,40}-----|[^\n]{0,20000}))""",
        (
            "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----",
            "cfg -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA (truncated",
        ),
        ("-----BEGIN is a word in this line", "BEGIN PRIVATE KEY without dashes"),
        needles=("-----BEGIN",),
    ),
    Pattern(
        "jwt",
        "SECRET",
        "jwt",
        rf"(?<![{_TOK}])(?P<value>eyJ[{_TOK}]{{5,4096}}\.[{_TOK}]{{5,8192}}\.[{_TOK}]{{0,4096}})",
        (
            "auth ok jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),
        ("eyJ alone", "eyJabc.def"),
        needles=("eyJ",),
    ),
    Pattern(
        "anthropic-key",
        "SECRET",
        "anthropic",
        rf"(?<![{_TOK}])(?P<value>sk-ant-[{_TOK}]{{20,256}})",
        ("ANTHROPIC_API_KEY sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdEF",),
        ("task-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz",),
        needles=("sk-ant-",),
    ),
    Pattern(
        "openai-key",
        "SECRET",
        "openai",
        rf"(?<![{_TOK}])(?P<value>sk-(?:proj-|svcacct-|admin-|None-)?[{_TOK}]{{20,256}})",
        (
            "using key sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90",
            "OPENAI sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd",
        ),
        ("risk-management-department-of-excellence-team", "sk-short"),
        needles=("sk-",),
    ),
    Pattern(
        "aws-access-key-id",
        "SECRET",
        "aws-key-id",
        r"(?<![A-Z0-9])(?P<value>(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Z0-9])",
        ("aws_access_key_id=AKIAIOSFODNN7EXAMPLE region=us-east-1",),
        ("AKIA is a prefix", "XAKIAIOSFODNN7EXAMPLEX"),
        needles=("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA"),
    ),
    Pattern(
        "aws-secret-key",
        "SECRET",
        "aws-secret",
        rf"""(?i:aws_?secret(?:_?access)?_?key|secret_?access_?key|aws_?secret)
             ["']?\s{{0,5}}[:=]\s{{0,5}}["']?(?P<value>[{_B64}]{{40}})(?![{_B64}])""",
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",),
        ("aws_secret_access_key is not set",),
        needles_ci=("secret",),
    ),
    Pattern(
        "github-token",
        "SECRET",
        "github",
        r"(?<![A-Za-z0-9_])(?P<value>(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}))",
        (
            "push with ghp_1234567890abcdefghijABCDEFGHIJ123456 failed",
            "GH github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX",
        ),
        ("ghp_short", "sigh_abc"),
        needles=("gh", "github_pat_"),
    ),
    Pattern(
        "gitlab-token",
        "SECRET",
        "gitlab",
        rf"(?<![{_TOK}])(?P<value>gl(?:pat|dt|rt|ptt|oas)-[{_TOK}]{{20,255}})",
        ("clone with glpat-xxxxXXXXxxxxXXXX1234 ok",),
        ("glpat-short",),
        needles=("gl",),
    ),
    Pattern(
        "slack-token",
        "SECRET",
        "slack",
        r"(?<![A-Za-z0-9-])(?P<value>xox[abprse]-[A-Za-z0-9-]{10,255})",
        ("slack token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",),
        ("xoxb-short",),
        needles=("xox",),
    ),
    Pattern(
        "slack-webhook",
        "SECRET",
        "slack-webhook",
        r"(?P<value>https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{10,255})",
        ("POST https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX 200",),
        ("https://slack.com/help",),
        needles=("hooks.slack.com",),
    ),
    Pattern(
        "stripe-key",
        "SECRET",
        "stripe",
        r"(?<![A-Za-z0-9_])(?P<value>(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,255}|whsec_[A-Za-z0-9]{16,255})",
        ("charge failed key=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_51Hx0123456789abcdefGH"),
        ("sk_live_short", "desk_live_demo"),
        needles=("_live_", "_test_", "whsec_"),
    ),
    Pattern(
        "google-api-key",
        "SECRET",
        "google",
        r"(?<![A-Za-z0-9_-])(?P<value>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])",
        ("maps key AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI loaded",),
        ("AIza too short",),
        needles=("AIza",),
    ),
    Pattern(
        "sendgrid-key",
        "SECRET",
        "sendgrid",
        rf"(?<![{_TOK}.])(?P<value>SG\.[{_TOK}]{{16,32}}\.[{_TOK}]{{16,64}})",
        ("mail 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 sent",),
        ("SG.short.x",),
        needles=("SG.",),
    ),
    Pattern(
        "twilio-key",
        "SECRET",
        "twilio",
        r"(?<![A-Za-z0-9])(?P<value>(?:SK|AC)[0-9a-f]{32})(?![A-Za-z0-9])",
        (
            "twilio api key SK0123456789abcdef0123456789abcdef",
            "sid AC0123456789abcdef0123456789abcdef",
        ),
        ("SK0123",),
        needles=("SK", "AC"),
    ),
    Pattern(
        "npm-token",
        "SECRET",
        "npm",
        r"(?<![A-Za-z0-9_])(?P<value>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])",
        ("//registry.npmjs.org/:_authToken npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",),
        ("npm_install",),
        needles=("npm_",),
    ),
    Pattern(
        "huggingface-token",
        "SECRET",
        "huggingface",
        r"(?<![A-Za-z0-9_])(?P<value>hf_[A-Za-z0-9]{30,64})(?![A-Za-z0-9])",
        ("HF hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",),
        ("hf_small",),
        needles=("hf_",),
    ),
    Pattern(
        "azure-connection-string",
        "SECRET",
        "azure",
        r"""(?<![A-Za-z0-9_])(?i:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=(?P<value>[^;\s"'&<>]{8,1024})""",
        (
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net",
            "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abcDEF123456ghiJKL789=",
        ),
        ("AccountName=acme;EndpointSuffix=core.windows.net",),
        needles_ci=("accountkey", "sharedaccess", "sig="),
    ),
    Pattern(
        "authorization-header",
        "SECRET",
        "authorization",
        r"""(?i:(?<![A-Za-z0-9_-])(?:proxy-)?authorization)["']?\s{0,5}[:=]\s{0,5}["']?
            (?:(?i:bearer|basic|token|digest|negotiate|apikey)\s{1,5})?
            (?P<value>[^\s"',;<>]{1,4096})""",
        (
            "GET /api Authorization: Bearer abc123def456ghi789",
            "headers={'authorization': 'Basic dXNlcjpwYXNzd29yZA=='}",
        ),
        ("authorization failed for user bob",),
        validator=_auth_validator,
        needles_ci=("authorization",),
    ),
    Pattern(
        "bearer-token",
        "SECRET",
        "bearer",
        r"(?i:(?<![A-Za-z0-9_-])bearer)\s{1,5}(?P<value>[A-Za-z0-9._~+/=-]{8,4096})",
        ("upstream sent bearer 9f8e7d6c5b4a39281706f5e4",),
        ("the bearer of bad news",),
        needles_ci=("bearer",),
    ),
    Pattern(
        "url-password",
        "SECRET",
        "url-password",
        r"""(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@"'<>]{0,256}:
            (?P<value>[^\s/@"'<>]{1,256})@""",
        (
            "connect postgres://app:s3cr3t-pw@db.internal:5432/app failed",
            "redis://:hunter22@cache:6379/0",
        ),
        ("see https://example.com:8443/path", "ftp://ftp.example.com:21/pub"),
        needles=("://",),
    ),
    Pattern(
        "cookie-header",
        "SECRET",
        "cookie",
        r"(?i:(?<![A-Za-z0-9_-])(?:set-)?cookie)\s{0,5}:\s{0,5}(?P<value>[^\s;,\"'<>]{1,4096}(?:;\s?[^\s;,\"'<>]{1,4096}){0,32})",
        ("Set-Cookie: sessionid=38afes7a8; HttpOnly; Path=/",),
        ("cookie consent banner shown",),
        needles_ci=("cookie",),
    ),
    Pattern(
        "key-value-secret",
        "SECRET",
        "credential",
        r"""(?<![A-Za-z0-9_.-])(?P<q>\\?["']?)(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P=q)
            \s{0,5}[:=]\s{0,5}
            (?:\\?"(?P<value_dq>(?:[^"\\\n]|\\[^"\n]){0,1024})\\?"
              |'(?P<value_sq>[^'\n]{0,1024})'
              |(?P<value_bare>[^\s,;&"'}\]<>)]{1,1024}))""",
        (
            "login failed password=hunter2 user=bob",
            '{"user": "bob", "client_secret": "s3cr3tValue!"}',
            "DB_PASSWORD='correct horse battery'",
            "GET /cb?code=1&access_token=ya29.a0AfH6SMBx&state=x",
            "sessionid=abcdef0123456789",
            '{\\"apiKey\\":\\"zz-9981-secret\\"}',
        ),
        (
            "max_tokens=512 token_count=12 session_timeout=30",
            "password_min_length=8 token_type=bearer",
            "user=bob status=200",
            "password=null token=",
        ),
        validator=_kv_validator,
        needles=(":", "="),
    ),
    Pattern(
        "email",
        "EMAIL",
        "email",
        r"""(?<![A-Za-z0-9._%+-])(?P<value>[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}
            (?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24})(?![A-Za-z0-9-])""",
        ("mail to alice.smith+ops@example.co.uk bounced",),
        ("java.lang.Object@1a2b3c", "postgres@db:5432", "user@localhost"),
        needles=("@",),
    ),
    Pattern(
        "card-number",
        "CARD",
        "card",
        r"(?<![0-9-])(?P<value>[3-6](?:[ -]?[0-9]){12,18})(?![0-9])",
        ("charge card 4111 1111 1111 1111 declined", "pan=5500-0000-0000-0004", "378282246310005"),
        ("order 4111111111111112 (bad luhn)", "ts=1700000000000123", "id 2222333344445555"),
        validator=_card_validator,
    ),
    Pattern(
        "high-entropy-token",
        "SECRET",
        "token",
        rf"(?<![{_TOK}+/])(?P<value>[{_TOK}+/]{{40,4096}}={{0,2}})(?![{_TOK}+/=])",
        ("blob MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7 end",),
        (
            "trace 4bf92f3577b34da6a3ce929d0e0e4736f00f067aa0ba902b7",
            "com/example/payments/service/CheckoutService/processOrder",
        ),
        validator=_entropy_validator,
    ),
    Pattern(
        "ipv4",
        "IP",
        "ip",
        r"(?<![0-9.])(?P<value>(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})(?!\.?[0-9])",
        ("connect to 10.0.12.7:5432 refused",),
        ("version 1.2.3", "999.1.1.1"),
        optional=True,
        needles=(".",),
    ),
)


def _value_span(m: re.Match[str]) -> tuple[int, int]:
    for g in ("value", "value_dq", "value_sq", "value_bare"):
        if g in m.re.groupindex and m.group(g) is not None:
            return m.span(g)
    return m.span()


_MAX_PASSES = 4


class Redactor:
    """Replace secrets and PII with stable typed placeholders. One instance per evidence pack."""

    def __init__(self, *, include_ips: bool = False) -> None:
        self.include_ips = include_ips
        self._patterns = tuple(p for p in CATALOGUE if include_ips or not p.optional)
        self._placeholders: dict[bytes, str] = {}  # blake2b(value) → placeholder
        self.counts: Counter[str] = Counter()  # label → number of replacements made

    @property
    def distinct(self) -> int:
        """How many distinct secret values were replaced so far."""
        return len(self._placeholders)

    def placeholder_for(self, kind: str, label: str, value: str) -> str:
        key = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        ph = self._placeholders.get(key)
        if ph is None:
            n = len(self._placeholders) + 1
            ph = f"<SECRET:{label}:{n}>" if kind == "SECRET" else f"<{kind}:{n}>"
            self._placeholders[key] = ph
        return ph

    def redact(self, text: str) -> str:
        """Return ``text`` with every catalogued secret replaced. Never raises on str input.

        A replacement changes its neighbours' context (``…1111PASSWD=x`` becomes
        ``<CARD:1>PASSWD=x``, where a key now starts), so passes repeat until nothing changes:
        the result is a fixpoint, hence ``redact(redact(t)) == redact(t)``. Text without
        secrets takes one pass.
        """
        for _ in range(_MAX_PASSES):
            before = text
            lower = text.lower()
            for pattern in self._patterns:
                if pattern.needles and not any(n in text for n in pattern.needles):
                    continue
                if pattern.needles_ci and not any(n in lower for n in pattern.needles_ci):
                    continue
                text = pattern.compiled.sub(self._replacer(pattern), text)
            if text == before:
                break
        return text

    def _replacer(self, pattern: Pattern) -> Callable[[re.Match[str]], str]:
        def replace(m: re.Match[str]) -> str:
            if m.group("_ph") is not None:
                return m.group(0)
            start, end = _value_span(m)
            value = m.string[start:end]
            if not value or PLACEHOLDER_RE.fullmatch(value):
                return m.group(0)
            if pattern.validator is not None and not pattern.validator(m, value):
                return m.group(0)
            self.counts[pattern.label] += 1
            ph = self.placeholder_for(pattern.kind, pattern.label, value)
            base = m.start()
            whole = m.group(0)
            return whole[: start - base] + ph + whole[end - base :]

        return replace


def redact(text: str, *, include_ips: bool = False) -> str:
    """One-shot convenience: redact ``text`` with a fresh `Redactor`."""
    return Redactor(include_ips=include_ips).redact(text)
