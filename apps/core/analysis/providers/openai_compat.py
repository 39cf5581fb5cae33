"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp) via the official SDK.

- Retries: the SDK's own, bounded by ``max_retries``, exponential backoff with jitter (honouring
  ``Retry-After``), on 408/409/429/5xx, connection errors and timeouts.
- Timeouts: ``timeout`` per attempt (connect, read gaps), plus a total deadline of ``timeout``
  on reading the body, so a server that drips bytes cannot hold a worker; the body is bounded.
- JSON mode (``response_format={"type": "json_object"}``); no tools, no streaming to the model.
- The exact request body is hashed (sha256) for the analysis history; the key is never logged,
  echoed or put in an error message.
- Egress: the SDK's HTTP client is `apps.core.analysis.egress.EgressClient`: internal addresses are
  refused unless ``egress_allow`` allows them (checked at connect time), redirects are refused.
- Errors are generic classes (`FAILURE`): never a server's body or status text, which for an
  internal service would be a window into it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import openai

from apps.core.analysis.egress import EgressRefused, Resolver, egress_client
from apps.core.evidence.prompt import render_prompt
from apps.core.evidence.types import EvidencePack

from .base import AnalysisProvider, ConnectionCheck, ProviderError, ProviderResult, Repair, Usage

MAX_RESPONSE_BYTES = 2_000_000
MAX_PREVIOUS_REPLY_CHARS = 8000
REPAIR_INSTRUCTION = (
    "Your previous reply could not be used: {error} Reply again with only the corrected JSON "
    "object, in the same shape and under the same rules. Do not add any other text."
)


def _sha256(content: bytes | None) -> str:
    return hashlib.sha256(content).hexdigest() if content is not None else ""


def _request_hash(exc: Exception) -> str:
    request = getattr(exc, "request", None)
    try:
        return _sha256(request.content) if request is not None else ""
    except Exception:  # a streamed request body cannot be read back
        return ""


log = logging.getLogger(__name__)

# The only words a failure is described with (ProviderError.kind → text): what went wrong, never
# what the other side said.
FAILURE = {
    "egress": "refused by egress policy",
    "redirect": "refused: the endpoint answered with a redirect",
    "connection": "could not connect",
    "timeout": "timed out",
    "auth": "authentication failed",
    "rate_limited": "rate limited",
    "server_error": "the endpoint reported a server error",
    "bad_request": "not an OpenAI-compatible endpoint",
    "invalid_response": "not an OpenAI-compatible endpoint",
}


def _egress_error(exc: EgressRefused, latency_ms: int) -> ProviderError:
    kind = "redirect" if "redirect" in exc.reason else "egress"
    return ProviderError(kind, FAILURE[kind], latency_ms=latency_ms)


