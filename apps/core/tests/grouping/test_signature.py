"""The signature cache by digit shape: an optimisation, never a different signature."""

from __future__ import annotations

import pytest

from apps.core.grouping.signature import Signatures


def _access(path: str, status: int) -> str:
    return f'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET {path} HTTP/1.1" {status} 512'


class _Counted(Signatures):
    """Signatures that record the lines they had to compute (not served by the cache)."""

    def __init__(self) -> None:
        super().__init__(3)
        self.computed: list[str] = []

    def _prepare(self, message, shape):
        self.computed.append(message)
        return super()._prepare(message, shape)


@pytest.fixture
def counted() -> tuple[_Counted, list[str]]:
    sigs = _Counted()
    return sigs, sigs.computed


def test_alternating_status_classes_both_stay_cached(counted) -> None:
    sigs, computed = counted
    lines = [_access("/x", s) for s in (200, 502, 201, 503, 200, 502)]
    out = [sigs.of(line)[0] for line in lines]
    assert computed == lines[:2]  # one shape, two variants: each computed once
    assert out[0][-2:] == ("2xx", "<*>")
    assert out[1][-2:] == ("5xx", "<*>")
    assert out[0] == out[2] == out[4] and out[1] == out[3] == out[5]


def test_names_with_digits_are_checked_where_they_stand(counted) -> None:
    sigs, computed = counted
    a = sigs.of('user "x y" via ssh2 port 22')[0]
    b = sigs.of('user "x y" via ssh1 port 23')[0]  # same digit shape, another name
    c = sigs.of('user "x y" via ssh2 port 99')[0]
    assert a[3] == "ssh2" and b[3] == "ssh1"
    assert c == a
    assert len(computed) == 2


def test_a_name_with_a_value_keeps_its_own_digits() -> None:
    sigs = Signatures(3)
    assert sigs.of("disk3=42 ok")[0] == ("disk3=<*>", "ok")
    assert sigs.of("disk4=77 ok")[0] == ("disk4=<*>", "ok")  # one recipe, the token's digits
