"""Template tokens: matching a token with wildcards without a regex gives the regex's answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.grouping.masks import WILDCARD
from apps.core.grouping.templates import matches, token_pattern
from conftest import examples

_PIECE = st.text(alphabet="ab=<*>:\n", max_size=4)


@pytest.mark.fuzz
@settings(max_examples=examples(500), deadline=None)
@given(st.lists(_PIECE, min_size=2, max_size=4), st.text(alphabet="ab=<*>:\n", max_size=12))
def test_matches_agrees_with_the_token_pattern(pieces: list[str], token: str) -> None:
    pattern = WILDCARD.join(pieces)
    expected = token_pattern(pattern).match(token) is not None
    assert matches(pattern.split(WILDCARD), token) == expected


@pytest.mark.parametrize(
    ("pattern", "token", "expected"),
    [
        ("uid=<*>", "uid=0", True),
        ("uid=<*>", "uid=", True),
        ("uid=<*>", "gid=0", False),
        ("[<*>]", "[]", True),
        ("[<*>]", "]", False),  # the literals may not overlap
        ("<*>:<*>", "a:b", True),
        ("<*>:<*>", "ab", False),
        ("a<*>b<*>c", "abc", True),
        ("a<*>b<*>c", "acb", False),
    ],
)
def test_matches_examples(pattern: str, token: str, expected: bool) -> None:
    assert matches(pattern.split(WILDCARD), token) is expected
