"""Multi-line records: first/last line numbers exact, raw and message as specified."""

from __future__ import annotations

import pytest

from apps.core.logparse.multiline import Shape, block_shape

from .conftest import parse

JAVA = """\
2024-01-15 14:02:11.123 ERROR 4242 --- [nio-8080-exec-1] c.e.shop.CheckoutController : Checkout failed
java.lang.IllegalStateException: connection pool exhausted
\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:155)
\tat com.example.shop.OrderRepository.save(OrderRepository.java:42)
\tSuppressed: java.io.IOException: close failed
\t\tat com.example.shop.Conn.close(Conn.java:9)
Caused by: java.sql.SQLTransientConnectionException: timeout after 30000ms
\t... 12 more
2024-01-15 14:02:12.001  INFO 4242 --- [nio-8080-exec-2] c.e.shop.CheckoutController : Order 7 accepted
"""

PYTHON = """\
2024-01-15 14:02:11,123 - app.worker - ERROR - job failed
Traceback (most recent call last):
  File "/app/worker.py", line 12, in run
    result = compute(job)
  File "/app/worker.py", line 30, in compute
    return 1 / job.weight
ZeroDivisionError: division by zero
2024-01-15 14:02:12,000 - app.worker - INFO - next job
"""

PYTHON_CHAINED_PLAIN = """\
starting worker
Traceback (most recent call last):
  File "/app/db.py", line 3, in connect
    raise OSError("refused")
OSError: refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/main.py", line 9, in <module>
    connect()
RuntimeError: database unavailable
worker exited
"""

GO = """\
2024/01/15 14:02:11 starting server on :8080
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]

goroutine 1 [running]:
main.(*Server).handle(0x0, 0xc000010000)
\t/app/server.go:42 +0x1c
main.main()
\t/app/main.go:12 +0x85

goroutine 18 [chan receive]:
main.worker()
\t/app/worker.go:9 +0x2a
created by main.main in goroutine 1
\t/app/main.go:10 +0x65
exit status 2
"""

GO_PLAIN = """\
server ready
panic: assignment to entry in nil map

goroutine 1 [running]:
main.main()
\t/app/main.go:7 +0x2c
exit status 2
server restarted
"""

NODE_JSON = """\
{"level":50,"time":1705327331123,"msg":"unhandled rejection"}
TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:14:22)
    at async Router.handle (/app/node_modules/express/lib/router/index.js:284:7)
{"level":30,"time":1705327332123,"msg":"recovered"}
"""


def spans(records):
    return [(r.line, r.end_line) for r in records]


def test_java_stack_trace():
    recs = parse(JAVA)
    assert spans(recs) == [(1, 8), (9, 9)]
    first = recs[0]
    assert first.fmt == "spring-boot"
    assert first.level == "ERROR"
    assert first.raw == "\n".join(JAVA.splitlines()[:8])
    assert first.message.startswith("Checkout failed\njava.lang.IllegalStateException")
    assert first.message.endswith("\t... 12 more")


def test_python_traceback_after_log_line():
    recs = parse(PYTHON)
    assert spans(recs) == [(1, 7), (8, 8)]
    assert recs[0].message.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert recs[0].message.splitlines()[0] == "job failed"


def test_python_chained_traceback_in_plain_text():
    recs = parse(PYTHON_CHAINED_PLAIN)
    assert spans(recs) == [(1, 1), (2, 12), (13, 13)]
    assert recs[1].message.startswith("Traceback (most recent call last):")
    assert recs[1].message.endswith("RuntimeError: database unavailable")


def test_go_panic_with_goroutine_dump():
    recs = parse(GO)
    assert spans(recs) == [(1, 1), (2, 16)]
    assert recs[1].fmt == "plain"  # a panic is never part of the log line before it
    assert recs[1].raw.splitlines()[-1] == "exit status 2"


def test_go_panic_in_plain_output():
    recs = parse(GO_PLAIN)
    assert spans(recs) == [(1, 1), (2, 7), (8, 8)]
    assert recs[1].message.startswith("panic: assignment to entry in nil map")


def test_node_stack_in_json_lines_is_its_own_record():
    recs = parse(NODE_JSON)
    assert spans(recs) == [(1, 1), (2, 4), (5, 5)]
    assert [r.fmt for r in recs] == ["json", "plain", "json"]
    assert recs[1].parsed is False
    assert recs[1].ts_inherited is True
    assert recs[1].ts == recs[0].ts


