"""Template helpers of the error group pages. They return data, never markup: the templates
render it with autoescaping, so log text is always escaped."""

from __future__ import annotations

from django import template

from apps.core.grouping.masks import WILDCARD

register = template.Library()


@register.filter
def template_parts(text: str) -> list[dict]:
    """A template split into constant text and its `<*>` variables (numbered from 0)."""
    pieces = (text or "").split(WILDCARD)
    out: list[dict] = []
    for index, piece in enumerate(pieces):
        if piece:
            out.append({"text": piece, "var": False})
        if index < len(pieces) - 1:
            out.append({"text": WILDCARD, "var": True, "index": index})
    return out


@register.filter
def percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else "<1%"
