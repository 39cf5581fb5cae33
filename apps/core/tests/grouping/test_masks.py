"""Table-driven masking cases, Sentry test_parameterization.py style: standard cases that must
hold, and the known misses written down (a fix moves a case from one list to the other)."""

from __future__ import annotations

import re

import pytest

from apps.core.grouping.masker import TokenMasker
from apps.core.grouping.masks import (
    ALL_MASKS,
    DIGITS,
    TOKEN_RE,
    WILDCARD,
    mask_message,
    mask_token,
    replacement,
)

STANDARD_CASES = [
    # (name, message, masked)
    ("ipv4 with port", "Served block to /10.251.73.220:50010", "Served block to <*>:<*>"),
    ("ipv4 in brackets", "[client 173.234.31.186] Directory index", "[client <*>] Directory index"),
    ("ipv6", "connect to [2001:db8::1]:443 failed", "connect to [<*>]:<*> failed"),
    ("host", "getaddrinfo for ns.example.com [1.2.3.4] failed", "getaddrinfo for <*> [<*>] failed"),
    ("url", "GET https://api.example.com/v1/x?id=3 took 12ms", "GET <*> took <*>"),
    ("path", "open /var/log/app/server.log: permission denied", "open <*>: permission denied"),
    ("email", "mail to alice@example.com bounced", "mail to <*> bounced"),
    ("uuid", "request 550e8400-e29b-41d4-a716-446655440000 done", "request <*> done"),
    ("iso timestamp", "since 2024-01-02T03:04:05Z", "since <*>"),
    ("time", "at 04:47:44 ok", "at <*> ok"),
    ("duration", "timeout of 10000ms exceeded after 1.5s", "timeout of <*> exceeded after <*>"),
    ("size", "heap 512MB of 4k pages", "heap <*> of <*> pages"),
    ("key=value", "uid=0 euid=0 tty=ssh rhost=10.0.0.1", "uid=<*> euid=<*> tty=ssh rhost=<*>"),
    ("key:hex", "sessionid:0x14ede63a5a70000 type:create", "sessionid:<*> type:create"),
    ("block id", "Deleting block blk_-6952295868487656571", "Deleting block <*>"),
    ("request id", "req-8f3a9120 finished", "<*> finished"),
    ("java hash", "QuorumPeer$QuorumServer@6d9d5b4 up", "QuorumPeer$QuorumServer@<*> up"),
    ("quoted", 'user "alice smith" logged in', 'user "<*>" logged in'),
    ("json value", '{"user": "bob", "n": 3}', '{"user": "<*>", "n": <*>}'),
    ("signed numbers", "mod_jk child init 1 -2", "mod_jk child init <*> <*>"),
    ("digits in names stay", "port 22 ssh2 jk2_init() log4j", "port <*> ssh2 jk2_init() log4j"),
    ("dotted names stay", "java.io.IOException: n.leader", "java.io.IOException: n.leader"),
    ("k8s pod", "pod web-7d9f8b6c5-x2k4q restarted 3 times", "pod web-<*> restarted <*> times"),
    ("kernel", "[12345.678901] eth0: link up, 1000Mbps", "[<*>] eth0: link up, 1000Mbps"),
]

# Written-down misses: what the catalogue gets wrong today (input, what we produce).
KNOWN_MISSES = [
    ("user names are words, left to the miner", "Invalid user webmaster", "Invalid user webmaster"),
    ("hosts without a TLD look like words", "connect to db-primary", "connect to db-primary"),
    ("kernel speeds glue unit and number", "1000Mbps", "1000Mbps"),
    ("hex without digits is a word", "id deadbeef", "id deadbeef"),
]


@pytest.mark.parametrize(
    ("name", "message", "expected"), STANDARD_CASES, ids=[c[0] for c in STANDARD_CASES]
)
def test_standard_cases(name: str, message: str, expected: str) -> None:
    assert mask_message(message) == expected, name


@pytest.mark.parametrize(
    ("why", "message", "produced"), KNOWN_MISSES, ids=[c[0] for c in KNOWN_MISSES]
)
def test_known_misses_still_missed(why: str, message: str, produced: str) -> None:
    assert mask_message(message) == produced, f"fixed? move to STANDARD_CASES: {why}"


@pytest.mark.parametrize("mask", ALL_MASKS, ids=lambda m: m.name)
def test_catalogue_examples(mask) -> None:
    for token, masked in mask.examples:
        assert mask_message(token) == masked, (mask.name, token)
    own = re.compile(mask.pattern, re.VERBOSE)
    for token in mask.counter_examples:
        assert own.search(token) is None, (mask.name, token)


@pytest.mark.parametrize("mask", ALL_MASKS, ids=lambda m: m.name)
def test_a_mask_matches_only_tokens_that_meet_its_needs(mask) -> None:
    own = re.compile(mask.pattern, re.VERBOSE)
    for token, _masked in mask.examples:
        if mask.needs == DIGITS:
            needed = [c for c in token if c.isdecimal()]
        else:
            needed = [c for c in token if c in mask.needs]
        assert needed, (mask.name, token)
        assert own.search(token) is not None, (mask.name, token)
        # without the characters it needs, the pattern finds nothing left in the token
        bare = "".join("x" if c in needed else c for c in token)
        assert own.search(bare) is None, (mask.name, bare)


def test_a_digit_of_any_script_is_a_digit_to_the_narrowed_catalogue() -> None:
    assert mask_token("\u0663\u0664") == TOKEN_RE.sub(replacement, "\u0663\u0664") == WILDCARD


def test_token_masker_caches_agree_with_plain_masking() -> None:
    masker = TokenMasker(limit=8)
    tokens = [
        "10.0.0.1:80",
        "10.0.0.2:443",
        "ssh2",
        "ssh3",
        "x=12",
        "x=99",
        "0x1f",
        "5x12",
        "abc",
        "disk3=42",
        "disk4=77",  # one shape: rebuilt from its own text
        '"GET /v2/a HTTP/1.1"',
        '"GET /v3/a HTTP/1.1"',  # one shape, but the route keeps `v2` / `v3`
    ] * 3
    for token in tokens:
        assert masker(token) == mask_token(token), token


def test_masks_are_fast_on_hostile_input() -> None:
    # linear-time patterns: long runs of the characters the patterns care about stay cheap
    import time

    for token in [
        "1." * 20_000,
        "a-" * 20_000,
        "/" * 40_000,
        ":" * 40_000,
        '"' * 40_000,
        "0" * 40_000,
    ]:
        t0 = time.perf_counter()
        mask_message(token)
        assert time.perf_counter() - t0 < 1.0, token[:10]
