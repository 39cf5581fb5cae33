"""The Team page inside a tenant: members, invitations, the tenant's audit log."""

from django.urls import path

from apps.tenants import team_views

app_name = "team"

urlpatterns = [
    path("team/", team_views.team, name="team"),
    path("team/invite/", team_views.invite, name="invite"),
    path("team/members/<int:membership_id>/role/", team_views.change_role, name="member-role"),
    path(
        "team/members/<int:membership_id>/remove/", team_views.remove_member, name="member-remove"
    ),
    path(
        "team/invitations/<int:invitation_id>/revoke/",
        team_views.revoke_invitation,
        name="invitation-revoke",
    ),
    path("team/audit/", team_views.audit, name="audit"),
]
