"""The header learnt from a file's own lines (header.py): shapes, columns, the loghub spelling."""

from __future__ import annotations

from datetime import date

import pytest

from apps.core.logparse.detect import detect_format
from apps.core.logparse.header import infer

from .conftest import parse


def test_letter_level_and_month_day_time():
    lines = [
        "03-14 09:01:02.100  812  830 E Payments: charge failed: timeout",
        "03-14 09:01:02.250  812  831 I Payments: retrying",
        "03-14 09:01:03.000  812  830 W Ledger: slow write",
    ]
    header = infer(lines)
    assert header is not None
    assert header.loghub() == "<Date> <Time> <Pid> <Id> <Level> <Component>: <Content>"
    recs = parse("\n".join(lines), default_year=2023)
    assert [r.fmt for r in recs] == ["inferred"] * 3
    assert recs[0].ts.isoformat() == "2023-03-14T09:01:02.100000+00:00"
    assert (recs[0].level, recs[0].service, recs[0].message) == (
        "ERROR",
        "Payments",
        "charge failed: timeout",
    )


def test_bracketed_time_with_offset_leaves_no_leftovers():
    text = (
        "[2021-05-02 11:00:00 +0200] [77] [INFO] worker up\n"
        "[2021-05-02 11:00:05 +0200] [77] [ERROR] worker died\n"
        "[2021-05-02 11:00:09 +0200] [78] [INFO] new worker\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == ["worker up", "worker died", "new worker"]
    assert recs[1].level == "ERROR"
    assert recs[0].ts.isoformat() == "2021-05-02T09:00:00+00:00"


def test_two_digit_year_slashes():
    text = "19/04/01 10:00:00 INFO storage.Block: stored\n19/04/01 10:00:01 WARN net.Pool: full\n"
    recs = parse(text)
    assert recs[0].ts.isoformat() == "2019-04-01T10:00:00+00:00"
    assert [(r.level, r.message) for r in recs] == [("INFO", "stored"), ("WARN", "full")]


def test_wrapped_line_takes_inner_level_message_and_year():
    text = (
        "Jun  3 10:00:00 box app[1]: 2019-06-03T08:00:00Z 0 [Warning] disk nearly full\n"
        "Jun  3 10:00:01 box app[1]: 2019-06-03T08:00:01Z 0 [Note] started\n"
    )
    recs = parse(text, default_year=2030)
    assert recs[0].ts.isoformat() == "2019-06-03T10:00:00+00:00"
    assert [(r.level, r.message) for r in recs] == [
        ("WARN", "disk nearly full"),
        ("INFO", "started"),
    ]


def test_repeated_lines_and_plain_text_learn_nothing():
    assert infer(["2024/01/15 14:02:11 http: boom"] * 5) is None
    assert infer(["hello world", "another line", "third: one"]) is None
    assert detect_format(["hello world", "another line"]).name == "plain"


def test_a_source_location_closing_the_header_is_header():
    # klog/glog, written by us in the shape of issue 16: the header ends at `file.go:NNN] `,
    # and a `path.go:NNN:` right after it is the message's own first word
    lines = [
        "E1203 10:12:14.223456       1 reflector.go:138] k8s.io/x/factory.go:134: watch failed",
        "I1203 10:12:15.000001       1 leaderelection.go:248] attempting to acquire lease",
        "W1203 10:12:16.123456       1 authentication.go:340] Error looking up configuration",
    ]
    header = infer(lines)
    assert header is not None
    assert header.loghub() == r"<Date> <Time> <Pid> <Source>\] <Content>"
    recs = parse("\n".join(lines))
    assert [(r.level, r.message) for r in recs] == [
        ("ERROR", "k8s.io/x/factory.go:134: watch failed"),
        ("INFO", "attempting to acquire lease"),
        ("WARN", "Error looking up configuration"),
    ]


def test_padding_inside_brackets_and_bracket_runs_are_header():
    # Elasticsearch's `[ts][WARN ][logger] [node]`: a padded level and `][` runs
    text = (
        "[2026-12-03T10:12:13,123][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] disk high\n"
        "[2026-12-03T10:12:14,123][INFO ][o.e.n.Node               ] [node-1] started\n"
        "[2026-12-03T10:12:15,123][ERROR][o.e.b.Bootstrap          ] [node-1] Exception\n"
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("WARN", "disk high"),
        ("INFO", "started"),
        ("ERROR", "Exception"),
    ]
    assert recs[0].ts.isoformat() == "2026-12-03T10:12:13.123000+00:00"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a first number past 12 is a day: the whole file is day first, 01/04 included
        (
            ["14/03/2024 10:12:14 ERROR app: boom", "01/04/2024 10:12:16 WARN app: hm"],
            ["2024-03-14", "2024-04-01"],
        ),
        # a second number past 12 is a day: month first
        (
            ["03/14/2024 10:12:14 ERROR app: boom", "04/01/2024 10:12:16 WARN app: hm"],
            ["2024-03-14", "2024-04-01"],
        ),
        # nothing tells: month first, the US order
        (
            ["01/02/2024 10:12:14 ERROR app: boom", "01/03/2024 10:12:15 INFO app: ok"],
            ["2024-01-02", "2024-01-03"],
        ),
    ],
)
def test_day_or_month_first_is_learnt_from_the_sample(lines, expected):
    records = parse("\n".join(lines), default_year=2024)
    assert [r.ts.date().isoformat() for r in records] == expected
    assert records[0].level == "ERROR" and records[0].message == "boom"


