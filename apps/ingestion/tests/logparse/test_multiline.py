"""Multi-line records: first/last line numbers exact, raw and message as specified."""

from __future__ import annotations

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
