"""Typed, read-only views of WoW objects.

Reference: docs/winbooks-api.md, "Records".

Each class has ``from_json(d)``: snake_case attributes, ``Decimal`` amounts, aware UTC datetimes, the
all-zero GUID and ``null`` both mapped to ``None``. Unknown fields are ignored and the source dict is kept
in ``raw`` (left out of ``==`` and ``repr``). Where the contract marks a field name as assumed, plausible
alternates are read too (first non-null wins), e.g. BookYear ``StartDate``/``BeginDate``, GLAccount
``Label``/``Name``. A value of the wrong type raises ``WinbooksBadPayload`` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self

from .dates import parse_date, parse_date_text
from .exceptions import WinbooksBadPayload

__all__ = [
    "RECORD_TYPES",
    "ZERO_GUID",
    "BookPeriod",
    "BookYear",
    "Customer",
    "GLAccount",
    "GLTrans",
    "GLTransHeader",
    "Journal",
    "Record",
    "Supplier",
    "Third",
    "Vat",
    "record_from_json",
]

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_MISSING = object()


def _pick(d: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    """The first of ``names`` present with a non-null value in ``d`` (or the first name and None)."""
    for name in names:
        value = d.get(name, _MISSING)
        if value is not _MISSING and value is not None:
            return name, value
    return names[0], None


def _bad(cls: type, name: str, value: Any, expected: str) -> WinbooksBadPayload:
    return WinbooksBadPayload(f"{cls.__name__}.{name}: expected {expected}, got {type(value).__name__}")


class _Reader:
    """Reads typed fields of one source dict, naming the field when a value has the wrong type.

    Each method is a field kind of the ``_FIELDS`` tables. This is the careful path: ``_read_plain`` reads
    the usual payload faster and hands over to it whenever a value is not plainly of the expected type."""

    def __init__(self, cls: type, d: Any) -> None:
        if not isinstance(d, Mapping):
            raise WinbooksBadPayload(f"{cls.__name__}: expected a JSON object, got {type(d).__name__}")
        self.cls = cls
        self.d = d

    def text(self, *names: str) -> str | None:
        name, value = _pick(self.d, names)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _bad(self.cls, name, value, "a string")
        return str(value)

    def guid(self, *names: str) -> str | None:
        name, value = _pick(self.d, names)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise _bad(self.cls, name, value, "a GUID string")
        return None if value.strip("{}") == ZERO_GUID else value

    def integer(self, *names: str) -> int | None:
        name, value = _pick(self.d, names)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise _bad(self.cls, name, value, "an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _bad(self.cls, name, value, "an integer")

    def boolean(self, *names: str) -> bool | None:
        name, value = _pick(self.d, names)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad(self.cls, name, value, "a boolean")

    def number(self, *names: str) -> Decimal | None:
        name, value = _pick(self.d, names)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise _bad(self.cls, name, value, "a number")
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                raise _bad(self.cls, name, value, "a number") from None
        else:
            raise _bad(self.cls, name, value, "a number")
        if not result.is_finite():
            raise _bad(self.cls, name, value, "a finite number")
        return result

    def required_number(self, *names: str) -> Decimal:
        value = self.number(*names)
        if value is None:
            raise WinbooksBadPayload(f"{self.cls.__name__}.{names[0]}: missing")
        return value

    def moment(self, *names: str) -> datetime | None:
        name, value = _pick(self.d, names)
        try:
            return parse_date(value)
        except ValueError:
            raise _bad(self.cls, name, value, "a date") from None

    def third(self, *names: str) -> Third | None:
        value = self.d.get(names[0])
        return None if value is None else Third.from_json(value)

    def lines(self, *names: str) -> list[Any] | None:
        """The raw list (checked here, in field order; ``GLTransHeader._finish`` reads the lines last)."""
        value = self.d.get(names[0])
        if value is not None and not isinstance(value, list):
            raise _bad(self.cls, names[0], value, "a list")
        return value


# Field kinds, named after the _Reader method that reads each (winbooks.documents builds its typed schema
# from them too).
TEXT = "text"
GUID = "guid"
INTEGER = "integer"
BOOLEAN = "boolean"
NUMBER = "number"
REQUIRED_NUMBER = "required_number"
MOMENT = "moment"
THIRD = "third"
LINES = "lines"

# Kinds whose plain value is a JSON value of exactly this type, returned as is.
_EXACT_TYPES: dict[str, type] = {TEXT: str, INTEGER: int, BOOLEAN: bool, LINES: list}

_new = object.__new__
_set_attr = object.__setattr__


class _Plan:
    """How to read one record class, made once from its ``_FIELDS`` tables.

    ``fields``: (attribute, kind, JSON name, alternate names) in reading order, for the careful path (the
    first bad value is the one reported). ``template``: every dataclass field, in order, set to None: copied
    per record, a dict of the right size with no rehashing. ``plain``: the fields by kind for
    ``_read_plain``, or None when a field has alternates or a nested record (read carefully only)."""

    __slots__ = ("fields", "plain", "template")

    def __init__(self, cls: type[Record]) -> None:
        table = {**Record._FIELDS, **cls._FIELDS}
        self.fields = tuple(
            (attr, kind, name, tuple(alternates)) for attr, (kind, name, *alternates) in table.items()
        )
        self.template: dict[str, Any] = dict.fromkeys(f.name for f in fields(cls))
        if set(self.template) != {"raw", *table}:
            raise TypeError(f"{cls.__name__}._FIELDS does not match its dataclass fields")
        self.plain = _by_kind(self.fields)


def _by_kind(spec: tuple[tuple[str, str, str, tuple[str, ...]], ...]) -> tuple[tuple[Any, ...], ...] | None:
    """The groups ``_read_plain`` reads, or None when it cannot read every field of the class."""
    exact, guids, numbers, moments = [], [], [], []
    for attr, kind, name, alternates in spec:
        if alternates:
            return None
        if kind in _EXACT_TYPES:
            exact.append((attr, name, _EXACT_TYPES[kind]))
        elif kind == GUID:
            guids.append((attr, name))
        elif kind in (NUMBER, REQUIRED_NUMBER):
            numbers.append((attr, name, kind == REQUIRED_NUMBER))
        elif kind == MOMENT:
            moments.append((attr, name))
        else:
            return None
    return tuple(exact), tuple(guids), tuple(numbers), tuple(moments)


_PLANS: dict[type, _Plan] = {}


def _read_plain(plain: tuple[tuple[Any, ...], ...], values: dict[str, Any], d: dict[str, Any]) -> bool:
    """Fill ``values`` and say True when every field is null or plainly of its kind's JSON type (the usual
    payload: GUID strings, ``"/Date(ms)/"``, Decimal amounts); False at the first that is not, and the
    careful path reads the object again. What each _Reader method returns for such a value, a kind at a time
    (a first sync reads millions of fields). It never raises, so the order it reads in does not matter: the
    careful path reports the first bad field."""
    get = d.get
    exact, guids, numbers, moments = plain
    for attr, name, plain_type in exact:
        value = get(name)
        if value.__class__ is plain_type:
            values[attr] = value
        elif value is not None:
            return False
    for attr, name in guids:
        value = get(name)
        # 36 characters: the zero GUID only as is (in braces it would be shorter once stripped).
        if value.__class__ is str and len(value) == 36:
            if value != ZERO_GUID:
                values[attr] = value
        elif value is not None:
            return False
    for attr, name, required in numbers:
        value = get(name)
        if value.__class__ is Decimal and value.is_finite():
            values[attr] = value
        elif value.__class__ is int:
            values[attr] = Decimal(value)
        elif value is not None or required:
            return False
    for attr, name in moments:
        value = get(name)
        if value.__class__ is str:
            try:
                values[attr] = parse_date_text(value)
            except (ValueError, OverflowError):
                return False
        elif value is not None:
            return False
    return True


@dataclass(frozen=True, kw_only=True)
class Record:
    """Fields every WoW object carries."""

    OM: ClassVar[str] = ""

    id: str | None
    version: int | None = None
    created: datetime | None = None
    modified: datetime | None = None
    created_by: str | None = None
    modified_by: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    # attribute: (kind, JSON name, alternate names...), in reading order. A subclass lists its own fields.
    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "id": (GUID, "Id"),
        "version": (INTEGER, "Version"),
        "created": (MOMENT, "Created"),
        "modified": (MOMENT, "Modified"),
        "created_by": (GUID, "CreatedBy"),
        "modified_by": (GUID, "ModifiedBy"),
    }

    @classmethod
    def from_json(cls, d: Any) -> Self:
        """Build the record from one JSON object of the API."""
        plan = _PLANS.get(cls)
        if plan is None:
            plan = _PLANS[cls] = _Plan(cls)
        values = plan.template.copy()
        values["raw"] = d
        if plan.plain is None or d.__class__ is not dict or not _read_plain(plan.plain, values, d):
            reader = _Reader(cls, d)
            for attr, kind, name, alternates in plan.fields:
                values[attr] = getattr(reader, kind)(name, *alternates)
        cls._finish(values)
        # ``values`` holds every field (_Plan checks it), so it becomes the instance dict as is: the frozen
        # __init__ would pay an object.__setattr__ per field, a fifth of reading a document line (profiled).
        record = _new(cls)
        _set_attr(record, "__dict__", values)
        return record

    @classmethod
    def _finish(cls, values: dict[str, Any]) -> None:
        """Complete ``values`` once every field is read (for a subclass that needs to)."""


@dataclass(frozen=True, kw_only=True)
class BookYear(Record):
    """A fiscal year."""

    OM: ClassVar[str] = "BookYear"

    code: str | None
    label: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    is_closed: bool | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "label": (TEXT, "Label", "Name", "Description"),
        "start_date": (MOMENT, "StartDate", "BeginDate", "DateStart", "DateBegin", "FromDate"),
        "end_date": (MOMENT, "EndDate", "DateEnd", "ToDate"),
        "is_closed": (BOOLEAN, "IsClosed", "Closed"),
    }


@dataclass(frozen=True, kw_only=True)
class BookPeriod(Record):
    """A booking period: ``number`` 0 opening, 1-12 months, 13 closing."""

    OM: ClassVar[str] = "BookPeriod"

    code: str | None
    book_year_id: str | None = None
    number: int | None = None
    related_year: int | None = None
    related_month: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    label: str | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "book_year_id": (GUID, "BookYear_Id"),
        "number": (INTEGER, "Number"),
        "related_year": (INTEGER, "RelatedYear"),
        "related_month": (INTEGER, "RelatedMonth"),
        "start_date": (MOMENT, "StartDate", "BeginDate", "DateStart", "DateBegin", "FromDate"),
        "end_date": (MOMENT, "EndDate", "DateEnd", "ToDate"),
        "label": (TEXT, "Label", "Name", "Description"),
    }


@dataclass(frozen=True, kw_only=True)
class Journal(Record):
    """A journal (``journal_type``: SAL, SAC, PUR, PUC, PRI, CAS)."""

    OM: ClassVar[str] = "Journal"

    code: str | None
    label: str | None = None
    journal_type: str | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "label": (TEXT, "Label", "Name", "Description"),
        "journal_type": (TEXT, "JournalType", "JournalTypeCode", "Type", "DbkType"),
    }


@dataclass(frozen=True, kw_only=True)
class GLAccount(Record):
    """A general-ledger account (``label`` Dutch name, ``label2`` French name)."""

    OM: ClassVar[str] = "GLAccount"

    code: str | None
    label: str | None = None
    label2: str | None = None
    central_account_type_code: str | None = None
    is_locked: bool | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "label": (TEXT, "Label", "Name", "Label1", "Name1"),
        "label2": (TEXT, "Label2", "Name2"),
        "central_account_type_code": (TEXT, "CentralAccountTypeCode", "CentralAccountType"),
        "is_locked": (BOOLEAN, "IsLocked", "Locked"),
    }


@dataclass(frozen=True, kw_only=True)
class Third(Record):
    """A third party (the identity behind a customer or supplier)."""

    OM: ClassVar[str] = "Third"

    code: str | None
    name: str | None = None
    vat_number: str | None = None
    vat_country_code: str | None = None
    language_code: str | None = None
    currency_code: str | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "name": (TEXT, "Name"),
        "vat_number": (TEXT, "VatNumber"),
        "vat_country_code": (TEXT, "VatCountryCode"),
        "language_code": (TEXT, "LanguageCode"),
        "currency_code": (TEXT, "CurrencyCode"),
    }


@dataclass(frozen=True, kw_only=True)
class Customer(Record):
    """A customer; ``third`` is filled at maxLevel >= 2."""

    OM: ClassVar[str] = "Customer"

    code: str | None
    third_id: str | None = None
    third: Third | None = None
    vat_code: str | None = None
    gl_account_id: str | None = None
    gl_account2_id: str | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "third_id": (GUID, "Third_Id"),
        "third": (THIRD, "Third"),
        "vat_code": (TEXT, "VatCode"),
        "gl_account_id": (GUID, "GLAccount_Id"),
        "gl_account2_id": (GUID, "GLAccount2_Id"),
    }


@dataclass(frozen=True, kw_only=True)
class Supplier(Customer):
    """A supplier (mirrors Customer)."""

    OM: ClassVar[str] = "Supplier"


@dataclass(frozen=True, kw_only=True)
class Vat(Record):
    """A VAT code (``rate`` in percent, e.g. ``Decimal("21")``)."""

    OM: ClassVar[str] = "Vat"

    code: str | None
    label: str | None = None
    rate: Decimal | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (TEXT, "Code"),
        "label": (TEXT, "Label", "Name", "Description"),
        "rate": (NUMBER, "Rate", "VatRate", "Percent", "Percentage"),
    }


@dataclass(frozen=True, kw_only=True)
class GLTrans(Record):
    """An entry line; ``amount`` is signed (+ debit, - credit)."""

    OM: ClassVar[str] = "GLTrans"

    gl_trans_header_id: str | None = None
    book_period_id: str | None = None
    line_order: int | None = None
    gl_account_id: str | None = None
    gl_account_code: str | None = None
    customer_id: str | None = None
    customer_code: str | None = None
    supplier_id: str | None = None
    supplier_code: str | None = None
    vat_id: str | None = None
    vat_code: str | None = None
    amount: Decimal
    vat_base_amount: Decimal | None = None
    vat_tax_amount: Decimal | None = None
    comment_booking: str | None = None
    value_date: datetime | None = None
    currency_code: str | None = None

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "gl_trans_header_id": (GUID, "GLTransHeader_Id"),
        "book_period_id": (GUID, "BookPeriod_Id"),
        "line_order": (INTEGER, "LineOrder"),
        "gl_account_id": (GUID, "GLAccount_Id"),
        "gl_account_code": (TEXT, "GLAccountCode"),
        "customer_id": (GUID, "Customer_Id"),
        "customer_code": (TEXT, "CustomerCode"),
        "supplier_id": (GUID, "Supplier_Id"),
        "supplier_code": (TEXT, "SupplierCode"),
        "vat_id": (GUID, "Vat_Id"),
        "vat_code": (TEXT, "VatCode"),
        "amount": (REQUIRED_NUMBER, "Amount"),
        "vat_base_amount": (NUMBER, "VatBaseAmount"),
        "vat_tax_amount": (NUMBER, "VatTaxAmount"),
        "comment_booking": (TEXT, "CommentBooking"),
        "value_date": (MOMENT, "ValueDate"),
        "currency_code": (TEXT, "CurrencyCode"),
    }


@dataclass(frozen=True, kw_only=True)
class GLTransHeader(Record):
    """An accounting document; ``lines`` is filled at maxLevel >= 2 (``GLTransactions``)."""

    OM: ClassVar[str] = "GLTransHeader"

    book_period_id: str | None = None
    journal_id: str | None = None
    journal_code: str | None = None
    doc_number: int | None = None
    book_date: datetime | None = None
    due_date: datetime | None = None
    is_locked: bool | None = None
    lines: tuple[GLTrans, ...] = ()

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "lines": (LINES, "GLTransactions"),  # first: its type is checked before the other fields
        "book_period_id": (GUID, "BookPeriod_Id"),
        "journal_id": (GUID, "Journal_Id"),
        "journal_code": (TEXT, "JournalCode"),
        "doc_number": (INTEGER, "DocNumber"),
        "book_date": (MOMENT, "BookDate"),
        "due_date": (MOMENT, "DueDate"),
        "is_locked": (BOOLEAN, "IsLocked"),
    }

    @classmethod
    def _finish(cls, values: dict[str, Any]) -> None:
        """The lines are read last, once the header's own fields have read well."""
        lines = values["lines"]
        read_line = GLTrans.from_json
        values["lines"] = tuple([read_line(line) for line in lines]) if lines else ()


RECORD_TYPES: Mapping[str, type[Record]] = {
    cls.OM: cls
    for cls in (
        BookYear,
        BookPeriod,
        Journal,
        GLAccount,
        Customer,
        Supplier,
        Third,
        Vat,
        GLTransHeader,
        GLTrans,
    )
}


def record_from_json(om: str, d: Any) -> Record:
    """The typed record of object model ``om`` built from ``d``."""
    try:
        cls = RECORD_TYPES[om]
    except KeyError:
        raise ValueError(f"no record type for object model {om!r}") from None
    return cls.from_json(d)
