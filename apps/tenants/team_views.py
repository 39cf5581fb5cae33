"""The Team page inside a tenant (/t/<slug>/team/) and the invitation accept page (/invite/…).

Everyone in the tenant sees who is in it and with which role; owners invite, change roles,
remove members, revoke invitations and read the tenant's audit log (403 for the others, as
the app's other owner pages do). Every change goes through apps.tenants.services.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.tenants import services
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.forms import InviteForm, InviteSignUpForm, RoleForm
from apps.tenants.models import AuditEvent, Invitation, Membership, Role

log = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 25


def _members(request: TenantHttpRequest):
    return (
        Membership.objects.filter(tenant=request.tenant)
        .select_related("user")
        .order_by("user__username")
    )


def _pending_invitations(request: TenantHttpRequest):
    return (
        Invitation.objects.filter(
            tenant=request.tenant,
            accepted_at=None,
            revoked_at=None,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def _team_page(request: TenantHttpRequest, invite_form: InviteForm | None = None, status=200):
    context = {
        "members": list(_members(request)),
        "roles": Role.choices,
        "invitation_days": settings.INVITATION_MAX_AGE // 86400,
    }
    if request.membership.allows(Role.OWNER):
        context["invitations"] = list(_pending_invitations(request))
        context["invite_form"] = invite_form or InviteForm()
    return render(request, "tenants/team.html", context, status=status)


@require_GET
def team(request: TenantHttpRequest):
    return _team_page(request)


@require_role(Role.OWNER)
@require_POST
def invite(request: TenantHttpRequest):
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _team_page(request, form, status=400)
    try:
        invitation, token = services.invite(
            tenant=request.tenant,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=request.user,
        )
    except services.InvitationError as exc:
        form.add_error("email", str(exc))
        return _team_page(request, form, status=400)
    path = reverse("invite-accept", urlconf=settings.PUBLIC_SCHEMA_URLCONF, args=[token])
    try:
        services.send_invitation(invitation=invitation, accept_url=request.build_absolute_uri(path))
    except OSError as exc:  # smtplib's errors are OSErrors too
        log.warning("invitation e-mail to tenant %s failed: %s", request.tenant.slug, exc)
        messages.error(
            request,
            f"The invitation for {invitation.email} is saved, but the e-mail could not be sent "
            "(check the mail settings). Revoke it and invite again once mail works.",
        )
    else:
        messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("team:team")


def _membership(request: TenantHttpRequest, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("tenant", "user"),
        pk=membership_id,
        tenant=request.tenant,
    )


def _after_own_change(request: TenantHttpRequest):
    """Where to go once the change may have taken the owner's own rights away."""
    mine = Membership.objects.filter(tenant=request.tenant, user=request.user).first()
    return redirect("team:team") if mine else redirect("/")


@require_role(Role.OWNER)
@require_POST
def change_role(request: TenantHttpRequest, membership_id: int):
    membership = _membership(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("team:team")
    try:
        services.change_role(
            membership=membership, role=form.cleaned_data["role"], actor=request.user
        )
    except services.MembershipError as exc:
        messages.error(request, str(exc))
        return redirect("team:team")
    label = Role(form.cleaned_data["role"]).label.lower()
    messages.success(request, f"{membership.user.get_username()} is now {label}.")
    return _after_own_change(request)


@require_role(Role.OWNER)
@require_POST
def remove_member(request: TenantHttpRequest, membership_id: int):
    membership = _membership(request, membership_id)
    try:
        services.remove_member(membership=membership, actor=request.user)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
        return redirect("team:team")
    messages.success(request, f"{membership.user.get_username()} was removed from the team.")
    return _after_own_change(request)


@require_role(Role.OWNER)
@require_POST
def revoke_invitation(request: TenantHttpRequest, invitation_id: int):
    invitation = get_object_or_404(
        Invitation.objects.select_related("tenant"), pk=invitation_id, tenant=request.tenant
    )
    try:
        services.revoke_invitation(invitation=invitation, actor=request.user)
    except services.InvitationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The invitation for {invitation.email} was revoked.")
    return redirect("team:team")


@require_role(Role.OWNER)
@require_GET
def audit(request: TenantHttpRequest):
    events = (
        AuditEvent.objects.filter(
            tenant_slug=request.tenant.slug, tenant_schema=request.tenant.schema_name
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tenants/audit.html", {"page": page})


# --- the accept page, on the public root (the invitee is not a member yet) --------------------


@require_http_methods(["GET", "POST"])
def accept(request, token: str):
    """Accept an invitation: a signed-in account whose e-mail is the invited address joins
    with one click; someone without an account picks a username and password here. Unknown,
    expired, used and revoked links get a page that says which (status 404 or 410)."""
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationError as exc:
        return _unusable(request, exc)
    user = request.user
    signup_form = None
    if user.is_authenticated:
        if request.method == "POST":
            try:
                services.accept_invitation(token=token, user=user)
            except services.InvitationError as exc:
                return _unusable(request, exc)
            messages.success(request, f"Welcome to {invitation.tenant.name}.")
            return redirect(invitation.tenant.url_prefix)
    elif _account_exists(invitation):
        pass  # the address has an account: sign in with it (a second one would be confusing)
    else:
        signup_form = InviteSignUpForm(request.POST or None)
        if request.method == "POST" and signup_form.is_valid():
            try:
                new_user = services.sign_up_and_accept(
                    token=token,
                    username=signup_form.cleaned_data["username"],
                    password=signup_form.cleaned_data["password1"],
                )
            except services.InvitationError as exc:
                return _unusable(request, exc)
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {invitation.tenant.name}.")
            return redirect(invitation.tenant.url_prefix)
    return render(
        request,
        "tenants/invite_accept.html",
        {
            "invitation": invitation,
            "signup_form": signup_form,
            "email_matches": user.is_authenticated and services.email_matches(invitation, user),
            "login_url": f"{settings.LOGIN_URL}?next={request.path}",
        },
        status=400 if signup_form is not None and signup_form.errors else 200,
    )


def _account_exists(invitation: Invitation) -> bool:
    return services.User.objects.filter(email__iexact=invitation.email).exclude(email="").exists()


def _unusable(request, exc: services.InvitationError):
    return render(request, "tenants/invite_unusable.html", {"reason": str(exc)}, status=exc.status)
