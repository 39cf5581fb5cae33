"""Extension points of the ingest job, filled in by the apps above ingestion.

Ingestion runs the rule engine on every job but sits below the rules app on the ladder, so it
cannot import it. Instead it owns two small slots that `apps.rules` fills in its
`RulesConfig.ready()`:

- the **catalogue provider**: the rules to run, with the tenant's settings and custom rules
  (`apps.rules.services.tenant_catalogue`). With none registered the built-in catalogue runs.
- the **findings sinks**: what to do with a finished job's findings (`apps.rules` saves them
  and refreshes the incident's diagnosis). With none registered the findings are dropped.
- the **removal listeners**: told when an incident's events were removed outside a finished
  job (a source deleted, a source about to be read again, a failed job undone), after its
  groups and rollup are rebuilt; `apps.deploys` recomputes the stored correlation, so no
  page names a line that is gone.
- the **history providers**: when the project's other data (`apps.streams`: its stream) first
  showed each template, so a job's "new" is judged against what the project already carried.

All run inside the job, in the tenant's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from apps.core.rules.catalogue import Catalogue
from apps.core.rules.finding import Finding

if TYPE_CHECKING:
    from datetime import datetime

    from apps.incidents.models import Incident
    from apps.ingestion.models import IngestJob

CatalogueProvider = Callable[[], Catalogue]
# project id → {template id: when the project's data first showed it}
HistoryProvider = Callable[[int], Mapping[str, "datetime"]]


class FindingsSink(Protocol):
    def __call__(
        self, job: IngestJob, findings: list[Finding], source_ids: Mapping[str, int]
    ) -> None:
        """Take a finished job's findings; `source_ids` maps member names to Source ids."""


@dataclass(slots=True)
class _Hooks:
    catalogue_provider: CatalogueProvider | None = None
    findings_sinks: dict[str, FindingsSink] = field(default_factory=dict)
    removal_listeners: dict[str, Callable[[Incident], None]] = field(default_factory=dict)
    history_providers: dict[str, HistoryProvider] = field(default_factory=dict)


_hooks = _Hooks()


def register_catalogue_provider(provider: CatalogueProvider) -> None:
    """Set the one catalogue provider (a second registration replaces the first)."""
    _hooks.catalogue_provider = provider


def register_findings_sink(name: str, sink: FindingsSink) -> None:
    """Add a findings sink under `name` (registering a name again replaces its sink)."""
    _hooks.findings_sinks[name] = sink


def catalogue() -> Catalogue:
    """The rules this tenant's jobs run: the registered provider's, else the built-in ones."""
    provider = _hooks.catalogue_provider
    return provider() if provider is not None else Catalogue.load()


def findings_found(job: IngestJob, findings: list[Finding], source_ids: Mapping[str, int]) -> None:
    """Hand a finished job's findings to every registered sink, in registration order."""
    for sink in _hooks.findings_sinks.values():
        sink(job, findings, source_ids)


def register_removal_listener(name: str, listener: Callable[[Incident], None]) -> None:
    """Add a listener for removed events under `name` (a second registration replaces it)."""
    _hooks.removal_listeners[name] = listener


def events_removed(incident: Incident) -> None:
    """Tell every removal listener that some of the incident's events are gone."""
    for listener in _hooks.removal_listeners.values():
        listener(incident)


def register_history_provider(name: str, provider: HistoryProvider) -> None:
    """Add a template-history provider under `name` (registering it again replaces it)."""
    _hooks.history_providers[name] = provider


def template_history(project_id: int) -> dict[str, datetime]:
    """When the project's other data first showed each template: the earliest any registered
    provider knows (empty with none registered)."""
    out: dict[str, datetime] = {}
    for provider in _hooks.history_providers.values():
        for tid, first in provider(project_id).items():
            if tid not in out or first < out[tid]:
                out[tid] = first
    return out
