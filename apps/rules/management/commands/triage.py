"""`manage.py triage FILE... [--deploys FILE] [--json]`: the offline analysis, no database."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.correlate.deploys import parse_deploys
from apps.core.logparse.archive import ArchiveRejected
from apps.core.logparse.loghub import compile_log_format
from apps.core.triage import to_json, triage


class Command(BaseCommand):
    help = "Parse, group, run the rules and the local analysis on log files; print findings."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="log files (.gz, .zip, .tar.gz accepted)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.add_argument("--log-format", help="loghub header layout override")
        parser.add_argument(
            "--deploys", help="deploy events as JSON lines: service, version, ts, environment, …"
        )

    def handle(self, *args, files, log_format, **options):
        as_json = options["json"]
        paths = [Path(f) for f in files]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        if log_format:
            try:
                compile_log_format(log_format)
            except Exception as exc:
                raise CommandError(f"--log-format is not usable: {exc}") from None
        deploys, deploy_warnings = None, []
        if options.get("deploys"):
            try:
                text = Path(options["deploys"]).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise CommandError(f"--deploys: {exc}") from None
            deploys, deploy_warnings = parse_deploys(text)
        try:
            report = triage(paths, log_format=log_format, deploys=deploys)
        except ArchiveRejected as exc:
            raise CommandError(exc.reason) from None
        report.warnings.extend(deploy_warnings)
        document = to_json(report)
        if as_json:
            self.stdout.write(_dumps(document))
            return
        self._text(document)

    def _text(self, doc: dict) -> None:
        w = self.stdout.write
        for f in doc["files"]:
            w(
                f"{f['name']}: {f['format']} ({f['confidence']:.2f}) · {f['lines']:,} lines · {f['coverage']}"
            )
        rc = doc["root_cause"]
        w("")
        if rc:
            w(self.style.ERROR(f"Likely root cause: {rc['category']} — {rc['title']}"))
            w(f"  {rc['summary']}")
            for ev in rc["evidence"][:3]:
                w(f"  {ev['file']}:{ev['line']}  {ev.get('text', '')[:200]}")
        else:
            w("Likely root cause: insufficient evidence (nothing above warning)")
        self._services(doc)
        w("")
        w(f"Findings ({len(doc['findings'])}):")
        for f in doc["findings"]:
            trig = f["trigger"] or {}
            w(
                f"  [{f['severity']:>8}] {f['category']:<24} {f['title']} ×{f['count']}"
                f"  first {trig.get('file', '?')}:{trig.get('line', '?')}"
            )
        analysis = doc.get("analysis") or {}
        if analysis.get("summary"):
            w("")
            w(f"Analysis (local): {analysis['summary']}")

    def _services(self, doc: dict) -> None:
        corr = doc.get("correlation") or {}
        if len(doc.get("services") or []) > 1:
            self.stdout.write(
                f"  Began in {corr['origin']} ({corr['confidence']} confidence): "
                + " → ".join(corr["path"])
            )
        for d in doc.get("deploys") or []:
            if d["suspect"]:
                self.stdout.write(f"  Suspect deploy: {d['service']} {d['version']} at {d['ts']}")


def _dumps(doc: dict) -> str:
    return jsonlib.dumps(doc, indent=2, ensure_ascii=False, default=str)
