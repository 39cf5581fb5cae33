"""A generated corpus of secrets (many types) embedded in realistic log lines."""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits


def _s(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    # Always mixed: starts with upper, lower, digit so entropy-based checks see a real secret.
    core = "".join(rng.choice(alphabet) for _ in range(n - 3))
    return (
        rng.choice(string.ascii_uppercase)
        + rng.choice(string.ascii_lowercase)
        + rng.choice(string.digits)
        + core
    )


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = digits + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            n = int(c)
            if i % 2 == 1:
                n = n * 2 - 9 if n * 2 > 9 else n * 2
            total += n
        if total % 10 == 0:
            return candidate
    raise AssertionError


def _jwt(rng: random.Random) -> str:
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    header = enc(b'{"alg":"HS256","typ":"JWT"}')
    payload = enc(json.dumps({"sub": _s(rng, 12), "exp": 1700000000}).encode())
    return f"{header}.{payload}.{_s(rng, 43, ALNUM + '-_')}"


# (type, make(rng) -> (line, secret)) ; ``secret`` must never leave the process.
def _generators() -> list[tuple[str, object]]:
    return [
        (
            "openai",
            lambda r: (lambda k: (f"ERROR llm call failed api_key_used {k} status=401", k))(
                "sk-proj-" + _s(r, 48, ALNUM + "-_")
            ),
        ),
        (
            "openai-legacy",
            lambda r: (lambda k: (f"WARN retrying with key {k}", k))("sk-" + _s(r, 48)),
        ),
        (
            "anthropic",
            lambda r: (lambda k: (f"DEBUG client init key={k}", k))(
                "sk-ant-api03-" + _s(r, 80, ALNUM + "-_")
            ),
        ),
        (
            "aws-key-id",
            lambda r: (lambda k: (f"INFO s3 upload as {k} to bucket prod-assets", k))(
                "AKIA"
                + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16))
            ),
        ),
        (
            "aws-secret",
            lambda r: (lambda k: (f"DEBUG env aws_secret_access_key={k}", k))(
                _s(r, 40, ALNUM + "/+")
            ),
        ),
        (
            "github",
            lambda r: (lambda k: (f"ERROR git push failed token {k}", k))("ghp_" + _s(r, 36)),
        ),
        (
            "github-pat",
            lambda r: (lambda k: (f"WARN using {k} for api.github.com", k))(
                "github_pat_" + _s(r, 82, ALNUM + "_")
            ),
        ),
        (
            "gitlab",
            lambda r: (lambda k: (f"ERROR clone https://gitlab.com/x.git with {k} denied", k))(
                "glpat-" + _s(r, 20, ALNUM + "-_")
            ),
        ),
        (
            "slack",
            lambda r: (lambda k: (f"INFO notify slack bot {k} channel=#ops", k))(
                "xoxb-" + "".join(r.choice(string.digits) for _ in range(12)) + "-" + _s(r, 24)
            ),
        ),
        (
            "stripe",
            lambda r: (lambda k: (f"ERROR stripe charge failed using {k}", k))(
                r.choice(["sk_live_", "rk_live_"]) + _s(r, 24)
            ),
        ),
        (
            "google",
            lambda r: (lambda k: (f"WARN maps quota exceeded key {k}", k))(
                "AIza" + _s(r, 35, ALNUM + "-_")
            ),
        ),
        (
            "sendgrid",
            lambda r: (lambda k: (f"ERROR mail send via {k} rejected", k))(
                "SG." + _s(r, 22, ALNUM + "-_") + "." + _s(r, 43, ALNUM + "-_")
            ),
        ),
        (
            "twilio",
            lambda r: (lambda k: (f"INFO sms via twilio key {k}", k))(
                "SK" + "".join(r.choice("0123456789abcdef") for _ in range(32))
            ),
        ),
        (
            "npm",
            lambda r: (lambda k: (f"ERROR npm publish //registry.npmjs.org/:_authToken {k}", k))(
                "npm_" + _s(r, 36)
            ),
        ),
        (
            "azure",
            lambda r: (
                lambda k: (
                    f"ERROR blob upload failed conn=DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={k};EndpointSuffix=core.windows.net",
                    k,
                )
            )(_s(r, 86, ALNUM + "+/") + "=="),
        ),
        (
            "bearer",
            lambda r: (lambda k: (f"DEBUG upstream request headers Authorization: Bearer {k}", k))(
                _s(r, 32, ALNUM + "-._")
            ),
        ),
        ("jwt", lambda r: (lambda k: (f"WARN token expired for session jwt {k}", k))(_jwt(r))),
        (
            "url-password",
            lambda r: (
                lambda k: (
                    f"ERROR could not connect to postgres://app:{k}@db.internal:5432/shop",
                    k,
                )
            )(_s(r, 16, ALNUM + "!$%^*-_")),
        ),
        (
            "kv-password",
            lambda r: (lambda k: (f"ERROR login failed user=admin password={k} ip=10.0.0.8", k))(
                _s(r, 14, ALNUM + "!#$%^*-_")
            ),
        ),
        (
            "json-secret",
            lambda r: (
                lambda k: (
                    f'DEBUG config loaded {{"client_secret": "{k}", "region": "eu-west-1"}}',
                    k,
                )
            )(_s(r, 24, ALNUM + "-_.")),
        ),
        (
            "api-key-query",
            lambda r: (lambda k: (f"INFO GET /v2/report?api_key={k}&format=csv 200", k))(_s(r, 32)),
        ),
        (
            "session-cookie",
            lambda r: (
                lambda k: (f"DEBUG response Set-Cookie: sessionid={k}; HttpOnly; Path=/", k)
            )(_s(r, 32, "abcdef0123456789")),
        ),
        (
            "pem",
            lambda r: (
                lambda k: (
                    f"ERROR bad key file contents -----BEGIN RSA PRIVATE KEY-----\\n{k}\\n-----END RSA PRIVATE KEY-----",
                    k,
                )
            )("MIIEow" + _s(r, 64, ALNUM + "+/")),
        ),
        (
            "email",
            lambda r: (lambda k: (f"WARN password reset requested for {k}", k))(
                _s(r, 10).lower()
                + "@"
                + r.choice(["example.com", "corp.example.org", "mail.test.io"])
            ),
        ),
        (
            "card",
            lambda r: (lambda k: (f"ERROR payment declined card {k} amount=42.00", k))(
                _luhn_complete(r.choice(["4", "51", "52", "37"]), 16, r)
            ),
        ),
        (
            "huggingface",
            lambda r: (lambda k: (f"INFO downloading model with token {k}", k))("hf_" + _s(r, 34)),
        ),
    ]


def secret_corpus(n: int = 1040, seed: int = 7) -> list[tuple[str, str, str]]:
    """``n`` (type, log line, secret) triples cycling over every type."""
    rng = random.Random(seed)
    gens = _generators()
    out = []
    for i in range(n):
        kind, make = gens[i % len(gens)]
        line, secret = make(rng)  # type: ignore[operator]
        out.append(
            (kind, f"2024-05-01T10:{(i // 60) % 60:02d}:{i % 60:02d}Z svc-{i % 7} {line}", secret)
        )
    return out
