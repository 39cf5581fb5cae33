"""`manage.py logparse --log-format`: a header that does not compile is an error, not a
silent fallback to detection."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_cli_rejects_a_header_that_does_not_compile(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("x\n")
    with pytest.raises(CommandError, match=r"--log-format is not usable: .*inside \[ \]"):
        call_command("logparse", str(path), log_format="[<Level>] <Content>")


def test_cli_parses_with_an_optional_group(tmp_path, capsys):
    path = tmp_path / "linux.log"
    path.write_text(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure\n"
        "Jun  9 06:06:20 combo kernel: Linux version 2.6.5-1.358\n"
    )
    log_format = r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>"
    call_command("logparse", str(path), log_format=log_format, jsonl=True)
    out = capsys.readouterr().out
    assert '"message": "Linux version 2.6.5-1.358"' in out
    assert '"service": "kernel"' in out


def test_stats_count_the_lines_a_given_header_does_not_match(tmp_path, capsys):
    path = tmp_path / "auth.log"
    path.write_text(
        "Dec  3 10:12:14 host1 sshd[123]: Accepted key\n"
        "Dec  3 10:12:15 host1 sshd[124]: Failed password\n"
        "  continued on a line of its own\n"
        "\n"
        "Dec  3 10:12:17 host1 cron: job ran\n"
    )
    log_format = r"<Month> <Day> <Time> <Host> <Component>(\[<PID>\])?: <Content>"
    call_command("logparse", str(path), log_format=log_format, stats=True)
    out = capsys.readouterr().out
    assert f"  header: {log_format}" in out
    # the blank line is no miss; the indented one is kept, joined to the record before
    assert "⚠ 1 line not matched by the header: 1 joined to the record before" in out


def test_stats_say_nothing_of_misses_when_the_header_matches_every_line(tmp_path, capsys):
    path = tmp_path / "auth.log"
    path.write_text("Dec  3 10:12:14 host1 sshd[123]: Accepted key\n")
    log_format = r"<Month> <Day> <Time> <Host> <Component>(\[<PID>\])?: <Content>"
    call_command("logparse", str(path), log_format=log_format, stats=True)
    assert "not matched" not in capsys.readouterr().out
