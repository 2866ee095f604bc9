"""WoW documents as ledger rows: the fast GUID parsing and the rejections of unreadable records."""

from __future__ import annotations

import pickle
import uuid
from decimal import Decimal
from typing import Any

import pytest

from clients.ledger import EntryRow, Rejected
from syncs.providers.winbooks.conversion import convert, parse_guid, records_page, ref_guid

GUID = "6f1c2a4e-0d5b-4c1e-9a43-1b2c3d4e5f60"
ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "text",
    [
        GUID,
        GUID.upper(),
        "{" + GUID + "}",
        "{" + GUID.upper() + "}",
        "{" + GUID,  # braces are stripped one side or both
        GUID.replace("-", ""),
        "urn:uuid:" + GUID,
        ZERO,
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "+" + GUID[1:],  # int() and so UUID() accept a sign, spaces and underscores: still the same value
        " " + GUID[1:],
        GUID[:1] + "_" + GUID[2:],
    ],
)
def test_uuid_is_what_uuid_UUID_makes(text: str) -> None:
    expected = uuid.UUID(text.strip("{}"))
    made = parse_guid(text)
    assert made == expected and type(made) is uuid.UUID
    assert (str(made), hash(made), made.is_safe, made.version) == (
        str(expected),
        hash(expected),
        expected.is_safe,
        expected.version,
    )
    assert pickle.loads(pickle.dumps(made)) == expected
    assert ref_guid(text) == expected


@pytest.mark.parametrize("text", ["not-a-guid", GUID[:-1] + "g", GUID + "0", GUID + "}x", "-" * 36, "{}"])
def test_bad_guids_fail_as_uuid_UUID_fails(text: str) -> None:
    with pytest.raises(ValueError) as expected:
        uuid.UUID(text.strip("{}"))
    with pytest.raises(ValueError) as raised:
        parse_guid(text)
    assert str(raised.value) == str(expected.value)


def test_empty_ids_are_none() -> None:
    assert parse_guid(None) is None and parse_guid("") is None


def document(**changes: Any) -> dict[str, Any]:
    line = {
        "Id": "11111111-2222-3333-4444-555555555555",
        "BookPeriod_Id": GUID,
        "GLAccount_Id": GUID.upper(),
        "Customer_Id": "{" + ZERO + "}",
        "Supplier_Id": ZERO,
        "Amount": Decimal("10.00"),
        "ValueDate": "/Date(1704067200000)/",
        "Created": "/Date(1704832128967)/",
    }
    data = {
        "Id": GUID,
        "Version": 2,
        "JournalCode": "VERK",
        "DocNumber": 7,
        "BookPeriod_Id": GUID,
        "Journal_Id": ZERO,
        "BookDate": "/Date(1704067200000)/",
        "Modified": "/Date(1704832128967)/",
        "GLTransactions": [line, {**line, "Id": GUID, "Amount": Decimal("-10.00"), "LineOrder": 5}],
    }
    data.update(changes)
    return data


def test_a_document_becomes_an_entry_row() -> None:
    row, problem = convert("entries", document())
    assert problem is None and isinstance(row, EntryRow)
    assert (row.wow_id, row.journal_wow_id, row.reference, row.doc_number) == (
        uuid.UUID(GUID),
        None,
        "VERK 7",
        "7",
    )
    first, second = row.lines
    assert first.account_wow_id == uuid.UUID(GUID) and first.relation_wow_id is None
    assert (first.line_order, second.line_order) == (0, 5)
    assert (first.vat_code, first.description, str(first.value_date)) == ("", "", "2024-01-01")
    assert type(first.amount) is Decimal and second.amount == Decimal("-10.00")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"Id": ZERO}, "the record has no Id"),
        ({"Id": "{nope}"}, "badly formed hexadecimal UUID string"),
        ({"BookDate": "someday"}, "GLTransHeader.BookDate: expected a date, got str"),
        ({"GLTransactions": "lines"}, "GLTransHeader.GLTransactions: expected a list, got str"),
        ({"GLTransactions": [{"Id": GUID, "Amount": "lots"}]}, "GLTrans.Amount: expected a number, got str"),
        ({"GLTransactions": [{"Id": GUID}]}, "GLTrans.Amount: missing"),
    ],
)
def test_unreadable_documents_are_rejected_naming_the_problem(changes: dict[str, Any], problem: str) -> None:
    data = document(**changes)
    page = records_page("entries", [data, document(Id="22222222-2222-3333-4444-555555555555")])
    assert len(page.rows) == 1
    assert page.rejected == [
        Rejected(
            entity="document",
            wow_id=str(data["Id"]),
            reference="VERK 7",
            code="issue.unreadable",
            params={"entity": "document", "detail": problem},
        )
    ]
