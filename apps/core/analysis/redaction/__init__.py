"""Secret and PII redaction for everything that leaves the building (evidence packs, prompts).

The catalogue is data: each `Pattern` has a name, the placeholder kind it produces, a regex whose
group ``value`` (or the whole match) is the secret, positive and negative examples (the tests run
them all), and an optional validator (Luhn for cards, key-name checks for ``key=value`` pairs).

A `Redactor` instance is meant to live for one evidence pack: the same secret value always gets
the same placeholder (``<SECRET:jwt:1>``, ``<EMAIL:2>``, ``<CARD:3>``, ``<IP:4>``, ``<PHONE:5>``,
``<ID:6>``) so the text still reads consistently and citations still line up. Only a hash of each
value is kept. IP addresses are redacted by default (client addresses are personal data);
loopback and unspecified addresses stay, and ``Redactor(include_ips=False)`` opts out.

Patterns go by shape and context, never by the vocabulary of a particular log: a value is a
secret because its key names one (``password``, ``api_key`` as whole words), because prose says
so (``the password is '…'``), or because of its shape (a provider's key prefix, a checksum, a
national-number rule, the randomness of a 40-character AWS secret).

Every regex is written to run in linear time on hostile input: quantifiers are bounded, and any
pattern that starts with a repeated class is anchored by a negative lookbehind on that class so
the engine never rescans inside a run (the usual quadratic trap of ``search`` with ``[\\w]+@``).
``redact`` is idempotent: placeholders never match a pattern.

catalogue.py holds the patterns (data), validators.py the checks they call; the redactor is here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable

from .catalogue import CATALOGUE, PLACEHOLDER_RE, Pattern
from .validators import luhn_ok, secret_key

__all__ = ["CATALOGUE", "PLACEHOLDER_RE", "Pattern", "Redactor", "luhn_ok", "redact", "secret_key"]


def _value_span(m: re.Match[str]) -> tuple[int, int]:
    for g in ("value", "value_dq", "value_sq", "value_bq", "value_cq", "value_bare"):
        if g in m.re.groupindex and m.group(g) is not None:
            return m.span(g)
    return m.span()


_MAX_PASSES = 4


class Redactor:
    """Replace secrets and PII with stable typed placeholders. One instance per evidence pack."""

    def __init__(self, *, include_ips: bool = True) -> None:
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


def redact(text: str, *, include_ips: bool = True) -> str:
    """One-shot convenience: redact ``text`` with a fresh `Redactor`."""
    return Redactor(include_ips=include_ips).redact(text)