class OpenAICompatibleProvider(AnalysisProvider):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout: float = 60.0,
        max_tokens: int = 2000,
        max_retries: int = 2,
        temperature: float = 0.0,
        connect_timeout: float = 5.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        egress_allow: Iterable[str] = (),
        internal_only: bool = False,
        resolver: Resolver | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout = float(timeout)
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_response_bytes = max_response_bytes
        # Local servers (Ollama, llama.cpp) accept any key; the SDK insists on a non-empty one.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=openai.Timeout(self.timeout, connect=min(connect_timeout, self.timeout)),
            max_retries=max_retries,
            http_client=egress_client(egress_allow, internal_only=internal_only, resolver=resolver),
        )

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatibleProvider(base_url={self.base_url!r}, model={self.model!r})"

    def messages(self, pack: EvidencePack, repair: Repair | None = None) -> list[dict[str, str]]:
        messages = render_prompt(pack)
        if repair is not None:
            messages += [
                {"role": "assistant", "content": repair.previous_raw[:MAX_PREVIOUS_REPLY_CHARS]},
                {"role": "user", "content": REPAIR_INSTRUCTION.format(error=repair.error)},
            ]
        return messages

    def request_body(self, pack: EvidencePack, repair: Repair | None = None) -> dict[str, Any]:
        """The chat-completions parameters (the preview shows exactly this)."""
        return {
            "model": self.model,
            "messages": self.messages(pack, repair),
            "response_format": {"type": "json_object"},
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def analyze(self, pack: EvidencePack, *, repair: Repair | None = None) -> ProviderResult:
        body = self.request_body(pack, repair)
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return int((time.perf_counter() - started) * 1000)

        payload_hash = ""
        try:
            with self._client.chat.completions.with_streaming_response.create(**body) as response:
                payload_hash = _sha256(response.http_request.content)
                deadline = time.monotonic() + self.timeout
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise ProviderError(
                            "invalid_response",
                            f"response body larger than {self.max_response_bytes} bytes",
                            latency_ms=elapsed_ms(),
                            payload_sha256=payload_hash,
                        )
                    if time.monotonic() > deadline:
                        raise ProviderError(
                            "timeout",
                            f"response body not complete after {self.timeout:g} s",
                            retryable=True,
                            latency_ms=elapsed_ms(),
                            payload_sha256=payload_hash,
                        )
                raw_body = b"".join(chunks)
        except ProviderError:
            raise
        except EgressRefused as exc:
            raise _egress_error(exc, elapsed_ms()) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc, elapsed_ms()) from None
        except openai.APITimeoutError as exc:
            raise ProviderError(
                "timeout",
                f"{FAILURE['timeout']} (no response within {self.timeout:g} s)",
                retryable=True,
                latency_ms=elapsed_ms(),
                payload_sha256=_request_hash(exc),
            ) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(
                "connection",
                FAILURE["connection"],
                retryable=True,
                latency_ms=elapsed_ms(),
                payload_sha256=_request_hash(exc),
            ) from None
        except Exception as exc:  # httpx read timeouts/errors while reading the body
            kind = "timeout" if "timeout" in type(exc).__name__.lower() else "connection"
            raise ProviderError(
                kind,
                f"reading the response failed ({type(exc).__name__})",
                retryable=True,
                latency_ms=elapsed_ms(),
                payload_sha256=payload_hash,
            ) from None
        return self._result(raw_body, elapsed_ms(), payload_hash)

    def _status_error(self, exc: openai.APIStatusError, latency_ms: int) -> ProviderError:
        status = exc.status_code
        if status == 429:
            kind = "rate_limited"
        elif status >= 500:
            kind = "server_error"
        elif status in (401, 403):
            kind = "auth"
        else:
            kind = "bad_request"
        return ProviderError(
            kind,
            f"HTTP {status} ({FAILURE[kind]})",  # never the body: it may be an internal service's
            retryable=status == 429 or status >= 500,
            status_code=status,
            latency_ms=latency_ms,
            payload_sha256=_request_hash(exc),
        )

    def _result(self, raw_body: bytes, latency_ms: int, payload_hash: str) -> ProviderResult:
        def invalid(why: str) -> ProviderError:
            return ProviderError(
                "invalid_response", why, latency_ms=latency_ms, payload_sha256=payload_hash
            )

        try:
            data = json.loads(raw_body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise invalid(f"{FAILURE['invalid_response']} (the reply is not JSON)") from None
        try:
            content = data["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise invalid(
                f"{FAILURE['invalid_response']} (the reply has no choices[0].message)"
            ) from None
        usage = data.get("usage") or {}
        return ProviderResult(
            raw_text=str(content),
            parsed=None,
            usage=Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            latency_ms=latency_ms,
            model=str(data.get("model") or self.model),
            payload_sha256=payload_hash,
        )

    def test_connection(self) -> ConnectionCheck:
        """List models once (no retries, short timeout). The message is "ok" or a `FAILURE`
        class: whatever the other side answered, nothing of it is echoed."""
        started = time.perf_counter()

        def done(ok: bool, message: str, models: tuple[str, ...] = ()) -> ConnectionCheck:
            latency = int((time.perf_counter() - started) * 1000) if ok else 0
            return ConnectionCheck(ok, message, latency, models)

        client = self._client.with_options(max_retries=0, timeout=min(self.timeout, 10.0))
        try:
            ids = tuple(sorted({_model_id(m) for m in client.models.list()}))
        except EgressRefused as exc:
            return done(False, _egress_error(exc, 0).message)
        except openai.APIStatusError as exc:
            return done(False, FAILURE[self._status_error(exc, 0).kind])
        except openai.APITimeoutError:
            return done(False, FAILURE["timeout"])
        except openai.APIConnectionError:
            return done(False, FAILURE["connection"])
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, KeyError):
            return done(False, FAILURE["invalid_response"])  # 200 with HTML, wrong JSON shape
        except Exception:  # never a 500 for a button press; the type goes to the app's log
            log.warning("test connection failed unexpectedly", exc_info=True)
            return done(False, FAILURE["connection"])
        if ids and self.model not in ids:
            return done(True, "ok; the model is not in the endpoint's model list", ids[:200])
        return done(True, "ok", ids[:200])


def _model_id(model: Any) -> str:
    value = model.id
    if not isinstance(value, str) or not value:
        raise TypeError("a model without an id")
    return value[:200]
