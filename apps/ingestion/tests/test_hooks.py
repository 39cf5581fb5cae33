"""The ingest job's extension points (apps.ingestion.hooks): the rules app fills them at start-up;
without it, jobs run the built-in catalogue and drop their findings."""

from __future__ import annotations

import pytest

from apps.core.rules.catalogue import Catalogue
from apps.ingestion import hooks
from apps.rules import services as rules


@pytest.fixture
def empty_hooks(monkeypatch):
    monkeypatch.setattr(hooks, "_hooks", hooks._Hooks())


def test_the_rules_app_plugs_its_catalogue_and_findings_in():
    assert hooks._hooks.catalogue_provider is rules.tenant_catalogue
    # rules saves the findings first; alerts and deploys, registered after it, read them
    assert next(iter(hooks._hooks.findings_sinks)) == "rules"
    assert set(hooks._hooks.findings_sinks) == {"rules", "alerts", "deploys"}


def test_without_a_provider_the_built_in_catalogue_runs(empty_hooks):
    assert [r.id for r in hooks.catalogue()] == [r.id for r in Catalogue.load()]
    hooks.findings_found(None, [], {})  # no sink: nothing to do, nothing fails


def test_sinks_run_in_order_and_a_name_registers_once(empty_hooks):
    seen = []
    hooks.register_findings_sink("a", lambda job, findings, ids: seen.append(("a", findings)))
    hooks.register_findings_sink("b", lambda job, findings, ids: seen.append(("b", findings)))
    hooks.register_findings_sink("a", lambda job, findings, ids: seen.append(("a2", findings)))
    hooks.findings_found(None, ["f"], {})
    assert seen == [("a2", ["f"]), ("b", ["f"])]
