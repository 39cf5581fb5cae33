from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.analysis.redaction import CATALOGUE, PLACEHOLDER_RE, Redactor, luhn_ok, redact, secret_key
from conftest import examples

from .secrets_corpus import secret_corpus

EXAMPLES = [(p.name, p.label, ex) for p in CATALOGUE for ex in p.examples]
NEGATIVES = [(p.name, ex) for p in CATALOGUE for ex in p.negatives]

# (input, secret that must disappear, placeholder kind expected)
STANDARD_CASES = [
    ("key sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78", "Ab12Cd34Ef56Gh78Ij90", "<SECRET:openai:"),
    ("Authorization: Bearer abc.def-ghi_jkl123", "abc.def-ghi_jkl123", "<SECRET:authorization:"),
    ("postgres://user:pa55word@db:5432/x", "pa55word", "<SECRET:url-password:"),
    ('{"password":"p@ss w0rd"}', "p@ss w0rd", "<SECRET:credential:"),
    ("X-Api-Key: 0123456789abcdef", "0123456789abcdef", "<SECRET:credential:"),
    ("user bob.smith@example.com logged in", "bob.smith@example.com", "<EMAIL:"),
    ("card 4111-1111-1111-1111", "4111-1111-1111-1111", "<CARD:"),
    (
        "aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI",
        "<SECRET:",
    ),
    ("private_key=abcdefgh12345678", "abcdefgh12345678", "<SECRET:credential:"),
]
# Written down, not hidden: shapes we knowingly do not catch (or over-catch) today.
INCORRECT_CASES = [
    # A bare 32-hex Twilio auth token without a key name looks like any request id.
    ("twilio auth 0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    # Passwords containing a quote inside an escaped JSON string end at the quote.
    ('{\\"password\\":\\"ab\\"cd\\"}', "cd"),
]


@pytest.mark.parametrize(
    ("name", "label", "example"), EXAMPLES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(EXAMPLES)]
)
def test_catalogue_examples_are_redacted(name: str, label: str, example: str) -> None:
    r = Redactor(include_ips=True)
    out = r.redact(example)
    assert r.counts[label] >= 1, (name, out)
    assert out != example
    assert PLACEHOLDER_RE.search(out)


@pytest.mark.parametrize(
    ("name", "example"), NEGATIVES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(NEGATIVES)]
)
def test_catalogue_negatives_are_untouched(name: str, example: str) -> None:
    assert Redactor(include_ips=True).redact(example) == example


@pytest.mark.parametrize(("text", "secret", "placeholder"), STANDARD_CASES)
def test_standard_cases(text: str, secret: str, placeholder: str) -> None:
    out = redact(text)
    assert secret not in out
    assert placeholder in out


@pytest.mark.parametrize(("text", "secret"), INCORRECT_CASES)
def test_known_gaps_stay_known(text: str, secret: str) -> None:
    assert secret in redact(text)  # if this starts failing, move the case to STANDARD_CASES


def test_catalogue_has_unique_names_and_examples() -> None:
    names = [p.name for p in CATALOGUE]
    assert len(names) == len(set(names))
    assert all(p.examples for p in CATALOGUE)


def test_ips_only_when_asked() -> None:
    line = "connect to 10.1.2.3:5432 refused"
    assert redact(line) == line
    assert redact(line, include_ips=True) == "connect to <IP:1>:5432 refused"


def test_placeholders_are_stable_per_value_within_a_pack() -> None:
    r = Redactor()
    a = r.redact("login alice@example.com password=hunter22")
    b = r.redact("again alice@example.com then bob@example.com password=hunter22")
    # numbers follow catalogue order within a line, then first appearance
    assert a == "login <EMAIL:2> password=<SECRET:credential:1>"
    assert b == "again <EMAIL:2> then <EMAIL:3> password=<SECRET:credential:1>"
    # A new pack starts numbering afresh.
    assert Redactor().redact("bob@example.com") == "<EMAIL:1>"


