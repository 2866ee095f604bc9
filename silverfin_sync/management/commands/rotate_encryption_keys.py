"""``manage.py rotate_encryption_keys``: re-encrypt every stored secret under the newest key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this
command, then remove the old keys. A secret no configured key can read stops the command before anything
is written: nothing is left half-rotated.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from silverfin_sync.commands import OperatorCommand
from silverfin_sync.crypto import EncryptedTextField, SecretUnreadable, reencrypt


class Command(OperatorCommand):
    help = "Re-encrypt every encrypted field under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
                if not fields:
                    continue
                table = connection.ops.quote_name(model._meta.db_table)
                assert model._meta.pk is not None and model._meta.pk.column is not None
                pk = connection.ops.quote_name(model._meta.pk.column)
                columns = [connection.ops.quote_name(str(f.column)) for f in fields]
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT {pk}, {', '.join(columns)} FROM {table}")  # noqa: S608
                    rows = cursor.fetchall()
                for row_pk, *values in rows:
                    try:
                        fresh = [reencrypt(v) if v else v for v in values]
                    except SecretUnreadable as error:
                        raise CommandError(
                            _("%(row)s: %(error)s Nothing was changed.")
                            % {"row": f"{model._meta.label} #{row_pk}", "error": error}
                        ) from error
                    assignments = ", ".join(f"{c} = %s" for c in columns)
                    with connection.cursor() as cursor:
                        cursor.execute(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", [*fresh, row_pk])  # noqa: S608
                    total += 1
        self.stdout.write(
            ngettext(
                "Re-encrypted %(count)d row under the newest key.",
                "Re-encrypted %(count)d rows under the newest key.",
                total,
            )
            % {"count": total}
        )