def test_two_digit_year_or_day_first_from_the_sample():
    # days change while the last number stays: dd/MM/yy
    day_first = "15/01/24 14:02:11 ERROR exec.Task: lost\n16/01/24 09:00:00 INFO exec.Task: ok\n"
    assert [r.ts.date().isoformat() for r in parse(day_first)] == ["2024-01-15", "2024-01-16"]
    # a last number past 31 can only be a year
    assert (
        parse("03/02/98 10:00:00 INFO a.B: x\n03/02/98 10:00:01 INFO a.B: y\n")[0]
        .ts.date()
        .isoformat()
        == "1998-02-03"
    )
    # the values cannot tell: log4j's yy/MM/dd
    same_day = "19/04/01 10:00:00 INFO storage.Block: a\n19/04/01 10:00:01 INFO storage.Block: b\n"
    assert parse(same_day)[0].ts.date().isoformat() == "2019-04-01"
    # days past 31 first: yy/MM/dd whatever the rest
    assert (
        parse("98/02/03 10:00:00 INFO a.B: x\n98/02/04 10:00:01 INFO a.B: y\n")[1]
        .ts.date()
        .isoformat()
        == "1998-02-04"
    )


def test_a_column_on_two_lines_of_three_is_not_header():
    # `WFLYSRV0010:` is a message id on some lines, not a component column
    lines = [
        "2024-01-15 14:02:11,123 ERROR [com.example.OrderService] (default task-1) Order 42 failed",
        "2024-01-15 14:02:12,456 INFO  [org.jboss.as.server] (Pool -- 40) WFLYSRV0010: Deployed",
        "2024-01-15 14:02:13,789 WARN  [org.hibernate.orm] (main) HHH90000021: Encountered a setting",
    ]
    header = infer(lines)
    assert header is not None
    assert header.loghub() == "<Date> <Time> <Level> \\[<Field>\\] (<Field>) <Content>"
    assert [r.message for r in parse("\n".join(lines))] == [
        "Order 42 failed",
        "WFLYSRV0010: Deployed",
        "HHH90000021: Encountered a setting",
    ]


def test_source_location_column_and_glog_with_year():
    text = (
        "E240115 14:02:11.123456 123 server/server.go:123 ⋮ [n1] unable to connect to peer\n"
        "I240115 14:02:12.123456 124 kv/store.go:88 ⋮ [n1,s1] store started\n"
        "W240115 14:02:13.123456 125 gossip/gossip.go:1200 ⋮ [n1] no incoming connections\n"
    )
    recs = parse(text)
    assert recs[0].ts.isoformat() == "2024-01-15T14:02:11.123456+00:00"
    assert [(r.level, r.message) for r in recs] == [
        ("ERROR", "unable to connect to peer"),
        ("INFO", "store started"),
        ("WARN", "no incoming connections"),
    ]


def test_a_logger_column_between_pipes_is_header_on_few_lines():
    text = (
        "2024-01-15 14:02:11.1234|ERROR|MyApp.Program|Payment gateway returned 502\n"
        "2024-01-15 14:02:12.5678|INFO|MyApp.Worker|Job 42 finished in 130 ms\n"
        "2024-01-15 14:02:13.0001|WARN|MyApp.Cache|Cache miss ratio 0.42\n"
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("ERROR", "Payment gateway returned 502"),
        ("INFO", "Job 42 finished in 130 ms"),
        ("WARN", "Cache miss ratio 0.42"),
    ]


