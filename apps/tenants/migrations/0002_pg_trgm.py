"""pg_trgm in the public schema, once per database: every tenant schema's search path ends in
public, so their trigram indexes (event text search) find the operator class there.

Optional: a server without the contrib extensions (e.g. the pgserver wheel) still migrates;
text search then runs without its index (see ingestion 0003).
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): event text search runs without an index', SQLERRM;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, reverse_sql=migrations.RunSQL.noop)]
