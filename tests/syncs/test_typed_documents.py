"""Documents decoded typed (winbooks.documents, msgspec) become exactly the rows, and rejections, that the
usual path (JSON parsed into dicts, read into records, converted) makes of the same bytes.

Every field of a document and of a line is given every odd value the careful path judges: the typed path
either declines (and the usual path reads the answer) or gives the same result, exact types included.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from syncs.providers.base import NO_KEY, StreamPage
from syncs.providers.winbooks.conversion import decoded_page, records_page
from winbooks.dates import dumps, loads
from winbooks.documents import decode_documents
from winbooks.pagination import Page, merge_chunks

PAYLOADS = Path(__file__).parents[1] / "winbooks" / "payloads"
GUID = "6f1c2a4e-0d5b-4c1e-9a43-1b2c3d4e5f60"
ZERO = "00000000-0000-0000-0000-000000000000"
OTHER_GUID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

# JSON texts, spliced in as they are: what WoW could send in any field.
ODD_JSON = [
    "null",
    '""',
    '" 7 "',
    "0",
    "1",
    "-3",
    "true",
    "12.50",
    "3",
    "1.5E+3",
    "-0.0",
    "99999999999999999999999",
    '"12.50"',
    '" 1.10"',
    '"1_0"',
    '"NaN"',
    '"Infinity"',
    '"abc"',
    '"true"',
    json.dumps(GUID),
    json.dumps(GUID.upper()),
    json.dumps("{" + GUID + "}"),
    json.dumps(GUID.replace("-", "")),
    json.dumps("+" + GUID[1:]),
    json.dumps("x" + GUID[1:]),
    json.dumps(ZERO),
    json.dumps("{" + ZERO + "}"),
    '"/Date(1520491871000)/"',
    '"/Date(1520491871000+0100)/"',
    '"/Date(99999999999999999999)/"',
    '"2024-01-15T10:00:00+01:00"',
    '"someday"',
    "[]",
    '{"Code": "X"}',
]
MARK = "__ODD_VALUE__"


def document() -> dict[str, Any]:
    data: dict[str, Any] = loads((PAYLOADS / "gltransheader_sale.json").read_bytes())
    return data


def typed(value: Any) -> Any:
    """Every field with its exact type (``==`` would take Decimal("1.0") for Decimal("1"))."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            [(f.name, typed(getattr(value, f.name))) for f in dataclasses.fields(value)],
        )
    if isinstance(value, tuple | list):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


def usual(chunks: list[bytes]) -> StreamPage:
    return records_page("entries", merge_chunks([loads(chunk) for chunk in chunks]), NO_KEY)


def decoded(chunks: list[bytes]) -> StreamPage | None:
    """The typed path as the reader takes it, or None where it declines (the client then parses)."""
    documents = decode_documents(chunks)
    if documents is None:
        return None
    return decoded_page(Page(records=documents, last_key=NO_KEY, decoded=True))


def outcome(page: StreamPage) -> Any:
    return typed(page.rows), typed(page.rejected)


def test_a_plain_document_is_decoded_typed_into_the_same_rows() -> None:
    body = dumps([document()]).encode()
    page = decoded([body])
    assert page is not None and page.rows and not page.rejected
    assert outcome(page) == outcome(usual([body]))
    line = page.rows[0].lines[0]
    assert isinstance(line.amount, Decimal) and isinstance(page.rows[0].book_date, dt.date)