def test_environment_dot_level_is_the_level():
    text = (
        "[2024-01-15 14:02:11] production.ERROR: Connection refused\n"
        "[2024-01-15 14:02:12] production.INFO: User 7 logged in\n"
        "[2024-01-15 14:02:13] local.WARNING: Slow query took 2.3s\n"
    )
    assert [(r.level, r.message) for r in parse(text)] == [
        ("ERROR", "Connection refused"),
        ("INFO", "User 7 logged in"),
        ("WARN", "Slow query took 2.3s"),
    ]


def test_key_value_prefix_fields_are_one_column_each():
    text = (
        "2024-01-15 14:02:11 UTC [812]: [3-1] user=app,db=shop,app=psql,client=10.0.0.5"
        ' ERROR:  relation "orders" does not exist\n'
        "2024-01-15 14:02:12 UTC [813]: [1-1] user=app,db=shop,app=[unknown],client=10.0.0.6"
        " LOG:  connection authorized\n"
        "2024-01-15 14:02:13 UTC [814]: [2-1] user=,db=,app=,client= LOG:  checkpoint starting\n"
    )
    assert [(r.level, r.message) for r in parse(text)] == [
        ("ERROR", 'relation "orders" does not exist'),
        ("INFO", "connection authorized"),
        ("INFO", "checkpoint starting"),
    ]


def test_logcat_padded_tag_is_the_component():
    text = (
        "01-15 14:02:11.123  1702  2395 E AndroidRuntime: FATAL EXCEPTION: main\n"
        "01-15 14:02:11.123  1702  2395 E AndroidRuntime: Process: com.example.app, PID: 1702\n"
        "01-15 14:02:11.200  1702  1702 I Process : Sending signal. PID: 1702 SIG: 9\n"
    )
    recs = parse(text)
    assert [(r.level, r.service, r.message) for r in recs] == [
        ("ERROR", "AndroidRuntime", "FATAL EXCEPTION: main"),
        ("ERROR", "AndroidRuntime", "Process: com.example.app, PID: 1702"),
        ("INFO", "Process", "Sending signal. PID: 1702 SIG: 9"),
    ]


def test_nested_brackets_are_one_column():
    text = (
        "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774]"
        " - Notification time out: 3200\n"
        "2015-07-29 19:04:12,394 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@679]"
        " - Interrupted while waiting for message on queue\n"
        "2015-07-29 19:04:29,071 - INFO  [WorkerReceiver[myid=1]:FastLeaderElection@597] - Notification\n"
    )
    header = infer(text.splitlines())
    assert header is not None
    assert header.loghub() == "<Date> <Time> - <Level> \\[<Field>\\] - <Content>"
    assert [r.message for r in parse(text)] == [
        "Notification time out: 3200",
        "Interrupted while waiting for message on queue",
        "Notification",
    ]


def test_lowercase_words_that_all_differ_begin_the_message():
    text = (
        "2024-01-15 14:02:11,123 INFO retrying: attempt 2 of 5\n"
        "2024-01-15 14:02:12,456 ERROR failed: connection reset by peer\n"
        "2024-01-15 14:02:13,789 INFO connected: db-1\n"
    )
    assert [r.message for r in parse(text)] == [
        "retrying: attempt 2 of 5",
        "failed: connection reset by peer",
        "connected: db-1",
    ]


def test_a_measured_value_and_its_key_stay_in_the_message():
    """`took: 3.110 ms fetch <x>: …` repeats on most lines, but a header numbers things, it
    does not measure them: the decimal and the key before it begin the message."""
    lines = [
        f"2031-05-06 07:08:{s:02d}.123 UTC [{400 + s}] svc@store NOTE:  took: {s}.{s * 7:03d} ms"
        f"  fetch <anon>: SELECT * FROM t{s % 3}"
        for s in range(40)
    ] + [
        f"2031-05-06 07:09:{s:02d}.500 UTC [{500 + s}] svc@store NOTE:  spill: path x{s}"
        for s in range(4)
    ]
    header = infer(lines)
    assert header is not None
    m = header.parse(lines[5])
    assert m is not None and m["message"].startswith("took: 5.035 ms")


def test_a_logger_component_is_an_attribute_not_the_service():
    """`081109 203615 148 INFO dfs.DataNode$Responder: …`: the component names a class of the
    program; the service stays the program's (from the file), as syslog's `sshd[1]:` would not."""
    lines = [
        f"310506 0708{s:02d} {100 + s} INFO qz.Store${'Reader' if s % 2 else 'Writer'}: "
        f"chunk {s} of {s * 3} done"
        for s in range(30)
    ]
    header = infer(lines)
    assert header is not None
    m = header.parse(lines[3])
    assert m is not None and not m.get("service") and m["message"] == "chunk 3 of 9 done"


# -- where a header ends: shapes that learnt headers got wrong (invented lines, same shapes) --


