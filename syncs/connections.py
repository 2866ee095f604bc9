"""A connection's state as the package sees it, and the audit trail: written here, below both the services
and the providers, so a provider that finds its connection refused marks it without calling up into the
services (which call the providers)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from clients.models import ClientFile, Firm

from .models import AuditEvent, Connection
from .signals import connection_needs_reconnect


def audit_record(
    *,
    firm: Firm,
    actor: User | None,
    action: AuditEvent.Action,
    summary: str,
    connection: Connection | None = None,
    client_file: ClientFile | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        firm=firm,
        actor=actor,
        action=action,
        summary=summary[:500],
        connection=connection,
        client_file=client_file,
    )


def connection_mark_needs_reconnect(*, connection_id: int, reason: str) -> bool:
    """Mark the connection as refused by the package, once; True when this call changed it."""
    with transaction.atomic():
        changed = Connection.objects.filter(pk=connection_id, status=Connection.Status.CONNECTED).update(
            status=Connection.Status.NEEDS_RECONNECT,
            status_reason=reason[:500],
            status_changed_at=timezone.now(),
        )
        if changed:
            connection = Connection.objects.get(pk=connection_id)
            audit_record(
                firm=connection.firm,
                actor=None,
                action=AuditEvent.Action.NEEDS_RECONNECT,
                connection=connection,
                summary=f"“{connection.name}” needs reconnecting: {reason}",
            )
            connection_needs_reconnect.send(sender=Connection, connection_id=connection_id)
    return bool(changed)
