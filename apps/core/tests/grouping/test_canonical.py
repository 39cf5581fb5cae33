"""Templates in the guidelines' spelling (grouping/canonical.py), rule by rule."""

from __future__ import annotations

import pytest

from apps.core.grouping.canonical import canonical


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("connect  to   <*>", "connect to <*>"),  # DS
        ("open /var/log/app.log failed", "open <*> failed"),  # PS
        ("flag is true for user root", "flag is <*> for user <*>"),  # BL, US
        ("retry 3 of 5", "retry <*> of <*>"),  # DG
        ("block blk_<*> took <*>ms", "block <*> took <*>"),  # WV
        ("version <*>.<*>.<*> up", "version <*> up"),  # DV
        ("<*>:<*> open through proxy <*>:<*> HTTPS", "<*> open through proxy <*> HTTPS"),
        ("id #<*># done", "id <*> done"),
        ("took <*><*> sec", "took <*> sec"),  # CV
        ("rate <*>/<*> ok", "rate <*>/<*> ok"),  # a ratio stays two values
        ("Received block of size <*> from <*>", "Received block of size <*> from <*>"),
    ],
)
def test_rules(template: str, expected: str) -> None:
    assert canonical(template) == expected


def test_a_canonical_template_is_a_fixed_point() -> None:
    for t in ("a <*>:<*> b", "x=<*>, y=/tmp/<*>", "Got 12 of <*> in 4.5s", "[<*>] <*>.<*>"):
        once = canonical(t)
        assert canonical(once) == once