def test_a_level_closed_by_a_colon_ends_the_header():
    text = (
        "2020-02-01 10:00:00.100 UTC [411]: [1-1] LOG:  elapsed: 0.204 ms\n"
        "2020-02-01 10:00:00.300 UTC [411]: [2-1] LOG:  elapsed: 0.511 ms  bind s1: select 1\n"
        "2020-02-01 10:00:00.350 UTC [412]: [3-1] LOG:  elapsed: 1.250 ms\n"
        "2020-02-01 10:00:00.400 UTC [412]: [4-1] DETAIL:  values: $1 = 'x'\n"
    )
    recs = parse(text)
    assert recs[0].message == "elapsed: 0.204 ms"
    assert recs[3].message == "values: $1 = 'x'"


def test_a_header_can_continue_after_a_level_colon():
    text = (
        "[2020-02-01T10:00:00.100Z]  INFO: shop/311 on web-1: cart saved\n"
        "[2020-02-01T10:00:00.200Z]  WARN: shop/311 on web-1: cart slow\n"
        "[2020-02-01T10:00:00.300Z]  INFO: shop/312 on web-2: cart read\n"
    )
    assert [r.message for r in parse(text)] == ["cart saved", "cart slow", "cart read"]


def test_a_logger_name_after_the_thread_is_header():
    text = (
        "03-Mar-2021 08:00:01.001 INFO [main] com.acme.boot.Loader.start Loaded 3 modules\n"
        "03-Mar-2021 08:00:01.201 INFO [main] com.acme.boot.Loader.start Cache: warm\n"
        "03-Mar-2021 08:00:02.001 SEVERE [main] com.acme.web.Context.init Context failed\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == ["Loaded 3 modules", "Cache: warm", "Context failed"]
    assert recs[2].level == "ERROR"


def test_a_column_padded_to_its_width_is_header():
    text = (
        "2019-01-05 10:00:00, Info                  SVC    Loaded the stack\n"
        "2019-01-05 10:00:01, Info                  QRY    00000001@2019/1/5 started query\n"
        "2019-01-05 10:00:02, Error                 SVC    Failed to load: code 5\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == [
        "Loaded the stack",
        "00000001@2019/1/5 started query",
        "Failed to load: code 5",
    ]
    assert recs[2].level == "ERROR"


def test_words_before_a_level_column_are_header():
    lines = [
        f"- 11178385{i:02d} 2005.06.0{i % 3 + 1} R0{i}-M1-N{i}:J1{i} RAS KERNEL {lvl} {msg}"
        for i, (lvl, msg) in enumerate(
            [("INFO", "cache parity corrected"), ("FATAL", "data TLB error"),
             ("INFO", "rts: kernel up"), ("WARNING", "ddr errors detected 3"),
             ("INFO", "cache parity corrected"), ("INFO", "generating core.123")]
        )
    ]  # fmt: skip
    recs = parse("\n".join(lines) + "\n")
    assert [r.message for r in recs][:4] == [
        "cache parity corrected",
        "data TLB error",
        "rts: kernel up",
        "ddr errors detected 3",
    ]
    assert [r.level for r in recs][:4] == ["INFO", "FATAL", "INFO", "WARN"]


def test_words_before_an_epoch_column_are_header():
    lines = [
        f"{100 + i * 37} node-{i} {kind} 10778047{i:02d} 1 {msg}"
        for i, (kind, msg) in enumerate(
            [("unix.hw state_change.on", "Component on: disk 3"),
             ("action start", "addMember  (command 19)"),
             ("unix.hw state_change.on", "Component on: disk 4"),
             ("action start", "addMember  (command 20)"),
             ("boot.x state_change.off", "Node down (id=5)")]
        )
    ]  # fmt: skip
    recs = parse("\n".join(lines) + "\n")
    assert [r.message for r in recs] == [
        "Component on: disk 3",
        "addMember  (command 19)",
        "Component on: disk 4",
        "addMember  (command 20)",
        "Node down (id=5)",
    ]
    assert recs[0].ts is not None and recs[0].ts.year == 2004


def test_a_host_before_a_program_tag_with_parentheses():
    text = (
        "- 1131566461 2005.11.09 n1 Nov 9 12:01:01 n1/n1 crond(pam_unix)[2915]: session closed\n"
        "- 1131566461 2005.11.09 n1 Nov 9 12:01:01 n1/n1 crond[2916]: (root) CMD (run)\n"
        "- 1131566462 2005.11.09 n7 Nov 9 12:01:02 n7/n7 crond(pam_unix)[2907]: session opened\n"
        "- 1131566463 2005.11.09 n3 Nov 9 12:01:03 n3/n3 sshd(pam_unix)[301]: auth failure\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == [
        "session closed",
        "(root) CMD (run)",
        "session opened",
        "auth failure",
    ]
    assert recs[0].service == "crond(pam_unix)"


def test_dotted_dates_and_a_host_port_that_is_no_source_file():
    text = (
        "[10.30 16:49:06] app.exe - gw.corp.example.org:5070 open through proxy\n"
        "[10.30 16:49:07] app.exe - gw.corp.example.org:5070 close, 0 bytes sent\n"
        "[10.30 16:49:09] svc.exe - gw.corp.example.org:5070 open through proxy\n"
    )
    recs = parse(text, default_year=2016)
    assert recs[0].ts.isoformat() == "2016-10-30T16:49:06+00:00"
    assert recs[1].message == "gw.corp.example.org:5070 close, 0 bytes sent"
    eu = parse("27.09.2016 20:30:31 INFO started\n27.09.2016 20:30:32 WARN slow\n")
    assert eu[1].ts.isoformat() == "2016-09-27T20:30:32+00:00"


def test_keyed_level_and_message_key():
    text = (
        "level=ERROR ts=2026-03-04 14:05:23,117 module=log line=253 message=Server Error: /a\n"
        "level=WARNING ts=2026-03-04 14:05:24,001 module=req line=91 message=Not Found: /b\n"
        "level=ERROR ts=2026-03-04 14:05:25,500 module=log line=253 message=Server Error: /c\n"
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("ERROR", "Server Error: /a"),
        ("WARN", "Not Found: /b"),
        ("ERROR", "Server Error: /c"),
    ]
    assert recs[0].ts.isoformat() == "2026-03-04T14:05:23.117000+00:00"


def test_a_level_glued_to_its_process_inside_the_header_bracket():
    text = (
        "[2023-02-26 12:50:39,243: INFO/MainProcess] worker ready.\n"
        "[2023-02-26 12:52:13,824: INFO/MainProcess] Task t1[ab-1] received\n"
        "[2023-02-26 12:52:14,020: WARNING/PoolWorker-8] retrying\n"
        "[2023-02-26 12:52:15,020: ERROR/PoolWorker-3] Task t1[ab-1] failed\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == [
        "worker ready.",
        "Task t1[ab-1] received",
        "retrying",
        "Task t1[ab-1] failed",
    ]
    assert recs[3].level == "ERROR"
    assert recs[0].ts.isoformat() == "2023-02-26T12:50:39.243000+00:00"


def test_a_wrappers_messages_get_their_own_header_per_program():
    text = (
        "Jun 26 00:14:09 h1 web: [2023-06-26 00:14:09 +0000] [84] [INFO] Booting worker\n"
        "Jun 26 00:14:09 h1 gate: Booting gate 2\n"
        "Jun 26 00:14:10 h1 web: [2023-06-26 00:14:10 +0000] [84] [ERROR] Worker died\n"
        "Jun 26 00:14:11 h1 gate: Listening at: unix:/run/g.sock (85)\n"
    )
    recs = parse(text, default_year=2023)
    assert [r.message for r in recs] == [  # the other program's messages are left whole
        "Booting worker",
        "Booting gate 2",
        "Worker died",
        "Listening at: unix:/run/g.sock (85)",
    ]
    assert recs[2].level == "ERROR"
    compose = (
        "db_1    | INFO  [main] 2020-02-15 16:24:36,331 Server.java:246 - Configured at: x\n"
        "db_1    | INFO  [main] 2020-02-15 16:24:36,352 Daemon.java:476 - Hostname: b3def\n"
        "db_1    | WARN  [main] 2020-02-15 16:24:37,000 Daemon.java:480 - Low heap\n"
    )
    recs = parse(compose)
    assert [r.message for r in recs] == ["Configured at: x", "Hostname: b3def", "Low heap"]
    assert recs[0].ts.isoformat() == "2020-02-15T16:24:36.331000+00:00"
    assert recs[2].level == "WARN" and recs[2].service == "db"


def test_a_bracketed_level_line_between_dated_lines_is_its_own_record():
    text = (
        "2021-08-12T08:29:16.657Z [ERROR] plugin/x: read udp 10.0.0.1:53: i/o timeout\n"
        "[INFO] Reloading\n"
        "2021-08-12T08:29:17.001Z [INFO] plugin/y: config loaded\n"
        "2021-08-12T08:29:18.001Z [WARN] plugin/x: slow upstream\n"
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("ERROR", "read udp 10.0.0.1:53: i/o timeout"),
        ("INFO", "Reloading"),
        ("INFO", "config loaded"),
        ("WARN", "slow upstream"),
    ]


def test_a_source_location_ends_the_header_even_when_messages_repeat():
    text = (
        "2017-03-09T17:01:37.552Z\tDEBUG\tsrc/zk/main.go:188\tdecoded XID: -2, ZXID: 6, Err: c1:-2\n"
        "2017-03-09T17:01:39.631Z\tDEBUG\tsrc/zk/main.go:188\tdecoded XID: -2, ZXID: 6, Err: c1:-2\n"
        "2017-03-09T17:01:40.672Z\tDEBUG\tsrc/zk/main.go:188\tdecoded XID: -2, ZXID: 6, Err: c1:-2\n"
    )
    assert {r.message for r in parse(text)} == {"decoded XID: -2, ZXID: 6, Err: c1:-2"}


def test_logfmt_inside_a_wrapper_gives_the_quoted_message():
    text = (
        'web.1.abc@h1    | t=2018-07-30T16:02:43+0000 lvl=info msg="Path Logs" logger=settings\n'
        'web.1.abd@h1    | t=2018-07-30T16:02:44+0000 lvl=eror msg="Dial \\"db\\" failed" err=x\n'
        'web.1.abc@h1    | t=2018-07-30T16:02:45+0000 lvl=info msg="Path Data" logger=settings\n'
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "Path Logs"),
        ("ERROR", 'Dial "db" failed'),
        ("INFO", "Path Data"),
    ]
    assert recs[0].ts.isoformat() == "2018-07-30T16:02:43+00:00"


