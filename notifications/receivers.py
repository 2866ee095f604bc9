"""Listening to syncs: a connection that starts needing reconnecting mails its firm's admins, and a change
alert that opens mails those who opted in, once the change is committed (a rolled-back run sends nothing)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from syncs.signals import change_alert_opened, connection_needs_reconnect


@receiver(connection_needs_reconnect)
def _mail_admins_on_commit(sender: Any, connection_id: int, **kwargs: Any) -> None:
    from .services import notify_connection_needs_reconnect

    transaction.on_commit(lambda: notify_connection_needs_reconnect(connection_id=connection_id))


@receiver(change_alert_opened)
def _mail_opted_in_on_commit(sender: Any, alert_id: int, **kwargs: Any) -> None:
    from .services import notify_change_alert_opened

    transaction.on_commit(lambda: notify_change_alert_opened(alert_id=alert_id))
