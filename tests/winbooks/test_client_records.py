"""Records (typed views of WoW objects), MS JSON dates and Decimal-exact JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from winbooks import (
    RECORD_TYPES,
    BookPeriod,
    BookYear,
    Customer,
    GLAccount,
    GLTrans,
    GLTransHeader,
    Journal,
    Supplier,
    Third,
    Vat,
    WinbooksBadPayload,
    format_date,
    parse_date,
    record_from_json,
)
from winbooks.dates import dumps, loads

PAYLOADS = Path(__file__).parent / "payloads"
GUID = "6f1c2a4e-0d5b-4c1e-9a43-1b2c3d4e5f60"
ZERO = "00000000-0000-0000-0000-000000000000"


def payload(name: str) -> Any:
    return loads((PAYLOADS / name).read_bytes())


# --- dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(1520491871000)/", datetime(2018, 3, 8, 6, 51, 11, tzinfo=UTC)),
        ("/Date(1520491871000+0100)/", datetime(2018, 3, 8, 6, 51, 11, tzinfo=UTC)),  # ms are UTC already
        ("/Date(1520491871123-0500)/", datetime(2018, 3, 8, 6, 51, 11, 123000, tzinfo=UTC)),
        ("\\/Date(0)\\/", datetime(1970, 1, 1, tzinfo=UTC)),
        ("/Date(-86400000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        ("2024-01-15T10:00:00Z", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("2024-01-15T11:00:00+01:00", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("2024-01-15T10:00:00.250", datetime(2024, 1, 15, 10, 0, 0, 250000, tzinfo=UTC)),  # no offset: UTC
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_parse_date(text: str | None, expected: datetime | None) -> None:
    parsed = parse_date(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize("bad", ["/Date(abc)/", "yesterday", 1520491871000, "/Date(1)/x"])
def test_parse_date_refuses_garbage(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_date(bad)


def test_format_date() -> None:
    assert format_date(datetime(2018, 3, 8, 6, 51, 11, 123999, tzinfo=UTC)) == "/Date(1520491871123)/"
    assert (
        format_date(datetime(2018, 3, 8, 7, 51, 11, tzinfo=timezone(timedelta(hours=1))))
        == "/Date(1520491871000)/"
    )
    assert format_date(date(2024, 1, 1)) == "/Date(1704067200000)/"
    assert format_date(datetime(1969, 12, 31, tzinfo=UTC)) == "/Date(-86400000)/"
    assert parse_date(format_date(datetime(2024, 5, 6, 7, 8, 9, 10000, tzinfo=UTC))) == datetime(
        2024, 5, 6, 7, 8, 9, 10000, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        format_date(datetime(2024, 1, 1))


# --- JSON -------------------------------------------------------------------------------------------


def test_json_decimal_precision() -> None:
    data = loads(b'{"a": 0.1, "b": 0.2, "big": 12345678901234.56, "n": 7, "neg": -1210.00}')
    assert data["a"] + data["b"] == Decimal("0.3")
    assert data["big"] == Decimal("12345678901234.56") and str(data["big"]) == "12345678901234.56"
    assert type(data["n"]) is int and data["neg"] == Decimal("-1210.00")
    assert dumps(data) == '{"a":0.1,"b":0.2,"big":12345678901234.56,"n":7,"neg":-1210.00}'


def test_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        loads("[NaN]")
    with pytest.raises(ValueError):
        dumps(Decimal("NaN"))
    with pytest.raises(TypeError):
        dumps(object())


def test_dumps_round_trips_text_and_dates() -> None:
    value = {"s": 'HÉLOÏSE "quoted"', "when": datetime(2024, 1, 1, tzinfo=UTC), "l": [True, None, 1.5]}
    assert json.loads(dumps(value)) == {
        "s": 'HÉLOÏSE "quoted"',
        "when": "/Date(1704067200000)/",
        "l": [True, None, 1.5],
    }


# --- records ----------------------------------------------------------------------------------------


def test_gl_trans_header_with_lines() -> None:
    data = payload("gltransheader_sale.json")
    header = GLTransHeader.from_json(data)
    assert header.id == GUID
    assert header.version == 3
    assert header.modified == datetime(2024, 1, 16, 10, tzinfo=UTC)
    assert header.created_by == "11111111-2222-3333-4444-555555555555"
    assert header.modified_by is None  # zero GUID
    assert header.journal_code == "VERK" and header.doc_number == 1
    assert header.book_date == datetime(2024, 1, 15, tzinfo=UTC)
    assert header.due_date == datetime(2024, 2, 14, tzinfo=UTC)
    assert header.is_locked is False
    assert [line.line_order for line in header.lines] == [0, 1, 2]
    assert sum((line.amount for line in header.lines), Decimal(0)) == Decimal("0.00")
    customer_line, sales_line, vat_line = header.lines
    assert customer_line.amount == Decimal("1210.00") and isinstance(customer_line.amount, Decimal)
    assert customer_line.customer_code == "BAKKERPEETERS" and customer_line.supplier_id is None
    assert customer_line.vat_id is None and customer_line.vat_base_amount == Decimal("1000.00")
    assert customer_line.value_date == datetime(2024, 1, 15, tzinfo=UTC)
    assert sales_line.customer_id is None and sales_line.vat_code == "21" and sales_line.value_date is None
    assert vat_line.gl_account_code == "451000" and vat_line.vat_tax_amount is None
    assert vat_line.raw["IsVatAllocation"] is True  # unknown fields kept in raw
    assert header.raw is data


def test_raw_is_left_out_of_eq_and_repr() -> None:
    first = Journal.from_json({"Id": GUID, "Code": "VERK", "Label": "Verkopen", "Extra": 1})
    second = Journal.from_json({"Id": GUID, "Code": "VERK", "Label": "Verkopen", "Other": 2})
    assert first == second and hash(first) == hash(second)
    assert "Extra" not in repr(first) and "raw" not in repr(first)


def test_customer_with_third_and_supplier() -> None:
    data = payload("customer_level2.json")
    customer = Customer.from_json(data)
    assert customer.code == "BAKKERPEETERS" and customer.vat_code == "21"
    assert customer.third == Third.from_json(data["Third"])
    assert customer.third is not None and customer.third.vat_country_code == "BE"
    assert customer.modified == datetime(2024, 1, 3, 9, 30, tzinfo=UTC)
    assert customer.created_by is None
    supplier = Supplier.from_json({**data, "Third": None})
    assert isinstance(supplier, Supplier) and supplier.third is None
    assert supplier.gl_account2_id == "d0000000-0000-0000-0000-000000400000"


def test_assumed_names_have_tolerated_alternates() -> None:
    year = BookYear.from_json(
        {
            "Id": GUID,
            "Code": "2024",
            "Name": "Boekjaar 2024",
            "BeginDate": "/Date(1704067200000)/",
            "EndDate": None,
        }
    )
    assert year.label == "Boekjaar 2024" and year.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert year.end_date is None and year.is_closed is None
    account = GLAccount.from_json(
        {"Id": GUID, "Code": "700000", "Name": "Verkopen", "Name2": "Ventes", "IsLocked": 0}
    )
    assert (account.label, account.label2, account.is_locked) == ("Verkopen", "Ventes", False)
    preferred = GLAccount.from_json({"Id": GUID, "Code": "700000", "Label": "Verkopen", "Name": "other"})
    assert preferred.label == "Verkopen"


def test_book_period_vat_and_journal() -> None:
    period = BookPeriod.from_json(
        {
            "Id": GUID,
            "Code": "2024/01",
            "BookYear_Id": ZERO,
            "Number": 1,
            "RelatedYear": "2024",
            "RelatedMonth": 1,
        }
    )
    assert (period.number, period.related_year, period.related_month, period.book_year_id) == (
        1,
        2024,
        1,
        None,
    )
    vat = Vat.from_json({"Id": GUID, "Code": "21", "Label": "21%", "Rate": Decimal("21.00")})
    assert vat.rate == Decimal("21.00")
    assert Vat.from_json({"Id": GUID, "Code": "6", "Rate": "6"}).rate == Decimal("6")
    assert Journal.from_json({"Id": GUID, "Code": "BNK1", "JournalType": "CAS"}).journal_type == "CAS"


def test_record_registry() -> None:
    assert set(RECORD_TYPES) == {
        "BookYear",
        "BookPeriod",
        "Journal",
        "GLAccount",
        "Customer",
        "Supplier",
        "Third",
        "Vat",
        "GLTransHeader",
        "GLTrans",
    }
    assert isinstance(record_from_json("GLTrans", {"Id": GUID, "Amount": 1}), GLTrans)
    with pytest.raises(ValueError):
        record_from_json("Item", {})


@pytest.mark.parametrize(
    ("cls", "data", "names"),
    [
        (GLTrans, {"Id": GUID}, "GLTrans.Amount: missing"),
        (GLTrans, {"Id": GUID, "Amount": "lots"}, "GLTrans.Amount: expected a number, got str"),
        (GLTrans, {"Id": GUID, "Amount": True}, "GLTrans.Amount: expected a number, got bool"),
        (GLTrans, {"Id": 5, "Amount": 1}, "GLTrans.Id: expected a GUID string, got int"),
        (
            GLTransHeader,
            {"Id": GUID, "GLTransactions": {"not": "a list"}},
            "GLTransHeader.GLTransactions: expected a list, got dict",
        ),
        (
            GLTransHeader,
            {"Id": GUID, "BookDate": "someday"},
            "GLTransHeader.BookDate: expected a date, got str",
        ),
        (BookPeriod, {"Id": GUID, "Number": 1.5}, "BookPeriod.Number: expected an integer, got Decimal"),
        (BookYear, {"Id": GUID, "IsClosed": "maybe"}, "BookYear.IsClosed: expected a boolean, got str"),
        (Journal, ["not", "an", "object"], "Journal: expected a JSON object, got list"),
    ],
)
def test_bad_values_name_the_field(cls: Any, data: Any, names: str) -> None:
    if cls is BookPeriod:
        data = loads(json.dumps(data))  # 1.5 as a Decimal, as the client parses it
    with pytest.raises(WinbooksBadPayload, match=f"^{re.escape(names)}"):
        cls.from_json(data)
