"""Re-seal stored API keys with a context that names their endpoint's origin.

Keys sealed before were bound to the tenant only (``analysis.api_key:<schema>``); now the
context is ``analysis.api_key:<schema>:<scheme://host:port>`` of the base URL stored with the
key, so a key never unseals for another host. A key that does not unseal with the old context
(SECRET_KEY changed since) is left as it is: it did not open before either and must be re-entered.
The formula is copied here on purpose: a migration must not change when the app's code does.
"""

from django.conf import settings
from django.db import migrations

from apps.core.analysis.egress import endpoint_origin
from apps.core.sealing import SealError, seal, unseal


def bind_to_host(apps, schema_editor):
    schema = schema_editor.connection.schema_name
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    AISettings = apps.get_model("analysis", "AISettings")
    for ai in AISettings.objects.exclude(api_key_sealed=""):
        try:
            key = unseal(ai.api_key_sealed, secrets=secrets, context=f"analysis.api_key:{schema}")
        except SealError:
            continue
        context = f"analysis.api_key:{schema}:{endpoint_origin(ai.base_url)}"
        ai.api_key_sealed = seal(key, secret=settings.SECRET_KEY, context=context)
        ai.save(update_fields=["api_key_sealed"])


class Migration(migrations.Migration):
    dependencies = [("analysis", "0001_initial")]

    operations = [migrations.RunPython(bind_to_host, migrations.RunPython.noop, elidable=True)]
