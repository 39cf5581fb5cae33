"""Score the correlation on the labelled multi-service corpus (apps/core/tests/correlate/corpus.py):
origin service right %, deploy at fault as the top suspect %, and false suspects on incidents no
deploy triggered. `python bench/correlation_bench.py [--verbose]`; `make bench` runs it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.core.correlate.deploys import parse_deploys
from apps.core.tests.correlate.corpus import Case, corpus, make_case
from apps.core.triage import to_json, triage


def run_case(case: Case, root: Path) -> dict:
    paths, deploys_path = case.write(root)
    deploys = parse_deploys(deploys_path.read_text())[0] if deploys_path else None
    doc = to_json(triage(paths, analyze=False, deploys=deploys))
    corr = doc.get("correlation") or {}
    suspect = next(
        ((d["service"], d["version"]) for d in doc.get("deploys", []) if d["suspect"]), None
    )
    return {"origin": corr.get("origin"), "confidence": corr.get("confidence"), "suspect": suspect}


def score(cases: list[Case], *, verbose: bool = False) -> dict:
    origin_ok = deploy_ok = deploy_cases = false_suspects = quiet_cases = 0
    started = time.perf_counter()
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            got = run_case(case, Path(tmp))
        ok = got["origin"] == case.origin
        origin_ok += ok
        if case.fault:
            deploy_cases += 1
            deploy_ok += got["suspect"] == case.fault
        elif case.deploys:
            quiet_cases += 1
            false_suspects += got["suspect"] is not None
        if verbose:
            mark = "ok " if ok and (not case.fault or got["suspect"] == case.fault) else "BAD"
            print(
                f"{mark} {case.name}: origin {got['origin']} ({got['confidence']}) want {case.origin};"
                f" suspect {got['suspect']} want {case.fault}  [{'; '.join(case.notes)}]"
            )
    return {
        "cases": len(cases),
        "origin_right_pct": round(100 * origin_ok / len(cases), 1),
        "deploy_cases": deploy_cases,
        "deploy_top_suspect_pct": round(100 * deploy_ok / deploy_cases, 1)
        if deploy_cases
        else None,
        "no_fault_cases_with_deploys": quiet_cases,
        "false_suspects": false_suspects,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    print("corpus (seeds 1-24, in the tests; tuned on):")
    for key, value in score(corpus(), verbose=args.verbose).items():
        print(f"  {key}: {value}")
    print("held out (seeds 1001-1040, never looked at while tuning):")
    held_out = [make_case(seed) for seed in range(1001, 1041)]
    for key, value in score(held_out, verbose=args.verbose).items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
