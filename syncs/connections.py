"""A connection's state as the package sees it, and the audit trail: written here, below both the services
and the providers, so a provider that finds its connection refused marks it without calling up into the
services (which call the providers)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from clients.models import ClientFile, Firm
from silverfin_sync.notices import Notice

from .models import AuditEvent, Connection, notice_fields
from .signals import connection_needs_reconnect


def audit_record(
    *,
    firm: Firm,
    actor: User | None,
    action: AuditEvent.Action,
    parameters: dict[str, Any],
    connection: Connection | None = None,
    client_file: ClientFile | None = None,
) -> AuditEvent:
    """An audit event; its summary is worded from ``action`` and ``parameters`` when read, in the
    reader's language (silverfin_sync/notices.py, "audit.<action>")."""
    Notice(f"audit.{action}", parameters)  # an action without a text fails here, not when a page reads it
    return AuditEvent.objects.create(
        firm=firm,
        actor=actor,
        action=action,
        parameters=parameters,
        connection=connection,
        client_file=client_file,
    )


def connection_mark_needs_reconnect(*, connection_id: int, reason: Notice) -> bool:
    """Mark the connection as refused by the package, once; True when this call changed it."""
    with transaction.atomic():
        changed = Connection.objects.filter(pk=connection_id, status=Connection.Status.CONNECTED).update(
            status=Connection.Status.NEEDS_RECONNECT,
            **notice_fields("status_reason", reason),
            status_changed_at=timezone.now(),
        )
        if changed:
            connection = Connection.objects.get(pk=connection_id)
            audit_record(
                firm=connection.firm,
                actor=None,
                action=AuditEvent.Action.NEEDS_RECONNECT,
                connection=connection,
                parameters={"connection": connection.name, "reason": reason.as_json()},
            )
            connection_needs_reconnect.send(sender=Connection, connection_id=connection_id)
    return bool(changed)
