"""Reading one WinbooksOnWeb company for the sync engine: the ``base.Reader`` of WinbooksOnWeb.

Everything WoW-specific about *what* to ask lives here: which object model feeds which stream, the
aggregate queries behind fingerprints and proof. How an object becomes a ledger row is ``conversion``'s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import threading
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import winbooks
from clients.ledger.streams import ENTRIES, STREAM_BY_KEY, Stream
from syncs.models import Connection
from winbooks import query as q
from winbooks.documents import decode_documents
from winbooks.pagination import after_key
from winbooks.records import ZERO_GUID

from ...prefetch import SOURCE_DONE, Interleaved, OrderedMap, Prefetcher
from ..base import NO_KEY, AccountSums, Key, PeriodFingerprint, PeriodIds, StreamPage
from .conversion import day_of, decoded_page, parse_guid, records_page
from .errors import user_error
from .slots import requests_in_flight_per_run
from .tokens import client_on

# Where WoW keeps each stream (clients/ledger/streams.py): its object model, and how deep its objects are
# read (documents with their lines, customers and suppliers with their third party).
STREAM_OMS: dict[str, str] = {
    "fiscal_years": "BookYear",
    "periods": "BookPeriod",
    "journals": "Journal",
    "accounts": "GLAccount",
    "customers": "Customer",
    "suppliers": "Supplier",
    "entries": "GLTransHeader",
}
if set(STREAM_OMS) != set(STREAM_BY_KEY):
    raise ImportError("STREAM_OMS must name WoW's object model of every stream in clients.ledger.streams.")
MAX_LEVEL = {"entries": 2, "customers": 2, "suppliers": 2}
PAGE_SIZE = {"entries": 500}
DEFAULT_PAGE_SIZE = 1000
ID_BATCH = 100  # ids per In condition when fetching documents by id
# Documents are read side by side (one keyset cursor per group of periods) only when more than this many
# changed: below it, one read is a few chunks, and each group's last short page would cost more calls than
# it saves round trips. A group holds at least SIDE_BY_SIDE_MIN_GROUP documents (unless a period has fewer).
SIDE_BY_SIDE_MIN_DOCUMENTS = 100
SIDE_BY_SIDE_MIN_GROUP = 40
# Groups of periods per request in flight: several each, so a thread that finishes a small group takes the
# next one instead of the run waiting on its largest group at the end.
GROUPS_PER_LANE = 4


class _Clients:
    """The reader's WoW clients, one per request it may have in flight (a client is not thread-safe). A
    thread borrows one for a call and gives it back; a new one is made (on the connection's stored tokens,
    refreshed single-flight) only when every client is busy and fewer than ``size`` exist."""

    def __init__(
        self, first: winbooks.WinbooksClient, make: Callable[[], winbooks.WinbooksClient] | None, size: int
    ) -> None:
        self.size = size if make is not None else 1
        self._make = make
        self._free = [first]
        self.all = [first]
        self._made = 1
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def lane(self) -> Iterator[winbooks.WinbooksClient]:
        client: winbooks.WinbooksClient | None = None
        with self._changed:
            while not self._free and self._made >= self.size:
                self._changed.wait()
            if self._free:
                client = self._free.pop()
            else:
                self._made += 1
        if client is None:
            assert self._make is not None
            try:
                client = self._make()
            except BaseException:
                with self._changed:
                    self._made -= 1
                    self._changed.notify()
                raise
            self.all.append(client)
        try:
            yield client
        finally:
            with self._changed:
                self._free.append(client)
                self._changed.notify()


class WinbooksReader:
    """One company (folder) of one connection, read with the connection's tokens.

    Up to ``requests_in_flight`` requests at once (default ``WOW_REQUESTS_IN_FLIGHT_PER_RUN``, never above
    the licence's cap, whose Redis semaphore every client of the connection passes through): documents are
    then read a group of periods per request in flight, and its methods may be called from several threads
    (each call borrows a client of its own). A reader given one ``client`` and no ``make_client`` reads one
    request at a time on it.
    """

    def __init__(
        self,
        *,
        connection_id: int,
        company_code: str,
        client: winbooks.WinbooksClient | None = None,
        make_client: Callable[[], winbooks.WinbooksClient] | None = None,
        requests_in_flight: int | None = None,
    ):
        self.company_code = company_code
        if make_client is None and client is None:
            connection = Connection.objects.get(pk=connection_id)
            # The other clients are made in the threads that use them, on the freshest tokens in hand.
            make_client = lambda: client_on(connection, tokens=self._freshest_tokens())  # noqa: E731
            client = client_on(connection)
        first = client or (make_client() if make_client is not None else None)
        assert first is not None
        self.client = first  # the first of the clients
        self.__dict__["_clients"] = _Clients(
            first, make_client, requests_in_flight if requests_in_flight else requests_in_flight_per_run()
        )

    @functools.cached_property
    def _clients(self) -> _Clients:
        """(Set by ``__init__``; a subclass that sets only ``client`` reads one request at a time on it.)"""
        return _Clients(self.client, None, 1)

    def _freshest_tokens(self) -> winbooks.TokenSet | None:
        held = [client.tokens for client in list(self._clients.all) if client.tokens is not None]
        return max(held, key=lambda tokens: tokens.expires_at) if held else None

    @property
    def concurrency(self) -> int:
        return self._clients.size

    @property
    def api_calls(self) -> int:
        return sum(client.api_calls for client in list(self._clients.all))

    @property
    def api_calls_by_kind(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for client in list(self._clients.all):
            for kind, calls in list(client.api_calls_by_kind.items()):
                total[kind] = total.get(kind, 0) + calls
        return total

    def _call(self, function: Callable[[winbooks.WinbooksClient], Any]) -> Any:
        try:
            with self._clients.lane() as client:
                return function(client)
        except winbooks.WinbooksError as error:
            raise user_error(error, during="sync") from error

    def _criteria(self, query: q.Query) -> list[Any]:
        return self._call(lambda client: client.execute_criteria(self.company_code, query))

    def _criteria_at_once(self, *queries: q.Query) -> list[list[Any]]:
        """The answers to ``queries``, asked at the same time when the reader may (one round trip)."""
        if self.concurrency == 1 or len(queries) == 1:
            return [self._criteria(query) for query in queries]
        with OrderedMap(
            self._criteria, queries, workers=min(self.concurrency, len(queries)), name="wow-at-once"
        ) as answers:
            return list(answers)

    def _iterate(self, iterator: Iterator[Any]) -> Generator[Any]:
        try:
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                except winbooks.WinbooksError as error:
                    raise user_error(error, during="sync") from error
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def changed(
        self,
        stream: Stream,
        *,
        since: dt.datetime | None,
        after: Key | None,
        period_ids: Iterable[uuid.UUID] | None = None,
        read_ahead: bool = False,
    ) -> Iterator[StreamPage]:
        """Pages of what changed in ``stream`` since ``since`` (or after the key ``after``).

        With ``read_ahead``, the requests run in a thread of their own, a page or two ahead of the
        conversion: WoW answers the next request while this one's records are turned into rows, instead
        of both sides taking turns.
        """
        key = stream.key
        conditions: tuple[winbooks.Condition, ...] = ()
        if period_ids is not None and stream is ENTRIES:
            conditions = (q.in_("BookPeriod_Id", [str(p) for p in period_ids]),)
        if stream is ENTRIES and self.concurrency > 1:
            # Several requests in flight: their threads read ahead already.
            fetched = self._documents_side_by_side(since=since, after=after, conditions=conditions)
            read_ahead = False
        else:
            fetched = self._borrowed_pages(stream, since, after, conditions)
        with (
            Prefetcher(fetched, name=f"wow-{key}") if read_ahead else contextlib.nullcontext(fetched) as ahead
        ):
            for page in ahead:
                converted = (
                    decoded_page(page) if page.decoded else records_page(key, page.records, page.last_key)
                )
                del page  # not kept alive while the converted page waits for the writer
                yield converted

    def _pages(
        self,
        client: winbooks.WinbooksClient,
        stream: Stream,
        since: dt.datetime | None,
        after: Key | None,
        conditions: Sequence[winbooks.Condition],
    ) -> Iterator[winbooks.Page]:
        return client.iter_changed(
            self.company_code,
            STREAM_OMS[stream.key],
            since=since,
            after=after,
            page_size=PAGE_SIZE.get(stream.key, DEFAULT_PAGE_SIZE),
            max_level=MAX_LEVEL.get(stream.key, 1),
            conditions=conditions,
            # Documents, nearly all of what a sync reads, are decoded typed (winbooks.documents).
            decode=decode_documents if stream is ENTRIES else None,
        )

    def _borrowed_pages(
        self,
        stream: Stream,
        since: dt.datetime | None,
        after: Key | None,
        conditions: Sequence[winbooks.Condition],
    ) -> Iterator[winbooks.Page]:
        with self._clients.lane() as client:
            yield from self._iterate(self._pages(client, stream, since, after, conditions))

    def _documents_side_by_side(
        self,
        *,
        since: dt.datetime | None,
        after: Key | None,
        conditions: tuple[winbooks.Condition, ...],
    ) -> Iterator[winbooks.Page]:
        """The documents changed after ``after``, several requests in flight (docs/architecture.md, "Requests
        in flight").

        One aggregate call counts them per period (a sync with no change ends there, in the one call the
        plain read would make). A few are read as one keyset read; more are read in groups of periods,
        each with its own keyset cursor, a group per request in flight, plus one read of the documents of
        any other period (one booked meanwhile in a new period, or in none). Each page handed on carries a
        key the stream's cursor may safely take (``SideBySideCursor``; ``NO_KEY`` while it may not move).
        """
        with self._clients.lane() as client:
            left = self._documents_per_period(client, since, after, conditions)
        total = sum(left.values())
        if total == 0:
            return
        if total <= SIDE_BY_SIDE_MIN_DOCUMENTS:
            yield from self._borrowed_pages(ENTRIES, since, after, conditions)
            return
        groups = period_groups(
            left, groups=self.concurrency * GROUPS_PER_LANE, smallest=SIDE_BY_SIDE_MIN_GROUP
        )
        planned = [period for group in groups for period in group]
        others = q.not_(q.in_("BookPeriod_Id", planned))
        parts: list[tuple[winbooks.Condition, ...]] = [
            *((*conditions, q.in_("BookPeriod_Id", group)) for group in groups),
            # Documents of a period no group holds: one booked meanwhile in a new period, or without one.
            (*conditions, others) if conditions else (q.or_(others, q.is_null("BookPeriod_Id")),),
        ]

        def read(part: tuple[winbooks.Condition, ...]) -> Iterator[winbooks.Page]:
            with self._clients.lane() as lane:
                yield from self._iterate(self._pages(lane, ENTRIES, since, after, part))

        cursor = SideBySideCursor(after or NO_KEY, len(parts))
        with Interleaved(
            [functools.partial(read, part) for part in parts],
            workers=self.concurrency,
            depth=self.concurrency,
            name="wow-entries",
        ) as interleaved:
            held: winbooks.Page | None = None  # one page held back: its key may move as groups end
            for index, item in interleaved:
                if item is SOURCE_DONE:
                    cursor.done(index)
                    continue
                assert isinstance(item, winbooks.Page)
                if held is not None:
                    yield _with_key(held, cursor.key())
                cursor.read(index, item.last_key)
                held = item
            if held is not None:
                yield _with_key(held, cursor.key())

    def _documents_per_period(
        self,
        client: winbooks.WinbooksClient,
        since: dt.datetime | None,
        after: Key | None,
        conditions: tuple[winbooks.Condition, ...],
    ) -> dict[str | None, int]:
        """How many documents each period has after ``after`` (or since ``since``): WoW's own period ids,
        None for documents without one."""
        changed = [after_key(after)] if after is not None else [q.ge("Modified", since)] if since else []
        query = (
            q.Query("GLTransHeader")
            .where(*conditions, *changed)
            .project(q.group_by("BookPeriod_Id"), q.count("Id"))
        )
        try:
            rows = client.execute_criteria(self.company_code, query)
        except winbooks.WinbooksError as error:
            raise user_error(error, during="sync") from error
        left: dict[str | None, int] = {}
        for row in rows:
            period, count = row if isinstance(row, list) else (None, row)
            left[None if period is None else str(period)] = int(count or 0)
        return left

    def master_fingerprint(self, stream: Stream) -> tuple[int, int]:
        """(number of objects, sum of their versions). Every edit raises a version, so any add, edit or delete
        the changed-since read did not bring (a deletion, a change committed late) moves this pair."""
        query = q.Query(STREAM_OMS[stream.key]).project(q.count("Id"), q.sum_("Version"))
        rows = self._criteria(query)
        if not rows:
            return (0, 0)
        row = rows[0] if isinstance(rows[0], list) else [rows[0], 0]
        return (int(row[0] or 0), int(row[1] or 0))

    def versions(self, stream: Stream) -> dict[uuid.UUID, int]:
        """Every object's id and version (the whole list, or an error: never diff a partial read)."""
        query = q.Query(STREAM_OMS[stream.key]).select("Id", "Version")
        rows = self._criteria(query)
        return {
            ident: int(version or 0) for value, version in rows if (ident := parse_guid(value)) is not None
        }

    def objects(self, stream: Stream, ids: Iterable[uuid.UUID]) -> Iterator[StreamPage]:
        """Master data objects by id, converted like the changed-since pages."""
        wanted = sorted(str(i) for i in ids)
        for start in range(0, len(wanted), ID_BATCH):
            query = q.Query(STREAM_OMS[stream.key], max_level=MAX_LEVEL.get(stream.key, 1)).where(
                q.in_("Id", wanted[start : start + ID_BATCH])
            )
            raws = self._criteria(query)
            yield records_page(stream.key, raws)

    def period_fingerprints(self) -> dict[uuid.UUID, PeriodFingerprint]:
        """Per period: (number of debit lines, sum of debits, number of documents, sum of the documents'
        versions), from WoW's aggregates."""
        debits = (
            q.Query("GLTrans")
            .where(q.gt("Amount", 0))
            .project(q.group_by("BookPeriod_Id"), q.count("Id"), q.sum_("Amount"))
        )
        headers = q.Query("GLTransHeader").project(
            q.group_by("BookPeriod_Id"), q.count("Id"), q.sum_("Version")
        )
        result: dict[uuid.UUID, PeriodFingerprint] = {}
        debit_rows, header_rows = self._criteria_at_once(debits, headers)
        for period, lines, total in debit_rows:
            if (key := parse_guid(period)) is not None:
                result[key] = (int(lines), Decimal(total or 0), 0, 0)
        for period, entries, versions in header_rows:
            if (key := parse_guid(period)) is not None:
                lines, total, _, _ = result.get(key, (0, Decimal(0), 0, 0))
                result[key] = (lines, total, int(entries), int(versions or 0))
        return result

    def period_days(self, period_id: uuid.UUID) -> dict[dt.date | None, tuple[list[Any], int, int]]:
        """Per booking date in one period: (WoW's own date values, documents, sum of their versions). A
        period that differs is narrowed down to its days before any id list is fetched."""
        query = (
            q.Query("GLTransHeader")
            .where(q.eq("BookPeriod_Id", str(period_id)))
            .project(q.group_by("BookDate"), q.count("Id"), q.sum_("Version"))
        )
        days: dict[dt.date | None, tuple[list[Any], int, int]] = {}
        for raw, documents, versions in self._criteria(query):
            day = day_of(winbooks.parse_date(raw)) if raw is not None else None
            values, count, total = days.get(day, ([], 0, 0))
            days[day] = ([*values, raw], count + int(documents), total + int(versions or 0))
        return days

    def period_ids(
        self, period_id: uuid.UUID, *, lines: bool = True, book_dates: list[Any] | None = None
    ) -> PeriodIds:
        """Every document id and line id WoW has in one period (the whole partition, or an error). Without
        ``lines``, only the document ids: a period has several times more lines than documents, so the line
        list costs most of the calls (``line_ids`` is then left empty). With ``book_dates`` (WoW's own date
        values, as ``period_days`` gives them), only the documents booked on those dates."""
        in_period = q.eq("BookPeriod_Id", str(period_id))
        headers = q.Query("GLTransHeader").where(in_period).select("Id", "Version")
        if book_dates is not None:
            dated = [value for value in book_dates if value is not None]
            on_days = [q.in_("BookDate", dated)] if dated else []
            if None in book_dates:
                on_days.append(q.is_null("BookDate"))
            headers = headers.where(on_days[0] if len(on_days) == 1 else q.or_(*on_days))
        result = PeriodIds()
        lines_query = q.Query("GLTrans").where(in_period).select("Id", "GLTransHeader_Id")
        header_rows, *line_rows = self._criteria_at_once(headers, *([lines_query] if lines else []))
        for value, version in header_rows:
            if (ident := parse_guid(value)) is not None:
                result.entry_ids.add(ident)
                result.entry_versions[ident] = int(version or 0)
        if not lines:
            return result
        for line_id, header_id in line_rows[0]:
            line, header = parse_guid(line_id), parse_guid(header_id)
            if line is not None:
                result.line_ids.add(line)
                if header is not None:
                    result.entry_of_line[line] = header
                    result.entry_ids.add(header)
        return result

    def entries(
        self, *, ids: Iterable[uuid.UUID] = (), period_id: uuid.UUID | None = None
    ) -> Iterator[StreamPage]:
        """Documents with their lines, by id or every document of a period."""
        if period_id is not None:
            batches: list[winbooks.Condition] = [q.eq("BookPeriod_Id", str(period_id))]
        else:
            wanted = sorted(str(i) for i in ids)
            batches = [q.in_("Id", wanted[i : i + ID_BATCH]) for i in range(0, len(wanted), ID_BATCH)]
        for condition in batches:
            query = q.Query("GLTransHeader", max_level=2).where(condition).order_by("Id")
            with self._clients.lane() as client:
                for raws in self._iterate(
                    client.iter_pages(self.company_code, query, page_size=PAGE_SIZE["entries"])
                ):
                    yield records_page("entries", raws)

    def account_sums(
        self, period_ids: Iterable[uuid.UUID], *, accounts: Iterable[uuid.UUID] | None = None
    ) -> AccountSums:
        """WoW's own trial balance: per (period, account), the number of lines and their signed sum (only for
        ``accounts`` when given)."""
        wanted = sorted(str(p) for p in period_ids)
        result: AccountSums = {}
        only: list[winbooks.Condition] = []
        if accounts is not None:
            account_ids = sorted(str(a) for a in accounts)
            if not account_ids:
                return result
            only = [q.in_("GLAccount_Id", account_ids)]
        for i in range(0, len(wanted), 20):
            query = (
                q.Query("GLTrans")
                .where(q.in_("BookPeriod_Id", wanted[i : i + 20]), *only)
                .project(
                    q.group_by("BookPeriod_Id"), q.group_by("GLAccount_Id"), q.count("Id"), q.sum_("Amount")
                )
            )
            rows = self._criteria(query)
            for period, account, lines, total in rows:
                if (key := parse_guid(period)) is not None:
                    result[(key, parse_guid(account))] = (int(lines), Decimal(total or 0))
        return result

    def close(self) -> None:
        for client in self._clients.all:
            client.close()


def _with_key(page: winbooks.Page, key: Key) -> winbooks.Page:
    return winbooks.Page(records=page.records, last_key=key, decoded=page.decoded)


def period_groups(left: dict[str | None, int], *, groups: int, smallest: int) -> list[list[str]]:
    """The periods that have documents left, in about ``groups`` groups of similar size (none smaller than
    ``smallest`` unless a period is), largest first: threads that take them in this order finish close
    together. Documents without a period (``None``) are left to the read of the other periods."""
    sized = sorted(((count, period) for period, count in left.items() if period is not None and count > 0))
    total = sum(count for count, _ in sized)
    if not sized:
        return []
    target = max(smallest, math.ceil(total / max(1, groups)))
    result: list[tuple[int, list[str]]] = []
    current: list[str] = []
    size = 0
    for count, period in reversed(sized):  # the largest periods first, each filling a group of its own
        current.append(period)
        size += count
        if size >= target:
            result.append((size, current))
            current, size = [], 0
    if current:
        result.append((size, current))
    result.sort(key=lambda group: -group[0])
    return [periods for _, periods in result]


class SideBySideCursor:
    """Where a stream read in several parts at once (each in WoW's (Modified, Id) order, from ``start``)
    may safely put its cursor after the pages handed on so far: a key such that every document at or before
    it has been read, whichever part holds it.

    That is the position of the part that is furthest behind. Ids are never compared (WoW may order them
    differently from Python): when parts furthest behind stand at the same ``Modified`` with different ids,
    the key is that ``Modified`` with the all-zero id, before every real id, so a resumed read takes up
    every document of that instant again (re-reading is harmless: a stored version is not written again).
    Once every part has ended, everything up to the furthest position was read: the key is that position.
    A document edited in a part already finished, while others still read, gets a ``Modified`` that the
    cursor may pass over; its version moved, so the run's period fingerprints, compared right after the
    stream, fetch it (as they do a change WoW commits late).
    """

    def __init__(self, start: Key, parts: int) -> None:
        self.start = start
        self.positions = [start] * parts
        self.running = set(range(parts))

    def read(self, part: int, key: Key) -> None:
        self.positions[part] = key

    def done(self, part: int) -> None:
        self.running.discard(part)

    def key(self) -> Key:
        if not self.running:
            return max(self.positions, key=lambda key: key[0])
        behind = min(self.positions[part][0] for part in self.running)
        at_behind = {self.positions[part] for part in self.running if self.positions[part][0] == behind}
        if len(at_behind) == 1:
            return at_behind.pop()
        if behind == self.start[0]:
            return self.start  # every part is at or after the start
        return (behind, ZERO_GUID)


__all__ = ["SideBySideCursor", "WinbooksReader", "period_groups"]
