"""Accuracy metrics on small hand-made cases, and a GA floor on a real Loghub system."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from apps.core.grouping.metrics import (
    f1_grouping_accuracy,
    f1_template_accuracy,
    grouping_accuracy,
    parsing_accuracy,
)
from apps.core.grouping.miner import Miner
from apps.core.logparse.loghub import compile_log_format

TRUTH = ["A", "A", "B", "B", "C"]


def test_perfect_grouping() -> None:
    pred = [7, 7, 3, 3, 1]  # labels differ, groups equal
    assert grouping_accuracy(TRUTH, pred) == 1.0
    assert f1_grouping_accuracy(TRUTH, pred) == 1.0


def test_merged_groups_are_all_wrong() -> None:
    pred = [1, 1, 1, 1, 2]  # A and B merged: only C is right
    assert grouping_accuracy(TRUTH, pred) == pytest.approx(1 / 5)
    # precision 1/2 predicted groups right, recall 1/3 true groups found
    assert f1_grouping_accuracy(TRUTH, pred) == pytest.approx(
        2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)
    )


def test_split_group_is_wrong() -> None:
    pred = [1, 2, 3, 3, 4]  # A split in two
    assert grouping_accuracy(TRUTH, pred) == pytest.approx(3 / 5)


def test_parsing_accuracy_compares_strings_per_line() -> None:
    truth = ["a <*>", "a <*>", "b"]
    assert parsing_accuracy(truth, ["a <*>", "a  <*>", "c"]) == pytest.approx(2 / 3)


def test_template_accuracy_needs_right_group_and_text() -> None:
    truth = ["a <*>", "a <*>", "b <*>", "c"]
    groups = [1, 1, 2, 3]
    assert f1_template_accuracy(truth, groups, ["a <*>", "a <*>", "b <*>", "c"]) == 1.0
    # right group, wrong text for b → 2 of 3 templates right
    assert f1_template_accuracy(truth, groups, ["a <*>", "a <*>", "b x", "c"]) == pytest.approx(
        2 / 3
    )
    # a split in two: a is wrong even with the right text
    assert f1_template_accuracy(
        truth, [1, 4, 2, 3], ["a <*>", "a <*>", "b <*>", "c"]
    ) == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError):
        grouping_accuracy(["a"], [])


LOGHUB = Path(__file__).resolve().parents[5] / "shared" / "data" / "loghub"


@pytest.mark.skipif(not (LOGHUB / "settings.json").exists(), reason="no loghub data in ../shared")
@pytest.mark.parametrize("system", ["OpenSSH", "Zookeeper"])
def test_loghub_grouping_floor_with_header_layout(system: str) -> None:
    log_format = json.loads((LOGHUB / "settings.json").read_text())["datasets"][system][
        "log_format"
    ]
    regex, _ = compile_log_format(log_format)
    base = LOGHUB / system / f"{system}_2k.log"
    messages = [
        regex.match(line.strip()).group("Content") for line in base.read_text().splitlines()
    ]
    with open(f"{base}_structured.csv", encoding="utf-8", newline="") as f:
        truth = [row["EventId"] for row in csv.DictReader(f)]
    matches = Miner(salt="t").mine_batch(messages)
    assert grouping_accuracy(truth, [m.template_id for m in matches]) >= 0.98
