"""The provider boundary: one small interface, like Drain3's persistence handler.

A provider turns an evidence pack into an answer. It never validates citations (that is
`citations.py`, the same for every provider) and never sees anything but the pack.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from apps.core.analysis.schema import AnalysisAnswer
from apps.core.evidence.types import EvidencePack


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderResult:
    raw_text: str  # exactly what the model returned (the local provider: its JSON)
    parsed: AnalysisAnswer | None  # set when the provider produced a typed answer itself
    usage: Usage
    latency_ms: int
    model: str
    payload_sha256: str = ""  # sha256 of the exact request body sent ("" when nothing was sent)


@dataclass(frozen=True, slots=True)
class Repair:
    """Ask again after an unusable reply: the reply and a safe description of what was wrong."""

    previous_raw: str
    error: str


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    message: str  # safe to show: never contains the API key
    latency_ms: int = 0
    models: tuple[str, ...] = ()


class ProviderError(Exception):
    """A call that produced no reply. ``kind`` is stable (timeout, rate_limited, server_error,
    connection, auth, bad_request, invalid_response); ``message`` is safe to store and show."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool = False,
        status_code: int | None = None,
        latency_ms: int = 0,
        payload_sha256: str = "",
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.latency_ms = latency_ms
        self.payload_sha256 = payload_sha256


class AnalysisProvider(ABC):
    name: ClassVar[str]
    model: str = ""

    @abstractmethod
    def analyze(self, pack: EvidencePack, *, repair: Repair | None = None) -> ProviderResult:
        """Answer for ``pack``; with ``repair``, try again after an unusable reply."""

    def test_connection(self) -> ConnectionCheck:
        return ConnectionCheck(True, "no connection needed")
