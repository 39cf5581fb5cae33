"""Request bodies: bounded decompression and bounded JSON.

Every decompressor stops as soon as the output passes `Limits.max_body_bytes`, so a
decompression bomb costs at most that much memory: gzip/deflate are inflated in steps with a
`max_length`, snappy's block format states the decompressed length up front and is checked
before anything is allocated.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import cramjam

from .record import Limits, Malformed, TooDeep, TooLarge, Unsupported

_STEP = 256 * 1024


def too_large(limits: Limits) -> TooLarge:
    return TooLarge(
        f"the body is larger than {limits.max_body_bytes // (1024 * 1024)} MiB after decompression"
    )


def decode_content_encoding(body: bytes, encoding: str, limits: Limits) -> bytes:
    """Undo `Content-Encoding` (gzip, deflate, snappy, identity), bounded."""
    encodings = [e.strip().lower() for e in (encoding or "").split(",") if e.strip()]
    # Encodings are listed in the order they were applied: undo the last one first.
    for name in reversed(encodings):
        if name in ("identity", ""):
            continue
        if name in ("gzip", "x-gzip"):
            body = inflate(body, limits, wbits=16 + zlib.MAX_WBITS)
        elif name == "deflate":
            body = inflate(body, limits, wbits=zlib.MAX_WBITS)  # zlib-wrapped, as HTTP says
        elif name == "snappy":
            body = unsnappy(body, limits)
        else:
            raise Unsupported(f"Content-Encoding {name!r} is not supported (gzip, deflate, snappy)")
    if len(body) > limits.max_body_bytes:
        raise too_large(limits)
    return body


def inflate(body: bytes, limits: Limits, *, wbits: int) -> bytes:
    """gzip (also several members back to back) or zlib data, at most `max_body_bytes` out."""
    out = bytearray()
    data = body
    while data:
        inflater = zlib.decompressobj(wbits)
        try:
            while data:
                room = limits.max_body_bytes + 1 - len(out)
                out += inflater.decompress(data, min(_STEP, room))
                if len(out) > limits.max_body_bytes:
                    raise too_large(limits)
                data = inflater.unconsumed_tail
                if inflater.eof:
                    break
            if not inflater.eof:
                raise Malformed("the compressed body is truncated")
        except zlib.error as exc:
            raise Malformed(f"the compressed body is corrupt ({exc})") from None
        data = inflater.unused_data
        if wbits == zlib.MAX_WBITS:
            break  # one zlib stream; trailing bytes are ignored, as browsers do
    return bytes(out)


def unsnappy(body: bytes, limits: Limits) -> bytes:
    """Snappy block format (what Loki and Prometheus remote-write send)."""
    length = _uvarint(body)
    if length is None:
        raise Malformed("the snappy body is corrupt (no length header)")
    if length > limits.max_body_bytes:
        raise too_large(limits)
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise Malformed(f"the snappy body is corrupt ({exc})") from None


def _uvarint(data: bytes) -> int | None:
    value = shift = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value if i < 5 else None  # snappy lengths are 32-bit
        shift += 7
    return None


# --- JSON -----------------------------------------------------------------------------------------


def loads(data: bytes | str, limits: Limits) -> object:
    """Parse JSON: malformed → `Malformed`, deeper than the limit → `TooDeep`."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise TooDeep(f"the JSON is nested deeper than {limits.max_json_depth} levels") from None
    except UnicodeDecodeError:
        raise Malformed("the JSON is not valid UTF-8") from None
    except ValueError as exc:
        raise Malformed(f"invalid JSON: {exc}") from None
    if _may_be_deep(data, limits):
        check_depth(value, limits)
    return value


def _may_be_deep(data: bytes | str, limits: Limits) -> bool:
    if isinstance(data, str):
        return data.count("[") + data.count("{") > limits.max_json_depth
    return data.count(b"[") + data.count(b"{") > limits.max_json_depth


def check_depth(value: object, limits: Limits) -> None:
    """Walk a parsed value without recursion; raise `TooDeep` past the limit."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limits.max_json_depth:
            raise TooDeep(f"the JSON is nested deeper than {limits.max_json_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def iter_lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for each non-blank line; CRLF and LF both end a line."""
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if line.strip():
            yield number, line


def concatenated_json(text: str, limits: Limits) -> Iterator[object]:
    """JSON values back to back, separated by whitespace or nothing (Splunk HEC bodies)."""
    decoder = json.JSONDecoder()
    pos, end, index = 0, len(text), 0
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return
        index += 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            raise TooDeep(
                f"event {index} is nested deeper than {limits.max_json_depth} levels"
            ) from None
        except ValueError as exc:
            raise Malformed(f"event {index} is not valid JSON: {exc}") from None
        check_depth(value, limits)
        yield value
