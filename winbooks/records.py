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
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self

from .dates import parse_date
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
    """Reads typed fields of one source dict, naming the field when a value has the wrong type."""

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

    def common(self) -> dict[str, Any]:
        return {
            "id": self.guid("Id"),
            "version": self.integer("Version"),
            "created": self.moment("Created"),
            "modified": self.moment("Modified"),
            "created_by": self.guid("CreatedBy"),
            "modified_by": self.guid("ModifiedBy"),
            "raw": self.d,
        }


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

    @classmethod
    def from_json(cls, d: Any) -> Self:
        """Build the record from one JSON object of the API."""
        reader = _Reader(cls, d)
        return cls(**reader.common(), **cls._fields(reader))

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, kw_only=True)
class BookYear(Record):
    """A fiscal year."""

    OM: ClassVar[str] = "BookYear"

    code: str | None
    label: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    is_closed: bool | None = None

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "label": r.text("Label", "Name", "Description"),
            "start_date": r.moment("StartDate", "BeginDate", "DateStart", "DateBegin", "FromDate"),
            "end_date": r.moment("EndDate", "DateEnd", "ToDate"),
            "is_closed": r.boolean("IsClosed", "Closed"),
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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "book_year_id": r.guid("BookYear_Id"),
            "number": r.integer("Number"),
            "related_year": r.integer("RelatedYear"),
            "related_month": r.integer("RelatedMonth"),
            "start_date": r.moment("StartDate", "BeginDate", "DateStart", "DateBegin", "FromDate"),
            "end_date": r.moment("EndDate", "DateEnd", "ToDate"),
            "label": r.text("Label", "Name", "Description"),
        }


@dataclass(frozen=True, kw_only=True)
class Journal(Record):
    """A journal (``journal_type``: SAL, SAC, PUR, PUC, PRI, CAS)."""

    OM: ClassVar[str] = "Journal"

    code: str | None
    label: str | None = None
    journal_type: str | None = None

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "label": r.text("Label", "Name", "Description"),
            "journal_type": r.text("JournalType", "JournalTypeCode", "Type", "DbkType"),
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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "label": r.text("Label", "Name", "Label1", "Name1"),
            "label2": r.text("Label2", "Name2"),
            "central_account_type_code": r.text("CentralAccountTypeCode", "CentralAccountType"),
            "is_locked": r.boolean("IsLocked", "Locked"),
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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "name": r.text("Name"),
            "vat_number": r.text("VatNumber"),
            "vat_country_code": r.text("VatCountryCode"),
            "language_code": r.text("LanguageCode"),
            "currency_code": r.text("CurrencyCode"),
        }


def _third(r: _Reader) -> Third | None:
    value = r.d.get("Third")
    return None if value is None else Third.from_json(value)


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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "third_id": r.guid("Third_Id"),
            "third": _third(r),
            "vat_code": r.text("VatCode"),
            "gl_account_id": r.guid("GLAccount_Id"),
            "gl_account2_id": r.guid("GLAccount2_Id"),
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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "code": r.text("Code"),
            "label": r.text("Label", "Name", "Description"),
            "rate": r.number("Rate", "VatRate", "Percent", "Percentage"),
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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        return {
            "gl_trans_header_id": r.guid("GLTransHeader_Id"),
            "book_period_id": r.guid("BookPeriod_Id"),
            "line_order": r.integer("LineOrder"),
            "gl_account_id": r.guid("GLAccount_Id"),
            "gl_account_code": r.text("GLAccountCode"),
            "customer_id": r.guid("Customer_Id"),
            "customer_code": r.text("CustomerCode"),
            "supplier_id": r.guid("Supplier_Id"),
            "supplier_code": r.text("SupplierCode"),
            "vat_id": r.guid("Vat_Id"),
            "vat_code": r.text("VatCode"),
            "amount": r.required_number("Amount"),
            "vat_base_amount": r.number("VatBaseAmount"),
            "vat_tax_amount": r.number("VatTaxAmount"),
            "comment_booking": r.text("CommentBooking"),
            "value_date": r.moment("ValueDate"),
            "currency_code": r.text("CurrencyCode"),
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

    @classmethod
    def _fields(cls, r: _Reader) -> dict[str, Any]:
        lines = r.d.get("GLTransactions")
        if lines is not None and not isinstance(lines, list):
            raise _bad(cls, "GLTransactions", lines, "a list")
        return {
            "book_period_id": r.guid("BookPeriod_Id"),
            "journal_id": r.guid("Journal_Id"),
            "journal_code": r.text("JournalCode"),
            "doc_number": r.integer("DocNumber"),
            "book_date": r.moment("BookDate"),
            "due_date": r.moment("DueDate"),
            "is_locked": r.boolean("IsLocked"),
            "lines": tuple(GLTrans.from_json(line) for line in lines or ()),
        }


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
