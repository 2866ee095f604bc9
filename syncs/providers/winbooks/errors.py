"""WinbooksOnWeb's errors, worded for the person who can fix them, with their kind (``base.ProviderError``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

import winbooks

from ..base import ProviderError

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


def user_error(error: winbooks.WinbooksError, *, during: str) -> ProviderError:
    """A WinbooksOnWeb error, worded for the person who can fix it.

    While connecting, whatever is not a refusal by WoW's token endpoint reads the same (nothing answered,
    something else answered, too slowly, or oddly): what is at an API location is not told to the form.
    """
    if during == "connect" and not isinstance(error, winbooks.WinbooksAuthError | winbooks.WinbooksForbidden):
        return ProviderError(
            "WinbooksOnWeb could not be reached. Check the API location and try again in a few minutes.",
            kind="transient",
        )
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
    return ProviderError(_("WinbooksOnWeb answered something we could not use."), kind="transient")