def test_notice_and_critical_level_letters_and_a_klog_stamp_inside_syslog():
    text = (
        "2020-08-18 18:52:10.569343 I | main: loading config\n"
        "2020-08-18 18:52:10.569404 N | main: already initialised\n"
        "2020-08-18 18:52:10.569411 C | raft: lost quorum\n"
        "2020-08-18 18:52:10.569500 I | embed: name = default\n"
    )
    assert [r.level for r in parse(text)] == ["INFO", "INFO", "FATAL", "INFO"]
    text = (
        "Dec 19 14:02:50 n3 kubelet[289]: I1219 14:02:50.260541   289 plugins.go:420] Loaded a\n"
        "Dec 19 14:02:51 n3 kubelet[289]: E1219 14:02:51.000001   289 kubelet.go:12] Failed b\n"
    )
    recs = parse(text, default_year=2017)
    assert [(r.level, r.message) for r in recs] == [("INFO", "Loaded a"), ("ERROR", "Failed b")]


def test_a_logger_padded_before_its_colon_and_two_stamps():
    text = (
        "2026-05-21T19:36:06.30Z 2026-05-21T19:36:06.306Z  INFO 95 --- [   main] o.s.b.Web"
        "Factory          : Server initialized\n"
        "2026-05-21T19:36:06.31Z 2026-05-21T19:36:06.310Z  INFO 95 --- [   main] org.eclipse"
        ".Server : jetty-12.0.7; built: 2024-02-29\n"
        "2026-05-21T19:36:06.34Z 2026-05-21T19:36:06.341Z  WARN 95 --- [   main] o.e.j.Ctx   "
        "      : Root context: done in 972 ms\n"
    )
    assert [r.message for r in parse(text)] == [
        "Server initialized",
        "jetty-12.0.7; built: 2024-02-29",
        "Root context: done in 972 ms",
    ]


