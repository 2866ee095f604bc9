"""The fast ("plain") reading of records and dates gives exactly what the careful path gives.

``Record.from_json`` reads a plain dict whose values are all of the expected JSON type in one pass per kind,
and hands anything else to the ``_Reader`` methods; a Mapping that is not a dict always takes the careful
path, which lets these tests compare the two. ``parse_date`` reads ``"/Date(ms)/"`` without its regex and
caches what it parsed.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from winbooks import (
    RECORD_TYPES,
    BookYear,
    Customer,
    GLTrans,
    GLTransHeader,
    Journal,
    Third,
    WinbooksBadPayload,
    parse_date,
)
from winbooks.dates import _MS_DATE, EPOCH, _parse_str, _reject_constant, loads

PAYLOADS = Path(__file__).parent / "payloads"
GUID = "6f1c2a4e-0d5b-4c1e-9a43-1b2c3d4e5f60"
ZERO = "00000000-0000-0000-0000-000000000000"


def typed(value: Any) -> Any:
    """Every field with its exact type, nested records included (``==`` would take 1 for Decimal(1))."""
    if dataclasses.is_dataclass(value):
        return (
            type(value).__name__,
            [(f.name, typed(getattr(value, f.name))) for f in dataclasses.fields(value) if f.name != "raw"],
        )
    if isinstance(value, tuple):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


def outcome(cls: Any, d: Any) -> Any:
    try:
        return typed(cls.from_json(d))
    except (WinbooksBadPayload, ArithmeticError) as error:  # a date out of range overflows, as it always did
        return ("error", type(error).__name__, str(error))


def bad(message: str) -> tuple[str, str, str]:
    return ("error", "WinbooksBadPayload", message)


def careful(d: Any) -> Any:
    """The same object as a Mapping that is not a dict (its lines and Third too), so only _Reader reads it."""
    if not isinstance(d, dict):
        return d
    copied = dict(d)
    if isinstance(d.get("GLTransactions"), list):
        copied["GLTransactions"] = [careful(line) for line in d["GLTransactions"]]
    if "Third" in d:
        copied["Third"] = careful(d["Third"])
    return MappingProxyType(copied)


def header() -> dict[str, Any]:
    data: dict[str, Any] = loads((PAYLOADS / "gltransheader_sale.json").read_bytes())
    return data


# Values each field kind may meet: plain ones and every odd one the careful path has to judge.
ODD_VALUES: list[Any] = [
    None,
    "",
    " 7 ",
    0,
    1,
    -3,
    True,
    Decimal("12.50"),
    Decimal("3"),
    Decimal("NaN"),
    1.5,
    "abc",
    "true",
    GUID,
    GUID.upper(),
    "{" + GUID + "}",
    ZERO,
    "{" + ZERO + "}",
    "/Date(1520491871000)/",
    "/Date(1520491871000+0100)/",
    "/Date(99999999999999999999)/",
    "2024-01-15T10:00:00+01:00",
    "someday",
    [],
    {"Code": "X"},
]


def test_plain_and_careful_paths_agree_on_a_document() -> None:
    data = header()
    document = GLTransHeader.from_json(data)
    assert typed(document) == outcome(GLTransHeader, careful(data))
    assert document.raw is data and document.lines[0].raw is data["GLTransactions"][0]


@pytest.mark.parametrize("name", sorted({*header(), *header()["GLTransactions"][0]} - {"GLTransactions"}))
def test_plain_and_careful_paths_agree_on_odd_values(name: str) -> None:
    for value in ODD_VALUES:
        for target in ("header", "line"):
            data = header()
            holder = data if target == "header" else data["GLTransactions"][1]
            if name not in holder:
                continue
            holder[name] = copy.deepcopy(value)
            plain, read_carefully = outcome(GLTransHeader, data), outcome(GLTransHeader, careful(data))
            assert plain == read_carefully, (name, target, value)


def test_the_first_bad_field_is_reported_whatever_the_path() -> None:
    data = header()
    data["BookDate"] = "someday"
    data["GLTransactions"] = {"not": "a list"}  # checked before BookDate, as always
    assert outcome(GLTransHeader, data) == bad("GLTransHeader.GLTransactions: expected a list, got dict")
    data = header()
    data["DueDate"] = "later"
    data["GLTransactions"][0]["Amount"] = "lots"  # the header's own fields are read before its lines
    assert outcome(GLTransHeader, data) == bad("GLTransHeader.DueDate: expected a date, got str")
    line = {"Id": GUID, "Version": "x", "Amount": None, "ValueDate": "/Date(99999999999999999999)/"}
    assert outcome(GLTrans, line) == bad("GLTrans.Version: expected an integer, got str")


def test_zero_guid_in_braces_and_upper_case_guids() -> None:
    line = GLTrans.from_json(
        {
            "Id": GUID.upper(),
            "Amount": 1,
            "Customer_Id": "{" + ZERO + "}",
            "Supplier_Id": "{{" + ZERO + "}}",
            "Vat_Id": ZERO,
            "GLAccount_Id": "{" + GUID + "}",
            "BookPeriod_Id": "",
        }
    )
    assert (line.customer_id, line.supplier_id, line.vat_id, line.book_period_id) == (None, None, None, None)
    assert (line.id, line.gl_account_id) == (GUID.upper(), "{" + GUID + "}")  # kept as sent
    assert line.amount == Decimal(1) and type(line.amount) is Decimal


def test_every_record_type_fills_exactly_its_dataclass_fields() -> None:
    for cls in RECORD_TYPES.values():
        record = cls.from_json({"Id": GUID, "Code": "C", "Amount": Decimal("1.00")})
        assert vars(record).keys() == {f.name for f in dataclasses.fields(cls)}, cls


def test_records_stay_frozen_hashable_and_picklable() -> None:
    document = GLTransHeader.from_json(header())
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.version = 4  # type: ignore[misc]
    assert hash(document) == hash(GLTransHeader.from_json(header()))
    assert pickle.loads(pickle.dumps(document)) == document
    assert dataclasses.replace(document, version=4).version == 4
    journal = Journal.from_json({"Id": GUID, "Code": "VERK"})
    assert journal == Journal(id=GUID, code="VERK", raw={"Id": GUID})
    assert repr(journal) == repr(Journal(id=GUID, code="VERK"))


def test_nested_third_and_alternate_names_still_read() -> None:
    data = loads((PAYLOADS / "customer_level2.json").read_bytes())
    assert outcome(Customer, data) == outcome(Customer, careful(data))
    assert Customer.from_json(data).third == Third.from_json(data["Third"])
    year = BookYear.from_json({"Id": GUID, "Label": None, "Name": "Boekjaar", "BeginDate": "/Date(0)/"})
    assert (year.label, year.start_date) == ("Boekjaar", EPOCH)


# --- dates ------------------------------------------------------------------------------------------


def by_regex(text: str) -> datetime:
    match = _MS_DATE.match(text.strip())
    assert match is not None
    return EPOCH + timedelta(milliseconds=int(match["ms"]))


@pytest.mark.parametrize(
    "text",
    [
        "/Date(0)/",
        "/Date(1520491871123)/",
        "/Date(-86400000)/",
        "/Date(-1)/",
        "/Date(1520491871000+0100)/",
        "/Date(1520491871123-0500)/",
        "/Date(-0500)/",  # -500 ms, not an offset
        "\\/Date(5)\\/",
        " /Date(5)/ ",
        "/Date(\u0661\u0662\u0663)/",  # Arabic-Indic digits: the regex's \d takes them, so must we
    ],
)
def test_ms_dates_read_as_the_regex_reads_them(text: str) -> None:
    parsed = parse_date(text)
    assert parsed == by_regex(text) and parsed is not None and parsed.tzinfo is UTC
    assert _parse_str(text) == parsed  # uncached


ODD_MS_DATES = ["/Date()/", "/Date(-)/", "/Date(+5)/", "/Date(1_000)/", "/Date(\u00b2)/", "/Date( 5)/"]


@pytest.mark.parametrize("text", ODD_MS_DATES)
def test_odd_ms_dates_are_refused_as_before(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_date(text)


def test_iso_dates_and_str_subclasses() -> None:
    assert parse_date("2024-01-15T11:00:00+01:00") == datetime(2024, 1, 15, 10, tzinfo=UTC)

    class Text(str):
        pass

    assert parse_date(Text("/Date(0)/")) == EPOCH
    assert parse_date(Text("")) is None


def test_repeated_dates_are_parsed_once() -> None:
    # The lines of a document repeat its header's dates: the same (immutable) datetime comes back.
    first = parse_date("/Date(1704832128967)/")
    assert parse_date("/Date(1704832128967)/") is first
    assert first == datetime(2024, 1, 9, 20, 28, 48, 967000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        b'[99999999999999999999999, -18446744073709551616, 1.0, 1e5, -0.0, 1E400, 0.10, "x"]',
        b'{"a": 1, "a": {"b": [null, true, false]}}',
        b"  [1]  ",
        b'["\\ud800", "\\u00e9"]',  # a lone surrogate: msgspec refuses it, json reads it
        b"\xef\xbb\xbf[1]",  # a byte order mark: the same
        '["a str", 2.50]',
        b"[1] x",
        b"[NaN]",
        b"[Infinity]",
        b'["\xff"]',
        b"",
        b"{",
    ],
)
def test_loads_gives_what_json_gives(text: bytes | str) -> None:
    """``loads`` parses with msgspec where it can and with json where it cannot: either way the value, or
    the kind of error, json alone would give."""
    try:
        expected: Any = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as error:
        with pytest.raises(type(error)):
            loads(text)
        return
    assert pickle.dumps(loads(text)) == pickle.dumps(expected)  # exact types and values, Decimal's digits too
