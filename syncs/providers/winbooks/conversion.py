"""WinbooksOnWeb's objects as the ledger's plain rows (``clients.ledger.rows``), or the reason one cannot be.

Two paths give the same rows: a record read through ``winbooks.records`` (any answer), and a document
decoded typed straight from the bytes (``winbooks.documents``, the fast path of a first sync's pages);
tests/syncs/test_typed_documents.py holds them to it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any, cast

import winbooks
from clients.ledger.admission import row_admitted
from clients.ledger.rows import (
    AccountRow,
    EntryRow,
    FiscalYearRow,
    JournalRow,
    LineRow,
    PeriodRow,
    Rejected,
    RelationRow,
)
from clients.ledger.streams import CUSTOMERS, STREAM_BY_KEY, SUPPLIERS

from ..base import NO_KEY, Key, StreamPage

logger = logging.getLogger(__name__)

_UUID = uuid.UUID
_new = object.__new__
_set_attr = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def parse_guid(value: str | None) -> uuid.UUID | None:
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
ref_guid = functools.lru_cache(maxsize=1 << 16)(parse_guid)


def day_of(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _fiscal_year(r: winbooks.BookYear) -> FiscalYearRow:
    return FiscalYearRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        code=_text(r.code),
        label=_text(r.label),
        start_date=day_of(r.start_date),
        end_date=day_of(r.end_date),
        closed=bool(r.is_closed),
    )


def _period(r: winbooks.BookPeriod) -> PeriodRow:
    if r.number is None or r.related_year is None:
        raise ValueError("the period has no Number or RelatedYear")
    return PeriodRow(
        wow_id=_require_id(r),
        version=r.version or 0,
        fiscal_year_wow_id=parse_guid(r.book_year_id),
        number=r.number,
        year=r.related_year,
        month=r.related_month or 0,
        start_date=day_of(r.start_date),
        end_date=day_of(r.end_date),
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
        period_wow_id=ref_guid(r.book_period_id),
        account_wow_id=ref_guid(r.gl_account_id),
        amount=r.amount,
        line_order=r.line_order if r.line_order is not None else order,
        relation_wow_id=ref_guid(r.customer_id) or ref_guid(r.supplier_id),
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
        journal_wow_id=ref_guid(r.journal_id),
        period_wow_id=ref_guid(r.book_period_id),
        doc_number=doc_number,
        book_date=day_of(r.book_date),
        due_date=day_of(r.due_date),
        modified=r.modified,
        lines=tuple([_line(line, i) for i, line in enumerate(r.lines)]),
        reference=f"{_text(r.journal_code)} {doc_number}".strip(),
    )


# A document decoded typed (winbooks.documents) becomes exactly the rows _entry(GLTransHeader.from_json(...))
# makes of the same JSON: its references and line ids are UUIDs already (None for the zero GUID), its own id
# is known to read, and its dates to parse (the same cached parse as a record's).
_parse_moment = winbooks.dates.parse_date_text


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
        wow_id=cast(uuid.UUID, parse_guid(r.id)),  # a canonical GUID, never None (decode_documents)
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
    ident = parse_guid(r.id)
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
        row = to_row(record_type.from_json(raw))
        # Master data is admitted here (out-of-range numbers refused, text cleaned); documents are admitted
        # by the ledger's writer, which every document reaches whichever way it was decoded.
        return (row if stream == "entries" else row_admitted(row)), None
    except (winbooks.WinbooksBadPayload, ValueError, TypeError, ArithmeticError) as error:
        entity = STREAM_BY_KEY[stream].entity
        if isinstance(error, ArithmeticError | TypeError) and not isinstance(
            error, winbooks.WinbooksBadPayload
        ):
            # Python's own words ("Python int too large to convert to C int") are for the logs.
            logger.warning("Unreadable %s %s: %s: %s", stream, raw.get("Id"), type(error).__name__, error)
            code, params = "issue.unreadable_out_of_range", {"entity": entity}
        else:
            problem = getattr(error, "message", None) or str(error)
            # The detail is the client's own (winbooks/ knows no Django), naming the field and the value.
            code, params = "issue.unreadable", {"entity": entity, "detail": problem[:400]}
        return None, Rejected(
            entity=entity, wow_id=_text(raw.get("Id")), reference=_reference(raw), code=code, params=params
        )


def decoded_page(page: winbooks.Page) -> StreamPage:
    """A page of documents decoded typed, as ledger rows. None is rejected here: a document that could not
    be read plainly made the decoder decline the whole answer, which the client then parsed the usual way
    (where an unreadable record is rejected, as always)."""
    return StreamPage(
        rows=[_entry_from_wire(document) for document in page.records], rejected=[], last_key=page.last_key
    )


def records_page(stream: str, raws: Iterable[dict[str, Any]], last_key: Key = NO_KEY) -> StreamPage:
    """WoW objects as a page of ledger rows, and the reasons the unreadable ones were left out."""
    rows, rejected = [], []
    for raw in raws:
        row, problem = convert(stream, raw)
        if row is not None:
            rows.append(row)
        if problem is not None:
            rejected.append(problem)
    return StreamPage(rows=rows, rejected=rejected, last_key=last_key)
