"""A project's alerting page (owners): channels with *Send test*, rules with snooze, and the
delivery log. One view serves the page and each section as an HTMX partial. Nothing here
sends anything: tests and alerts are queued as jobs."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.alerts import services
from apps.alerts.forms import ChannelForm, RuleForm
from apps.alerts.models import AlertRule, Channel, InboundAlert, Notification
from apps.incidents.selectors import get_project_for_request
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role

TEMPLATE = "alerts/settings.html"
LOG_SIZE = 30
INBOUND_SHOWN = 20
SNOOZE_CHOICES = (60, 240, 1440)  # minutes


def _context(request: TenantHttpRequest, project, **extra) -> dict:
    context = {
        "project": project,
        "channels": list(Channel.objects.filter(project=project)),
        "rules": list(AlertRule.objects.filter(project=project).prefetch_related("channels")),
        "log": list(
            Notification.objects.filter(channel__project=project)
            .select_related("channel")
            .prefetch_related("attempts_log")[:LOG_SIZE]
        ),
        "channel_form": ChannelForm(),
        "rule_form": RuleForm(project=project),
        "snooze_choices": SNOOZE_CHOICES,
        "now": timezone.now(),
        "inbound": InboundAlert.objects.filter(project=project)[:INBOUND_SHOWN],  # lazy
        "ingest_base": settings.ALERTS_SITE_URL.rstrip("/"),
    }
    context.update(extra)
    return context


def _section(request: TenantHttpRequest, project, part: str, **extra) -> HttpResponse:
    name = f"{TEMPLATE}#{part}" if request.htmx else TEMPLATE
    return render(request, name, _context(request, project, **extra))


@require_role(Role.OWNER)
@require_GET
def alert_settings(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    if request.htmx and request.GET.get("part") == "log":
        return render(request, f"{TEMPLATE}#log", _context(request, project))
    return render(request, TEMPLATE, _context(request, project))


@require_role(Role.OWNER)
@require_POST
def channel_add(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    form = ChannelForm(request.POST)
    if not form.is_valid():
        return _section(request, project, "channels", channel_form=form)
    data = form.cleaned_data
    channel, secret = services.create_channel(
        project=project,
        kind=data["kind"],
        name=data["name"],
        url=data["url"],
        routing_key=(data.get("routing_key") or "").strip(),
        recipients=data.get("recipients") or "",
        created_by=request.user,
    )
    return _section(request, project, "channels", created=channel, signing_secret=secret)


@require_role(Role.OWNER)
@require_POST
def channel_action(request: TenantHttpRequest, slug: str):
    """test | enable | disable | delete the channel named by POST `channel`."""
    project = get_project_for_request(request, slug)
    channel = get_object_or_404(Channel, project=project, pk=_int(request.POST.get("channel")))
    action = request.POST.get("action")
    flash = ""
    if action == "test":
        services.send_test(channel)
        flash = f"Test message queued for {channel.name}; see the delivery log."
    elif action in ("enable", "disable"):
        channel.enabled = action == "enable"
        channel.save(update_fields=["enabled"])
    elif action == "delete":
        channel.delete()
    else:
        return HttpResponse("Unknown action.", status=400)
    return _section(request, project, "channels", flash=flash)


@require_role(Role.OWNER)
@require_POST
def rule_add(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    form = RuleForm(request.POST, project=project)
    if form.is_valid():
        rule = form.save(commit=False)
        rule.project = project
        rule.save()
        form.save_m2m()
        form = RuleForm(project=project)
    return _section(request, project, "rules", rule_form=form)


@require_role(Role.OWNER)
@require_POST
def rule_action(request: TenantHttpRequest, slug: str):
    """snooze (POST `minutes`) | unsnooze | enable | disable | delete the rule POST `rule`."""
    project = get_project_for_request(request, slug)
    rule = get_object_or_404(AlertRule, project=project, pk=_int(request.POST.get("rule")))
    action = request.POST.get("action")
    if action == "snooze":
        minutes = _int(request.POST.get("minutes"))
        if minutes not in SNOOZE_CHOICES:
            return HttpResponse("Unknown snooze.", status=400)
        rule.snoozed_until = timezone.now() + timedelta(minutes=minutes)
        rule.save(update_fields=["snoozed_until"])
    elif action == "unsnooze":
        rule.snoozed_until = None
        rule.save(update_fields=["snoozed_until"])
    elif action in ("enable", "disable"):
        rule.enabled = action == "enable"
        rule.save(update_fields=["enabled"])
    elif action == "delete":
        rule.delete()
    else:
        return HttpResponse("Unknown action.", status=400)
    return _section(request, project, "rules")


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 0
