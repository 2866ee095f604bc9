"""WinbooksOnWeb's errors, as notices for the person who can fix them (silverfin_sync/notices.py: the words),
with their kind (``base.ProviderError``)."""

from __future__ import annotations

import winbooks
from silverfin_sync.notices import Notice
from syncs.models import ErrorKind

from ..base import ProviderError


def user_error(error: winbooks.WinbooksError, *, during: str) -> ProviderError:
    """A WinbooksOnWeb error, for the person who can fix it.

    While connecting, whatever is not a refusal by WoW's token endpoint reads the same (nothing answered,
    something else answered, too slowly, or oddly): what is at an API location is not told to the form.
    """
    if during == "connect" and not isinstance(error, winbooks.WinbooksAuthError | winbooks.WinbooksForbidden):
        return ProviderError(Notice("wow.unreachable"), kind=ErrorKind.TRANSIENT)
    if isinstance(error, winbooks.WinbooksAuthError):
        if error.reason == "invalid_client":
            return ProviderError(Notice("wow.wrong_email"), kind=ErrorKind.ACCESS)
        if error.reason == "access_denied":
            return ProviderError(Notice("wow.no_rest_module"), kind=ErrorKind.ACCESS)
        if during == "connect":
            return ProviderError(Notice("wow.token_refused"), kind=ErrorKind.ACCESS)
        return ProviderError(Notice("wow.access_revoked"), kind=ErrorKind.ACCESS)
    if isinstance(error, winbooks.WinbooksForbidden):
        if during == "company":
            return ProviderError(Notice("wow.company_forbidden"), kind=ErrorKind.CONFIG)
        return ProviderError(Notice("wow.no_rest_module"), kind=ErrorKind.ACCESS)
    if isinstance(error, winbooks.WinbooksNotFound):
        return ProviderError(Notice("wow.company_unknown"), kind=ErrorKind.CONFIG)
    if isinstance(error, winbooks.WinbooksRateLimited):
        return ProviderError(
            Notice("wow.rate_limited"), kind=ErrorKind.TRANSIENT, retry_after=error.retry_after
        )
    if isinstance(error, winbooks.WinbooksBadRequest):
        # The same request gets the same refusal: retrying it five times would only delay saying so.
        return ProviderError(
            Notice("wow.bad_request", {"status": error.status or 400}), kind=ErrorKind.CONFIG
        )
    if isinstance(error, winbooks.WinbooksTooLarge):
        return ProviderError(Notice("wow.answer_too_large"), kind=ErrorKind.DATA)
    if isinstance(error, winbooks.WinbooksBadPayload):
        return ProviderError(Notice("wow.unreadable_answer"), kind=ErrorKind.DATA)
    if isinstance(error, winbooks.WinbooksDeadlineExceeded):
        return ProviderError(Notice("wow.too_slow"), kind=ErrorKind.TRANSIENT)
    if isinstance(error, winbooks.WinbooksUnreachable):
        return ProviderError(Notice("wow.unreachable"), kind=ErrorKind.TRANSIENT)
    if isinstance(error, winbooks.WinbooksTransientError):
        return ProviderError(Notice("wow.temporary"), kind=ErrorKind.TRANSIENT)
    return ProviderError(Notice("wow.unusable_answer"), kind=ErrorKind.TRANSIENT)
