"""Tokens and the OAuth token endpoint's request and answer formats.

Reference: docs/winbooks-api.md, "Authentication".

The HTTP calls themselves live in ``winbooks.client`` (``exchange_token``, ``WinbooksClient.exchange`` and
the client's refresh), so that retries and call counting are shared with data calls.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .exceptions import WinbooksAuthError, WinbooksBadPayload

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "REFRESH_MARGIN",
    "TokenSet",
    "auth_error",
    "basic_authorization",
    "exchange_form",
    "redact",
    "refresh_form",
    "tokens_from_json",
]

#: Refresh this long before the access token's expiry (by the client's clock).
REFRESH_MARGIN = timedelta(seconds=30)
#: Lifetime assumed when the token answer has no ``expires_in`` (the documented example's value).
DEFAULT_EXPIRES_IN = 900


@dataclass(frozen=True)
class TokenSet:
    """An access token, its refresh token and the access token's expiry (aware datetime).

    The tokens are left out of ``repr`` so they cannot reach logs by accident.
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None or self.expires_at.utcoffset() is None:
            raise ValueError("TokenSet.expires_at must be timezone-aware")

    def expires_within(self, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
        """Whether the access token has expired at ``now`` or will within ``margin``."""
        return now >= self.expires_at - margin


def basic_authorization(email: str) -> str:
    """The token endpoint's ``Authorization`` header: Basic with the base64 of the e-mail alone."""
    return "Basic " + base64.b64encode(email.encode("utf-8")).decode("ascii")


def exchange_form(exchange_token: str) -> dict[str, str]:
    """Form body that trades an exchange token for tokens."""
    return {"grant_type": "exchange_token", "code": exchange_token}


def refresh_form(refresh_token: str) -> dict[str, str]:
    """Form body of a refresh: ``code`` as the PHP client sends, plus the OAuth-standard ``refresh_token``."""
    return {"grant_type": "refresh_token", "code": refresh_token, "refresh_token": refresh_token}


def _expires_in(value: Any) -> float:
    if value is None or value == "":
        return float(DEFAULT_EXPIRES_IN)
    if isinstance(value, bool):
        raise WinbooksBadPayload("token answer: expires_in is not a number")
    if isinstance(value, int | float | Decimal):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(Decimal(value.strip()))
        except InvalidOperation:
            raise WinbooksBadPayload("token answer: expires_in is not a number") from None
    else:
        raise WinbooksBadPayload("token answer: expires_in is not a number")
    if not 0 <= seconds < 10 * 365 * 86400:
        raise WinbooksBadPayload("token answer: expires_in is out of range")
    return seconds


def tokens_from_json(data: Any, *, now: datetime, previous: TokenSet | None = None) -> TokenSet:
    """A ``TokenSet`` from the token endpoint's 200 answer. ``expires_in`` may be a string or a number.

    On a refresh (``previous`` given) an answer without ``refresh_token`` keeps the previous one.
    """
    if not isinstance(data, Mapping):
        raise WinbooksBadPayload("token answer is not a JSON object")
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise WinbooksBadPayload("token answer has no access_token")
    refresh = data.get("refresh_token")
    if refresh is None and previous is not None:
        refresh = previous.refresh_token
    if not isinstance(refresh, str) or not refresh:
        raise WinbooksBadPayload("token answer has no refresh_token")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=now + timedelta(seconds=_expires_in(data.get("expires_in"))),
    )


_REASON_ALIASES = {"expired_token": "expired", "token_expired": "expired"}

_MESSAGES = {
    "invalid_grant": "the token is unknown, expired, already used or revoked; a new exchange token is needed",
    "invalid_client": "the e-mail address is not the one the exchange token was issued to",
    "access_denied": "access denied; the licence may lack the Rest API module",
    "expired": "the token has expired; a new exchange token is needed",
}


def auth_error(
    *, grant: str, status: int, body: Any, method: str, url: str, secrets: Iterable[str]
) -> WinbooksAuthError:
    """The ``WinbooksAuthError`` for a refused token request (``grant``: ``"exchange"`` or ``"refresh"``);
    ``reason`` is the OAuth ``error`` field."""
    body = redact(body, secrets)
    error = body.get("error") if isinstance(body, Mapping) else None
    reason = _REASON_ALIASES.get(error, error) if isinstance(error, str) and error else "unknown"
    message = f"WinbooksOnWeb refused the {grant}: {_MESSAGES.get(reason, reason)}"
    description = body.get("error_description") if isinstance(body, Mapping) else None
    if isinstance(description, str) and description.strip():
        message += f" ({_shorten(description)})"
    return WinbooksAuthError(message, reason=reason, status=status, body=body, method=method, url=url)


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (a string or parsed JSON) with every secret replaced by ``***``."""
    known = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
    return _redact(value, known)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, Mapping):
        return {_redact(key, secrets): _redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    return value
