from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deploy_hooks", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deployhook",
            name="provider",
            field=models.CharField(
                choices=[("github", "GitHub"), ("gitlab", "GitLab"), ("argocd", "Argo CD")],
                max_length=20,
            ),
        ),
    ]
