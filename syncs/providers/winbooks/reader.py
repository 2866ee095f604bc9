"""Reading one WinbooksOnWeb company for the sync engine: the ``base.Reader`` of WinbooksOnWeb.

Everything WoW-specific about *what* to ask lives here: which object model feeds which stream, the
aggregate queries behind fingerprints and proof. How an object becomes a ledger row is ``conversion``'s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import winbooks
from clients.ledger.streams import ENTRIES, STREAM_BY_KEY, Stream
from winbooks import query as q
from winbooks.documents import decode_documents

from ...prefetch import Prefetcher
from ..base import AccountSums, Key, PeriodFingerprint, PeriodIds, StreamPage
from .conversion import day_of, decoded_page, parse_guid, records_page
from .errors import user_error
from .tokens import client_for_connection

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


class WinbooksReader:
    """One company (folder) of one connection, read with the connection's tokens."""

    def __init__(
        self, *, connection_id: int, company_code: str, client: winbooks.WinbooksClient | None = None
    ):
        self.company_code = company_code
        self.client = client or client_for_connection(connection_id)

    @property
    def api_calls(self) -> int:
        return self.client.api_calls

    @property
    def api_calls_by_kind(self) -> dict[str, int]:
        return dict(self.client.api_calls_by_kind)

    def _call(self, function: Callable[[], Any]) -> Any:
        try:
            return function()
        except winbooks.WinbooksError as error:
            raise user_error(error, during="sync") from error

    def _iterate(self, iterator: Iterator[Any]) -> Iterator[Any]:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except winbooks.WinbooksError as error:
                raise user_error(error, during="sync") from error
            yield item

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
        pages = self.client.iter_changed(
            self.company_code,
            STREAM_OMS[key],
            since=since,
            after=after,
            page_size=PAGE_SIZE.get(key, DEFAULT_PAGE_SIZE),
            max_level=MAX_LEVEL.get(key, 1),
            conditions=conditions,
            # Documents, nearly all of what a sync reads, are decoded typed (winbooks.documents).
            decode=decode_documents if stream is ENTRIES else None,
        )
        fetched = self._iterate(pages)
        with (
            Prefetcher(fetched, name=f"wow-{key}") if read_ahead else contextlib.nullcontext(fetched) as ahead
        ):
            for page in ahead:
                converted = (
                    decoded_page(page) if page.decoded else records_page(key, page.records, page.last_key)
                )
                del page  # not kept alive while the converted page waits for the writer
                yield converted

    def master_fingerprint(self, stream: Stream) -> tuple[int, int]:
        """(number of objects, sum of their versions). Every edit raises a version, so any add, edit or delete
        the changed-since read did not bring (a deletion, a change committed late) moves this pair."""
        query = q.Query(STREAM_OMS[stream.key]).project(q.count("Id"), q.sum_("Version"))
        rows = self._call(lambda: self.client.execute_criteria(self.company_code, query))
        if not rows:
            return (0, 0)
        row = rows[0] if isinstance(rows[0], list) else [rows[0], 0]
        return (int(row[0] or 0), int(row[1] or 0))

    def versions(self, stream: Stream) -> dict[uuid.UUID, int]:
        """Every object's id and version (the whole list, or an error: never diff a partial read)."""
        query = q.Query(STREAM_OMS[stream.key]).select("Id", "Version")
        rows = self._call(lambda: self.client.execute_criteria(self.company_code, query))
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
            raws = self._call(functools.partial(self.client.execute_criteria, self.company_code, query))
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
        for period, lines, total in self._call(
            lambda: self.client.execute_criteria(self.company_code, debits)
        ):
            if (key := parse_guid(period)) is not None:
                result[key] = (int(lines), Decimal(total or 0), 0, 0)
        for period, entries, versions in self._call(
            lambda: self.client.execute_criteria(self.company_code, headers)
        ):
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
        for raw, documents, versions in self._call(
            lambda: self.client.execute_criteria(self.company_code, query)
        ):
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
        for value, version in self._call(lambda: self.client.execute_criteria(self.company_code, headers)):
            if (ident := parse_guid(value)) is not None:
                result.entry_ids.add(ident)
                result.entry_versions[ident] = int(version or 0)
        if not lines:
            return result
        lines_query = q.Query("GLTrans").where(in_period).select("Id", "GLTransHeader_Id")
        for line_id, header_id in self._call(
            lambda: self.client.execute_criteria(self.company_code, lines_query)
        ):
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
            for raws in self._iterate(
                self.client.iter_pages(self.company_code, query, page_size=PAGE_SIZE["entries"])
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
            rows = self._call(functools.partial(self.client.execute_criteria, self.company_code, query))
            for period, account, lines, total in rows:
                if (key := parse_guid(period)) is not None:
                    result[(key, parse_guid(account))] = (int(lines), Decimal(total or 0))
        return result

    def close(self) -> None:
        self.client.close()


__all__ = ["WinbooksReader"]
