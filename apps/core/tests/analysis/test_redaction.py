from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.analysis.redaction import (
    CATALOGUE,
    PLACEHOLDER_RE,
    Redactor,
    luhn_ok,
    redact,
    secret_key,
)
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


# One table, Sentry-style: (input, exactly what goes out). Positives and negatives together, so
# what is kept is as much a promise as what is hidden. Shapes and context only: no rule knows a
# sample's vocabulary.
TABLE = [
    # kept: identifiers the model needs to find the trigger (user=postgres hid it once)
    ("connection authorized: user=postgres database=shop", None),
    ("user=postgres db=shop role=admin", None),
    ("host=db-1.internal service=checkout-api upstream=payments.svc.cluster.local", None),
    ("authorized: user=alice author=bob authority=ca-1", None),
    ("auth: failed for user bob; token: expired; password=required", None),
    ("session_timeout=30 token_count=12 max_tokens=512 password_min_length=8", None),
    ("session_status=active token_type=bearer", None),
    # kept: numbers that are not phone numbers or ids
    ("2024-03-14 10:01:00.415 UTC [28101] LOG: duration: 1500.123 ms", None),
    ("14/Mar/2024:11:15:00 +0000 took 1500ms pid=28101 sent 1048576 bytes", None),
    ("GET /api/orders 200 512 1024 rt=0.250", None),
    ("version 1.2.3 build 4.15.555 v1.2.3.4 python3.12", None),
    ("listen 127.0.0.1:8000 [::1]:8000 0.0.0.0:5432 at 10:01:00", None),
    ("order 4111111111111112 ts=1700000000000 id=123456789012", None),
    ("commit 4bf92f3577b34da6a3ce929d0e0e4736f00f067a", None),
    ("at com/example/payments/service/CheckoutService4Abc.process", None),
    ("mac 00:1a:2b:3c:4d:5e ratio 1:2:3 tz +0100 delta +42", None),
    ("password is incorrect; the password was changed; passphrase was accepted", None),
    # secrets by shape
    ("creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY loaded", "creds <SECRET:aws-secret:1> loaded"),
    # secrets in prose
    ("password is 'Tr0ub4dor&3'", "password is '<SECRET:credential:1>'"),
    ("password: hunter2", "password: <SECRET:credential:1>"),
    ('the passphrase was "correct horse"', 'the passphrase was "<SECRET:credential:1>"'),
    ("new password is hunter2 (change it)", "new password is <SECRET:credential:1> (change it)"),
    ("PIN was set to 4921", "PIN was set to <SECRET:credential:1>"),
    # phone numbers
    ("call +14155552671 now", "call <PHONE:1> now"),
    ("sms to +44 20 7946 0958 failed", "sms to <PHONE:1> failed"),
    ("callback (415) 555-2671 or 415-555-2671", "callback <PHONE:1> or <PHONE:2>"),
    ('{"phone": "020 7946 0958"}', '{"phone": "<PHONE:1>"}'),
    ("mobile 07700 900123", "mobile <PHONE:1>"),
    # national ids, validated
    ("applicant 078-05-1120", "applicant <ID:1>"),
    ("ssn=123456789", "ssn=<ID:1>"),
    ("ref 666-12-3456 and 912-34-5678 and 123-00-4567", None),  # invalid areas/groups
    ("NI number AB123456C", "NI number <ID:1>"),
    ("code QQ123456C GB123456A", None),  # invalid prefixes
    # client addresses: by default
    ("203.0.113.9 - - GET /", "<IP:1> - - GET /"),
    ("from 2001:db8:85a3::8a2e:370:7334 port 443", "from <IP:1> port 443"),
    ("connect to 10.0.12.7:5432 refused", "connect to <IP:1>:5432 refused"),
]

# Written down, not hidden: what the table's rules get wrong today.
TABLE_INCORRECT = [
    # A signed counter of 10+ digits reads as an E.164 number (over-redaction).
    ("delta=+1234567890 bytes", "delta=<PHONE:1> bytes"),
    # A bare password after "is" made only of letters reads as a word (missed).
    ("his password is swordfish", None),
    # National phone formats other than North American and UK mobile need a context word.
    ("ring 030 1234567 back", None),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_table(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


@pytest.mark.parametrize(("text", "expected"), TABLE_INCORRECT)
def test_table_known_incorrect(text: str, expected: str | None) -> None:
    # if this starts failing, the rule got better: move the case to TABLE
    assert redact(text) == (text if expected is None else expected)


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


def test_ips_by_default_with_an_opt_out() -> None:
    line = "connect to 10.1.2.3:5432 refused"
    assert redact(line) == "connect to <IP:1>:5432 refused"
    assert redact(line, include_ips=False) == line
    assert redact("listen 127.0.0.1:8000 and [::1]:8000") == "listen 127.0.0.1:8000 and [::1]:8000"


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
    "+1 ",
    "(415) ",
    "123-",
    "a1:",
    "::1",
    "password is '",
    "phone 1",
    "Aa1/",
    "AB1",
]


@pytest.mark.parametrize("unit", ADVERSARIAL)
def test_linear_time_on_hostile_input(unit: str) -> None:
    r = Redactor(include_ips=True)

    def timed(n: int) -> float:
        """Best of three: a complexity check, so a busy machine's pauses must not count."""
        text = (unit * (n // len(unit) + 1))[:n]
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            r.redact(text)
            best = min(best, time.perf_counter() - t)
        return best

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
        "+1 415 555 2671",
        "415-555-2671",
        "(415) ",
        "078-05-1120",
        "AB123456C",
        "password is '",
        "was set to ",
        "phone: ",
        "2001:db8::",
        "::ffff:",
        "10.0.12.7",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "<PHONE:3>",
        "<ID:4>",
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
