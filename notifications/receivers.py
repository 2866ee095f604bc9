"""Listening to syncs: a connection that starts needing reconnecting mails its firm's admins, once the
change is committed (a rolled-back mark sends nothing)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from syncs.signals import connection_needs_reconnect


@receiver(connection_needs_reconnect)
def _mail_admins_on_commit(sender: Any, connection_id: int, **kwargs: Any) -> None:
    from .services import notify_connection_needs_reconnect

    transaction.on_commit(lambda: notify_connection_needs_reconnect(connection_id=connection_id))
