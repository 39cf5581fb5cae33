"""Platform admin (public host only): tenants, their members and roles, the audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import transaction

from apps.tenants import services
from apps.tenants.models import AuditEvent, Domain, Membership, Tenant, slug_validator


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


class MembershipInline(admin.TabularInline):
    model = Membership
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
        active = obj.is_active
        previous = Tenant.objects.get(pk=obj.pk)
        obj.is_active = previous.is_active
        super().save_model(request, obj, form, change)
        services.set_tenant_active(tenant=obj, active=active, actor=request.user)

    @transaction.atomic
    def save_formset(self, request, form, formset, change):
        tenant = form.instance
        for inline_form in formset.forms:
            if not inline_form.has_changed() and not inline_form.cleaned_data.get("DELETE"):
                continue
            data = inline_form.cleaned_data
            if not data:
                continue
            membership = inline_form.instance
            if data.get("DELETE") and membership.pk:
                services.remove_member(membership=membership, actor=request.user)
            elif membership.pk:
                services.change_role(membership=membership, role=data["role"], actor=request.user)
            elif data.get("user"):
                services.add_member(
                    tenant=tenant, user=data["user"], role=data["role"], actor=request.user
                )

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


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]

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
            services.remove_member(membership=membership, actor=request.user)


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


admin.site.register(Domain)
admin.site.site_header = "AI Ops Assistant — platform admin"
