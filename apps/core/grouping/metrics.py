"""Log-parsing accuracy metrics as the literature defines them (Zhu et al. ICSE'19; Loghub-2.0).

All functions take parallel per-line sequences (line i's true label/template and predicted
group/template) and return a float in [0, 1].

- GA: share of lines whose predicted group holds exactly the lines of their true group.
- FGA: F1 over groups: a predicted group is correct when it equals a true group.
- PA: share of lines whose predicted template string equals the true template.
- FTA: F1 over templates: a predicted template is correct when its group equals a true group
  and its template string equals that group's true template.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence


def _groups(labels: Sequence[Hashable]) -> dict[Hashable, frozenset[int]]:
    out: dict[Hashable, set[int]] = defaultdict(set)
    for i, label in enumerate(labels):
        out[label].add(i)
    return {k: frozenset(v) for k, v in out.items()}


def _check(truth: Sequence[object], pred: Sequence[object]) -> None:
    if len(truth) != len(pred):
        raise ValueError(f"{len(truth)} true labels but {len(pred)} predictions")


def _correct_groups(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> list[frozenset[int]]:
    true_sets = set(_groups(truth).values())
    return [g for g in _groups(pred).values() if g in true_sets]


def grouping_accuracy(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    _check(truth, pred)
    if not truth:
        return 1.0
    return sum(len(g) for g in _correct_groups(truth, pred)) / len(truth)


def _f1(correct: int, predicted: int, true: int) -> float:
    if not correct:
        return 0.0
    precision, recall = correct / predicted, correct / true
    return 2 * precision * recall / (precision + recall)


def f1_grouping_accuracy(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    _check(truth, pred)
    if not truth:
        return 1.0
    correct = len(_correct_groups(truth, pred))
    return _f1(correct, len(set(pred)), len(set(truth)))


def _norm(template: str) -> str:
    return " ".join(template.split())


def parsing_accuracy(true_templates: Sequence[str], pred_templates: Sequence[str]) -> float:
    _check(true_templates, pred_templates)
    if not true_templates:
        return 1.0
    ok = sum(_norm(t) == _norm(p) for t, p in zip(true_templates, pred_templates, strict=True))
    return ok / len(true_templates)


def f1_template_accuracy(
    true_templates: Sequence[str], pred_groups: Sequence[Hashable], pred_templates: Sequence[str]
) -> float:
    """Truth groups are the lines sharing a true template string."""
    _check(true_templates, pred_groups)
    _check(true_templates, pred_templates)
    if not true_templates:
        return 1.0
    truth = [_norm(t) for t in true_templates]
    true_sets = {g: t for t, g in _groups(truth).items()}
    correct = 0
    for label, lines in _groups(pred_groups).items():
        del label
        expected = true_sets.get(lines)
        first = next(iter(lines))
        if expected is not None and _norm(pred_templates[first]) == expected:
            correct += 1
    return _f1(correct, len(set(pred_groups)), len(true_sets))
