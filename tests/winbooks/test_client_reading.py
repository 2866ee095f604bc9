"""Reading: single objects, lists, criteria, ContinuePath chunks (split objects), URL encoding, Decimals."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from tests.winbooks.fake_api import API, EMAIL, NOW
from winbooks import (
    Customer,
    GLTransHeader,
    Query,
    TokenSet,
    WinbooksBadPayload,
    WinbooksClient,
    WinbooksNotFound,
    eq,
)
from winbooks.pagination import deep_merge, merge_chunks, same_object

TOKENS = TokenSet("ACCESS", "REFRESH", NOW + timedelta(hours=1))
PAYLOADS = Path(__file__).parent / "payloads"
HEADERS_URL = f"{API}/app/GLTransHeaders/Folder/DEMO?maxLevel=2"
CRITERIA_URL = f"{API}/app/GLTranss/Folder/DEMO/ExecuteCriteria?maxLevel=1"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def make_client() -> WinbooksClient:
    return WinbooksClient(
        api_url=API + "/", email=EMAIL, tokens=TOKENS, now=lambda: NOW, sleep=lambda _: None
    )


def continue_header(value: str) -> list[Any]:
    return [matchers.header_matcher({"ContinuePath": value})]


# --- single objects ---------------------------------------------------------------------------------


def test_get_one_encodes_code_and_folder(rsps: responses.RequestsMock) -> None:
    url = f"{API}/app/Customer/H%C3%89LO%C3%8FSE%2F1/Folder/DEMO%20BV%2F2?maxLevel=2"
    rsps.get(url, json={"Code": "HÉLOÏSE/1"})
    client = make_client()
    assert client.get_one("Customer", "HÉLOÏSE/1", "DEMO BV/2", max_level=2) == {"Code": "HÉLOÏSE/1"}
    request = rsps.calls[0].request
    assert request.url == url
    assert request.headers["Authorization"] == "Bearer ACCESS"
    assert request.headers["Accept"] == "application/json"
    assert "ContinuePath" not in request.headers
    assert client.api_calls_by_kind == {"get": 1}


def test_get_one_204_is_none(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/app/Customer/NOBODY/Folder/DEMO?maxLevel=1", status=204)
    assert make_client().get_one("Customer", "NOBODY", "DEMO") is None


def test_get_one_404_raises_unless_asked(rsps: responses.RequestsMock) -> None:
    url = f"{API}/app/Customer/NOBODY/Folder/NOFOLDER?maxLevel=1"
    rsps.get(url, status=404, json={"Message": "Unknown folder NOFOLDER"})
    rsps.get(url, status=404, json={"Message": "Not found"})
    client = make_client()
    with pytest.raises(WinbooksNotFound, match="Unknown folder NOFOLDER"):
        client.get_one("Customer", "NOBODY", "NOFOLDER")
    assert client.get_one("Customer", "NOBODY", "NOFOLDER", none_on_404=True) is None


def test_get_one_completes_an_object_across_chunks(rsps: responses.RequestsMock) -> None:
    header = payload("gltransheader_sale.json")
    first = {**header, "GLTransactions": header["GLTransactions"][:1]}
    second = {"Id": header["Id"], "GLTransactions": header["GLTransactions"][1:]}
    url = f"{API}/app/GLTransHeader/{header['Id']}/Folder/DEMO?maxLevel=2"
    rsps.get(url, json=first, headers={"ContinuePath": "p1"})
    rsps.get(url, json=second, match=continue_header("p1"))
    assert make_client().get_one("GLTransHeader", header["Id"], "DEMO", max_level=2) == header


# --- lists and ContinuePath -------------------------------------------------------------------------


def split_header_chunks() -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """Three headers; the second split over the first boundary (lines 1 | 2-3), as the sandbox splits."""
    base = payload("gltransheader_sale.json")
    headers = []
    for number in range(3):
        header = copy.deepcopy(base)
        header["Id"] = f"6f1c2a4e-0d5b-4c1e-9a43-00000000000{number}"
        header["DocNumber"] = number + 1
        headers.append(header)
    split = headers[1]
    first_half = {**split, "GLTransactions": split["GLTransactions"][:1], "DueDate": None}
    second_half = {
        "$type": split["$type"],
        "Id": split["Id"],
        "DueDate": split["DueDate"],
        "GLTransactions": split["GLTransactions"][1:],
    }
    return split, [[headers[0], first_half], [second_half, headers[2]]]


def test_iter_all_follows_continue_path_and_merges_a_split_object(rsps: responses.RequestsMock) -> None:
    split, chunks = split_header_chunks()
    rsps.get(HEADERS_URL, json=chunks[0], headers={"ContinuePath": "opaque/1?x=1"})
    rsps.get(HEADERS_URL, json=chunks[1], match=continue_header("opaque/1?x=1"))
    client = make_client()
    items = list(client.iter_all("GLTransHeader", "DEMO", max_level=2))
    assert [item["DocNumber"] for item in items] == [1, 2, 3]
    assert items[1] == split
    assert [line["LineOrder"] for line in items[1]["GLTransactions"]] == [0, 1, 2]
    # The continuation is the same request plus the ContinuePath header.
    assert [call.request.url for call in rsps.calls] == [HEADERS_URL, HEADERS_URL]
    assert rsps.calls[1].request.headers["ContinuePath"] == "opaque/1?x=1"
    assert client.api_calls_by_kind == {"list": 2}
    assert GLTransHeader.from_json(items[1]).lines[2].amount == Decimal("-210.00")


def test_object_split_over_three_chunks(rsps: responses.RequestsMock) -> None:
    lines = [{"Id": f"L{number}", "Amount": number} for number in range(5)]
    rsps.get(
        HEADERS_URL,
        json=[{"Id": "H1", "Code": None, "GLTransactions": lines[:2]}],
        headers={"ContinuePath": "a"},
    )
    rsps.get(HEADERS_URL, json=[{"Id": "H1", "GLTransactions": lines[2:3]}], headers={"ContinuePath": "b"})
    rsps.get(
        HEADERS_URL,
        json=[{"Id": "H1", "GLTransactions": lines[3:]}, {"Id": "H2"}],
        match=continue_header("b"),
    )
    items = list(make_client().iter_all("GLTransHeader", "DEMO", max_level=2))
    assert items == [{"Id": "H1", "Code": None, "GLTransactions": lines}, {"Id": "H2"}]


def test_iter_all_is_lazy(rsps: responses.RequestsMock) -> None:
    rsps.get(HEADERS_URL, json=[{"Id": "H1"}, {"Id": "H2"}], headers={"ContinuePath": "next"})
    rsps.get(HEADERS_URL, json=[{"Id": "H3"}])
    client = make_client()
    items = client.iter_all("GLTransHeader", "DEMO", max_level=2)
    assert client.api_calls == 0
    assert next(items) == {"Id": "H1"}
    assert client.api_calls == 1  # H2 is held back until the next chunk shows whether it continues
    assert list(items) == [{"Id": "H2"}, {"Id": "H3"}]
    assert client.api_calls == 2


def test_empty_chunks_and_204_lists(rsps: responses.RequestsMock) -> None:
    rsps.get(HEADERS_URL, json=[], headers={"ContinuePath": "x"})
    rsps.get(HEADERS_URL, status=204)
    assert list(make_client().iter_all("GLTransHeader", "DEMO", max_level=2)) == []


def test_execute_criteria_resends_the_same_body(rsps: responses.RequestsMock) -> None:
    query = Query("GLTrans").where(eq("BookPeriod_Id", "a0000000-0000-0000-0000-000000000001")).select("Id")
    rsps.post(CRITERIA_URL, json=["id-1", "id-2"], headers={"ContinuePath": "c1"})
    rsps.post(CRITERIA_URL, json=["id-2", "id-3"], match=continue_header("c1"))
    client = make_client()
    assert client.execute_criteria("DEMO", query) == ["id-1", "id-2", "id-2", "id-3"]  # scalars never merged
    first, second = (call.request for call in rsps.calls)
    assert first.body == second.body
    assert first.method == second.method == "POST"
    assert json.loads(first.body or b"") == query.to_json()
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert client.api_calls_by_kind == {"criteria": 2}


def test_projection_rows_are_positional_arrays(rsps: responses.RequestsMock) -> None:
    query = Query("GLTrans").group_by("BookPeriod_Id").count("Id").sum("Amount")
    rsps.post(
        CRITERIA_URL, body=b'[["p1", 3, 0.10], ["p2", 2, 12345678901234.56]]', content_type="application/json"
    )
    rows = make_client().execute_criteria("DEMO", query)
    assert rows == [["p1", 3, Decimal("0.10")], ["p2", 2, Decimal("12345678901234.56")]]
    assert isinstance(rows[0][1], int)


def test_amounts_are_decimal_exact(rsps: responses.RequestsMock) -> None:
    body = b'[{"Id": "L1", "Amount": 0.1, "Version": 1}, {"Id": "L2", "Amount": 0.2, "Version": 2}]'
    rsps.post(CRITERIA_URL, body=body, content_type="application/json")
    rows = make_client().execute_criteria("DEMO", Query("GLTrans"))
    assert rows[0]["Amount"] + rows[1]["Amount"] == Decimal("0.3")
    assert type(rows[0]["Version"]) is int


def test_a_list_answer_that_is_not_a_list_is_a_bad_payload(rsps: responses.RequestsMock) -> None:
    rsps.post(CRITERIA_URL, json={"Items": []})
    with pytest.raises(WinbooksBadPayload):
        make_client().execute_criteria("DEMO", Query("GLTrans"))


def test_iter_records_gives_typed_records(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/app/Customers/Folder/DEMO?maxLevel=2", json=[payload("customer_level2.json")])
    [customer] = make_client().iter_records(Customer, "DEMO", max_level=2)
    assert isinstance(customer, Customer)
    assert customer.third is not None and customer.third.name == "Bakkerij Peeters NV"


# --- merge rules ------------------------------------------------------------------------------------


def test_merge_by_code_when_there_is_no_id() -> None:
    chunks = [[{"Code": "A", "Lines": [1]}, {"Code": "B", "Lines": [1]}], [{"Code": "B", "Lines": [2]}]]
    assert list(merge_chunks(chunks)) == [{"Code": "A", "Lines": [1]}, {"Code": "B", "Lines": [1, 2]}]


def test_no_merge_for_different_objects_or_types() -> None:
    assert not same_object({"Id": "X", "$type": "A"}, {"Id": "X", "$type": "B"})
    assert not same_object({"Id": "X"}, {"Id": "Y"})
    assert not same_object({"Code": None}, {"Code": None})
    zero = "00000000-0000-0000-0000-000000000000"
    assert not same_object({"Id": zero}, {"Id": zero})
    assert same_object({"Id": zero, "Code": "C"}, {"Id": zero, "Code": "C"})
    assert not same_object(["X"], ["X"])


def test_deep_merge_rules() -> None:
    first = {
        "Id": "H",
        "A": 1,
        "B": None,
        "Third": {"Code": "T", "Name": None},
        "Lines": [{"Id": "L1", "X": [1]}],
    }
    second = {
        "Id": "H",
        "A": 2,
        "B": "b",
        "Third": {"Name": "n"},
        "Lines": [{"Id": "L1", "X": [2]}, {"Id": "L2"}],
    }
    assert deep_merge(first, second) == {
        "Id": "H",
        "A": 1,
        "B": "b",
        "Third": {"Code": "T", "Name": "n"},
        "Lines": [{"Id": "L1", "X": [1, 2]}, {"Id": "L2"}],
    }


def test_every_public_client_method_names_its_reference() -> None:
    import inspect

    import winbooks

    public = [
        member
        for name, member in inspect.getmembers(WinbooksClient)
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    ]
    assert len(public) >= 10
    for member in [*public, winbooks.exchange_token]:
        doc = inspect.getdoc(member.fget if isinstance(member, property) else member) or ""
        assert doc.startswith("Reference: docs/winbooks-api.md"), member