def test_a_component_only_some_lines_name():
    text = (
        "2018/05/04 06:09:56 [INFO] Reloading\n"
        "2018/05/04 06:09:57 [INFO] plugin/reload: Running configuration MD5 = 109b\n"
        "2018/05/04 06:09:58 [INFO] Reloading complete\n"
        "2018/05/04 06:10:00 [ERROR] plugin/errors: 2 example.org. A: i/o timeout\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == [
        "Reloading",
        "Running configuration MD5 = 109b",
        "Reloading complete",
        "2 example.org. A: i/o timeout",
    ]
    assert recs[1].attrs.get("f4") == "plugin/reload"


def test_a_log_pasted_with_an_indent_and_dotted_dates():
    text = (
        "    2024.09.08 19:16:57.892059 [ 312966 ] <Trace> Loader: loading part 1\n"
        "    2024.09.08 19:16:57.893430 [ 312967 ] <Error> Loader: cannot load part 2\n"
        "    2024.09.08 19:16:58.000001 [ 312967 ] <Information> Loader: done\n"
    )
    recs = parse(text)
    assert recs[0].ts.isoformat() == "2024-09-08T19:16:57.892059+00:00"
    assert [(r.level, r.message) for r in recs] == [
        ("TRACE", "loading part 1"),
        ("ERROR", "cannot load part 2"),
        ("INFO", "done"),
    ]