@pytest.mark.parametrize(
    "message",
    ["  indented", "\tat com.example.Foo.bar(Foo.java:1)", "dump_header+0x4a/0x1f0", " 0"],
)
@pytest.mark.parametrize(
    "previous", ["{}", '{"level":"info","msg":"ok"}'], ids=["empty-object", "event"]
)
def test_a_json_line_is_never_joined_to_the_one_before(previous, message):
    """A JSON object is a whole event, even when its message looks like a frame or a row."""
    import json

    recs = parse(f"{previous}\n{json.dumps({'msg': message})}\n")
    assert spans(recs) == [(1, 1), (2, 2)]


def test_java_stack_inside_cri_lines():
    text = "\n".join(
        [
            "2024-01-15T14:02:11.100000000Z stderr F 2024-01-15 14:02:11.100 ERROR 1 --- [main] c.e.App : boom",
            "2024-01-15T14:02:11.100000001Z stderr F java.lang.NullPointerException: null",
            "2024-01-15T14:02:11.100000002Z stderr F \tat com.example.App.run(App.java:10)",
            "2024-01-15T14:02:11.200000000Z stdout F 2024-01-15 14:02:11.200  INFO 1 --- [main] c.e.App : ok",
        ]
    )
    recs = parse(text)
    assert spans(recs) == [(1, 3), (4, 4)]
    assert recs[0].message == "boom\n\tat com.example.App.run(App.java:10)" or recs[
        0
    ].message.endswith("\tat com.example.App.run(App.java:10)")


def test_cri_partial_lines_are_joined():
    text = "\n".join(
        [
            "2024-01-15T14:02:11.1Z stdout P first half of a long ",
            "2024-01-15T14:02:11.1Z stdout F line",
            "2024-01-15T14:02:11.2Z stdout F next",
        ]
    )
    recs = parse(text)
    assert spans(recs) == [(1, 2), (3, 3)]
    assert recs[0].message == "first half of a long line"


def test_compose_never_joins_across_services():
    text = "\n".join(
        [
            "api-1     | Traceback (most recent call last):",
            'api-1     |   File "/app/x.py", line 1, in <module>',
            "worker-1  |   indented output from another service",
            "api-1     | ValueError: bad",
        ]
    )
    recs = parse(text)
    assert [r.service for r in recs][:2] == ["api", "worker"]
    assert spans(recs)[0] == (1, 2)
    assert recs[1].line == 3


def test_postgres_detail_and_statement_join_their_error():
    text = "\n".join(
        [
            '2024-01-15 14:02:11.123 UTC [77] ERROR:  duplicate key value violates unique constraint "orders_pkey"',
            "2024-01-15 14:02:11.123 UTC [77] DETAIL:  Key (id)=(1) already exists.",
            "2024-01-15 14:02:11.123 UTC [77] STATEMENT:  INSERT INTO orders VALUES (1)",
            "2024-01-15 14:02:11.200 UTC [78] LOG:  checkpoint starting: time",
        ]
    )
    recs = parse(text)
    assert spans(recs) == [(1, 3), (4, 4)]
    assert recs[0].level == "ERROR"


def test_kubectl_describe_events_section():
    text = """\
Name:         api-7d9f-abcde
Namespace:    shop
Events:
  Type     Reason     Age                From               Message
  ----     ------     ----               ----               -------
  Normal   Scheduled  10m                default-scheduler  Successfully assigned shop/api to node-1
  Warning  BackOff    2m (x10 over 5m)   kubelet            Back-off restarting failed container
"""
    recs = parse(text)
    assert spans(recs) == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7)]
    assert recs[6].level == "WARN"
    assert recs[6].fmt == "kubectl-describe"


def test_records_do_not_grow_without_bound():
    text = "2024-01-15 14:02:11,123 - app - ERROR - start\n" + "\n".join(["  x"] * 5000)
    recs = parse(text)
    assert recs[0].line == 1
    assert recs[-1].end_line == 5001
    assert all(r.end_line - r.line < 2000 for r in recs)
    assert sum(r.end_line - r.line + 1 for r in recs) == 5001