def test_same_value_in_two_shapes_gets_one_placeholder() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"
    out = Redactor().redact(f"Authorization: Bearer {token} then token={token}")
    assert out.count("<SECRET:jwt:1>") == 2


def test_luhn() -> None:
    assert luhn_ok("4111 1111 1111 1111")
    assert not luhn_ok("4111 1111 1111 1112")
    assert not luhn_ok("4111")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("password", True),
        ("DB_PASSWORD", True),
        ("apiKey", True),
        ("x-api-key", True),
        ("client_secret", True),
        ("sessionid", True),
        ("access_token", True),
        ("auth", True),
        ("max_tokens", False),
        ("token_count", False),
        ("session_timeout", False),
        ("password_min_length", False),
        ("author", False),
        ("user", False),
        ("status", False),
    ],
)
def test_secret_key_names(key: str, expected: bool) -> None:
    assert secret_key(key) is expected


def test_corpus_never_survives_redaction() -> None:
    r = Redactor()
    corpus = secret_corpus()
    assert len({kind for kind, _, _ in corpus}) >= 15
    for kind, line, secret in corpus:
        out = r.redact(line)
        assert secret not in out, (kind, line, out)
        # nor any sizeable piece of it
        assert not any(secret[i : i + 10] in out for i in range(len(secret) - 9)), (kind, out)


ADVERSARIAL = [
    "a",
    "a=",
    '"a":',
    "x@",
    "Ab1/",
    "1.",
    "a:b@",
    "sk-",
    "4 ",
    "eyJa.",
    "-----BEGIN X-----",
]


@pytest.mark.parametrize("unit", ADVERSARIAL)
def test_linear_time_on_hostile_input(unit: str) -> None:
    r = Redactor(include_ips=True)

    def timed(n: int) -> float:
        text = (unit * (n // len(unit) + 1))[:n]
        t = time.perf_counter()
        r.redact(text)
        return time.perf_counter() - t

    small, big = timed(25_000), timed(100_000)
    assert big < 2.0
    assert big < max(small, 0.005) * 12  # 4x the input, well under 16x (quadratic) the time


# --- properties -------------------------------------------------------------------------------

log_text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs", "Cc")), max_size=300
)
secretish = st.sampled_from(
    [
        "password=",
        "token: ",
        "Bearer ",
        "sk-",
        "sk-ant-",
        "AKIA",
        "ghp_",
        "eyJ",
        "@",
        ".com",
        "://u:",
        "@h",
        "<SECRET:x:1>",
        "<EMAIL:2>",
        "4111 1111 1111 1111",
        "-----BEGIN K-----",
        '"secret": "',
        "AccountKey=",
        '\\"',
        "=",
        ";",
        "<",
        ">",
    ]
)
mixed = st.lists(st.one_of(log_text, secretish), max_size=12).map("".join)


@pytest.mark.fuzz
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed)
def test_redact_never_raises_and_is_idempotent(text: str) -> None:
    r = Redactor(include_ips=True)
    once = r.redact(text)
    assert isinstance(once, str)
    assert r.redact(once) == once
    assert Redactor(include_ips=True).redact(once) == once


@pytest.mark.fuzz
@settings(max_examples=examples(200), deadline=None)
@given(mixed, mixed)
def test_placeholders_are_stable(a: str, b: str) -> None:
    r = Redactor()
    first = r.redact(a)
    r.redact(b)
    assert r.redact(a) == first


@pytest.mark.fuzz
@settings(max_examples=examples(200), deadline=None)
@given(st.sampled_from(secret_corpus(60)), log_text, log_text)
def test_secrets_are_redacted_in_any_surroundings(
    item: tuple[str, str, str], pre: str, post: str
) -> None:
    _, line, secret = item
    out = Redactor().redact(f"{pre} {line} {post}")
    if secret not in pre and secret not in post:
        assert secret not in out