def test_headers_on_two_lines():
    dotnet = (
        "info: Microsoft.Hosting.Lifetime[14]\n"
        "      Now listening on: http://localhost:5137\n"
        "warn: Shop.Api.Orders[7]\n"
        "      Order 12 slow\n"
    )
    recs = parse(dotnet)
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "Now listening on: http://localhost:5137"),
        ("WARN", "Order 12 slow"),
    ]
    assert recs[0].attrs["logger"] == "Microsoft.Hosting.Lifetime"
    jul = (
        "Jan 26, 2014 6:09:51 PM org.apache.catalina.core.StandardContext startInternal\n"
        "SEVERE: Error in resourceStart()\n"
        "Jan 26, 2014 6:09:52 PM org.apache.catalina.core.StandardContext reload\n"
        "INFO: Reloading Context with name [/app] is completed\n"
        "Jan 26, 2014 6:10:03 AM org.apache.catalina.startup.Catalina start\n"
        "INFO: Server startup in 1203 ms\n"
    )
    recs = parse(jul)
    assert [(r.ts.isoformat(), r.level, r.message) for r in recs] == [
        ("2014-01-26T18:09:51+00:00", "ERROR", "Error in resourceStart()"),
        ("2014-01-26T18:09:52+00:00", "INFO", "Reloading Context with name [/app] is completed"),
        ("2014-01-26T06:10:03+00:00", "INFO", "Server startup in 1203 ms"),
    ]


def test_a_sentence_every_line_repeats_is_not_header():
    text = (
        "2020-09-26 11:10:43.757 CEST [77000] LOG stats: 850 xacts/s, 850 queries/s, wait 27 us\n"
        "2020-09-26 11:11:43.757 CEST [77000] LOG stats: 1011 xacts/s, 1015 queries/s, wait 9 us\n"
        "2020-09-26 11:12:43.757 CEST [77000] LOG stats: 931 xacts/s, 934 queries/s, wait 11 us\n"
    )
    assert parse(text)[0].message == "stats: 850 xacts/s, 850 queries/s, wait 27 us"
    text = (
        "2022-03-18T18:36:14.29+0000 mon.a (mon.0) 97 : cluster [WRN] Health check: 3 slow ops, "
        "oldest 65 sec\n"
        "2022-03-18T18:36:19.29+0000 mon.a (mon.0) 98 : cluster [WRN] Health check: 0 slow ops, "
        "oldest 41 sec\n"
        "2022-03-18T18:36:24.29+0000 mon.a (mon.0) 99 : cluster [WRN] Health check: 1 slow ops, "
        "oldest 45 sec\n"
    )
    recs = parse(text)
    assert recs[0].message == "Health check: 3 slow ops, oldest 65 sec"
    assert recs[0].level == "WARN"


def test_a_phrase_after_the_component_and_key_values_after_words_stay_message():
    text = (
        "2024-03-11T21:45:50.317Z [INFO]  client.runner: Task event: id=32c4 type=Received "
        'msg="Task received" failed=false\n'
        "2024-03-11T21:45:50.321Z [INFO]  client.runner: Task event: id=3d60 type=Started "
        'msg="Task started" failed=false\n'
        "2024-03-11T21:45:50.323Z [WARN]  client.runner: Task event: id=47a1 type=Killed "
        'msg="Task killed" failed=true\n'
    )
    recs = parse(text)
    assert recs[0].message == 'Task event: id=32c4 type=Received msg="Task received" failed=false'
    assert "client.runner" in recs[0].attrs.values()