# -- blocks that know their shape: real lines from public issue threads ---------------------
# Each case: (source of the lines, text, expected (line, end_line) spans). Hosts, pids and a few
# values shortened; the shapes are as the programs print them.
BLOCK_CASES = [
    (
        # docker/for-linux#1001: a kernel OOM report in syslog, one record per kernel line
        "syslog-kernel-oom",
        """\
Jul 31 07:38:06 docker-1 dockerd[1008]: time="2020-07-31T07:38:06.938453230-04:00" level=info msg="Processing signal 'terminated'"
Jul 31 07:38:07 docker-1 kernel: [52217.760979] bash invoked oom-killer: gfp_mask=0x0(), order=0, oom_score_adj=0
Jul 31 07:38:07 docker-1 kernel: [52217.760982] CPU: 4 PID: 26446 Comm: bash Not tainted 5.3.0-1032-aws #34~18.04.2-Ubuntu
Jul 31 07:38:07 docker-1 kernel: [52217.760982] Hardware name: Amazon EC2 t3.2xlarge/, BIOS 1.0 10/16/2017
Jul 31 07:38:07 docker-1 kernel: [52217.760983] Call Trace:
Jul 31 07:38:07 docker-1 kernel: [52217.760990]  dump_stack+0x6d/0x95
Jul 31 07:38:07 docker-1 kernel: [52217.760995]  dump_header+0x4f/0x200
Jul 31 07:38:07 docker-1 kernel: [52217.760996]  oom_kill_process+0xe6/0x120
Jul 31 07:38:07 docker-1 kernel: [52217.760997]  out_of_memory+0x109/0x510
Jul 31 07:38:07 docker-1 kernel: [52217.761012] RIP: 0033:0x55feb877a
Jul 31 07:38:07 docker-1 kernel: [52217.761013] Mem-Info:
Jul 31 07:38:07 docker-1 kernel: [52217.761013] active_anon:239 inactive_anon:6955 isolated_anon:0
Jul 31 07:38:07 docker-1 kernel: [52217.761013]  active_file:7458 inactive_file:23136 isolated_file:64
Jul 31 07:38:07 docker-1 kernel: [52217.761020] Node 0 DMA free:15908kB min:132kB low:164kB
Jul 31 07:38:07 docker-1 kernel: [52217.761021] lowmem_reserve[]: 0 2991 31670 31670 31670
Jul 31 07:38:07 docker-1 kernel: [52217.761030] Tasks state (memory values in pages):
Jul 31 07:38:07 docker-1 kernel: [52217.761031] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
Jul 31 07:38:07 docker-1 kernel: [52217.761035] [    412]     0   412    35263      556   286720        0             0 systemd-journal
Jul 31 07:38:07 docker-1 kernel: [52217.761040] [  26446]     0 26446     5236      912    81920        0             0 bash
Jul 31 07:38:07 docker-1 kernel: [52217.761060] Out of memory: Killed process 4242 (java) total-vm:8000000kB, anon-rss:7000000kB, file-rss:0kB
Jul 31 07:38:08 docker-1 systemd[1]: docker.service: Main process exited, code=killed, status=9/KILL
""",
        # the report is one record, from `invoked oom-killer` to the task table; the kill
        # itself (a level of its own) and the next program's line are records of their own
        [(1, 1), (2, 19), (20, 20), (21, 21)],
    ),
    (
        # systemd/systemd#40208: journalctl -o short (no uptime), `<TASK>` markers, register rows
        "journald-kernel-trace",
        """\
Dec 26 10:00:01 lily kernel: systemd invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=100
Dec 26 10:00:01 lily kernel: Call Trace:
Dec 26 10:00:01 lily kernel:  <TASK>
Dec 26 10:00:01 lily kernel:  dump_stack_lvl+0x5d/0x80
Dec 26 10:00:01 lily kernel:  dump_header+0x43/0x1aa
Dec 26 10:00:01 lily kernel:  ? __anon_vma_prepare+0x3e/0x160
Dec 26 10:00:01 lily kernel: RIP: 0033:0x7f7fb0b1a9ca
Dec 26 10:00:01 lily kernel: Code: f3 0f 1e fa b8 ea ff ff ff 48 85 ff 74 28 48 85 d2 74 23 49 89 c8
Dec 26 10:00:01 lily kernel:  </TASK>
Dec 26 10:00:02 lily systemd[1]: user@1000.service: A process of this unit has been killed by the OOM killer.
""",
        [(1, 9), (10, 10)],  # the report opens at `invoked oom-killer`
    ),
    (
        # arriven/db1000n#555 and raspberrypi/linux#3872: dmesg, an unheaded Mem-Info row
        "dmesg-oom",
        """\
[101236.553584] app invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0
[101236.749970] Call Trace:
[101236.751757]  dump_stack+0x6d/0x8b
[101237.052204]  __xfs_filemap_fault+0x6f/0x210 [xfs]
[101237.248370] Mem-Info:
[101237.248371] active_anon:239 inactive_anon:6955 isolated_anon:0
                 active_file:7458 inactive_file:23136 isolated_file:64
[101237.248390] Out of memory: Killed process 5641 (app) total-vm:8000000kB, anon-rss:7000000kB
""",
        [(1, 7), (8, 8)],
    ),
    (
        # golang/go#63277: a Go crash with `fp= sp= pc=` frames, after a line of the service's log
        "go-fatal-error",
        """\
2024/01/15 14:02:11 starting worker
fatal error: unexpected signal during runtime execution
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x46e7f0]

runtime stack:
runtime.throw({0x486e64?, 0x40bb79?})
\t/usr/local/go/src/runtime/panic.go:992 +0x71 fp=0x7ffd80fa4310 sp=0x7ffd80fa42e0 pc=0x4339b1

goroutine 1 [syscall]:
main.coreLogic()
\t/data-share/badstack/main.go:48 +0x17 fp=0xc00010df60 sp=0xc00010df50 pc=0x46e777
2024/01/15 14:02:12 worker restarted
""",
        [(1, 1), (2, 11), (12, 12)],
    ),
    (
        # davidhalter/jedi#1101: a chained Python traceback logged by logger.exception
        "python-chained",
        """\
2018-04-24 10:00:00,001 - app - ERROR - flags failed
Traceback (most recent call last):
  File "absl/flags/_flag.py", line 166, in _parse
    return self.parser.parse(argument)
ValueError: ('Non-boolean argument to boolean flag', 128)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "Chinese_rec.py", line 38, in <module>
    tf.app.flags.DEFINE_boolean('batch_size', 128, 'Validation batch size')
absl.flags._exceptions.IllegalFlagValueError: flag --batch_size=128: Non-boolean argument
2018-04-24 10:00:01,000 - app - INFO - exiting
""",
        [(1, 12), (13, 13)],
    ),
    (
        # newrelic/newrelic-java-agent#399: Suppressed and Caused by, then `kubectl describe`
        # text pasted after the exception (it must not be glued onto the stack)
        "java-then-kubectl-describe",
        """\
2021-09-02 10:00:00.000 ERROR 1 --- [main] c.e.App : kaboom
2021-09-02 10:00:00.100  INFO 1 --- [main] c.e.App : retrying
2021-09-02 10:00:00.200 ERROR 1 --- [main] c.e.App : kaboom again
java.lang.RuntimeException: kaboom!
\tat REPL.$JShell$11.do_it$Aux($JShell$11.java:6)
\tSuppressed: java.lang.IllegalStateException: kaboom suppressed 1
\t\tat REPL.$JShell$11.do_it$Aux($JShell$11.java:7)
Caused by: java.lang.IllegalArgumentException: kaboom cause
\t... 12 more
Last State:     Terminated
  Reason:       OOMKilled
  Exit Code:    137
  Warning  BackOff    2m (x10 over 5m)   kubelet            Back-off restarting failed container
""",
        [(1, 1), (2, 2), (3, 9), (10, 12), (13, 13)],
    ),
]

