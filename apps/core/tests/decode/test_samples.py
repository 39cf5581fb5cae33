"""The sample incident bundles decode cleanly, and each README's first evidence is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.core.logparse.archive import ArchiveReport, open_members
from apps.core.logparse.decode import DecodeReport, iter_lines
from apps.core.rules.catalogue import Catalogue

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
BUNDLES = sorted(p for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith("_"))
EVIDENCE = re.compile(
    r"^- First evidence: `(?P<file>[^`:]+):(?P<line>\d+)` — `(?P<text>[^`]+)`$", re.M
)
CATEGORY = re.compile(r"^- Root-cause category: `(?P<slug>[a-z-]+)`$", re.M)
# a sample names a category the rule catalogue knows
CATEGORIES = Catalogue.load().categories


def decode(path: Path) -> tuple[list[str], DecodeReport]:
    report = DecodeReport()
    with path.open("rb") as stream:
        return [line.text for line in iter_lines(stream, report=report)], report


def test_there_are_at_least_three_bundles() -> None:
    assert {b.name for b in BUNDLES} >= {
        "checkout-db-connections",
        "worker-oom-crashloop",
        "tls-cert-expired",
    }


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_every_file_decodes_without_warnings(bundle: Path) -> None:
    files = [p for p in bundle.rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        lines, report = decode(path)
        assert lines, path
        assert report.warnings == [], (path, report.warnings)
        assert path.stat().st_size < 2 * 1024 * 1024


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_readme_names_a_category_and_a_real_first_evidence_line(bundle: Path) -> None:
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    category = CATEGORY.search(readme)
    assert category and category["slug"] in CATEGORIES
    evidence = EVIDENCE.search(readme)
    assert evidence, "README must say: - First evidence: `file:line` — `text`"
    lines, _ = decode(bundle / evidence["file"])
    line = int(evidence["line"])
    assert evidence["text"] in lines[line - 1]
    assert not any(evidence["text"] in earlier for earlier in lines[: line - 1]), "not the first"


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_zip_holds_the_same_files(bundle: Path) -> None:
    report = ArchiveReport()
    from_zip: dict[str, list[str]] = {}
    for member in open_members(
        SAMPLES / f"{bundle.name}.zip", display_name=f"{bundle.name}.zip", report=report
    ):
        from_zip[member.name] = [line.text for line in iter_lines(member.stream)]
    assert report.warnings == []
    on_disk = {
        f"{bundle.name}/{p.relative_to(bundle).as_posix()}": decode(p)[0]
        for p in bundle.rglob("*")
        if p.is_file() and p.name != "README.md"  # the zip carries the logs only
    }
    assert from_zip == on_disk
