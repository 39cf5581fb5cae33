"""Masking a line's tokens at the cost of a dict lookup each: the caches in front of the
catalogue (`masks.py`). The caches are an optimisation, never a different answer (the
property tests compare them with `mask_token`)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

from .masks import (
    ALL_MASKS,
    WILDCARD,
    catalogue_for,
    compile_masks,
    digit_shape,
    mask_token,
    replacement,
)

_DIGITS = frozenset("0123456789")
_WORD_PUNCT = "()[]{},;!?<>=*#&|"
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@+%~,\\/")


def _whole_value(token: str) -> bool:
    """Shapes the catalogue masks whole, recognised without the regex: a bare hex string of 6+
    characters with a digit and a letter (`hex`), an absolute path of plain characters
    (`path`). Equal to `mask_token(token) == WILDCARD` for these (the property tests check)."""
    if token[0] == "/":
        return _PATH_CHARS.issuperset(token)
    return (
        len(token) >= 6
        and _HEX_CHARS.issuperset(token)
        and not _DIGITS.isdisjoint(token)
        and not token.isdigit()
    )


class TokenMasker:
    """Masks the tokens of a line through bounded caches, so most tokens cost a dict lookup.

    `_cache`: a token's digit shape → its masked token (for a token without digits its shape
    is itself: words repeat); `""` when digits survive masking (`ssh2`, `disk3=<*>`): the
    token is a name, rebuilt from its own text by the shape's recipe (`_recipes`), or masked
    as itself when the masks rewrote the shape's digits (a route's `v2`); `_names` remembers
    names by their text (they repeat).
    A masked token for which `watch` holds is kept in `watched`, so a caller can test a whole
    line against them with one set operation.
    """

    __slots__ = (
        "_cache",
        "_full",
        "_limit",
        "_names",
        "_recipes",
        "_sub",
        "_watch",
        "_watch_wild",
        "watched",
    )

    def __init__(
        self,
        limit: int = 100_000,
        *,
        without: frozenset[str] = frozenset(),
        watch: Callable[[str], bool] | None = None,
    ) -> None:
        self._cache: dict[str, str] = {}
        self._recipes: dict[str, _Recipe | None] = {}
        self._names: dict[str, str] = {}  # a name's text → its masked form
        self._limit = limit
        self._sub = mask_token
        self._full = not without  # the whole catalogue: the shortcuts below know it
        self._watch = watch
        self._watch_wild = watch is not None and watch(WILDCARD)
        self.watched: set[str] = set()
        if without:  # a smaller catalogue (the bench measures what each mask is worth)
            regex = compile_masks([m for m in ALL_MASKS if m.name not in without])
            self._sub = lambda token: regex.sub(replacement, token)

    def mask_line(self, tokens: list[str], shapes: list[str]) -> tuple[list[str], list[int]]:
        """The masked tokens of a line, given their digit shapes (`tokenize(digit_shape(
        line))`), and the indices of those whose digits survive masking (names)."""
        if len(self.watched) >= self._limit:  # start over, between lines: all seen anew
            self._cache.clear()
            self._recipes.clear()
            self._names.clear()
            self.watched.clear()
        cache = self._cache
        masked = list(map(cache.get, shapes, repeat("")))  # "": not known, or a name
        if "" not in masked:  # every shape known and no name: the common case, all in C
            return masked, []
        named = []
        names = self._names
        index = masked.index
        i = -1
        for _ in range(masked.count("")):
            i = index("", i + 1)
            token = tokens[i]
            m = names.get(token)  # a name seen before, by its own text
            if m is None:
                shape = shapes[i]
                m = cache.get(shape)
                if m is None:
                    if self._full and _whole_value(token):  # a unique value: not cached
                        if self._watch_wild:
                            self.watched.add(WILDCARD)
                        masked[i] = WILDCARD
                        continue
                    m = self._miss(token, shape)
                if m == "":
                    m = self._name(token, shape)
                    named.append(i)
            else:
                named.append(i)
            masked[i] = m
        return masked, named

    def mask_all(self, tokens: list[str]) -> list[str]:
        return self.mask_line(tokens, [digit_shape(t) for t in tokens])[0]

    def __call__(self, token: str) -> str:
        return self.mask_all([token])[0]

    def _miss(self, token: str, shape: str) -> str:
        """The cache entry for `token` of digit shape `shape` (filled now): its masked token,
        or `""` for a name. Whole values (`_whole_value`: hashes, paths) are the caller's:
        unique, they would only fill the caches."""
        if _DIGITS.isdisjoint(token):
            # no digits: a word-like token, worth remembering. Letters inside brackets or
            # punctuation are never a variable (every mask needs a digit or one of `:/.@\'"`),
            # which spares the regex the words a log is mostly made of.
            masked = token if token.strip(_WORD_PUNCT).isalpha() else self._sub(token)
        else:
            basis = digit_shape(token) if shape == token else shape
            recipe = None
            if self._full:
                masked, recipe = _scan(basis)
            else:
                masked = self._sub(basis)
            if not _DIGITS.isdisjoint(masked):
                masked = ""  # digits survive masking: a name, rebuilt from the token
                self._store(self._recipes, shape, recipe)
        # `_store(self._cache, shape, masked)`, inline: a log's new words all come this way
        cache = self._cache
        if len(cache) >= self._limit:
            cache.clear()
        cache[shape] = masked
        if masked and self._watch is not None and self._watch(masked):
            self.watched.add(masked)
        return masked

    def _name(self, token: str, shape: str) -> str:
        """The masked form of a token whose digits survive masking (remembered by its text:
        names repeat)."""
        recipe = self._recipes.get(shape)
        if recipe is not None:  # the masks match the same spans in a token and its shape
            masked = (
                "".join([p if isinstance(p, str) else token[p[0] : p[1]] for p in recipe])
                if recipe
                else token  # they match nothing: the name as it stands
            )
        else:  # the masks rewrote digits of the shape (a route's `v2`): the token itself
            masked = self._sub(token)
            self._note(masked)
        names = self._names
        if len(names) >= self._limit:
            names.clear()
        names[token] = masked
        return masked

    def _store(self, cache: dict[str, Any], key: str, value: Any) -> None:
        if len(cache) >= self._limit:
            cache.clear()
        cache[key] = value
        if type(value) is str and value:
            self._note(value)

    def _note(self, masked: str) -> None:
        if self._watch is not None and masked not in self.watched and self._watch(masked):
            self.watched.add(masked)


# How a name is rebuilt from its own text: literal slices of it and the masks' replacements.
_Recipe = tuple[str | tuple[int, int], ...]


def _scan(shape: str) -> tuple[str, _Recipe | None]:
    """`mask_token(shape)` and its recipe, in one pass: the parts of the masked text, slices
    of `shape` kept and the masks' replacements; the recipe is None when a replacement holds
    digits of the shape (a route's `v2`), which would not be the token's."""
    regex = catalogue_for(shape)
    if regex is None:
        return shape, ()  # no mask can match: the token is its own masked form
    parts: list[str | tuple[int, int]] = []
    rebuildable = True
    last = 0
    for m in regex.finditer(shape):
        start = m.start()
        if last < start:
            parts.append((last, start))
        text = replacement(m)
        if rebuildable and not _DIGITS.isdisjoint(text):
            rebuildable = False
        parts.append(text)
        last = m.end()
    if last == 0:
        return shape, ()  # nothing matched
    if last < len(shape):
        parts.append((last, len(shape)))
    masked = "".join([p if isinstance(p, str) else shape[p[0] : p[1]] for p in parts])
    return masked, tuple(parts) if rebuildable else None