# A trace followed by a line that starts a record of its own: never joined.
STOP_CASES = [
    (
        "python-then-new-stamp",  # a line stamped in a format the source does not use
        """\
2024-01-15 14:02:11,123 - app.worker - ERROR - job failed
Traceback (most recent call last):
  File "/app/worker.py", line 12, in run
ZeroDivisionError: division by zero
Jan 15 14:02:12 web-1 kernel: [  518.05] Out of memory: Killed process 15784 (python3)
""",
        [(1, 4), (5, 5)],
    ),
    (
        "go-then-text",  # text after a goroutine dump is not a frame
        """\
2024/01/15 14:02:11 starting server on :8080
panic: boom

goroutine 1 [running]:
main.main()
\t/app/main.go:7 +0x2c
Name:         api-7d9f-abcde
""",
        [(1, 1), (2, 6), (7, 7)],
    ),
    (
        "kernel-other-stream",  # a frame-shaped line from another program is not the kernel's
        """\
Jul 31 07:38:07 docker-1 kernel: [52217.760983] Call Trace:
Jul 31 07:38:07 docker-1 kernel: [52217.760990]  dump_stack+0x6d/0x95
Jul 31 07:38:07 docker-1 app[12]:  dump_stack+0x6d/0x95
""",
        [(1, 2), (3, 3)],
    ),
    (
        "kernel-far-apart",  # frame-shaped, but minutes of uptime later: another report
        """\
[  100.000000] Call Trace:
[  100.000100]  dump_stack+0x6d/0x95
[  400.000000]  dump_stack+0x6d/0x95
""",
        [(1, 2), (3, 3)],
    ),
    (
        "rows-need-a-block",  # a table-shaped line joins nothing outside a block
        """\
Jul 31 07:38:07 docker-1 kernel: [52217.760982] Hardware name: Amazon EC2 t3.2xlarge/, BIOS 1.0
Jul 31 07:38:07 docker-1 kernel: [52217.761013] active_anon:239 inactive_anon:6955 isolated_anon:0
""",
        [(1, 1), (2, 2)],
    ),
    (
        # SimpleMobileTools/Simple-Clock#563: logcat prints each frame at E; a line that states
        # its level stays an event of its own (as the format corpus labels it)
        "logcat-levelled-frames",
        """\
01-22 08:23:45.054 14701 14717 E AndroidRuntime: java.lang.NullPointerException: Parameter specified as non-null is null
01-22 08:23:45.054 14701 14717 E AndroidRuntime: \tat com.simplemobiletools.clock.App$g.a(SourceFile:3)
""",
        [(1, 1), (2, 2)],
    ),
    (
        "levels-differ",  # an ERROR line is never hidden inside the block before it
        """\
[  518.050000] Call Trace:
[  518.050100]  dump_stack+0x6d/0x95
[  518.050606] Out of memory: Killed process 15784 (python3) total-vm:11964kB, anon-rss:4288kB
""",
        [(1, 2), (3, 3)],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(t, e, id=name) for name, t, e in BLOCK_CASES + STOP_CASES],
)
def test_blocks_join_and_stop(text, expected):
    recs = parse(text)
    assert spans(recs) == expected
    lines = text.splitlines()
    for rec in recs:  # nothing lost: the raw text is every physical line of the span
        assert rec.raw == "\n".join(lines[rec.line - 1 : rec.end_line])


