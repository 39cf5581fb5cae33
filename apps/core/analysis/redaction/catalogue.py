"""The redaction catalogue: named patterns, each with its examples, as data.

Each `Pattern` has a name, the placeholder kind it produces, a regex whose group ``value`` (or
the whole match) is the secret, positive and negative examples (the tests run them all), and an
optional validator (see validators.py). Order matters: specific shapes first, generic key=value
and high-entropy catch-alls last.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .validators import (
    auth_validator,
    aws_secret_validator,
    card_validator,
    e164_validator,
    entropy_validator,
    ip_validator,
    ipv6_validator,
    kv_validator,
    phone_validator,
    prose_secret_validator,
)

# A placeholder as produced by the redactor; used to skip already-redacted values.
PLACEHOLDER_RE = re.compile(r"<(?:SECRET:[a-z0-9-]{1,32}|EMAIL|CARD|IP|PHONE|ID):\d{1,9}>")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One catalogue entry. ``kind`` is SECRET, EMAIL, CARD, IP, PHONE or ID; ``label`` names
    the secret."""

    name: str
    kind: str
    label: str
    regex: str
    examples: tuple[str, ...]  # each contains one value that must be redacted
    negatives: tuple[str, ...] = ()  # must come out unchanged
    validator: Callable[[re.Match[str], str], bool] | None = None
    flags: int = 0
    optional: bool = False  # dropped by Redactor(include_ips=False)
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
        validator=auth_validator,
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
        validator=kv_validator,
        needles=(":", "="),
    ),
    Pattern(
        "prose-secret",
        "SECRET",
        "credential",
        r"""(?<![A-Za-z0-9_-])(?i:pass(?:word|wd|[ ]?phrase|code)?|pwd|pin|secret(?:[ ]key)?
              |api[ ]?key|access[ ]key|token)
            [ ]{1,3}(?i:(?:(?:is|was|has[ ]been)[ ])?(?:set|changed|reset|updated)[ ]to|is|was|:)
            [ ]{1,3}
            (?:'(?P<value_sq>[^'\n]{1,256})'
              |"(?P<value_dq>[^"\n]{1,256})"
              |`(?P<value_bq>[^`\n]{1,256})`
              |“(?P<value_cq>[^”\n]{1,256})”
              |(?P<value_bare>[^\s"'`,;]{1,256}))""",
        (
            "user bob said his password is 'Tr0ub4dor&3'",
            'the passphrase was "correct horse battery staple"',
            "new password is hunter2 (please change)",
            "PIN was set to 4921",
            "api key is `AbC123xyz987`",
        ),
        (
            "password is incorrect",
            "the password was changed by an admin",
            "token is expired",
            "secret rotation was reset",
            "passing tests: 42",
        ),
        validator=prose_secret_validator,
        needles_ci=("pass", "pwd", "pin", "secret", "key", "token"),
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
        validator=card_validator,
    ),
    Pattern(
        "aws-secret-standalone",
        "SECRET",
        "aws-secret",
        r"(?<![A-Za-z0-9+/_>-])(?P<value>[A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=_-])",
        (
            "creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY loaded",
            "export AWS=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        ),
        (
            "commit 4bf92f3577b34da6a3ce929d0e0e4736f00f067a",
            "at com/example/payments/CheckoutService4Abc",
            "handler handleCheckoutSessionCompletedWebhookEvt",
            "lib usr/local/lib/python3/site/packages/Djan",
        ),
        validator=aws_secret_validator,
    ),
    Pattern(
        "us-ssn",
        "ID",
        "ssn",
        # area 001-899 except 666, group 01-99, serial 0001-9999 (the SSA's validity rules)
        r"""(?<![\w>-])(?P<value>(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4})(?![\w-])
          |(?i:ssn|social[ ]security(?:[ ]number|[ ]no\.?)?)\W{1,5}
           (?P<value_bare>(?!000|666|9)[0-9]{3}[ ]?(?!00)[0-9]{2}[ ]?(?!0000)[0-9]{4})(?![0-9])""",
        ("applicant 078-05-1120 verified", "SSN: 123 45 6789", "ssn=123456789"),
        (
            "ref 000-12-3456",
            "ref 666-12-3456",
            "ref 912-34-5678",
            "id 123-00-4567",
            "build 2024-03-14",
            "req-123-45-6789",
        ),
    ),
    Pattern(
        "uk-nino",
        "ID",
        "nino",
        # two prefix letters (not D F I Q U V; second not O; not BG GB KN NK NT TN ZZ), six
        # digits, suffix A-D
        r"""(?<![A-Za-z0-9>])(?P<value>(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]
            [ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[A-D])(?![A-Za-z0-9])""",
        ("NI number AB123456C on file", "nino=JG 10 37 84 B"),
        ("code QQ123456C", "GB123456A", "order AB1234567", "AB123456E"),
    ),
    Pattern(
        "phone-e164",
        "PHONE",
        "phone",
        r"(?<![\w+>])(?P<value>\+[1-9][0-9]{0,3}(?:[ .-]?\(?[0-9]{1,5}\)?){2,6})(?![\w])",
        ("call +14155552671 now", "sms to +44 20 7946 0958 failed", "+1 (415) 555-2671"),
        ("tz +0100", "offset +02:00", "delta +42"),
        validator=e164_validator,
        needles=("+",),
    ),
    Pattern(
        "phone-national",
        "PHONE",
        "phone",
        # North American (415) 555-2671 / 415-555-2671 / 415.555.2671; UK mobile 07700 900123.
        # Separators are required and consistent: bare digit runs are ids, counts and times.
        r"""(?<![\w.(+>-])(?P<value>\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}-[0-9]{4}
              |[2-9][0-9]{2}(?P<sep>[-.])[2-9][0-9]{2}(?P=sep)[0-9]{4}
              |07[0-9]{3}[ ]?[0-9]{6})(?![\w.-]|:[0-9])""",
        ("callback (415) 555-2671", "tel 415-555-2671 ok", "mobile 07700 900123"),
        (
            "GET /api 200 512 1024",
            "version 415.555.26710",
            "at 2024-03-14 10:01:00.415",
            "pid 28101 took 1500ms",
            "sent 1048576 bytes",
            "port :5432 pid 28101",
            "order 415-555-26711",
        ),
        validator=phone_validator,
    ),
    Pattern(
        "phone-context",
        "PHONE",
        "phone",
        r"""(?<![A-Za-z0-9])(?i:phone|tel|telephone|mobile|cell|fax|msisdn|sms)[\w-]{0,20}
            ["']?[ ]{0,3}[:=]?[ ]{0,3}["']?
            (?P<value>\+?[0-9](?:[ ().-]{0,2}[0-9]){6,14})(?![0-9])""",
        ('{"phone": "020 7946 0958"}', "msisdn=447700900123", "Tel: 030 123456"),
        ("mobile app 2.3.10 crashed", "cell 12 of 2048", "sms sent in 1500 ms"),
        validator=phone_validator,
        needles_ci=("phone", "tel", "mobile", "cell", "fax", "msisdn", "sms"),
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
        validator=entropy_validator,
    ),
    Pattern(
        "ipv4",
        "IP",
        "ip",
        r"(?<![\w.>])(?P<value>(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})(?!\.?[0-9])",
        ("connect to 10.0.12.7:5432 refused", "client 203.0.113.9 GET /"),
        ("version 1.2.3", "999.1.1.1", "listen 127.0.0.1:8000", "bind 0.0.0.0", "v1.2.3.4"),
        validator=ip_validator,
        optional=True,
        needles=(".",),
    ),
    Pattern(
        "ipv6",
        "IP",
        "ip",
        r"""(?<![\w:.>])(?P<value>(?=[0-9A-Fa-f:]{0,39}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}
            (?:(?<=:)(?:[0-9]{1,3}\.){3}[0-9]{1,3})?)(?![\w:.])""",
        ("from 2001:db8:85a3::8a2e:370:7334 port 443", "client ::ffff:203.0.113.9 ok"),
        ("at 10:01:00 UTC", "mac 00:1a:2b:3c:4d:5e", "listen [::1]:8000", "ratio 1:2:3"),
        validator=ipv6_validator,
        optional=True,
        needles=(":",),
    ),
)
