"""The interface between the portal and a bookkeeping package, and the error taxonomy users see.

A package is a ``Provider``: it connects (trades a one-time token for credentials), checks a company code,
and hands the sync engine a ``Reader`` for one company. The engine only ever talks to these two; what to
ask the package, and how its objects become the ledger's plain rows (``clients.ledger.rows``), is the
provider's own business. See docs/architecture.md, "Adding a second package".

Errors fall in four kinds (``syncs.models.ErrorKind``, which a failed run records too), each with its own
handling:

- ``access``: the firm's connection itself is refused (token revoked, licence module missing). The
  connection is marked "needs reconnecting" once, for the whole firm, and its runs stop.
- ``config``: this client file's set-up is wrong (unknown company code, no access to that company). The
  run fails with a message naming what to fix; other client files go on.
- ``transient``: the package is busy or unreachable. Retried with backoff, then reported.
- ``data``: one record cannot be taken in. Quarantined as an issue on the run; the run goes on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from clients.ledger.rows import Rejected
from clients.ledger.streams import Stream
from silverfin_sync.notices import Notice
from syncs.models import ErrorKind


class ProviderError(Exception):
    """An error for the user, with its kind (see the module docstring).

    ``notice`` is what a run or a connection stores (a code and its parameters); ``user_message`` words it
    in the active language, for a form or a command answering now.
    """

    def __init__(
        self, notice: Notice, *, kind: ErrorKind, retry_after: float | None = None, field: str | None = None
    ) -> None:
        super().__init__(notice.code)
        self.notice = notice
        self.kind = ErrorKind(kind)
        self.retry_after = retry_after
        self.field = field  # the form field the notice is about (e.g. the API location), when there is one

    @property
    def user_message(self) -> str:
        return str(self.notice)

    def __str__(self) -> str:
        return self.user_message


@dataclass(frozen=True)
class Credentials:
    """What a successful connect yields, to be stored encrypted."""

    api_url: str  # normalised: where every later call of this connection goes
    email: str
    access_token: str
    refresh_token: str
    access_token_expires_at: dt.datetime


# A stream's position: the package's (Modified, Id) of the last object read, kept as the stream's cursor.
Key = tuple[dt.datetime, str]
NO_KEY: Key = (dt.datetime.min.replace(tzinfo=dt.UTC), "")  # pages read by id move no cursor


@dataclass
class StreamPage:
    """A page of one stream as ledger rows (``clients.ledger.rows``), what could not be read, and where the
    stream stands after it."""

    rows: list[Any]
    rejected: list[Rejected]
    last_key: Key = NO_KEY


@dataclass
class PeriodIds:
    """Every document id and line id the package has in one period (see ``Reader.period_ids``)."""

    entry_ids: set[uuid.UUID] = field(default_factory=set)
    line_ids: set[uuid.UUID] = field(default_factory=set)
    entry_of_line: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    entry_versions: dict[uuid.UUID, int] = field(default_factory=dict)


# Per period: (number of lines with a positive amount, their sum, number of documents, sum of their versions).
PeriodFingerprint = tuple[int, Decimal, int, int]
# Per (period, account): (number of lines, their signed sum); an account of None is a line without one.
AccountSums = dict[tuple[uuid.UUID, uuid.UUID | None], tuple[int, Decimal]]


class Reader(Protocol):
    """One company of one connection, read for the sync engine. Ids are the package's own (``wow_id``);
    every list is complete or the call raises ``ProviderError``: the engine never diffs a partial read."""

    @property
    def api_calls(self) -> int:
        """Calls made so far (the run page and the benchmark show them)."""
        ...

    @property
    def api_calls_by_kind(self) -> dict[str, int]: ...

    @property
    def concurrency(self) -> int:
        """How many of its calls may run at once, each from its own thread (1: one at a time)."""
        ...

    def changed(
        self,
        stream: Stream,
        *,
        since: dt.datetime | None,
        after: Key | None,
        period_ids: Iterable[uuid.UUID] | None = None,
        read_ahead: bool = False,
    ) -> Iterator[StreamPage]:
        """Pages of what changed in ``stream`` after the key ``after`` (or since ``since``), in the package's
        (Modified, Id) order; documents only of ``period_ids`` when given. ``read_ahead``: the reader may
        fetch the next pages while the engine writes one."""
        ...

    def master_fingerprint(self, stream: Stream) -> tuple[int, int]:
        """(number of objects, sum of their versions) of one master-data stream."""
        ...

    def versions(self, stream: Stream) -> dict[uuid.UUID, int]:
        """Every object's id and version of one master-data stream."""
        ...

    def objects(self, stream: Stream, ids: Iterable[uuid.UUID]) -> Iterator[StreamPage]:
        """Master-data objects by id, as pages like ``changed``'s (their ``last_key`` is ``NO_KEY``)."""
        ...

    def period_fingerprints(self) -> dict[uuid.UUID, PeriodFingerprint]:
        """The fingerprint of every period that has documents."""
        ...

    def period_days(self, period_id: uuid.UUID) -> dict[dt.date | None, tuple[list[Any], int, int]]:
        """Per booking date of one period: (the package's own values of that date, documents, sum of their
        versions). The values are handed back to ``period_ids`` as they are."""
        ...

    def period_ids(
        self, period_id: uuid.UUID, *, lines: bool = True, book_dates: list[Any] | None = None
    ) -> PeriodIds:
        """The document ids and versions of one period (with ``lines``, its line ids too; with
        ``book_dates``, only the documents booked on those dates, as ``period_days`` named them)."""
        ...

    def entries(
        self, *, ids: Iterable[uuid.UUID] = (), period_id: uuid.UUID | None = None
    ) -> Iterator[StreamPage]:
        """Documents with their lines: these ids, or every document of a period."""
        ...

    def account_sums(
        self, period_ids: Iterable[uuid.UUID], *, accounts: Iterable[uuid.UUID] | None = None
    ) -> AccountSums:
        """The package's own trial balance of these periods (only ``accounts`` when given)."""
        ...

    def close(self) -> None: ...


class Provider(Protocol):
    key: str  # Connection.provider
    label: str
    default_api_url: str

    def exchange(self, *, api_url: str, email: str, exchange_token: str) -> Credentials:
        """Trade a one-time exchange token for credentials, or raise ProviderError."""
        ...

    def check_company(self, *, connection_id: int, company_code: str) -> list[dt.date]:
        """Prove that the company answers with the connection's credentials (or raise ProviderError), and
        return the first days of its fiscal years, sorted."""
        ...

    def check_companies(
        self, *, connection_id: int, company_codes: Sequence[str]
    ) -> dict[str, list[dt.date] | ProviderError]:
        """``check_company`` for several codes over one connection to the package (an import's preview):
        per code, its fiscal-year starts or the ProviderError ``check_company`` would raise."""
        ...

    def reader(self, *, connection_id: int, company_code: str) -> Reader:
        """A reader of one company with the connection's credentials (refreshed as the package needs)."""
        ...
