import gzip
import zlib
from datetime import UTC, datetime

import cramjam
import pytest

from apps.streams.protocols import bodies
from apps.streams.protocols.record import (
    Limits,
    Malformed,
    TooDeep,
    TooLarge,
    Unsupported,
    bounded_message,
    clean_value,
    make_record,
)

SMALL = Limits(max_body_bytes=1024 * 1024, max_json_depth=8)
TEXT = b'{"message": "hello"}\n' * 100


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("", TEXT),
        ("identity", TEXT),
        ("gzip", gzip.compress(TEXT)),
        ("GZIP", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("snappy", bytes(cramjam.snappy.compress_raw(TEXT))),
        # two encodings, applied in the order listed
        ("deflate, gzip", gzip.compress(zlib.compress(TEXT))),
    ],
)
def test_content_encodings(encoding, body):
    assert bodies.decode_content_encoding(body, encoding, SMALL) == TEXT


def test_gzip_members_back_to_back_are_one_body():
    body = gzip.compress(b"a\n") + gzip.compress(b"b\n")
    assert bodies.decode_content_encoding(body, "gzip", SMALL) == b"a\nb\n"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        # 64 MiB of zeros compresses to ~64 KiB: stopped after 1 MiB of output
        ("gzip", gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=1)),
        ("deflate", zlib.compress(b"\0" * (64 * 1024 * 1024), 1)),
        ("", b"x" * (SMALL.max_body_bytes + 1)),
    ],
)
def test_decompression_bombs_are_too_large(encoding, body):
    with pytest.raises(TooLarge):
        bodies.decode_content_encoding(body, encoding, SMALL)


def test_snappy_bomb_is_refused_from_its_length_header():
    # a snappy block claiming 4 GiB: refused before anything is allocated
    header = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
    with pytest.raises(TooLarge):
        bodies.decode_content_encoding(header + b"\x00" * 10, "snappy", SMALL)


@pytest.mark.parametrize(
    ("encoding", "body", "error"),
    [
        ("gzip", b"not gzip at all", Malformed),
        ("gzip", gzip.compress(TEXT)[:-20], Malformed),  # truncated
        ("deflate", b"\x00\x01garbage", Malformed),
        ("snappy", b"\x80", Malformed),
        ("snappy", b"\x10garbage-garbage", Malformed),
        ("br", b"whatever", Unsupported),
        ("zstd", b"whatever", Unsupported),
    ],
)
def test_broken_or_unknown_encodings(encoding, body, error):
    with pytest.raises(error):
        bodies.decode_content_encoding(body, encoding, SMALL)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"[" * 9 + b"]" * 9, TooDeep),
        (b'{"a":' * 9 + b"1" + b"}" * 9, TooDeep),
        (b"[" * 100_000 + b"]" * 100_000, TooDeep),  # past Python's recursion limit
        (b'{"a": 1', Malformed),
        (b"\xff\xfe{}", Malformed),
        (b"", Malformed),
    ],
)
def test_json_limits(data, error):
    with pytest.raises(error):
        bodies.loads(data, SMALL)


def test_json_at_the_depth_limit_is_fine():
    assert bodies.loads(b"[" * 8 + b"]" * 8, SMALL) == [[[[[[[[]]]]]]]]


def test_concatenated_json():
    text = '{"event":"a"}{"event":"b"}\n  {"event": "c"}'
    assert [v["event"] for v in bodies.concatenated_json(text, SMALL)] == ["a", "b", "c"]
    with pytest.raises(Malformed, match="event 2"):
        list(bodies.concatenated_json('{"event":"a"}{"event":', SMALL))


def test_records_are_storable():
    record = make_record(
        time=None,
        observed_time=datetime(2024, 1, 1, tzinfo=UTC),
        service="api\x00",
        level="ERROR",
        message="nul\x00 and a lone surrogate \ud800",
        attributes={"k\x00": ["v\x00", float("nan"), {"x": float("inf")}]},
        trace_id="4BF92F3577B34DA6A3CE929D0E0E4736",
        span_id="00000000000000000",  # wrong width
        limits=SMALL,
    )
    assert record.service == "api"
    assert record.message == "nul and a lone surrogate ?"
    assert record.attributes == {"k": ["v", "nan", {"x": "inf"}]}
    assert record.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record.span_id == ""


def test_long_messages_are_cut_on_a_character_boundary():
    limits = Limits(max_line_bytes=10)
    assert bounded_message("é" * 6, limits) == ("é" * 5, True)
    assert bounded_message("short", limits) == ("short", False)


def test_clean_value_bounds_depth():
    value: list = []
    for _ in range(20):
        value = [value]
    with pytest.raises(TooDeep):
        clean_value(value, SMALL)