def test_right_aligned_levels_en_us_dates_and_a_bracket_closing_after_the_source():
    text = (
        " INFO 2018-10-18T17:55:21Z: basic: hello world; foo=3;\n"
        "TRACE 2018-10-18T17:55:22Z: basic: new_span: my_span; span=Id(0);\n"
        " WARN 2018-10-18T17:55:23Z: basic: slow; yak_shaved=true;\n"
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "hello world; foo=3;"),
        ("TRACE", "new_span: my_span; span=Id(0);"),
        ("WARN", "slow; yak_shaved=true;"),
    ]
    text = (
        "[Bench][DEBUG][3/5/2020 6:12:48 PM][Thread 0001] Beginning warmups\n"
        "[Bench][INFO][3/5/2020 6:12:51 PM][Thread 0001] Started system on port 8110\n"
        "[Bench][ERROR][3/5/2020 6:12:53 PM][Thread 0002] Join failed\n"
    )
    recs = parse(text)
    assert recs[1].ts.isoformat() == "2020-03-05T18:12:51+00:00"
    assert [(r.level, r.message) for r in recs] == [
        ("DEBUG", "Beginning warmups"),
        ("INFO", "Started system on port 8110"),
        ("ERROR", "Join failed"),
    ]
    text = (
        "[ 2015-11-23 21:53:54.8700 22518/7f62 app/Wat/Main.cpp:1276 ]: Starting watchdog...\n"
        "[ 2015-11-23 21:53:54.9002 22521/7f04 app/Cor/Core.cpp:957 ]: Starting core...\n"
        "[ 2015-11-23 21:53:54.9105 22521/7f04 app/Cor/Core.cpp:707 ]: Core online, PID 22521\n"
    )
    assert [r.message for r in parse(text)] == [
        "Starting watchdog...",
        "Starting core...",
        "Core online, PID 22521",
    ]


def test_logfmt_after_a_prefix_with_a_quoted_time():
    text = (
        'api-7d9f-x1 api time="2019-04-26T10:53:30Z" level=info msg="call done" code=OK\n'
        'ctl-65d8-t9 ctl time="2019-04-26T10:53:31Z" level=warning msg="Update slow" app=x\n'
        'ctl-65d8-t9 ctl time="2019-04-26T10:53:32Z" level=info msg="Reconciled" full=true\n'
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "call done"),
        ("WARN", "Update slow"),
        ("INFO", "Reconciled"),
    ]
    assert recs[1].ts.isoformat() == "2019-04-26T10:53:31+00:00"


def test_levels_inside_brackets_and_after_a_name():
    tornado = (
        "[D 2024-04-04 10:45:35.687 ServerApp] Extension shim took 0.0000s to import\n"
        "[I 2024-04-04 10:45:35.687 ServerApp] lsp | extension was linked.\n"
        "[W 2024-04-04 10:45:36.001 KernelApp] No web browser found\n"
    )
    recs = parse(tornado)
    assert [(r.level, r.message) for r in recs] == [
        ("DEBUG", "Extension shim took 0.0000s to import"),
        ("INFO", "lsp | extension was linked."),
        ("WARN", "No web browser found"),
    ]
    game = (
        "[15:17:48] [Server thread/INFO]: Starting server version 1.7.2\n"
        "[15:17:48] [Server thread/WARN]: To start the server with more ram, use -Xmx\n"
        "[15:17:49] [User Auth #1/INFO]: Loading properties\n"
    )
    recs = parse(game, default_date=date(2014, 1, 2))
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "Starting server version 1.7.2"),
        ("WARN", "To start the server with more ram, use -Xmx"),
        ("INFO", "Loading properties"),
    ]
    named = (
        "Bridge:info  2024-02-10 12:36:27: Currently 0 devices are joined:\n"
        "Bridge:warn  2024-02-10 12:36:27: `permit_join` set to `true`\n"
        "Bridge:error 2024-02-10 12:36:28: Adapter disconnected\n"
    )
    recs = parse(named)
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "Currently 0 devices are joined:"),
        ("WARN", "`permit_join` set to `true`"),
        ("ERROR", "Adapter disconnected"),
    ]


def test_a_source_with_its_function_and_a_path_cut_short():
    text = (
        "2024/10/31 14:15:38 ...xer/stats/indexer.go:41:populate() [I] Populating the index\n"
        "2024/10/31 14:15:38 cmd/web.go:308:listen() [I] AppURL: http://git.example.org/\n"
        "2024/10/31 14:15:39 ...s/actions/cleanup.go:36:clean() [E] Found 3 broken artifacts\n"
    )
    recs = parse(text)
    assert [(r.level, r.message) for r in recs] == [
        ("INFO", "Populating the index"),
        ("INFO", "AppURL: http://git.example.org/"),
        ("ERROR", "Found 3 broken artifacts"),
    ]


def test_a_pipe_layouts_fields_after_the_message_are_taken_off():
    text = (
        "2021-06-17 01:12:53,253 ||  INFO || App.Lifetime || Hosting environment: Dev ||  ||end \n"
        "2021-06-17 01:12:53,308 || DEBUG || App.Filters.Logger || GET /user/test ||  ||end \n"
        "2021-06-17 01:12:53,313 || ERROR || App.Filters.Logger || POST /pay failed ||  ||end \n"
    )
    assert [r.message for r in parse(text)] == [
        "Hosting environment: Dev",
        "GET /user/test",
        "POST /pay failed",
    ]
