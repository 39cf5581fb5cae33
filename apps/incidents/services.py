from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from apps.incidents.models import Project


@transaction.atomic
def create_project(*, name: str, description: str = "", created_by=None) -> Project:
    return Project.objects.create(
        name=name, slug=slugify(name), description=description, created_by=created_by
    )
