"""Keyset paging (iter_changed) and offset paging (iter_pages): request bodies and end conditions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses

from tests.winbooks.fake_api import API, NOW
from winbooks import Page, Query, TokenSet, WinbooksBadPayload, WinbooksClient, format_date, in_, parse_date

TOKENS = TokenSet("ACCESS", "REFRESH", NOW + timedelta(hours=1))
URL = f"{API}/app/GLTranss/Folder/DEMO/ExecuteCriteria?maxLevel=1"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TYPE = "Winbooks.TORM.OM.Accounting.GLTrans, Winbooks.TORM.OM"
ORDERS = [
    {"PropertyName": "Modified", "Alias": None, "Projections": None, "Ascending": True},
    {"PropertyName": "Id", "Alias": None, "Projections": None, "Ascending": True},
]


def make_client() -> WinbooksClient:
    return WinbooksClient(api_url=API, email="a@b.be", tokens=TOKENS, now=lambda: NOW, sleep=lambda _: None)


def row(ident: str, minutes: int) -> dict[str, Any]:
    return {"Id": ident, "Modified": format_date(T0 + timedelta(minutes=minutes)), "Amount": 1}


def bodies(rsps: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(call.request.body or b"") for call in rsps.calls]


def cond(operator: int, name: str, values: list[Any]) -> dict[str, Any]:
    return {"Operator": operator, "PropertyName": name, "OtherPropertyName": "", "Values": values}


def keyset_condition(minutes: int, ident: str) -> dict[str, Any]:
    modified = format_date(T0 + timedelta(minutes=minutes))
    return {
        "Operator": 19,
        "PropertyName": "",
        "OtherPropertyName": "",
        "Values": [
            {"Operator": 5, "PropertyName": "Modified", "OtherPropertyName": "", "Values": [modified]},
            {
                "Operator": 20,
                "PropertyName": "",
                "OtherPropertyName": "",
                "Values": [
                    {
                        "Operator": 0,
                        "PropertyName": "Modified",
                        "OtherPropertyName": "",
                        "Values": [modified],
                    },
                    {"Operator": 5, "PropertyName": "Id", "OtherPropertyName": "", "Values": [ident]},
                ],
            },
        ],
    }


# --- keyset -----------------------------------------------------------------------------------------


def test_keyset_pages_and_request_bodies(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    rsps.post(URL, json=[row("c", 2), row("d", 3)])
    rsps.post(URL, json=[row("e", 5)])
    since = T0 + timedelta(seconds=30)
    pages = list(make_client().iter_changed("DEMO", "GLTrans", since=since, page_size=2))
    assert [[r["Id"] for r in page.records] for page in pages] == [["a", "b"], ["c", "d"], ["e"]]
    assert [page.last_key for page in pages] == [
        (T0 + timedelta(minutes=2), "b"),
        (T0 + timedelta(minutes=3), "d"),
        (T0 + timedelta(minutes=5), "e"),
    ]
    first, second, third = bodies(rsps)
    assert first == {
        "EntityType": TYPE,
        "Alias": "this",
        "Conditions": [
            {
                "Operator": 3,
                "PropertyName": "Modified",
                "OtherPropertyName": "",
                "Values": [format_date(since)],
            }
        ],
        "Orders": ORDERS,
        "FirstResult": 0,
        "MaxResult": 2,
    }
    assert first["Conditions"][0]["Values"] == ["/Date(1704067230000)/"]
    assert second == {**first, "Conditions": [keyset_condition(2, "b")]}
    assert third == {**first, "Conditions": [keyset_condition(3, "d")]}


def test_keyset_without_since_has_no_condition(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1)])
    pages = list(make_client().iter_changed("DEMO", "GLTrans", since=None, page_size=2))
    assert len(pages) == 1
    assert "Conditions" not in bodies(rsps)[0]


def test_keyset_resumes_after_a_key(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[])
    after = (T0 + timedelta(minutes=2), "b")
    pages = list(make_client().iter_changed("DEMO", "GLTrans", since=T0, after=after, page_size=2))
    assert pages == []
    assert bodies(rsps)[0]["Conditions"] == [keyset_condition(2, "b")]


def test_keyset_extra_conditions_are_kept_on_every_page(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    rsps.post(URL, json=[])
    period = in_("BookPeriod_Id", ["p1", "p2"])
    pages = list(make_client().iter_changed("DEMO", "GLTrans", since=T0, page_size=2, conditions=[period]))
    assert len(pages) == 1
    first, second = bodies(rsps)
    assert first["Conditions"] == [period.to_json(), cond(3, "Modified", [format_date(T0)])]
    assert second["Conditions"] == [period.to_json(), keyset_condition(2, "b")]


def test_keyset_full_last_page_needs_one_more_empty_page(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    rsps.post(URL, json=[])
    client = make_client()
    pages = list(client.iter_changed("DEMO", "GLTrans", since=None, page_size=2))
    assert len(pages) == 1 and client.api_calls == 2


def test_keyset_page_follows_continue_path(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1)], headers={"ContinuePath": "more"})
    rsps.post(URL, json=[row("b", 2)])
    client = make_client()
    [page] = list(client.iter_changed("DEMO", "GLTrans", since=None, page_size=3, max_level=1))
    assert [r["Id"] for r in page.records] == ["a", "b"]
    assert client.api_calls_by_kind == {"criteria": 2}


def test_keyset_that_does_not_advance_raises(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    with pytest.raises(WinbooksBadPayload, match="did not advance"):
        list(make_client().iter_changed("DEMO", "GLTrans", since=None, page_size=2))


def test_keyset_drops_a_record_repeated_from_the_previous_page(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    rsps.post(URL, json=[row("b", 2), row("c", 3)])
    rsps.post(URL, json=[])
    pages = list(make_client().iter_changed("DEMO", "GLTrans", since=None, page_size=2))
    assert [[r["Id"] for r in page.records] for page in pages] == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    "bad", [{"Id": "a"}, {"Modified": "/Date(0)/"}, {"Id": "a", "Modified": "yesterday"}, "a"]
)
def test_keyset_rows_need_modified_and_id(rsps: responses.RequestsMock, bad: Any) -> None:
    rsps.post(URL, json=[row("z", 0), bad])
    with pytest.raises(WinbooksBadPayload):
        list(make_client().iter_changed("DEMO", "GLTrans", since=None, page_size=5))


def modified(record: dict[str, Any]) -> datetime:
    value = parse_date(record["Modified"])
    assert value is not None
    return value


class FakeServer:
    """Evaluates the keyset conditions over an in-memory table, and edits a record between two pages."""

    def __init__(self, rows: list[dict[str, Any]], edit_after_call: int) -> None:
        self.rows = rows
        self.calls = 0
        self.edit_after_call = edit_after_call

    def matches(self, condition: dict[str, Any], record: dict[str, Any]) -> bool:
        operator, values = condition["Operator"], condition["Values"]
        if operator == 19:
            return any(self.matches(c, record) for c in values)
        if operator == 20:
            return all(self.matches(c, record) for c in values)
        name = condition["PropertyName"]
        mine: Any = modified(record) if name == "Modified" else record[name]
        other: Any = parse_date(values[0]) if name == "Modified" else values[0]
        return bool({0: mine == other, 3: mine >= other, 5: mine > other}[operator])

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"")
        found = [r for r in self.rows if all(self.matches(c, r) for c in body.get("Conditions", []))]
        found.sort(key=lambda r: (modified(r), r["Id"]))
        page = found[body["FirstResult"] : body["FirstResult"] + body["MaxResult"]]
        self.calls += 1
        if self.calls == self.edit_after_call:
            # Someone edits an early record during the sync: it moves to the end of the Modified order.
            self.rows[0] = {**self.rows[0], "Modified": format_date(T0 + timedelta(days=1))}
        return 200, {}, json.dumps(page)


def test_keyset_loses_nothing_when_a_record_moves_during_the_sync(rsps: responses.RequestsMock) -> None:
    rows = [row(f"id-{n:02d}", minutes=n // 3) for n in range(10)]  # several rows share a Modified
    server = FakeServer(rows, edit_after_call=1)
    rsps.add_callback(responses.POST, URL, callback=server)
    pages = list(make_client().iter_changed("DEMO", "GLTrans", since=T0, page_size=3))
    seen = [r["Id"] for page in pages for r in page.records]
    assert set(seen) == {f"id-{n:02d}" for n in range(10)}
    assert seen[-1] == "id-00"  # seen again, with its new Modified
    assert all(isinstance(page, Page) for page in pages)


def test_keyset_with_a_decoder_pages_its_objects(
    rsps: responses.RequestsMock,
) -> None:
    """``decode`` gets each answer's chunk bodies: its objects make the page (a record the previous page
    already returned dropped, as with dicts); where it declines (None), the request is sent again (the
    bodies were not kept) and the page holds the parsed dicts."""

    @dataclass
    class Decoded:
        id: str
        modified: str

    def decode(contents: Iterable[bytes]) -> list[Any] | None:
        rows = [item for content in contents for item in json.loads(content)]
        if any(r["Id"] == "x" for r in rows):
            return None
        return [Decoded(r["Id"], r["Modified"]) for r in rows]

    rsps.post(URL, json=[row("a", 1), row("b", 2)])
    rsps.post(URL, json=[row("b", 2), row("c", 3)])
    rsps.post(URL, json=[row("x", 4)])
    client = make_client()
    pages = list(client.iter_changed("DEMO", "GLTrans", since=None, page_size=2, decode=decode))
    assert [[r.id for r in page.records] for page in pages[:2]] == [["a", "b"], ["c"]]
    assert pages[1].last_key == (T0 + timedelta(minutes=3), "c")
    assert pages[0].decoded and pages[1].decoded
    assert pages[2].records == [row("x", 4)] and not pages[2].decoded
    assert client.api_calls == 4  # the declined answer was asked for a second time


# --- offset -----------------------------------------------------------------------------------------


def test_offset_pages(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[row("a", 1), row("b", 1), row("c", 1)])
    rsps.post(URL, json=[row("d", 1), row("e", 1), row("f", 1)])
    rsps.post(URL, json=[row("g", 1)])
    query = Query("GLTrans").order_by("Id")
    pages = list(make_client().iter_pages("DEMO", query, page_size=3))
    assert [len(page) for page in pages] == [3, 3, 1]
    sent = bodies(rsps)
    assert [(b["FirstResult"], b["MaxResult"]) for b in sent] == [(0, 3), (3, 3), (6, 3)]
    assert all(b["Orders"] == [ORDERS[1]] for b in sent)


def test_offset_pages_stop_on_an_empty_page(rsps: responses.RequestsMock) -> None:
    rsps.post(URL, json=[["a"], ["b"]])
    rsps.post(URL, json=[])
    pages = list(make_client().iter_pages("DEMO", Query("GLTrans").select("Id"), page_size=2))
    assert pages == [[["a"], ["b"]]]


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        list(make_client().iter_pages("DEMO", Query("GLTrans"), page_size=0))
    with pytest.raises(ValueError):
        list(make_client().iter_changed("DEMO", "GLTrans", since=None, page_size=0))
