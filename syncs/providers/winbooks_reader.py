"""Reading one WinbooksOnWeb company for the sync engine, as the ledger's plain rows.

Everything WoW-specific about *what* to ask lives here: which object model feeds which stream, how a
record maps to a ledger row, the aggregate queries behind fingerprints and proof. The engine sees only
``StreamPage`` objects, id sets and sums keyed by WoW ids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import winbooks
from clients.ledger import (
    AccountRow,
    EntryRow,
    FiscalYearRow,
    JournalRow,
    LineRow,
    PeriodRow,
    Rejected,
    RelationRow,
)
from clients.ledger.streams import CUSTOMERS, ENTRIES, STREAM_BY_KEY, SUPPLIERS, Stream
from winbooks import query as q
from winbooks.documents import decode_documents

from ..prefetch import Prefetcher
from .base import ProviderError
from .winbooks import client_for_connection, user_error

Key = tuple[dt.datetime, str]

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


@dataclass
class StreamPage:
    rows: list[Any]
    rejected: list[Rejected]
    last_key: Key


@dataclass
class PeriodIds:
    entry_ids: set[uuid.UUID] = field(default_factory=set)
    line_ids: set[uuid.UUID] = field(default_factory=set)
    entry_of_line: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    entry_versions: dict[uuid.UUID, int] = field(default_factory=dict)


_UUID = uuid.UUID
_new = object.__new__
_set_attr = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def _uuid(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    # uuid.UUID() costs twice this, and every line has an id of its own. When int() reads the value without
    # its dashes as 32 hex digits, there were no braces or "urn:"/"uuid:" prefix (int() refuses those
    # characters), and UUID() would compute that very int; it is stored as UUID.__init__ stores it (as
    # Python 3.14's UUID._from_int does). Anything else takes UUID() itself: same value, same errors.
    digits = value.replace("-", "") if value.__class__ is str else ""
    if len(digits) == 32:
        try:
            number = int(digits, 16)
        except ValueError:
            pass
        else:
            ident = _new(_UUID)
            _set_attr(ident, "int", number)
            _set_attr(ident, "is_safe", _UNKNOWN_SAFETY)
            return ident
    return uuid.UUID(value.strip("{}"))


# References (period, account, relation, journal) repeat on every line: parsing each GUID once saves a
# tenth of converting a page of documents (profiled); a UUID is immutable, so sharing one is safe.
_ref_uuid = functools.lru_cache(maxsize=1 << 16)(_uuid)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _fiscal_year(r: winbooks.BookYear) -> FiscalYearRow:
    return FiscalYearRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        code=_text(r.code),
        label=_text(r.label),
        start_date=_date(r.start_date),
        end_date=_date(r.end_date),
        closed=bool(r.is_closed),
    )


def _period(r: winbooks.BookPeriod) -> PeriodRow:
    if r.number is None or r.related_year is None:
        raise ValueError("the period has no Number or RelatedYear")
    return PeriodRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        fiscal_year_wow_id=_uuid(r.book_year_id),
        number=r.number,
        year=r.related_year,
        month=r.related_month or 0,
        start_date=_date(r.start_date),
        end_date=_date(r.end_date),
        label=_text(r.label),
    )


def _journal(r: winbooks.Journal) -> JournalRow:
    return JournalRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        code=_text(r.code),
        name=_text(r.label),
        kind=_text(r.journal_type),
    )


def _account(r: winbooks.GLAccount) -> AccountRow:
    if not r.code:
        raise ValueError("the account has no number (Code)")
    return AccountRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        number=r.code,
        name=_text(r.label),
        name_alt=_text(r.label2),
        central_type=_text(r.central_account_type_code),
        locked=bool(r.is_locked),
    )


def _relation(kind: str) -> Callable[[winbooks.Customer], RelationRow]:
    def convert(r: winbooks.Customer) -> RelationRow:
        third = r.third
        return RelationRow(
            wow_id=_require_id(r),
            version=r.version or 0,
            kind=kind,
            code=_text(r.code),
            name=_text(third.name if third else ""),
            vat_number=_text(third.vat_number if third else ""),
        )

    return convert


def _line(r: winbooks.GLTrans, order: int) -> LineRow:
    value_date = r.value_date
    # Text fields of a record are str or None, so ``or ""`` is _text() without a call per field.
    return LineRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        period_wow_id=_ref_uuid(r.book_period_id),
        account_wow_id=_ref_uuid(r.gl_account_id),
        amount=r.amount,
        line_order=r.line_order if r.line_order is not None else order,
        relation_wow_id=_ref_uuid(r.customer_id) or _ref_uuid(r.supplier_id),
        vat_code=r.vat_code or "",
        vat_base=r.vat_base_amount,
        vat_amount=r.vat_tax_amount,
        description=r.comment_booking or "",
        value_date=value_date.date() if value_date is not None else None,
    )


def _entry(r: winbooks.GLTransHeader) -> EntryRow:
    doc_number = _text(r.doc_number)
    return EntryRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        journal_wow_id=_ref_uuid(r.journal_id),
        period_wow_id=_ref_uuid(r.book_period_id),
        doc_number=doc_number,
        book_date=_date(r.book_date),
        due_date=_date(r.due_date),
        modified=r.modified,
        lines=tuple([_line(line, i) for i, line in enumerate(r.lines)]),
        reference=f"{_text(r.journal_code)} {doc_number}".strip(),
    )


# A document decoded typed (winbooks.documents) becomes exactly the rows _entry(GLTransHeader.from_json(...))
# makes of the same JSON: its references and line ids are UUIDs already (None for the zero GUID), its own id
# is known to read, and its dates to parse (the same cached parse as a record's).
_parse_moment = winbooks.dates._parse_text


def _wire_moment(text: str | None) -> dt.datetime | None:
    return _parse_moment(text) if text is not None else None  # "" reads as None, as in a record


def _wire_date(text: str | None) -> dt.date | None:
    moment = _parse_moment(text) if text is not None else None
    return moment.date() if moment is not None else None


def _line_from_wire(r: Any, order: int) -> LineRow:
    line = _new(LineRow)
    # Every field set at once: the frozen dataclass __init__ pays an object.__setattr__ per field.
    _set_attr(
        line,
        "__dict__",
        {
            "wow_id": r.id,
            "version": r.version or 0,
            "period_wow_id": r.book_period_id,
            "account_wow_id": r.gl_account_id,
            "amount": r.amount,
            "line_order": r.line_order if r.line_order is not None else order,
            "relation_wow_id": r.customer_id or r.supplier_id,
            "vat_code": r.vat_code or "",
            "vat_base": r.vat_base_amount,
            "vat_amount": r.vat_tax_amount,
            "description": r.comment_booking or "",
            "value_date": _wire_date(r.value_date),
        },
    )
    return line


def _entry_from_wire(r: Any) -> EntryRow:
    doc_number = _text(r.doc_number)
    lines = r.lines
    return EntryRow(
        wow_id=_uuid(r.id),  # type: ignore[arg-type]  # a canonical GUID (decode_documents)
        version=r.version or 0,
        journal_wow_id=r.journal_id,
        period_wow_id=r.book_period_id,
        doc_number=doc_number,
        book_date=_wire_date(r.book_date),
        due_date=_wire_date(r.due_date),
        modified=_wire_moment(r.modified),
        lines=tuple([_line_from_wire(line, i) for i, line in enumerate(lines)]) if lines else (),
        reference=f"{_text(r.journal_code)} {doc_number}".strip(),
    )


def _require_id(r: winbooks.Record) -> uuid.UUID:
    ident = _uuid(r.id)
    if ident is None:
        raise ValueError("the record has no Id")
    return ident


CONVERTERS: dict[str, tuple[type[winbooks.Record], Callable[[Any], Any]]] = {
    "fiscal_years": (winbooks.BookYear, _fiscal_year),
    "periods": (winbooks.BookPeriod, _period),
    "journals": (winbooks.Journal, _journal),
    "accounts": (winbooks.GLAccount, _account),
    "customers": (winbooks.Customer, _relation(CUSTOMERS.relation_kind)),
    "suppliers": (winbooks.Supplier, _relation(SUPPLIERS.relation_kind)),
    "entries": (winbooks.GLTransHeader, _entry),
}


def _reference(raw: dict[str, Any]) -> str:
    for name in ("Code", "DocNumber"):
        if raw.get(name) not in (None, ""):
            prefix = f"{raw.get('JournalCode')} " if name == "DocNumber" and raw.get("JournalCode") else ""
            return f"{prefix}{raw[name]}"
    return ""


def convert(stream: str, raw: dict[str, Any]) -> tuple[Any | None, Rejected | None]:
    """One WoW object as a ledger row, or the reason it cannot be one."""
    record_type, to_row = CONVERTERS[stream]
    try:
        return to_row(record_type.from_json(raw)), None
    except (winbooks.WinbooksBadPayload, ValueError, TypeError, ArithmeticError) as error:
        problem = getattr(error, "message", None) or str(error)
        entity = STREAM_BY_KEY[stream].entity
        return None, Rejected(
            entity=entity,
            wow_id=_text(raw.get("Id")),
            reference=_reference(raw),
            problem=f"WinbooksOnWeb sent a {entity} we cannot read: {problem}"[:500],
            hint="Open it in WinbooksOnWeb and check it; it is left out of the ledger until it reads correctly.",
        )


NO_KEY: Key = (dt.datetime.min.replace(tzinfo=dt.UTC), "")  # pages read by id move no cursor


def _decoded_page(page: winbooks.Page) -> StreamPage:
    """A page of documents decoded typed, as ledger rows. None is rejected here: a document that could not
    be read plainly made the decoder decline the whole answer, which the client then parsed the usual way
    (where an unreadable record is rejected, as always)."""
    return StreamPage(
        rows=[_entry_from_wire(document) for document in page.records], rejected=[], last_key=page.last_key
    )


def _page(stream: str, raws: Iterable[dict[str, Any]], last_key: Key = NO_KEY) -> StreamPage:
    """WoW objects as a page of ledger rows, and the reasons the unreadable ones were left out."""
    rows, rejected = [], []
    for raw in raws:
        row, problem = convert(stream, raw)
        if row is not None:
            rows.append(row)
        if problem is not None:
            rejected.append(problem)
    return StreamPage(rows=rows, rejected=rejected, last_key=last_key)


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
                converted = _decoded_page(page) if page.decoded else _page(key, page.records, page.last_key)
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
        return {ident: int(version or 0) for value, version in rows if (ident := _uuid(value)) is not None}

    def objects(self, stream: Stream, ids: Iterable[uuid.UUID]) -> Iterator[StreamPage]:
        """Master data objects by id, converted like the changed-since pages."""
        wanted = sorted(str(i) for i in ids)
        for start in range(0, len(wanted), ID_BATCH):
            query = q.Query(STREAM_OMS[stream.key], max_level=MAX_LEVEL.get(stream.key, 1)).where(
                q.in_("Id", wanted[start : start + ID_BATCH])
            )
            raws = self._call(lambda query=query: self.client.execute_criteria(self.company_code, query))  # type: ignore[misc]
            yield _page(stream.key, raws)

    def period_fingerprints(self) -> dict[uuid.UUID, tuple[int, Decimal, int, int]]:
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
        result: dict[uuid.UUID, tuple[int, Decimal, int, int]] = {}
        for period, lines, total in self._call(
            lambda: self.client.execute_criteria(self.company_code, debits)
        ):
            if (key := _uuid(period)) is not None:
                result[key] = (int(lines), Decimal(total or 0), 0, 0)
        for period, entries, versions in self._call(
            lambda: self.client.execute_criteria(self.company_code, headers)
        ):
            if (key := _uuid(period)) is not None:
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
            day = _date(winbooks.parse_date(raw)) if raw is not None else None
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
            if (ident := _uuid(value)) is not None:
                result.entry_ids.add(ident)
                result.entry_versions[ident] = int(version or 0)
        if not lines:
            return result
        lines_query = q.Query("GLTrans").where(in_period).select("Id", "GLTransHeader_Id")
        for line_id, header_id in self._call(
            lambda: self.client.execute_criteria(self.company_code, lines_query)
        ):
            line, header = _uuid(line_id), _uuid(header_id)
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
                yield _page("entries", raws)

    def account_sums(
        self, period_ids: Iterable[uuid.UUID], *, accounts: Iterable[uuid.UUID] | None = None
    ) -> dict[tuple[uuid.UUID, uuid.UUID | None], tuple[int, Decimal]]:
        """WoW's own trial balance: per (period, account), the number of lines and their signed sum (only for
        ``accounts`` when given)."""
        wanted = sorted(str(p) for p in period_ids)
        result: dict[tuple[uuid.UUID, uuid.UUID | None], tuple[int, Decimal]] = {}
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
            rows = self._call(lambda query=query: self.client.execute_criteria(self.company_code, query))  # type: ignore[misc]
            for period, account, lines, total in rows:
                if (key := _uuid(period)) is not None:
                    result[(key, _uuid(account))] = (int(lines), Decimal(total or 0))
        return result

    def close(self) -> None:
        self.client.close()


__all__ = ["PeriodIds", "ProviderError", "StreamPage", "WinbooksReader"]
