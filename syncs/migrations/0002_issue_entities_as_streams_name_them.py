"""Issues written before the streams were declared once named some entities in the engine's or WoW's words;
they now say what clients.ledger.streams says (what the run page showed them as all along)."""

from django.db import migrations

RENAMED = {"entry": "document", "book year": "fiscal year", "book period": "period"}


def forwards(apps, schema_editor):
    SyncIssue = apps.get_model("syncs", "SyncIssue")
    for old, new in RENAMED.items():
        SyncIssue.objects.filter(entity=old).update(entity=new)


class Migration(migrations.Migration):
    dependencies = [("syncs", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
