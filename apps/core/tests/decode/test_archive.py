"""Uploads → members: every hostile archive is accepted with warnings or refused with a clear
`ArchiveRejected`, never another exception. Fixtures are built in tmp dirs by the tests."""

from __future__ import annotations

import gzip
import io
import os
import random
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.logparse.archive import (
    ArchiveRejected,
    ArchiveReport,
    clean_name,
    open_members,
)
from apps.core.logparse.decode import DecodeReport, iter_lines
from apps.core.logparse.limits import DEFAULT_LIMITS, Limits, MiB
from conftest import examples

LOG = b"2024-05-01T10:00:00Z INFO api started\n2024-05-01T10:00:01Z ERROR db down\n"


def expand(
    path: Path, name: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[dict[str, list[str]], ArchiveReport, dict[str, DecodeReport]]:
    """Consume the upload the way the ingestion service does: every member, every line."""
    report = ArchiveReport()
    members: dict[str, list[str]] = {}
    decoded: dict[str, DecodeReport] = {}
    for member in open_members(path, display_name=name or path.name, limits=limits, report=report):
        decoded[member.name] = DecodeReport()
        lines = iter_lines(member.stream, limits=limits, report=decoded[member.name])
        members[member.name] = [line.text for line in lines]
    return members, report, decoded


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def make_zip(path: Path, members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MiB)
    return b"".join(packer.compress(block) for _ in range(size // MiB)) + packer.flush()


# --- ordinary uploads ---------------------------------------------------------------------


def test_plain_file_is_one_member(tmp_path: Path) -> None:
    members, report, decoded = expand(write(tmp_path / "x", LOG), "api.log")
    assert members == {"api.log": [line.decode() for line in LOG.splitlines()]}
    assert report.warnings == []
    assert decoded["api.log"].warnings == []


def test_gzip_member_takes_the_name_without_gz(tmp_path: Path) -> None:
    data = gzip.compress(LOG) + gzip.compress(b"third\n")  # concatenated members (logrotate)
    members, report, _ = expand(write(tmp_path / "api.log.1.gz", data))
    assert members == {"api.log.1": [*(line.decode() for line in LOG.splitlines()), "third"]}
    assert report.warnings == []


def test_zip_bundle_yields_every_regular_file(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "bundle.zip",
        {
            "api/app.log": LOG,
            "db/": b"",
            "db/postgres.log.gz": gzip.compress(b"FATAL:  sorry, too many clients already\n"),
            "nginx/access.log": b"",
        },
    )
    members, report, decoded = expand(path)
    assert members == {
        "api/app.log": [line.decode() for line in LOG.splitlines()],
        "db/postgres.log": ["FATAL:  sorry, too many clients already"],
        "nginx/access.log": [],
    }
    assert report.warnings == []
    assert decoded["nginx/access.log"].warnings == ["the file is empty: no lines"]


def test_tar_gz_and_nested_archives_get_prefixed_names(tmp_path: Path) -> None:
    inner = make_tar([("svc/a.log", b"a\n")], mode="w:gz")
    path = make_zip(tmp_path / "outer.zip", {"inner.tgz": inner, "b.log": b"b\n"})
    members, report, _ = expand(path)
    assert members == {"inner.tgz/svc/a.log": ["a"], "b.log": ["b"]}
    assert report.warnings == []
    tgz = write(tmp_path / "logs.tar.gz", inner)
    assert expand(tgz)[0] == {"svc/a.log": ["a"]}


def test_containers_are_sniffed_by_magic_not_by_name(tmp_path: Path) -> None:
    path = write(tmp_path / "looks-plain.log", gzip.compress(LOG))
    members, _, _ = expand(path)
    assert list(members.values()) == [[line.decode() for line in LOG.splitlines()]]
    zip_named_gz = make_zip(tmp_path / "really-a-zip.gz", {"x.log": b"x\n"})
    assert expand(zip_named_gz)[0] == {"x.log": ["x"]}


def test_duplicate_member_names_stay_distinct(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.log", b"1\n")
        archive.writestr("./a.log", b"2\n")
        archive.writestr("../a.log", b"3\n")
    members, _, _ = expand(path)
    assert members == {"a.log": ["1"], "a.log (2)": ["2"], "a.log (3)": ["3"]}


# --- names are metadata, never paths ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "etc/passwd"),
        ("/etc/shadow", "etc/shadow"),
        ("C:\\Windows\\System32\\evil.log", "Windows/System32/evil.log"),
        ("logs/./../../x.log", "logs/x.log"),
        ("a\x1b[31m\x00b\r\n.log", "a[31mb.log"),
        ("invoice\u202egol.exe", "invoicegol.exe"),  # bidi override
        ("..", "unnamed"),
        ("", "unnamed"),
        ("x" * 400, "…" + "x" * 254),
    ],
)
def test_clean_name(raw: str, shown: str) -> None:
    assert clean_name(raw) == shown


def test_traversal_names_are_shown_clean_and_nothing_is_written(tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    path = make_zip(
        upload / "evil.zip",
        {"../../etc/passwd": b"root:x:0:0\n", "/tmp/abs.log": b"a\n", "..\\..\\win.log": b"w\n"},
    )
    before = sorted(p.name for p in tmp_path.rglob("*"))
    members, _, _ = expand(path)
    assert set(members) == {"etc/passwd", "tmp/abs.log", "win.log"}
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# --- links, devices, encrypted and binary members are skipped with a warning -----------------


def test_tar_links_and_devices_are_skipped(tmp_path: Path) -> None:
    link = tarfile.TarInfo("current.log")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("hard.log")
    hard.type, hard.linkname = tarfile.LNKTYPE, "app.log"
    device = tarfile.TarInfo("null")
    device.type = tarfile.CHRTYPE
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    data = make_tar([("app.log", b"ok\n"), link, hard, device, fifo])
    members, report, _ = expand(write(tmp_path / "b.tar", data))
    assert members == {"app.log": ["ok"]}
    assert report.skipped == 4
    assert report.warnings == [
        "skipped 'current.log': a symbolic link, not a regular file",
        "skipped 'hard.log': a hard link, not a regular file",
        "skipped 'null': a device or pipe, not a regular file",
        "skipped 'pipe': a device or pipe, not a regular file",
    ]


def test_zip_symlink_and_encrypted_members_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("link.log")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("secret.log", b"not really encrypted")
        archive.writestr("app.log", b"ok\n")
    # zipfile cannot encrypt: set the "encrypted" flag bit of secret.log in the central directory
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")
    while raw[entry + 46 : entry + 56] != b"secret.log":
        entry = raw.index(b"PK\x01\x02", entry + 4)
    raw[entry + 8] |= 0x1
    path.write_bytes(bytes(raw))
    members, report, _ = expand(path)
    assert members == {"app.log": ["ok"]}
    assert report.warnings == [
        "skipped 'link.log': a symbolic link, not a regular file",
        "skipped 'secret.log': encrypted",
    ]


def test_binary_members_are_skipped_but_a_binary_upload_is_left_to_the_caller(
    tmp_path: Path,
) -> None:
    elf = b"\x7fELF\x02\x01\x01\x00" + random.Random(3).randbytes(4000)
    path = make_zip(tmp_path / "b.zip", {"core": elf, "app.log": b"ok\n"})
    members, report, _ = expand(path)
    assert members == {"app.log": ["ok"]}
    assert report.warnings == ["skipped 'core': an ELF executable, not a text log"]

    only_binary = make_zip(tmp_path / "c.zip", {"core": elf})
    members, report, _ = expand(only_binary)
    assert members == {}
    assert report.warnings[-1] == "no text log was found in the upload"

    members, report, decoded = expand(write(tmp_path / "a.out", elf))
    assert list(members) == ["a.out"]
    assert decoded["a.out"].looks_binary
    assert decoded["a.out"].warnings[0] == "this looks like an ELF executable, not a text log"


# --- truncated and corrupt data keeps what was read ------------------------------------------


def test_truncated_gzip_keeps_the_decoded_lines(tmp_path: Path) -> None:
    lines = [
        f"2024-05-01T10:00:{i % 60:02d}Z INFO request {i} {os.urandom(8).hex()}"
        for i in range(5000)
    ]
    data = gzip.compress("\n".join(lines).encode())
    members, report, _ = expand(write(tmp_path / "app.log.gz", data[: len(data) // 2]))
    kept = members["app.log"]
    assert 1000 < len(kept) < 5000
    assert kept[:-1] == lines[: len(kept) - 1]  # the last one may be cut mid-line
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith(
        "'app.log.gz': the gzip stream is truncated; kept the first"
    )


def test_corrupt_gzip_and_zip_crc_become_warnings(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(os.urandom(20000).hex().encode()))
    data[2000:2100] = bytes(100)
    members, report, _ = expand(write(tmp_path / "c.log.gz", bytes(data)))
    assert list(members) == ["c.log"]
    assert "corrupt gzip data" in report.warnings[0]

    path = make_zip(
        tmp_path / "crc.zip", {"a.log": b"hello world\n" * 100}, method=zipfile.ZIP_STORED
    )
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"hello") + 3] ^= 0xFF  # content no longer matches its CRC
    members, report, _ = expand(write(path, bytes(raw)))
    assert list(members) == ["a.log"]
    assert "truncated or corrupt (Bad CRC-32" in report.warnings[0]


def test_truncated_tar_keeps_earlier_members(tmp_path: Path) -> None:
    data = make_tar([("one.log", b"1\n" * 1000), ("two.log", b"2\n" * 1000)])
    members, report, _ = expand(write(tmp_path / "t.tar", data[:3500]))  # inside two.log
    assert members["one.log"] == ["1"] * 1000
    assert members["two.log"] == ["2"] * 214  # 3500 - 2 headers - 2048 data = 428 bytes
    assert report.warnings == [
        "'two.log' is truncated or corrupt (unexpected end of data); kept the first 428 B"
    ]


def test_corrupt_zip_upload_is_rejected_clearly(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.zip", b"PK\x03\x04" + os.urandom(200))
    with pytest.raises(ArchiveRejected, match=r"'bad.zip' is not a readable zip archive"):
        expand(path)


def test_zip_needing_a_newer_version_is_refused_not_crashed(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "v.zip", {"a.log": b"a\n"})
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"PK\x01\x02") + 6] = 99  # "version needed to extract": 9.9
    with pytest.raises(
        ArchiveRejected, match=r"not a readable zip archive \(zip file version 9.9\)"
    ):
        expand(write(path, bytes(raw)))


def test_empty_upload_and_empty_zip(tmp_path: Path) -> None:
    members, report, decoded = expand(write(tmp_path / "empty.log", b""))
    assert members == {"empty.log": []}
    assert decoded["empty.log"].warnings == ["the file is empty: no lines"]
    members, report, _ = expand(make_zip(tmp_path / "empty.zip", {}))
    assert members == {}
    assert report.warnings == []


# --- bounds: the whole upload is refused with a message a user understands -------------------


def test_gzip_bomb_is_stopped_while_streaming(tmp_path: Path) -> None:
    path = write(tmp_path / "bomb.log.gz", gzip_of_zeros(64 * MiB))  # ~64 KiB on disk
    with pytest.raises(ArchiveRejected) as caught:
        expand(path)
    assert caught.value.reason.startswith("gzip bomb: expands more than 200× (stopped at 32.")


def test_zip_bomb_is_refused_from_its_declared_sizes(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "bomb.zip", {"zeros.log": bytes(64 * MiB)})
    with pytest.raises(
        ArchiveRejected, match=r"^zip bomb: expands more than 200× \(declares 64.0 MiB\)"
    ):
        expand(path)


def test_zip_bomb_that_lies_about_its_size_is_stopped_while_streaming(tmp_path: Path) -> None:
    # a stored .gz inside the zip: the zip declares 64 KiB, the gzip inside expands 1000×
    path = make_zip(
        tmp_path / "sneaky.zip",
        {"inner.log.gz": gzip_of_zeros(64 * MiB)},
        method=zipfile.ZIP_STORED,
    )
    with pytest.raises(ArchiveRejected, match=r"^gzip bomb: expands more than 200×"):
        expand(path)


def test_total_decompressed_size_is_bounded(tmp_path: Path) -> None:
    text = "\n".join(f"line {i} {random.Random(i).random()}" for i in range(100_000)).encode()
    path = write(tmp_path / "big.log.gz", gzip.compress(text))
    limits = Limits(max_decompressed_bytes=1 * MiB)
    with pytest.raises(ArchiveRejected, match=r"expands to more than 1.0 MiB when decompressed"):
        expand(path, limits=limits)


def test_too_many_entries(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"f{i}.log": b"x\n" for i in range(1001)})
    with pytest.raises(ArchiveRejected, match=r"more than 1,000 archive entries"):
        expand(path)
    tar = write(tmp_path / "many.tar", make_tar([(f"f{i}.log", b"x\n") for i in range(20)]))
    with pytest.raises(ArchiveRejected, match=r"more than 10 archive entries"):
        expand(tar, limits=Limits(max_archive_entries=10))


def test_entry_count_is_checked_before_the_central_directory_is_parsed(tmp_path: Path) -> None:
    eocd = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 65000, 65000, 0, 0, 0)
    with pytest.raises(ArchiveRejected, match=r"more than 1,000 archive entries"):
        expand(write(tmp_path / "cd.zip", eocd))


def test_nesting_is_bounded(tmp_path: Path) -> None:
    level2 = io.BytesIO()
    with zipfile.ZipFile(level2, "w") as archive:
        archive.writestr("deep.log", b"d\n")
    ok = make_zip(tmp_path / "ok.zip", {"level2.zip": level2.getvalue()})
    assert expand(ok)[0] == {"level2.zip/deep.log": ["d"]}

    level3 = io.BytesIO()
    with zipfile.ZipFile(level3, "w") as archive:
        archive.writestr("level2.zip", level2.getvalue())
    deep = make_zip(tmp_path / "deep.zip", {"level3.zip": level3.getvalue()})
    with pytest.raises(ArchiveRejected, match=r"nested more than 2 archives deep"):
        expand(deep)
    gz_in_gz = write(tmp_path / "x.log.gz.gz", gzip.compress(gzip.compress(gzip.compress(b"x"))))
    with pytest.raises(ArchiveRejected, match=r"nested more than 2 archives deep"):
        expand(gz_in_gz)


def test_upload_size_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(ArchiveRejected, match=r"the file is 100 B; the limit is 10 B"):
        expand(write(tmp_path / "a.log", b"x" * 100), limits=Limits(max_upload_bytes=10))


# --- fuzz: mutated archives only ever end in members, warnings or ArchiveRejected ------------

_SEEDS = [
    gzip.compress(LOG * 20),
    make_tar([("a.log", LOG), ("b.log", LOG)]),
    make_tar([("a.log", LOG * 20)], mode="w:gz"),
]
_zip = io.BytesIO()
with zipfile.ZipFile(_zip, "w", zipfile.ZIP_DEFLATED) as _archive:
    _archive.writestr("a.log", LOG * 20)
    _archive.writestr("b.log.gz", gzip.compress(LOG))
_SEEDS.append(_zip.getvalue())


@pytest.mark.fuzz
@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.sampled_from(_SEEDS),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
)
def test_mutated_archives_never_raise_anything_else(
    tmp_path: Path, seed: bytes, cut: float, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(seed[: max(1, int(len(seed) * cut))])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    path = write(tmp_path / "fuzz.bin", bytes(data))
    try:
        expand(path)
    except ArchiveRejected as rejected:
        assert rejected.reason
