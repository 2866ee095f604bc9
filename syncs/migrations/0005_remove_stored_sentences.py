"""The English sentences, now held as codes (0004), go; a change of "Do not sync before" is its own action."""

from django.db import migrations, models


class Migration(migrations.Migration):
    # Its own migration (its own transaction): PostgreSQL refuses to alter a table with row updates pending.
    dependencies = [("syncs", "0004_notices")]

    operations = [
        migrations.RemoveField(model_name="connection", name="status_reason"),
        migrations.RemoveField(model_name="syncrun", name="error_message"),
        migrations.RemoveField(model_name="syncissue", name="problem"),
        migrations.RemoveField(model_name="syncissue", name="hint"),
        migrations.RemoveField(model_name="auditevent", name="summary"),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("connected", "Connected"),
                    ("reconnected", "Reconnected"),
                    ("disconnected", "Disconnected"),
                    ("needs_reconnect", "Marked as needing reconnection"),
                    ("linked", "Linked"),
                    ("relinked", "Relinked"),
                    ("unlinked", "Unlinked"),
                    ("schedule_changed", "Changed the nightly sync time"),
                    ("start_date_changed", "Changed “Do not sync before”"),
                ],
                max_length=20,
            ),
        ),
    ]
