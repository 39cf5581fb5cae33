"""btree_gin in the public schema, once per database, like pg_trgm (0002): it lets one GIN index
hold the source column next to the trigrams, so a text search reads the trigram postings of
the incident's own sources only (ingestion 0007), however many other incidents the tenant has.

Optional: without it the trigram index stays on the text alone (same answers, slower in big
tenants).
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'btree_gin is not available (%): text search indexes the text alone', SQLERRM;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_ingest_tickets")]

    operations = [migrations.RunSQL(CREATE, reverse_sql=migrations.RunSQL.noop)]