@pytest.mark.parametrize("mode", ["wow-like", "strict"])
def test_a_sandbox_page_is_decoded_typed_into_the_same_rows(wow_sandbox: Any, mode: str) -> None:
    """A real page of 300 documents at maxLevel 2, in its ContinuePath chunks: WoW-like, references expanded
    (BookPeriod, Journal: objects the records do not declare) and a document cut at nearly every boundary."""
    wow_sandbox.config(mode=mode)
    created = wow_sandbox.control(
        "POST",
        "folders",
        {
            "code": "GEN_BV",
            "kind": "generated",
            "years": 2,
            "accounts": 60,
            "relations": 30,
            "documents": 300,
            "seed": 7,
            "grant": [wow_sandbox.TESTER],
        },
    )
    assert created.status_code == 201, created.text
    body = {
        "Orders": [{"PropertyName": "Modified"}, {"PropertyName": "Id"}],
        "FirstResult": 0,
        "MaxResult": 500,
    }
    answers = wow_sandbox.chunks("POST", "/app/GLTransHeaders/Folder/GEN_BV/ExecuteCriteria?maxLevel=2", body)
    chunks = [answer.content for answer in answers]
    assert len(chunks) == (22 if mode == "wow-like" else 4)
    page = decoded(chunks)
    assert page is not None and len(page.rows) == 300 and sum(len(row.lines) for row in page.rows) == 1200
    assert not page.rejected
    assert outcome(page) == outcome(usual(chunks))


def spliced(name: str, target: str, text: str) -> bytes | None:
    data = document()
    lines = [line for line in data["GLTransactions"] if name in line]
    holder = data if target == "header" else (lines[-1] if lines else {})
    if name not in holder:
        return None
    holder[name] = MARK
    return dumps([data]).replace(json.dumps(MARK), text).encode()


@pytest.mark.parametrize("name", sorted({*document(), *document()["GLTransactions"][0]} - {"GLTransactions"}))
def test_every_field_with_every_odd_value_reads_the_same(name: str) -> None:
    taken = 0
    for text in ODD_JSON:
        for target in ("header", "line"):
            body = spliced(name, target, text)
            if body is None:
                continue
            page = decoded([body])
            if page is not None:
                taken += 1
                assert outcome(page) == outcome(usual([body])), (name, target, text)
    assert taken, f"the typed path never took {name}: the test would compare nothing"


def test_odd_shapes_are_declined() -> None:
    data = document()
    for body in (b"", b"{}", b"[1]", b"[[]]", b"not json", b'[{"Id": NaN}]', dumps([data])[:-5].encode()):
        assert decode_documents([body]) is None
    without_id = copy.deepcopy(data)
    del without_id["GLTransactions"][0]["Id"]
    assert decode_documents([dumps([without_id]).encode()]) is None


def halves(data: dict[str, Any], at: int, split_line: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two halves of a document as WoW cuts one at a chunk boundary (its lines shared out)."""
    lines = data["GLTransactions"]
    first = {**data, "GLTransactions": copy.deepcopy(lines[:at])}
    second = {
        "$type": data["$type"],
        "Id": data["Id"],
        "GLTransactions": copy.deepcopy(lines[at - 1 :] if split_line else lines[at:]),
    }
    if split_line:
        cut = first["GLTransactions"][-1]
        keep = {**dict(list(cut.items())[:6]), "Amount": cut["Amount"]}  # a line without one is declined
        second["GLTransactions"][0] = {"$type": cut["$type"], "Id": cut["Id"], **dict(list(cut.items())[6:])}
        first["GLTransactions"][-1] = keep
    return first, second


@pytest.mark.parametrize("split_line", [False, True])
def test_documents_split_across_chunks_merge_as_the_usual_path_merges(split_line: bool) -> None:
    one, two = document(), document()
    two["Id"] = OTHER_GUID
    for line in two["GLTransactions"]:
        line["Id"] = "d" + line["Id"][1:]
    first, second = halves(two, 2, split_line)
    chunks = [dumps([one, first]).encode(), dumps([second]).encode()]
    page = decoded(chunks)
    assert page is not None and len(page.rows) == 2 and len(page.rows[1].lines) == len(two["GLTransactions"])
    assert outcome(page) == outcome(usual(chunks))


@pytest.mark.parametrize("field", ["Id", "GLAccount_Id", "BookPeriod_Id", "Customer_Id", "Supplier_Id"])
def test_an_id_that_would_not_convert_is_declined(field: str) -> None:
    """36 characters, not a GUID: the usual path rejects the document; typed, it is declined (so rejected
    the usual way), never converted into something else."""
    data = document()
    line = data["GLTransactions"][1]
    line[field] = "x" + (line.get(field) or GUID)[1:]
    body = dumps([data]).encode()
    assert decode_documents([body]) is None
    assert usual([body]).rejected and not usual([body]).rows
