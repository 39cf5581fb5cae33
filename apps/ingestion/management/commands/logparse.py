"""`manage.py logparse FILE... [--log-format FMT] [--jsonl] [--stats]` — no database needed.

Parses and groups logs exactly as ingestion does (same decode, formats, miner, fingerprints),
parsing in a forked process while this one mines (pipeline.parsed_members).
`--jsonl` prints one JSON object per event with the keys of the DESIGN.md contract. Events are
reported against their final template: rows are held back (up to --buffer events) so that a
template that generalises later still gives all its events one id and one group.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.grouping.fingerprint import fingerprint
from apps.core.grouping.miner import Miner
from apps.core.ingest.forking import ChildFailed
from apps.core.ingest.pipeline import (
    Grouped,
    SourceStats,
    date_hints,
    group_records,
    parsed_members,
)
from apps.core.logparse.archive import ArchiveRejected, ArchiveReport
from apps.core.logparse.loghub import compile_log_format

# one encoder: json.dumps with options builds a new JSONEncoder on every call
_encode = json.JSONEncoder(ensure_ascii=False).encode


class Command(BaseCommand):
    help = "Parse and group log files without a database; print events or a summary."
    requires_system_checks = []  # runs without a database or migrations

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="log files (.gz, .zip, .tar.gz accepted)")
        parser.add_argument(
            "--log-format",
            help="loghub header layout, e.g. '<Date> <Time> <Level> <Component>: <Content>'",
        )
        parser.add_argument("--jsonl", action="store_true", help="one JSON object per event")
        parser.add_argument("--stats", action="store_true", help="lines/s and counts on stderr")
        parser.add_argument(
            "--buffer", type=int, default=500_000, help="events held for final templates"
        )

    def handle(self, *args, **options):
        try:
            self._run(**options)
        except BrokenPipeError:  # `logparse … | head` is normal use
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def _run(self, *, files, log_format, jsonl, stats, buffer, **options):
        if log_format:
            try:
                compile_log_format(log_format)
            except Exception as exc:  # re.error, ValueError
                raise CommandError(f"--log-format is not usable: {exc}") from None
        miner = Miner()
        started = time.perf_counter()
        totals = {"files": 0, "lines": 0, "events": 0}
        pending: list[Grouped] = []
        out = sys.stdout
        all_stats: list[SourceStats] = []
        for file in files:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"{file}: no such file")
            report = ArchiveReport()
            try:
                for member in parsed_members(
                    path,
                    display_name=path.name,
                    log_format=log_format,
                    dates=date_hints([path]),
                    report=report,
                ):
                    for grouped in group_records(member.records, miner):
                        totals["events"] += 1
                        if jsonl:
                            pending.append(grouped)
                            if len(pending) >= buffer:
                                self._emit(pending, miner, out)
                                pending = []
                    st, decode = member.stats, member.decode
                    assert st is not None and decode is not None  # final once records are read
                    totals["lines"] += decode.lines
                    st.warnings.extend(decode.warnings)
                    all_stats.append(st)
            except ArchiveRejected as exc:
                raise CommandError(f"{file}: {exc.reason}") from None
            except ChildFailed as exc:
                raise CommandError(f"{file}: {exc}") from None
            for warning in report.warnings:
                self.stderr.write(f"{file}: {warning}")
            totals["files"] += 1
        if jsonl:
            self._emit(pending, miner, out)
        elapsed = max(time.perf_counter() - started, 1e-9)
        if stats or not jsonl:
            target = self.stderr if jsonl else self.stdout
            for st in all_stats:
                target.write(
                    f"{st.name}: {st.fmt} ({st.confidence:.2f}) · {st.lines:,} lines · "
                    f"{st.records:,} events · {st.summary()}"
                )
                if st.header:
                    target.write(f"  header: {st.header}")
                if st.unmatched:
                    target.write(f"  ⚠ {st.unmatched_line()}")
                for warning in st.warnings:
                    target.write(f"  ⚠ {warning}")
            target.write(
                f"{totals['files']} file(s), {totals['lines']:,} lines, {totals['events']:,} events, "
                f"{len(miner.templates()):,} templates in {elapsed:.2f}s "
                f"= {totals['lines'] / elapsed:,.0f} lines/s"
            )

    @staticmethod
    def _emit(pending: list[Grouped], miner: Miner, out) -> None:
        templates = {t.template_id: t.template for t in miner.templates()}
        regroup: dict[tuple[str, str], str] = {}
        lines: list[str] = []
        for grouped in pending:
            record, match = grouped.record, grouped.match
            template_id = miner.resolve(match.template_id)
            group = grouped.fingerprint.group_id
            if template_id != match.template_id:
                key = (group, template_id)
                if key not in regroup:
                    regroup[key] = fingerprint(record.message, template_id).group_id
                group = regroup[key]
            lines.append(
                _encode(
                    {
                        "line": record.line,
                        "end_line": record.end_line,
                        "ts": record.ts.isoformat() if record.ts else None,
                        "level": record.level,
                        "service": record.service,
                        "message": record.message,
                        "template": templates.get(template_id, match.template),
                        "template_id": template_id,
                        "group": group,
                        "source": record.source,
                    }
                )
            )
            if len(lines) >= 1000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            out.write("\n".join(lines) + "\n")
