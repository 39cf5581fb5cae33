from django_tenants.utils import get_public_schema_name


def tenancy(request):
    tenant = getattr(request, "tenant", None)
    in_tenant = tenant is not None and tenant.schema_name != get_public_schema_name()
    membership = getattr(request, "membership", None)
    return {
        "current_tenant": tenant if in_tenant else None,
        "membership": membership,
        "can_write": bool(membership and membership.allows("member")),
        "is_owner": bool(membership and membership.allows("owner")),
    }
