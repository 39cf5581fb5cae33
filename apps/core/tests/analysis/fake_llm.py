"""A fake OpenAI-compatible server on 127.0.0.1 (real HTTP, ephemeral port) for provider tests.

Responses are scripted per request (a queue; the last default repeats). Every request body is
recorded raw, so tests can assert what did (and did not) leave the process.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str, *, model: str = "fake-model", prompt_tokens: int = 111) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 42, "total_tokens": 153},
    }


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering at all
    drip_chunks: int = 0  # send the body in this many pieces …
    drip_delay: float = 0.0  # … this far apart


def ok(content: str, **kw: Any) -> Reply:
    return Reply(200, completion(content, **kw))


def status(code: int, retry_after_ms: int = 10) -> Reply:
    return Reply(
        code,
        {"error": {"message": f"fake error {code}", "type": "server_error", "code": None}},
        {"retry-after-ms": str(retry_after_ms)},
    )


class FakeLLM:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[
            tuple[str, str, bytes, dict[str, str]]
        ] = []  # method, path, body, headers
        self.script: deque[Reply] = deque()
        self.default: Reply = ok("{}")
        self.models = ["fake-model", "other-model"]
        self.models_reply: Reply | None = None  # answer GET /v1/models with this instead
        self.required_key: str | None = None
        self.release = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _record(self) -> bytes:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append(
                        (
                            self.command,
                            self.path,
                            body,
                            {k.lower(): v for k, v in self.headers.items()},
                        )
                    )
                return body

            def _send(self, reply: Reply) -> None:
                if reply.hang:
                    fake.release.wait(reply.hang)
                    if fake.release.is_set():
                        return
                payload = reply.body
                if isinstance(payload, dict | list):
                    payload = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    payload = payload.encode()
                payload = payload or b""
                try:
                    self.send_response(reply.status)
                    if not any(k.lower() == "content-type" for k in reply.headers):
                        self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if reply.drip_chunks:
                        step = max(1, len(payload) // reply.drip_chunks + 1)
                        for i in range(0, len(payload), step):
                            self.wfile.write(payload[i : i + step])
                            self.wfile.flush()
                            if fake.release.wait(reply.drip_delay):
                                return
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _authorised(self) -> bool:
                if fake.required_key is None:
                    return True
                if self.headers.get("authorization") == f"Bearer {fake.required_key}":
                    return True
                self._send(Reply(401, {"error": {"message": "bad key", "type": "auth"}}))
                return False

            def do_POST(self) -> None:
                self._record()
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(Reply(404, {"error": {"message": "not found"}}))
                    return
                with fake._lock:
                    reply = fake.script.popleft() if fake.script else fake.default
                self._send(reply)

            def do_GET(self) -> None:
                self._record()
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/v1/models" and fake.models_reply is not None:
                    self._send(fake.models_reply)
                elif self.path.rstrip("/") == "/v1/models":
                    data = [
                        {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                        for m in fake.models
                    ]
                    self._send(Reply(200, {"object": "list", "data": data}))
                else:
                    self._send(Reply(404, {"error": {"message": "not found"}}))

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.server.server_address[0]}:{self.port}/v1"

    def start(self) -> FakeLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def chat_bodies(self) -> list[bytes]:
        return [b for m, p, b, _ in self.requests if m == "POST"]

    def chat_messages(self) -> list[list[dict[str, str]]]:
        return [json.loads(b)["messages"] for b in self.chat_bodies()]

    def wait_idle(self, seconds: float = 0.05) -> None:
        time.sleep(seconds)
