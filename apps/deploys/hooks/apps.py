from django.apps import AppConfig


class DeployHooksConfig(AppConfig):
    name = "apps.deploys.hooks"
    label = "deploy_hooks"
    verbose_name = "Deploy webhooks"
