"""The interface between the portal and a bookkeeping package, and the error taxonomy users see.

Errors fall in four kinds, each with its own handling:

- ``access``: the firm's connection itself is refused (token revoked, licence module missing). The
  connection is marked "needs reconnecting" once, for the whole firm, and its runs stop.
- ``config``: this client file's set-up is wrong (unknown company code, no access to that company). The
  run fails with a message naming what to fix; other client files go on.
- ``transient``: the package is busy or unreachable. Retried with backoff, then reported.
- ``data``: one record cannot be taken in. Quarantined as an issue on the run; the run goes on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

ErrorKind = Literal["access", "config", "transient", "data"]


class ProviderError(Exception):
    """An error worded for the user, with its kind (see the module docstring)."""

    def __init__(self, user_message: str, *, kind: ErrorKind, retry_after: float | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Credentials:
    """What a successful connect yields, to be stored encrypted."""

    api_url: str  # normalised: where every later call of this connection goes
    email: str
    access_token: str
    refresh_token: str
    access_token_expires_at: dt.datetime


class Provider(Protocol):
    key: str
    label: str
    default_api_url: str

    def exchange(self, *, api_url: str, email: str, exchange_token: str) -> Credentials:
        """Trade a one-time exchange token for credentials, or raise ProviderError."""
        ...

    def check_company(self, *, connection_id: int, company_code: str) -> list[dt.date]:
        """Prove that the company answers with the connection's credentials (or raise ProviderError), and
        return the first days of its fiscal years, sorted."""
        ...
