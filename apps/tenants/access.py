"""Who may do what inside a tenant. The middleware decides membership; views ask for roles."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from apps.tenants.models import Membership, Role, Tenant


class TenantHttpRequest(HttpRequest):
    """A request inside /t/<slug>/ after TenantAccessMiddleware let it through."""

    htmx: HtmxDetails
    tenant: Tenant
    membership: Membership


def require_role(role: Role) -> Callable:
    """Refuse (403) a signed-in member whose role is below `role`; viewers are read-only."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: TenantHttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.membership.allows(role):
                raise PermissionDenied(f"This needs the {Role(role).label} role.")
            return view(request, *args, **kwargs)

        wrapped.required_role = role  # read by the access tests
        return wrapped

    return decorator
