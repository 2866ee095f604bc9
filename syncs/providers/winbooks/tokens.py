"""The firm's WinbooksOnWeb tokens: a client on a connection's stored tokens, refreshed single-flight.

Under a row lock on the connection, a worker re-reads what another worker may have refreshed in the
meantime, and saves new tokens (committed) before they are used: refresh tokens are single-use, so losing
them would lose the connection. A refused refresh marks the connection "needs reconnecting" (syncs.connections),
once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import winbooks
from silverfin_sync.notices import Notice
from syncs.connections import connection_mark_needs_reconnect
from syncs.models import Connection, ErrorKind

from ..api_location import address_check
from ..base import ProviderError
from .errors import user_error
from .slots import licence_slot


def stored_tokens(connection: Connection) -> winbooks.TokenSet:
    """The connection's tokens as the client holds them."""
    expires_at = connection.access_token_expires_at or timezone.now()
    return winbooks.TokenSet(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        expires_at=expires_at,
    )


def client_for_connection(connection_id: int, **options: Any) -> winbooks.WinbooksClient:
    """A client on the connection's stored tokens, refreshing them single-flight when needed.

    ``options`` reach the client's constructor (timeouts, retries) for tests and benchmarks."""
    return client_on(Connection.objects.get(pk=connection_id), **options)


def client_on(
    connection: Connection, *, tokens: winbooks.TokenSet | None = None, **options: Any
) -> winbooks.WinbooksClient:
    """A client of ``connection`` (as read before) on ``tokens`` (default: as stored then): another client of
    a reader, made in a thread of its own without reading the database again."""
    connection_id = connection.pk

    def coordinate(
        stale: winbooks.TokenSet, do_refresh: Callable[[winbooks.TokenSet], winbooks.TokenSet]
    ) -> winbooks.TokenSet:
        return refresh_tokens_single_flight(connection_id, stale, do_refresh)

    return winbooks.WinbooksClient(
        api_url=connection.api_url,
        email=connection.email,
        tokens=tokens or stored_tokens(connection),
        refresh_coordinator=coordinate,
        address_allowed=address_check(),
        exchange_slot=licence_slot(connection_id),
        **{"limits": winbooks.Limits(deadline=settings.WOW_EXCHANGE_DEADLINE_SECONDS), **options},
    )


def refresh_tokens_single_flight(
    connection_id: int, stale: winbooks.TokenSet, do_refresh: Callable[[winbooks.TokenSet], winbooks.TokenSet]
) -> winbooks.TokenSet:
    """Refresh the firm's tokens once for all workers.

    Under a row lock on the connection: when the stored access token is no longer the stale one, another
    worker refreshed already, and its tokens are used. Otherwise this worker refreshes and saves the new
    tokens (refresh tokens are single-use, so losing them would lose the connection) before returning
    them. A refused refresh marks the connection "needs reconnecting", once, after the lock is released.
    """
    refused: winbooks.WinbooksAuthError | None = None
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        if connection.status != Connection.Status.CONNECTED:
            raise ProviderError(Notice("wow.needs_reconnect"), kind=ErrorKind.ACCESS)
        current = stored_tokens(connection)
        if current.access_token != stale.access_token and current.expires_at > timezone.now() + dt.timedelta(
            seconds=30
        ):
            return current
        try:
            fresh = do_refresh(current)
        except winbooks.WinbooksAuthError as error:
            refused = error
        else:
            connection.access_token = fresh.access_token
            connection.refresh_token = fresh.refresh_token
            connection.access_token_expires_at = fresh.expires_at
            connection.save(
                update_fields=["access_token", "refresh_token", "access_token_expires_at", "updated_at"]
            )
            return fresh
    connection_mark_needs_reconnect(
        connection_id=connection_id, reason=user_error(refused, during="sync").notice
    )
    raise user_error(refused, during="sync") from refused
