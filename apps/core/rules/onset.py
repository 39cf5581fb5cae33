"""Where behaviour changes: the start of a rise in a per-bucket count series.

A spike is reported at its peak, but the incident starts where the rate left its usual level.
`rise_start` finds that point with a single Poisson change point over the series up to the peak:
the split that best explains the counts as "a low rate, then a higher one" (log-likelihood ratio
against one constant rate). Poisson keeps it robust at low counts: two errors in an hour, then
five in one minute, is a change; one more error than usual is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import log

MIN_LLR = 6.0  # log-likelihood ratio a split needs (about p < 0.001 for one split)
MIN_AFTER = 3  # events after the split: fewer is never a rise


def _xlogx_rate(count: int, n: int) -> float:
    return count * log(count / n) if count else 0.0


def rise_start(values: Sequence[int], *, peak: int | None = None) -> int | None:
    """Index of the first bucket of the rise that ends at `peak` (default: the highest bucket),
    or None when the series up to the peak is not a significant rise over what came before."""
    if not values:
        return None
    if peak is None:
        peak = max(range(len(values)), key=values.__getitem__)
    head = values[: peak + 1]
    n, total = len(head), sum(head)
    if n < 2 or total < MIN_AFTER:
        return None
    whole = _xlogx_rate(total, n)
    best, best_k = MIN_LLR, None
    before = 0
    for k in range(1, n):
        before += head[k - 1]
        after = total - before
        if after < MIN_AFTER or after * k <= before * (n - k):  # not a rise
            continue
        llr = _xlogx_rate(before, k) + _xlogx_rate(after, n - k) - whole
        if llr > best:
            best, best_k = llr, k
    if best_k is None:
        return None
    while best_k < peak and not head[best_k]:  # the first bucket that has events
        best_k += 1
    return best_k
