"""Errors raised by the WinbooksOnWeb client.

Reference: docs/winbooks-api.md, "Authentication" (token endpoint failures) and "Routes for data" (answers).

Messages, ``repr`` and ``body`` never carry tokens or the e-mail: the client scrubs every secret it knows
before it builds an error, and the request's headers are never stored. ``url`` is kept (it holds only the
route, the folder code and the object code).

Which errors are worth retrying later:

- ``WinbooksTransientError`` (and its ``WinbooksUnreachable``) and ``WinbooksRateLimited``: yes.
- ``WinbooksAuthError``, ``WinbooksForbidden``, ``WinbooksNotFound``, ``WinbooksBadRequest``: no, until a
  person acts (new exchange token, module activated, folder code corrected).
- ``WinbooksBadPayload``: the server answered something the client cannot read; not transient. Its
  ``WinbooksTooLarge``: an answer, or a ContinuePath chain, past the client's limits; not transient either
  (the same request would get the same answer).
- ``WinbooksDeadlineExceeded`` (a ``WinbooksTransientError``): an exchange or a call took longer than its
  deadline and was abandoned; not retried inside the client, worth trying again later.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "WinbooksAuthError",
    "WinbooksBadPayload",
    "WinbooksBadRequest",
    "WinbooksDeadlineExceeded",
    "WinbooksError",
    "WinbooksForbidden",
    "WinbooksNotFound",
    "WinbooksRateLimited",
    "WinbooksTooLarge",
    "WinbooksTransientError",
    "WinbooksUnreachable",
]


class WinbooksError(Exception):
    """Base class of every error the client raises."""

    #: Whether trying the same call again later may succeed.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.method = method
        self.url = url

    def _extra(self) -> dict[str, Any]:
        return {}

    def __str__(self) -> str:
        where = " ".join(part for part in (self.method, self.url) if part)
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if where:
            details.append(where)
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        fields = {"status": self.status, "method": self.method, "url": self.url, **self._extra()}
        shown = "".join(f", {name}={value!r}" for name, value in fields.items() if value is not None)
        return f"{type(self).__name__}({self.message!r}{shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are lost by the default pickling of exceptions (Celery pickles them).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[WinbooksError], message: str, state: dict[str, Any]) -> WinbooksError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class WinbooksAuthError(WinbooksError):
    """The token endpoint refused (exchange or refresh), or a data call stays 401 after a refresh.

    ``reason`` is the OAuth ``error`` field: ``"invalid_grant"`` (unknown, expired, used or revoked token),
    ``"invalid_client"`` (the e-mail is not the one the token was issued to), ``"access_denied"`` (licence
    without the Rest API module), ``"expired"``; or one of the client's own: ``"unauthorized"`` (401 again
    after a refresh), ``"no_tokens"`` (the client has no tokens), ``"unknown"`` (no ``error`` field).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str = "unknown",
        status: int | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, method=method, url=url)
        self.reason = reason

    def _extra(self) -> dict[str, Any]:
        return {"reason": self.reason}


class WinbooksForbidden(WinbooksError):
    """403 on a data call: the Rest API module is not active, or the e-mail has no access to the folder."""


class WinbooksNotFound(WinbooksError):
    """404: for example an unknown folder (company code)."""


class WinbooksBadRequest(WinbooksError):
    """400 (or another unexpected 4xx) on a data call: malformed criteria, unknown property, stale
    ContinuePath. Retrying the same request cannot help."""


class WinbooksBadPayload(WinbooksError):
    """The answer is not valid JSON or does not have the expected shape."""


class WinbooksTooLarge(WinbooksBadPayload):
    """An answer, or one request's ContinuePath chain (in chunks or in bytes), is larger than the client's
    limits allow (``winbooks.client.Limits``). Asking again would get the same answer."""


class WinbooksTransientError(WinbooksError):
    """5xx, or the connection failed; retries inside the client are exhausted. Try again later."""

    transient = True


class WinbooksUnreachable(WinbooksTransientError):
    """The server could not be reached or did not answer in time (connection refused/reset, DNS, TLS,
    timeout)."""


class WinbooksDeadlineExceeded(WinbooksTransientError):
    """An exchange (request and whole answer) or a whole call took longer than its deadline, however the
    server paced it; the connection was cut. Not retried inside the client."""


class WinbooksRateLimited(WinbooksError):
    """429: the server asks to wait ``retry_after`` seconds (``None`` when it did not say), at most the
    client's ``Limits.max_retry_after``."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, method=method, url=url)
        self.retry_after = retry_after

    def _extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}
