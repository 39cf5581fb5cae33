"""Streaming template miner with stable template ids.

Pipeline per message:

1. `tokenize` on whitespace (quoted values stay whole), mask each token with the catalogue in
   `masks.py`, fold values printed over several tokens, collapse runs of 3+ masked tokens into
   one (variable-length lists such as `delete blk_1 blk_2 blk_3`): the *signature*
   (`signature.py`, remembered per digit shape of the line).
2. Fast path: signature → template dict lookup. Most lines end here.
3. Otherwise look for a template of the same length whose constant tokens and wildcard patterns
   (`<*>`, `uid=<*>`) accept the signature; the most specific one wins.
4. Otherwise create a template. Then decide from *evidence* whether a word that differs
   between templates is a variable — Brain's observation that variables are the columns with
   many distinct values, while constants take few values (`LOOKING`/`FOLLOWING`, `none`/`password`):
   every pair of same-length templates that differ in a few columns D (and agree elsewhere)
   registers under the key (D, shared context). When every column of D has taken at least
   `k_word` distinct word values (`k_mixed` when a value holds digits or a masked part) within
   one key, those templates merge: the oldest survives with `<*>` (or `key=<*>`, `[<*>]` …)
   in D. The first token is never a variable unless it holds digits (Drain's first-token
   assumption).

Stable ids: an id is assigned when a template is created and never changes when the template
gains a `<*>`. Templates absorbed by a merge keep their id as an alias of the survivor
(`Miner.resolve`). Merges are monotone (distinct counts only grow), so groups never split.

Memory is bounded by templates: the mask caches and the signature caches are bounded
caches (cleared when full), the merge evidence holds template ids, never lines.

Templates, the algebra of their tokens and the index of live templates are in templates.py.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from operator import eq
from typing import Any, TypedDict

from .masks import WILDCARD, tokenize
from .signature import Signatures, Spans, apply_spans
from .templates import (
    Template,
    TemplateIndex,
    evidence_key,
    fill,  # noqa: F401  (re-exported: callers import it from here)
    has_digit,
    merge_token,
    token_pattern,
)
from .values import is_request_line, is_slot, route_shape, route_variation, slot_pair

SIG_CACHE_LIMIT = 100_000
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class MinerConfig:
    """The method's few parameters. The defaults are the one configuration the app runs; the
    bench chooses them leave-one-out (tune on three systems, score the fourth)."""

    k_word: int = 4  # distinct values a word column needs before it is a variable
    k_mixed: int = 3  # … when a value holds a digit or a masked part (ids the masks did not know)
    collapse_run: int = 3  # this many masked tokens in a row become one `<*>` (lists)
    diff_share: int = 3  # templates differing in over len // diff_share columns never merge
    without_masks: frozenset[str] = frozenset()  # catalogue masks left out (bench ablation)
    repeat_check: bool = True  # digit-bearing values merge at k_mixed only while mostly fresh
    name_first: bool = True  # a name-like first token (`app.exe`, `/bin/x`) may be a variable
    absorb_special: bool = True  # a template that is a special case of a new one merges into it


DEFAULT_CONFIG = MinerConfig()


class ChangeType(Enum):
    CREATED = "created"  # a new template
    GENERALIZED = "generalized"  # an existing template gained a `<*>` (same id)
    NONE = "none"  # matched an existing template unchanged


_NONE = ChangeType.NONE


class Match:
    """A message's template. `params` (the text behind each `<*>`, in order:
    `fill(template, params)`) is worked out on first use: the ingest path never reads it."""

    __slots__ = ("_message", "_params", "_simple", "_spans", "_tokens", "_wild", "change",
                 "template", "template_id")  # fmt: skip

    def __init__(
        self,
        template_id: str,
        template: str,
        change: ChangeType,
        wild: tuple = (),
        simple: bool = True,
        message: str = "",
        spans: Spans = ((), ()),
        tokens: list[str] | None = None,
    ) -> None:
        # positional calls on the hot path: keyword matching costs as much as the rest
        self.template_id = template_id
        self.template = template
        self.change = change
        # the template's `<*>` positions as they were when the message was added
        self._wild = wild
        self._simple = simple
        self._tokens = tokens
        self._message = message
        self._spans = spans  # runs of tokens of `message` that the miner collapsed into one
        self._params: list[str] | None = None

    @property
    def params(self) -> list[str]:
        if self._params is None:
            raw = self._tokens
            if raw is None:
                raw = apply_spans(tokenize(self._message), self._spans)
            self._params = _params_of(self._wild, self._simple, raw)
        return self._params

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Match):
            return NotImplemented
        return (self.template_id, self.template, self.change, self.params) == (
            other.template_id,
            other.template,
            other.change,
            other.params,
        )

    __hash__ = None  # type: ignore[assignment]  # like the tuple it was: it holds a list

    def __repr__(self) -> str:
        return f"Match({self.template_id!r}, {self.template!r}, {self.change}, {self.params!r})"


def _params_of(wild: tuple, simple: bool, raw: list[str]) -> list[str]:
    if simple:
        return [raw[i] for i, _ in wild]
    params: list[str] = []
    for i, token in wild:
        if token is None:
            params.append(raw[i])
        elif (m := (pat := token_pattern(token)).match(raw[i])) is not None:
            params.extend(m.groups())
        else:  # cannot happen for tokens the template accepts; keep the count right
            params.extend([raw[i]] + [""] * (pat.groups - 1))
    return params


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    template_id: str
    template: str
    count: int


class _TemplateState(TypedDict):
    id: str
    tokens: list[str]
    count: int
    seq: int


class MinerState(TypedDict):
    """JSON-serialisable miner state (stored per project)."""

    version: int
    salt: str
    next_seq: int
    templates: list[_TemplateState]
    aliases: dict[str, str]  # absorbed id → survivor id
    evidence: list[list[Any]]  # [diff columns, context tokens (null in diff columns), ids]


class Miner:
    """Template miner. `add` learns, `match` only looks up; state round-trips through JSON."""

    def __init__(
        self,
        state: MinerState | None = None,
        *,
        salt: str | None = None,
        config: MinerConfig = DEFAULT_CONFIG,
    ) -> None:
        self._config = config
        self._signatures = Signatures(config.collapse_run, without=config.without_masks)
        self._sig: dict[tuple[str, ...], Template] = {}
        self._live = TemplateIndex(name_first=config.name_first)
        self._by_id: dict[str, Template] = {}  # every id ever issued, absorbed ones included
        self._evidence: dict[tuple[tuple[int, ...], tuple[str | None, ...]], set[str]] = {}
        self._salt = salt if salt is not None else secrets.token_hex(4)
        self._next_seq = 1
        if state is not None:
            self._load(state)

    # ------------------------------------------------------------------ public API

    def add(self, message: str) -> Match:
        sig, spans = self._signatures.of(message)
        tpl = self._sig.get(sig)
        if tpl is None:
            tpl, change = self._place(sig)
        else:
            if tpl.merged_into is not None:
                tpl = tpl.live()
            tpl.count += 1
            change = _NONE
        return Match(tpl.id, tpl.text, change, tpl.wild, tpl.simple, message, spans)

    def match(self, message: str) -> Match | None:
        """The template a message belongs to, without learning (None when none fits)."""
        sig, spans = self._signatures.of(message)
        tpl = self._sig.get(sig)
        tpl = tpl.live() if tpl is not None else self._live.find(sig)
        if tpl is None:
            return None
        return Match(tpl.id, tpl.text, _NONE, tpl.wild, tpl.simple, message, spans)

    def mine_batch(self, messages: Iterable[str]) -> list[Match]:
        """Learn from all messages, then report each against its final template.

        Lines seen before their template generalized get the survivor's id and template, as a
        batch parser would report them; `change` is what happened when the line was added.
        """
        seen: list[tuple[Template, str, Spans, ChangeType]] = []
        for message in messages:
            sig, spans = self._signatures.of(message)
            tpl, change = self._add(sig)
            seen.append((tpl, message, spans, change))
        out = []
        for tpl, message, spans, change in seen:
            live = tpl.live()
            out.append(Match(live.id, live.text, change, live.wild, live.simple, message, spans))
        return out

    def templates(self) -> list[TemplateInfo]:
        live = self._live.by_seq()
        return [TemplateInfo(t.id, t.text, t.count) for t in live]

    def resolve(self, template_id: str) -> str:
        """The live id for any id this miner issued (absorbed templates resolve to survivors)."""
        tpl = self._by_id.get(template_id)
        return tpl.live().id if tpl is not None else template_id

    def to_state(self) -> MinerState:
        live = self._live.by_seq()
        return {
            "version": STATE_VERSION,
            "salt": self._salt,
            "next_seq": self._next_seq,
            "templates": [
                {"id": t.id, "tokens": list(t.tokens), "count": t.count, "seq": t.seq} for t in live
            ],
            "aliases": {
                tid: t.live().id for tid, t in self._by_id.items() if t.merged_into is not None
            },
            "evidence": [
                [list(diff), list(context), sorted(ids)]
                for (diff, context), ids in self._evidence.items()
            ],
        }

    @classmethod
    def from_state(cls, state: MinerState) -> Miner:
        return cls(state)

    # ------------------------------------------------------------------ internals

    def _load(self, state: MinerState) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported miner state version {state.get('version')!r}")
        self._salt = state["salt"]
        self._next_seq = state["next_seq"]
        for t in state["templates"]:
            tpl = Template(t["id"], tuple(t["tokens"]), t["count"], t["seq"])
            self._by_id[tpl.id] = tpl
            self._live.add(tpl)
        for old, new in state["aliases"].items():
            ghost = Template(old, (), 0, 0)
            ghost.merged_into = self._by_id[new]
            self._by_id[old] = ghost
        for diff, context, ids in state["evidence"]:
            self._evidence[(tuple(diff), tuple(context))] = set(ids)

    def _add(self, sig: tuple[str, ...]) -> tuple[Template, ChangeType]:
        tpl = self._sig.get(sig)
        if tpl is not None:
            tpl = tpl.live()
            tpl.count += 1
            return tpl, ChangeType.NONE
        return self._place(sig)

    def _place(self, sig: tuple[str, ...]) -> tuple[Template, ChangeType]:
        """A signature not in the cache: the live template accepting it, or a new one."""
        tpl = self._live.find(sig)
        if tpl is not None:
            self._remember(sig, tpl)
            tpl.count += 1
            return tpl, ChangeType.NONE
        tpl = self._create(sig)
        survivor = self._learn(tpl)
        return survivor, ChangeType.CREATED if survivor is tpl else ChangeType.GENERALIZED

    def _remember(self, sig: tuple[str, ...], tpl: Template) -> None:
        if len(self._sig) >= SIG_CACHE_LIMIT:
            self._sig.clear()
        self._sig[sig] = tpl

    def _create(self, sig: tuple[str, ...]) -> Template:
        seq = self._next_seq
        self._next_seq += 1
        digest = hashlib.blake2b(
            f"{self._salt}\x00{seq}\x00{' '.join(sig)}".encode(), digest_size=8
        ).hexdigest()
        tpl = Template(digest, sig, 1, seq)
        self._by_id[tpl.id] = tpl
        self._live.add(tpl)
        self._remember(sig, tpl)
        return tpl

    def _learn(self, new: Template) -> Template:
        """Register evidence between `new` and its same-length neighbours; merge when enough."""
        length = len(new.tokens)
        if length < 2:
            return new
        # most neighbours are other events: more columns than evidence_key's limit hold
        # different literals on both sides (and such an `other` is no special case of `new`,
        # which would have a wildcard wherever they differ): told apart in C
        limit = max(1, length // self._config.diff_share)
        bits, literals = new.wild_bits, new.literals
        for other in self._live.neighbours(new):
            if other is new or other.merged_into is not None:
                continue
            # columns with a literal on both sides, less those where the literals are equal
            both = length - (bits | other.wild_bits).bit_count()
            if both - sum(map(eq, literals, other.literals)) > limit:
                continue
            key = evidence_key(
                other.tokens,
                new.tokens,
                self._config.diff_share,
                self._config.name_first,
                len(other.wild) + len(new.wild),
            )
            if key is None:
                if self._config.absorb_special and new.accepts(other.tokens):
                    # `other` is a special case of `new` (a literal where `new` has a variable):
                    # one event, whichever line came first
                    return self._merge([other, new])
                continue
            ids = self._evidence.setdefault(key, set())
            ids.update((other.id, new.id))
            if len(ids) >= self._config.k_mixed or (
                len(ids) == 2 and all(slot_pair(other.tokens[c], new.tokens[c]) for c in key[0])
            ):
                survivor = self._maybe_merge(key)
                if survivor is not None:
                    return survivor
        return new

    def _maybe_merge(self, key: tuple[tuple[int, ...], tuple[str | None, ...]]) -> Template | None:
        diff, _context = key
        ids = self._evidence[key]
        members = {self._by_id[i].live() for i in ids}
        # an access log's method and route shape are the event: request lines only merge
        # with request lines of the same method and segment count
        routes = [c for c in diff if any(is_request_line(m.tokens[c]) for m in members)]
        parts: dict[tuple, set[Template]] = {}
        for m in members:
            parts.setdefault(tuple(route_shape(m.tokens[c]) for c in routes), set()).add(m)
        for part in parts.values():
            if len(part) > 1 and self._varies(part, diff):
                return self._merge(sorted(part, key=lambda t: t.seq))
        return None

    def _varies(self, members: set[Template], diff: tuple[int, ...]) -> bool:
        """Do `members` differ in the `diff` columns the way parameters do?"""
        k_word, k_mixed = self._config.k_word, self._config.k_mixed
        # the evidence only counts while members still differ in exactly these columns
        lines = sum(m.count for m in members)
        for col in diff:
            values = {m.tokens[col] for m in members}
            if is_request_line(next(iter(values))):
                # a path segment is a variable where it takes as many values as a word needs
                if min(route_variation(values), default=0) < k_word:
                    return False
                continue
            if is_slot(values):
                continue  # a key's value, a unit: two values make it a variable
            need = k_word
            # ids the masks did not know: two values suffice while they are fresh (no value
            # shared by two members, most lines a new value); a few values that repeat
            # (`HTTPS`/`SOCKS5` across programs) are part of the event
            fresh = len(values) == len(members) and len(values) * 2 >= lines
            if any(has_digit(v) or WILDCARD in v for v in values) and (
                not self._config.repeat_check or fresh
            ):
                need = k_mixed
            if len(values) < need:
                return False
        return True

    def _merge(self, members: list[Template]) -> Template:
        survivor = members[0]
        tokens = list(survivor.tokens)
        for m in members[1:]:
            tokens = [merge_token(a, b) for a, b in zip(tokens, m.tokens, strict=True)]
        for m in members[1:]:
            self._absorb(survivor, m)
        self._live.retoken(survivor, tuple(tokens))
        # anything the generalized template now accepts belongs to it as well
        for other in list(self._live.of_length(len(tokens))):
            if other is not survivor and survivor.accepts(other.tokens):
                self._absorb(survivor, other)
        self._sig.clear()  # cached lookups may now have a more general home
        self._evidence = {
            k: v
            for k, v in self._evidence.items()
            if len({self._by_id[i].live().id for i in v}) > 1
        }
        # the survivor's new tokens may complete other evidence (cascade)
        return self._learn(survivor)

    def _absorb(self, survivor: Template, other: Template) -> None:
        survivor.count += other.count
        other.count = 0
        other.merged_into = survivor
        self._live.remove(other)
