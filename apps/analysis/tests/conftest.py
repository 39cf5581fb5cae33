from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.core.tests.analysis.fake_llm import FakeLLM


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """These cores import no Django and run with ``-p no:django``: neutralise the root conftest's
    autouse fixture of the same name, which needs a configured database connection."""
    yield


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def allow_fake_llm(request: pytest.FixtureRequest) -> None:
    """The fake server listens on 127.0.0.1, which the egress policy refuses unless the operator
    allows it: allow it as an operator would, in the settings and (for worker subprocesses) in
    the environment. Django tests only (it needs pytest-django's ``settings``)."""
    request.getfixturevalue("settings").LLM_EGRESS_ALLOW = ["127.0.0.1"]
    request.getfixturevalue("monkeypatch").setenv("LLM_EGRESS_ALLOW", "127.0.0.1")
