"""Every 행정동 of Korea (accounts/data/korea_dong.csv, 3,512 rows) as a neighbourhood, keyed by
its 행정기관코드 (accounts.services.neighbourhoods_load, also `manage.py load_neighbourhoods`).

The 117 hand-typed 동 of 0002/0004 keep their ids (and so their users and listings): each is
matched by name within its 시군구, else to the nearest 행정동 of the same name stem, and takes
the table's name and centre (its old name stays in `legacy_name`). Reverse: the old names come
back, codes are cleared, and the 동 the table added are removed unless someone uses them."""

from django.db import migrations, transaction
from django.db.models.deletion import ProtectedError


def forwards(apps, schema_editor):
    from accounts.services import neighbourhoods_load

    neighbourhoods_load(model=apps.get_model("accounts", "Neighbourhood"))


def backwards(apps, schema_editor):
    Neighbourhood = apps.get_model("accounts", "Neighbourhood")
    for n in Neighbourhood.objects.exclude(legacy_name=""):
        n.name, n.legacy_name, n.code, n.is_offered = n.legacy_name, "", None, True
        n.save(update_fields=["name", "legacy_name", "code", "is_offered"])
    for n in Neighbourhood.objects.filter(code__isnull=False):
        try:
            with transaction.atomic():
                n.delete()
        except ProtectedError:  # someone lives or sells there: kept, without its code
            Neighbourhood.objects.filter(pk=n.pk).update(code=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_korea_dong_fields")]
    operations = [migrations.RunPython(forwards, backwards)]
