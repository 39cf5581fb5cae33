"""Deploy webhooks' secrets, in the public schema: a webhook carries no token, so its repository
(GitHub `owner/name`, GitLab `group/name`) selects the candidate hooks and the signature or
token, checked against each one's secret, picks the tenant and the project. An Argo CD
notification names no repository: its secret is `<key>.<random>` and the key, stored in
`repository`, selects the hook. Secrets are sealed (apps.core.sealing) with the tenant's
schema as context: a dump alone does not reveal them."""

from __future__ import annotations

from django.db import models

from apps.tenants.models import Tenant


class DeployHook(models.Model):
    class Provider(models.TextChoices):
        GITHUB = "github", "GitHub"
        GITLAB = "gitlab", "GitLab"
        ARGOCD = "argocd", "Argo CD"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="deploy_hooks")
    # The project lives in the tenant's schema: its id and slug are plain copies, no constraint.
    project_id = models.BigIntegerField()
    project_slug = models.CharField(max_length=80)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    repository = models.CharField(max_length=200)  # owner/name, lower case; Argo CD: the key
    secret_sealed = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["provider", "repository"], name="deploy_hook_repository")]

    def __str__(self) -> str:
        return f"{self.provider} {self.repository} → {self.tenant_id}/{self.project_slug}"
