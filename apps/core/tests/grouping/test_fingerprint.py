"""Error-group fingerprints for joined stack traces in four languages."""

from __future__ import annotations

import pytest

from apps.core.grouping.fingerprint import fingerprint, head_line, parse_stack
from apps.core.grouping.miner import Miner

JAVA = """Failed to process order {order}
java.lang.IllegalStateException: order {order} missing
\tat com.acme.orders.OrderService$$EnhancerBySpringCGLIB${suffix}.process(OrderService.java:{line})
\tat com.acme.orders.OrderService.lambda$handle${n}(OrderService.java:77)
\tat org.springframework.aop.framework.CglibAopProxy.intercept(CglibAopProxy.java:12)
\tat java.base/java.lang.Thread.run(Thread.java:833)"""

JAVA_CAUSED = (
    JAVA
    + """
Caused by: {cause}: connection reset
\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:1)
\tat com.acme.orders.Repo.load(Repo.java:{line})
\t... 5 more"""
)

PYTHON = """Unhandled error in checkout {order}
Traceback (most recent call last):
  File "{root}/shop/views.py", line {line}, in checkout
    total = compute(cart)
  File "/usr/lib/python3.12/site-packages/django/core/handlers/base.py", line 197, in _get_response
    response = wrapped_callback(request)
  File "{root}/shop/pricing.py", line {line2}, in compute
    return sum(x.price for x in cart) / len(cart)
{exc}: division by zero"""

GO = """panic: runtime error: index out of range [{i}] with length {n}

goroutine {g} [running]:
main.(*Server).handle(0xc000010000, 0x{i})
\t/home/u/app/server.go:{line} +0x1d
main.main.func1()
\t/home/u/app/main.go:12 +0x25
runtime.goexit()
\t/usr/local/go/src/runtime/asm_amd64.s:1650 +0x1
exit status 2"""

NODE = """{exc}: Cannot read properties of undefined (reading '{field}')
    at Object.getUser (/srv/app/src/users.js:{line}:15)
    at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/layer.js:95:5)
    at /srv/app/src/routes.js:{line2}:7
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"""

CASES = {
    "java": (
        {"order": 1, "suffix": "$a1b2c3", "line": 42, "n": 0},
        {"order": 99, "suffix": "$ffee00", "line": 57, "n": 3},
    ),
    "python": (
        {"order": 1, "root": "/app/src", "line": 31, "line2": 12, "exc": "ZeroDivisionError"},
        {
            "order": 7,
            "root": "/opt/deploy/releases/42/src",
            "line": 35,
            "line2": 14,
            "exc": "ZeroDivisionError",
        },
    ),
    "go": ({"i": 5, "n": 3, "g": 1, "line": 88}, {"i": 9, "n": 2, "g": 17, "line": 91}),
    "node": (
        {"exc": "TypeError", "field": "id", "line": 10, "line2": 22},
        {"exc": "TypeError", "field": "name", "line": 12, "line2": 25},
    ),
}
TEMPLATES = {"java": JAVA, "python": PYTHON, "go": GO, "node": NODE}


def _fp(miner: Miner, message: str):
    return fingerprint(message, miner.add(head_line(message)).template_id)


@pytest.mark.parametrize("lang", sorted(CASES))
def test_same_bug_different_lines_and_values_same_group(lang: str) -> None:
    miner = Miner(salt="f")
    first, second = (TEMPLATES[lang].format(**kw) for kw in CASES[lang])
    a, b = _fp(miner, first), _fp(miner, second)
    assert a.group_id == b.group_id
    assert a.frames_used == b.frames_used and a.frames_used
    assert a.exception_type == b.exception_type
    assert parse_stack(first).language == lang
    for frame in a.frames_used:  # no line numbers, no generated ids, no framework frames
        assert not any(ch.isdigit() for ch in frame.replace("python3", "")), frame
        assert not frame.startswith(("java.", "org.springframework.", "runtime.")), frame
        assert "node_modules" not in frame and "site-packages" not in frame, frame


def test_java_uses_root_cause_and_strips_generated_names() -> None:
    trace = JAVA_CAUSED.format(order=1, suffix="$abc", line=4, n=0, cause="java.sql.SQLException")
    fp = fingerprint(trace, "t")
    assert fp.exception_type == "java.sql.SQLException"
    assert fp.frames_used == ["com.acme.orders.Repo.load"]
    outer = parse_stack(JAVA.format(order=1, suffix="$abc", line=4, n=0))
    assert [str(f) for f in outer.frames if f.in_app] == [
        "com.acme.orders.OrderService.process",
        "com.acme.orders.OrderService.lambda$handle",
    ]


@pytest.mark.parametrize(
    ("lang", "other"),
    [
        ("java", {"order": 1, "suffix": "$a", "line": 42, "n": 0}),
        ("python", {"order": 1, "root": "/app/src", "line": 31, "line2": 12, "exc": "KeyError"}),
        ("node", {"exc": "RangeError", "field": "id", "line": 10, "line2": 22}),
    ],
)
def test_different_exception_type_different_group(lang: str, other: dict) -> None:
    miner = Miner(salt="f")
    base = TEMPLATES[lang].format(**CASES[lang][0])
    if lang == "java":
        changed = base.replace("IllegalStateException", "IllegalArgumentException")
    else:
        changed = TEMPLATES[lang].format(**other)
    assert _fp(miner, base).group_id != _fp(miner, changed).group_id


def test_go_different_panic_different_group() -> None:
    a = GO.format(i=5, n=3, g=1, line=88)
    b = a.replace(
        "runtime error: index out of range [5] with length 3", "assignment to entry in nil map"
    )
    assert fingerprint(a).exception_type == "panic: runtime error: index out of range"
    assert fingerprint(a).group_id != fingerprint(b).group_id


def test_plain_messages_fall_back_to_template() -> None:
    miner = Miner(salt="f")
    a = fingerprint("disk full on /dev/sda1", miner.add("disk full on /dev/sda1").template_id)
    b = fingerprint("disk full on /dev/sdb", miner.add("disk full on /dev/sdb").template_id)
    assert a.group_id == b.group_id and a.exception_type is None and a.frames_used == []
    assert fingerprint("a\nb").exception_type is None  # multi-line but no trace
