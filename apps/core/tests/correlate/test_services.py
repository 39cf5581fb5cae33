"""The order services failed in: onsets, stray errors, blame, shared requests, clock offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.correlate.services import Correlator, clock_offsets
from apps.core.vocabulary import EvidenceRef, Level

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
ERROR, INFO = Level.ERROR.value, Level.INFO.value


class Scene:
    """A few services' lines, fed in file order; each service has its own line counter."""

    def __init__(self) -> None:
        self.c = Correlator()
        self.lines: dict[str, int] = {}

    def line(self, service: str, at: float, message: str, *, level=ERROR, group=None, trace=None):
        n = self.lines[service] = self.lines.get(service, 0) + 1
        self.c.feed(
            service=service,
            level=level,
            ts=T0 + timedelta(seconds=at),
            ref=EvidenceRef(f"{service}.log", n),
            group=group or message.split(":")[0],
            message=message,
            trace_id=trace,
        )

    def burst(self, service: str, start: float, message: str, n: int = 30, every: float = 2.0):
        for i in range(n):
            self.line(service, start + i * every, message)


def test_no_errors_no_origin():
    s = Scene()
    s.line("api", 0, "ok", level=INFO)
    result = s.c.result()
    assert result.origin is None and result.services == []


def test_earliest_rise_is_the_origin_and_the_rest_follow_in_order():
    s = Scene()
    s.burst("web", 63, "request failed with status 500")
    s.burst("db", 60, "FATAL: too many clients")
    s.burst("api", 61.5, "query failed: pool timeout")
    result = s.c.result()
    assert result.origin == "db"
    assert result.path == ["db", "api", "web"]
    assert [x.role for x in result.services] == ["origin", "affected", "affected"]
    assert result.services[0].first_error == EvidenceRef("db.log", 1)


def test_errors_that_were_always_there_do_not_start_the_incident():
    s = Scene()
    for i in range(6):  # a stray error every ten minutes, the same kind each time
        s.line("cache", i * 600, "evicted: stale key")
    s.line("cache", 3599, "evicted: stale key")  # one just before, of a kind seen before
    s.burst("api", 3600, "NullPointerException: price is null")
    result = s.c.result()
    assert result.origin == "api"
    assert "cache" not in result.path


def test_a_service_that_names_another_is_downstream_of_it_despite_its_clock():
    s = Scene()
    s.burst("orders", 60, "call to inventory failed: status 500")
    s.burst("inventory", 63, "OutOfMemoryError: Java heap space")  # its clock 3 s late
    result = s.c.result()
    assert result.origin == "inventory"
    assert any("name inventory" in b for b in result.basis)


def test_proxy_errors_report_an_upstream_failure():
    s = Scene()
    s.burst("edge", 60, '"GET /api/cart HTTP/1.1" 502 157')
    s.burst("cart", 60.4, "KeyError: 'currency'")
    assert s.c.result().origin == "cart"


def test_a_route_or_user_agent_is_not_a_dependency():
    s = Scene()
    s.burst("checkout", 59, "TypeError: cannot read 'sku'")
    s.burst("gateway", 60, 'GET /api/checkout 500 "checkout/3.2.0"')
    result = s.c.result()
    assert result.origin == "checkout"
    assert not any("name" in b for b in result.basis)


def test_shared_request_ids_vote_for_where_each_request_failed_first():
    s = Scene()
    for i in range(20):  # onsets tie within the skew; each request fails in db 50 ms earlier
        trace = f"{i:032x}"
        s.line("db", 60.2 + i, "ERROR: deadlock detected", trace=trace)
        s.line("api", 60.25 + i, "transaction aborted", trace=trace)
    result = s.c.result()
    assert result.origin == "db"
    assert result.traces == 20
    assert result.confidence == "high"


def test_a_clock_minutes_off_is_measured_from_shared_requests_and_removed():
    s = Scene()
    for i in range(20):
        trace = f"{i:032x}"
        s.line("api", 60 + i * 2 + 0.01 - 300, "NullPointerException", trace=trace)  # 5 min slow
        s.line("web", 60 + i * 2 + 0.05, "upstream api failed", trace=trace)
    offsets = clock_offsets(s.c.traces)
    assert set(offsets) == {"api"} or set(offsets) == {"web"}
    result = s.c.result()
    assert result.origin == "api"
    assert any("clock" in b for b in result.basis)


def test_near_tie_on_onsets_alone_is_low_confidence():
    s = Scene()
    s.burst("a", 60, "boom")
    s.burst("b", 60.5, "bang")
    result = s.c.result()
    assert result.confidence == "low"


def test_one_service_is_its_own_origin():
    s = Scene()
    s.burst("kernel", 60, "Out of memory: Killed process 42")
    result = s.c.result()
    assert result.origin == "kernel" and result.confidence == "high"


def _tied(caller: str, callee: str, caller_says: str, callee_says: str) -> Scene:
    """Two services failing in the same whole second, the caller's line first in its file."""
    s = Scene()
    for i in range(30):
        s.line(caller, 60 + 2 * i, caller_says, group="c")
        s.line(callee, 60 + 2 * i, callee_says, group="d")
    return s


def test_a_caller_quoting_its_dependencys_error_is_downstream_of_it():
    s = _tied(
        "core",
        "postgresql",
        "failed to get project: pq: sorry, too many clients already",
        "FATAL:  sorry, too many clients already",
    )
    result = s.c.result(hint="core")  # even against the rules' hint
    assert result.origin == "postgresql"


def test_a_shared_clause_is_the_quote_where_it_is_the_smaller_part():
    s = _tied(
        "laravel",
        "mysql",
        "SQLSTATE[HY000]: General error: 1030 Got error 28 - 'No space left on device' from "
        "storage engine (SQL: insert into orders)",
        "[ERROR] [MY-012596] [InnoDB] Error number 28 means 'No space left on device'",
    )
    assert s.c.result(hint="laravel").origin == "mysql"


def test_short_or_mutual_phrases_are_no_echo():
    s = _tied("a-svc", "b-svc", "request failed: timeout", "job failed: timeout")
    assert s.c.result(hint="a-svc").origin == "a-svc"


def test_a_service_deployed_just_before_is_not_taken_as_reporting_its_database():
    s = _tied(
        "web",
        "postgres",
        "Internal Server Error: django.db.utils.ProgrammingError: column orders.code does not "
        "exist",
        "ERROR:  column orders.code does not exist at character 88",
    )
    assert s.c.result().origin in ("web", "postgres")  # a tie without the deploy
    assert s.c.result(changed=frozenset({"web"})).origin == "web"
