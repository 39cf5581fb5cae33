"""Token estimates without a tokenizer download: ≈ 4 characters per token, plus message framing.

Good to ±20 % for English log text on GPT-class tokenizers, and deterministic, which is what a
budget and a "what will be sent" preview need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_chars_as_tokens(chars: int, messages: int = 0) -> int:
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * messages


def estimate_messages(messages: Iterable[Mapping[str, str]]) -> int:
    msgs = list(messages)
    return estimate_chars_as_tokens(sum(len(m["content"]) for m in msgs), len(msgs))
