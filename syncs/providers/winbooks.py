"""WinbooksOnWeb: the portal's side of the ``winbooks`` client (which knows nothing of Django).

Here the client's errors become messages a user can act on, and the firm's tokens are refreshed
single-flight: under a row lock on the connection, re-reading what another worker may have refreshed in the
meantime, and saving the new tokens (committed) before they are used.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import winbooks
from winbooks import query as q

from .base import Credentials, ProviderError

logger = logging.getLogger(__name__)

TOKEN_HELP = (
    "Create a new exchange token in WinbooksOnWeb (Settings → Control Panel → External applications → Add) "
    "and enter it here soon after it arrives by e-mail: each token works once and expires. Ticking "
    "“Trust this application” gives you more time to enter it."
)
MODULE_HELP = (
    "This WinbooksOnWeb licence does not have the REST API module. If the “External applications” section is "
    "missing from WinbooksOnWeb's Control Panel, ask WinbooksOnWeb support or your client to enable the "
    "REST API module, then create a new exchange token."
)


def _host_is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def clean_api_url(api_url: str) -> str:
    """The API location, normalised; plain http only to a server on this machine (the sandbox)."""
    api_url = api_url.strip().rstrip("/")
    parts = urlsplit(api_url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ProviderError(
            "The API location must be a web address such as https://rapi.winbooksonweb.be.", kind="config"
        )
    if parts.scheme == "http" and not _host_is_loopback(parts.hostname):
        raise ProviderError(
            "The API location must use https:// (tokens would otherwise travel unencrypted).", kind="config"
        )
    if parts.query or parts.fragment or parts.username:
        raise ProviderError(
            "The API location must be a plain address, without ?, # or a user name.", kind="config"
        )
    return api_url


def user_error(error: winbooks.WinbooksError, *, during: str) -> ProviderError:
    """A WinbooksOnWeb error, worded for the person who can fix it."""
    if isinstance(error, winbooks.WinbooksAuthError):
        if error.reason == "invalid_client":
            return ProviderError(
                "This e-mail address is not the one the exchange token was created for. Use the e-mail address "
                "entered in WinbooksOnWeb when the token was created (the address the token was sent to).",
                kind="access",
            )
        if error.reason == "access_denied":
            return ProviderError(MODULE_HELP, kind="access")
        if during == "connect":
            return ProviderError(
                "WinbooksOnWeb did not accept this exchange token: it is wrong, has expired or has already been "
                "used. " + TOKEN_HELP,
                kind="access",
            )
        return ProviderError(
            "WinbooksOnWeb no longer accepts this firm's connection (its access was revoked or has lapsed). "
            "An admin must reconnect it with a new exchange token on the Syncs tab.",
            kind="access",
        )
    if isinstance(error, winbooks.WinbooksForbidden):
        if during == "company":
            return ProviderError(
                "The WinbooksOnWeb account of this sync has no access to that company, or the licence lacks the "
                "REST API module. Check that the user who created the exchange token can open the company in "
                "WinbooksOnWeb.",
                kind="config",
            )
        return ProviderError(MODULE_HELP, kind="access")
    if isinstance(error, winbooks.WinbooksNotFound):
        return ProviderError(
            "WinbooksOnWeb knows no company with this code. Copy the code from WinbooksOnWeb's company switcher, "
            "where it appears in brackets after the company name.",
            kind="config",
        )
    if isinstance(error, winbooks.WinbooksRateLimited):
        return ProviderError(
            "WinbooksOnWeb asks us to slow down; the sync will try again shortly.",
            kind="transient",
            retry_after=error.retry_after,
        )
    if isinstance(error, winbooks.WinbooksTooLarge):
        return ProviderError(
            _(
                "WinbooksOnWeb sent more data in one answer than a sync accepts, so the answer was set aside. "
                "If this happens again, contact support: the company's data or the API location may be wrong."
            ),
            kind="data",
        )
    if isinstance(error, winbooks.WinbooksDeadlineExceeded):
        return ProviderError(
            _("WinbooksOnWeb took too long to answer; the sync will try again later."), kind="transient"
        )
    if isinstance(error, winbooks.WinbooksUnreachable):
        return ProviderError(
            "WinbooksOnWeb could not be reached. Check the API location and try again in a few minutes.",
            kind="transient",
        )
    if isinstance(error, winbooks.WinbooksTransientError):
        return ProviderError(
            "WinbooksOnWeb had a temporary problem answering; try again in a few minutes.", kind="transient"
        )
    return ProviderError(
        f"WinbooksOnWeb answered something we could not use ({type(error).__name__}).", kind="transient"
    )


class WinbooksProvider:
    key = "winbooks"
    label = "WinbooksOnWeb"
    default_api_url = "https://rapi.winbooksonweb.be"

    def exchange(self, *, api_url: str, email: str, exchange_token: str) -> Credentials:
        api_url = clean_api_url(api_url)
        try:
            # A person waits on the page (and a web worker with them): a few seconds, no retries.
            tokens = winbooks.exchange_token(
                api_url=api_url,
                email=email,
                exchange_token=exchange_token,
                limits=winbooks.INTERACTIVE_LIMITS,
                max_retries=0,
            )
        except winbooks.WinbooksError as error:
            logger.info("WinbooksOnWeb token exchange refused: %s", type(error).__name__)
            raise user_error(error, during="connect") from error
        return Credentials(
            api_url=api_url,
            email=email,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_token_expires_at=tokens.expires_at,
        )

    def check_company(self, *, connection_id: int, company_code: str) -> list[dt.date]:
        """Prove the company answers with the connection's tokens; its fiscal years' start dates, sorted
        (a company has a few dozen book years at most: one small call, which the check makes anyway). A person
        waits on the page: a few seconds, no retries."""
        client = client_for_connection(connection_id, limits=winbooks.INTERACTIVE_LIMITS, max_retries=0)
        try:
            raws = client.execute_criteria(company_code, q.Query("BookYear"))
        except winbooks.WinbooksError as error:
            raise user_error(error, during="company") from error
        starts = set()
        for raw in raws:
            try:
                start = winbooks.BookYear.from_json(raw).start_date
            except (winbooks.WinbooksBadPayload, ValueError, TypeError):
                continue  # an unreadable book year is reported by the sync, not here
            if start is not None:
                starts.add(start.date())
        return sorted(starts)


def _tokens(connection: object) -> winbooks.TokenSet:
    from syncs.models import Connection

    assert isinstance(connection, Connection)
    expires_at = connection.access_token_expires_at or timezone.now()
    return winbooks.TokenSet(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        expires_at=expires_at,
    )


def client_for_connection(connection_id: int, **options: Any) -> winbooks.WinbooksClient:
    """A client on the connection's stored tokens, refreshing them single-flight when needed.

    ``options`` reach the client's constructor (timeouts, retries) for tests and benchmarks."""
    from syncs.models import Connection

    connection = Connection.objects.get(pk=connection_id)

    def coordinate(
        stale: winbooks.TokenSet, do_refresh: Callable[[winbooks.TokenSet], winbooks.TokenSet]
    ) -> winbooks.TokenSet:
        return refresh_tokens_single_flight(connection_id, stale, do_refresh)

    return winbooks.WinbooksClient(
        api_url=connection.api_url,
        email=connection.email,
        tokens=_tokens(connection),
        refresh_coordinator=coordinate,
        **options,
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
    from syncs.models import Connection
    from syncs.services import connection_mark_needs_reconnect

    refused: winbooks.WinbooksAuthError | None = None
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        if connection.status != Connection.Status.CONNECTED:
            raise ProviderError(
                "This firm's WinbooksOnWeb connection needs reconnecting by an admin on the Syncs tab.",
                kind="access",
            )
        current = _tokens(connection)
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
        connection_id=connection_id, reason=user_error(refused, during="sync").user_message
    )
    raise user_error(refused, during="sync") from refused
