"""Platform admin (public host only): tenants, their members and roles, the audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.shortcuts import redirect

from apps.tenants import services
from apps.tenants.models import (
    AuditEvent,
    Domain,
    Invitation,
    Membership,
    Role,
    Tenant,
    slug_validator,
)


class TenantCreateForm(forms.ModelForm):
    owner_username = forms.CharField(
        max_length=150, help_text="An existing user becomes owner; otherwise one is created."
    )
    owner_email = forms.EmailField(required=False)
    owner_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Only for a new user. Leave empty to set it later.",
    )

    class Meta:
        model = Tenant
        fields = ["name", "slug"]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        slug_validator(slug)
        if slug == "public":
            raise forms.ValidationError("This slug is reserved.")
        return slug


class MembershipInlineForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a row is one person: change the role, or delete the row
            self.fields["user"].disabled = True


class MembershipFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """Refuse, as a form error, a save that would leave the tenant without an owner
        (services refuse it too; this only says it before anything is written)."""
        super().clean()
        if any(self.errors):
            return
        owners = 0
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            if (form.instance.pk or data.get("user")) and data.get("role") == Role.OWNER:
                owners += 1
        if owners == 0:
            raise forms.ValidationError(
                "A tenant needs at least one owner: make someone else owner first."
            )


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipInlineForm
    formset = MembershipFormSet
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "schema_name", "is_active", "member_count", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["schema_name", "created_at"]
    actions = ["deactivate", "activate"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(schema_name="public")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "owner_username", "owner_email", "owner_password"]
        return ["name", "slug", "schema_name", "is_active", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "schema_name", "created_at"] if obj else []

    def get_inlines(self, request, obj):
        return [MembershipInline] if obj else []

    @admin.display(description="Members")
    def member_count(self, obj: Tenant) -> int:
        return obj.memberships.count()

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.create_tenant(
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                owner_username=form.cleaned_data["owner_username"],
                owner_email=form.cleaned_data.get("owner_email") or "",
                owner_password=form.cleaned_data.get("owner_password") or None,
                actor=request.user,
            )
            obj.pk = created.pk
            obj.schema_name = created.schema_name
            return
        # Every change goes through the services, so each one lands in the audit log.
        if "name" in form.changed_data:
            services.rename_tenant(tenant=obj, name=obj.name, actor=request.user)
        if "is_active" in form.changed_data:
            services.set_tenant_active(
                tenant=obj, active=form.cleaned_data["is_active"], actor=request.user
            )

    @transaction.atomic
    def save_formset(self, request, form, formset, change):
        """Apply the inline's rows through the services (audit-logged), in an order that never
        leaves the tenant ownerless midway: additions and promotions, then demotions, then
        removals. Fills the formset's new/changed/deleted lists the admin's history reads."""
        tenant = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        additions, changes, removals = [], [], []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None) or {}
            membership = inline_form.instance
            if not data:
                continue
            if membership.pk and data.get("DELETE"):
                removals.append(membership)
            elif membership.pk and "role" in inline_form.changed_data:
                changes.append((membership, data["role"]))
            elif not membership.pk and data.get("user") and not data.get("DELETE"):
                additions.append((data["user"], data["role"]))
        changes.sort(key=lambda change: change[1] != Role.OWNER)  # promotions first
        try:
            for user, role in additions:
                formset.new_objects.append(
                    services.add_member(tenant=tenant, user=user, role=role, actor=request.user)
                )
            for membership, role in changes:
                services.change_role(membership=membership, role=role, actor=request.user)
                formset.changed_objects.append((membership, ["role"]))
            for membership in removals:
                services.remove_member(membership=membership, actor=request.user)
                formset.deleted_objects.append(membership)
        except services.MembershipError as exc:  # a concurrent change: say so, keep nothing
            transaction.set_rollback(True)
            messages.error(request, str(exc))

    def delete_model(self, request, obj):
        services.delete_tenant(tenant=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for tenant in queryset:
            services.delete_tenant(tenant=tenant, actor=request.user)

    @admin.action(description="Deactivate selected tenants")
    def deactivate(self, request, queryset):
        for tenant in queryset:
            services.set_tenant_active(tenant=tenant, active=False, actor=request.user)

    @admin.action(description="Activate selected tenants")
    def activate(self, request, queryset):
        for tenant in queryset:
            services.set_tenant_active(tenant=tenant, active=True, actor=request.user)


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["tenant", "user", "role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        if self.instance.pk and role != Role.OWNER and services.is_last_owner(self.instance):
            raise forms.ValidationError(
                "This is the tenant's last owner: make someone else owner first."
            )
        return role


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "user"] if obj else []

    def delete_view(self, request, object_id, extra_context=None):
        membership = self.get_object(request, object_id)
        if membership is not None and services.is_last_owner(membership):
            # the last owner stays (services refuse it as well); deleting the tenant is fine
            messages.error(
                request, "This is the tenant's last owner: make someone else owner first."
            )
            return redirect("admin:tenants_membership_change", membership.pk)
        return super().delete_view(request, object_id, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            services.change_role(membership=obj, role=obj.role, actor=request.user)
        else:
            obj.pk = services.add_member(
                tenant=obj.tenant, user=obj.user, role=obj.role, actor=request.user
            ).pk

    def delete_model(self, request, obj):
        services.remove_member(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            try:
                services.remove_member(membership=membership, actor=request.user)
            except services.MembershipError as exc:
                messages.error(request, str(exc))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "tenant_slug", "actor"]
    list_filter = ["action"]
    search_fields = ["tenant_slug", "detail"]
    readonly_fields = ["created_at", "action", "actor", "tenant_slug", "tenant_schema", "detail"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: owners invite and revoke from their tenant's Team page."""

    list_display = ["email", "tenant", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["email", "tenant__name"]
    exclude = ["token_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(Domain)
admin.site.site_header = "AI Ops Assistant — platform admin"


class AuditedUserAdmin(UserAdmin):
    """Django's user admin, but deleting an account goes through the membership service:
    the removals reach the audit log and a tenant's last owner cannot be deleted."""

    def delete_view(self, request, object_id, extra_context=None):
        user = self.get_object(request, object_id)
        last = user is not None and _last_owner_of(user)
        if last:
            messages.error(request, services.LAST_OWNER_MESSAGE.format(user=user, tenant=last))
            return redirect("admin:auth_user_change", user.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        services.delete_user(user=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            try:
                services.delete_user(user=user, actor=request.user)
            except services.MembershipError as exc:
                messages.error(request, str(exc))


def _last_owner_of(user) -> str | None:
    """The name of a tenant whose only owner is `user`, if any."""
    for membership in Membership.objects.filter(user=user, role=Role.OWNER).select_related(
        "tenant"
    ):
        if services.is_last_owner(membership):
            return membership.tenant.name
    return None


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