def test_kernel_block_message_drops_each_lines_header():
    recs = parse(BLOCK_CASES[0][1])
    block = next(r for r in recs if r.line == 2)
    assert block.fmt == "kernel"
    assert block.message.splitlines()[:6] == [
        "bash invoked oom-killer: gfp_mask=0x0(), order=0, oom_score_adj=0",
        "CPU: 4 PID: 26446 Comm: bash Not tainted 5.3.0-1032-aws #34~18.04.2-Ubuntu",
        "Hardware name: Amazon EC2 t3.2xlarge/, BIOS 1.0 10/16/2017",
        "Call Trace:",
        " dump_stack+0x6d/0x95",
        " dump_header+0x4f/0x200",
    ]
    assert "docker-1" not in block.message
    assert block.raw.count("\n") == 17  # all 18 physical lines, headers included


@pytest.mark.parametrize(
    ("message", "shape"),
    [
        (" dump_header+0x4a/0x1f0", Shape.FRAME),
        ("? __alloc_pages+0x2df/0x326 [xfs]", Shape.FRAME),
        ("[<c0104174>] (dump_header.isra.7+0x0/0x170) from [<c0104788>]", Shape.FRAME),
        ("<TASK>", Shape.FRAME),
        ("at com.example.App.run(App.java:10)", Shape.FRAME),
        ('File "/app/x.py", line 3, in f', Shape.FRAME),
        ("/app/main.go:7 +0x2c", Shape.FRAME),
        ("Mem-Info:", Shape.ROW),
        ("[  pid  ]   uid  tgid total_vm      rss", Shape.ROW),
        ("Node 0 DMA free:15908kB min:132kB low:164kB", Shape.ROW),
        ("RSP: 002b:00007ffc8d5e1e28 EFLAGS: 00000246", Shape.ROW),
        ("lowmem_reserve[]: 0 2991 31670 31670 31670", Shape.ROW),
        # negatives: ordinary messages
        ("Accepted publickey for deploy from 10.0.0.1 port 22", Shape.NONE),
        ("Out of memory: Killed process 4242 (java)", Shape.NONE),
        ("worker restarted after 3 attempts at 10:00", Shape.NONE),
        ("connection from 10.0.0.1:5432 refused", Shape.NONE),
        ("", Shape.NONE),
    ],
)
def test_block_shapes(message, shape):
    assert block_shape(message) is shape
