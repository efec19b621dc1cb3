"""On PostgreSQL the database itself refuses UPDATE and DELETE of ledger rows."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION wallets_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'wallets_ledgerentry is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS wallets_ledger_append_only ON wallets_ledgerentry;
CREATE TRIGGER wallets_ledger_append_only
    BEFORE UPDATE OR DELETE ON wallets_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS wallets_ledger_append_only ON wallets_ledgerentry;
DROP FUNCTION IF EXISTS wallets_ledger_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial")]
    operations = [migrations.RunPython(create_trigger, drop_trigger)]
