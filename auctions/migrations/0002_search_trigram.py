"""Trigram indexes so that title/description search (icontains) stays fast at 100k rows."""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS auction_title_trgm ON auctions_auction USING gin (upper(title) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS auction_desc_trgm ON auctions_auction USING gin (upper(description) gin_trgm_ops);
"""
DROP = """
DROP INDEX IF EXISTS auction_title_trgm;
DROP INDEX IF EXISTS auction_desc_trgm;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("auctions", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
