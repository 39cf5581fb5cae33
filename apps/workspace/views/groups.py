"""Error group pages: the project's groups, one group (per project or within an incident),
and a member's merge and split decisions (stored as rules, applied now and to future events)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.incidents.models import Incident, Project
from apps.incidents.selectors import get_incident_for_request, get_project_for_request
from apps.ingestion import grouping_store
from apps.ingestion.models import ErrorGroup
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role
from apps.workspace.selectors import groups as selectors

GROUPS_PER_PAGE = 50
MERGE_CHOICES = 50


class MergeForm(forms.Form):
    into = forms.CharField(max_length=32)
    incident = forms.IntegerField(required=False, min_value=1)


class SplitForm(forms.Form):
    position = forms.IntegerField(required=False, min_value=0, max_value=10_000)
    value = forms.CharField(required=False, max_length=1000, strip=False)
    exception_type = forms.CharField(required=False, max_length=300)
    incident = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        data = super().clean()
        if not data.get("exception_type") and data.get("position") is None:
            raise forms.ValidationError("Choose a variable value or an exception type.")
        return data


@require_GET
def group_list(request: TenantHttpRequest, slug: str):
    """The project's groups, errors first, with the number of incidents each was seen in."""
    project = get_project_for_request(request, slug)
    page = Paginator(selectors.project_groups(project), GROUPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"project": project, "page": page, "groups": page.object_list}
    return render(request, "ingestion/groups/list.html", context)


@require_GET
def group_detail(request: TenantHttpRequest, slug: str, group_id: str):
    project = get_project_for_request(request, slug)
    group = selectors.get_group_for_request(request, project, group_id)
    return render(request, "ingestion/groups/detail.html", _detail(request, project, group))


@require_GET
def incident_group_detail(request: TenantHttpRequest, incident_id: int, group_id: str):
    incident = get_incident_for_request(request, incident_id)
    project = incident.project
    group = selectors.get_group_for_request(request, project, group_id)
    context = _detail(request, project, group, incident)
    return render(request, "ingestion/groups/detail.html", context)


def _detail(request, project: Project, group: ErrorGroup, incident: Incident | None = None):
    occurrences = selectors.group_occurrences(group)
    incident_ids = [incident.pk] if incident else [o.incident_id for o in occurrences]
    samples = selectors.sample_events(group, incident_ids)
    positions, matched = selectors.value_distribution(
        group.template_id,
        group.template,
        selectors.distribution_messages(group, incident_ids),
        grouping_store.load_miner(project),
    )
    rules = selectors.group_rules(group)
    here = next((o for o in occurrences if incident and o.incident_id == incident.pk), None)
    others = [o for o in occurrences if not incident or o.incident_id != incident.pk]
    earlier = [
        o
        for o in others
        if incident and (o.incident.created_at, o.incident_id) < (incident.created_at, incident.pk)
    ]
    can_edit = request.membership.allows(Role.MEMBER)
    return {
        "project": project,
        "incident": incident,
        "group": group,
        "occurrence": here,
        "other_occurrences": others,
        "is_new": incident is not None and here is not None and not earlier,
        "samples": samples,
        "services": selectors.group_services(group, incident_ids),
        "positions": positions,
        "matched": matched,
        "why": selectors.why_grouped(group, samples[0].message if samples else None),
        "rules": rules,
        "merged_into": selectors.merged_into(rules, group),
        "spark": (
            selectors.incident_sparkline(incident, group.group_id)
            if incident
            else selectors.project_sparkline(occurrences)
        ),
        "can_edit": can_edit,
        "merge_choices": (
            list(selectors.project_groups(project).exclude(pk=group.pk)[:MERGE_CHOICES])
            if can_edit
            else []
        ),
    }


def _group_url(project: Project, group_id: str, incident_id: int | None) -> str:
    if incident_id and Incident.objects.filter(pk=incident_id, project=project).exists():
        return reverse(
            "groups:incident-group-detail",
            kwargs={"incident_id": incident_id, "group_id": group_id},
        )
    return reverse("groups:group-detail", kwargs={"slug": project.slug, "group_id": group_id})


@require_role(Role.MEMBER)
@require_POST
def group_merge(request: TenantHttpRequest, slug: str, group_id: str):
    """Merge this group into another: its events move now, future ones follow the rule."""
    project = get_project_for_request(request, slug)
    group = selectors.get_group_for_request(request, project, group_id)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the group to merge into.")
        return redirect(_group_url(project, group.group_id, None))
    back = form.cleaned_data.get("incident")
    target = selectors.get_group_for_request(request, project, form.cleaned_data["into"])
    try:
        grouping_store.merge_groups(project=project, source=group, target=target, user=request.user)
    except (ValueError, grouping_store.GroupingBusy) as exc:
        messages.error(request, f"Not merged: {exc}.")
        return redirect(_group_url(project, group.group_id, back))
    messages.success(request, "Merged. Future events of that group land here too.")
    return redirect(_group_url(project, target.group_id, back))


@require_role(Role.MEMBER)
@require_POST
def group_split(request: TenantHttpRequest, slug: str, group_id: str):
    """Split off the events with one variable value (or one exception type) into a new group."""
    project = get_project_for_request(request, slug)
    group = selectors.get_group_for_request(request, project, group_id)
    form = SplitForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a variable value or an exception type to split on.")
        return redirect(_group_url(project, group.group_id, None))
    data = form.cleaned_data
    back = data.get("incident")
    try:
        if data.get("exception_type"):
            condition = {"exception_type": data["exception_type"]}
        else:
            condition = grouping_store.split_condition(
                group, position=data["position"], value=data["value"]
            )
        rule = grouping_store.split_group(
            project=project, group=group, condition=condition, user=request.user
        )
    except (ValueError, grouping_store.GroupingBusy) as exc:
        messages.error(request, f"Not split: {exc}.")
        return redirect(_group_url(project, group.group_id, back))
    messages.success(request, "Split. Future matching events land in this new group too.")
    return redirect(_group_url(project, rule.target_group, back))
