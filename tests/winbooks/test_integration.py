"""The WinbooksOnWeb client against the sandbox over real HTTP: what it reads is what the sandbox holds."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import winbooks
from winbooks import query as q
from wow_sandbox import FolderRecipe
from wow_sandbox.model import loads

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]


@pytest.fixture(params=["wow-like", "strict"])
def sandbox_mode(request: pytest.FixtureRequest) -> str:
    """The client must read both ways the sandbox answers (wow_sandbox/behaviour.py)."""
    return str(request.param)


def client_for(sandbox: Any, **options: Any) -> winbooks.WinbooksClient:
    tokens = winbooks.exchange_token(
        api_url=sandbox.url, email=sandbox.TESTER, exchange_token=sandbox.exchange_token()
    )
    return winbooks.WinbooksClient(api_url=sandbox.url, email=sandbox.TESTER, tokens=tokens, **options)


@pytest.fixture
def client(wow_sandbox: Any) -> Iterator[winbooks.WinbooksClient]:
    with client_for(wow_sandbox) as wow:
        yield wow


PLURALS = {
    "BookYear": "BookYears",
    "BookPeriod": "BookPeriods",
    "GLAccount": "GLAccounts",
    "Journal": "Journals",
    "Vat": "Vats",
    "Third": "Thirds",
    "Customer": "Customers",
    "Supplier": "Suppliers",
}


@pytest.mark.parametrize("om", list(PLURALS))
def test_the_demo_company_reads_back_whole_and_equal(
    client: winbooks.WinbooksClient, wow_sandbox: Any, om: str
) -> None:
    snapshot = wow_sandbox.snapshot()
    read = list(client.iter_all(om, wow_sandbox.DEMO, max_level=2))
    assert sorted(read, key=lambda o: o["Id"]) == sorted(snapshot[PLURALS[om]], key=lambda o: o["Id"])
    for raw in read:  # and every object parses as its typed record
        record = winbooks.record_from_json(om, raw)
        assert record.id == raw["Id"]


def test_every_document_reads_back_with_its_lines_and_exact_amounts(
    client: winbooks.WinbooksClient, wow_sandbox: Any
) -> None:
    snapshot = wow_sandbox.snapshot()
    pages = list(client.iter_changed(wow_sandbox.DEMO, "GLTransHeader", since=None, page_size=4, max_level=2))
    documents = [winbooks.GLTransHeader.from_json(raw) for page in pages for raw in page.records]
    assert len(pages) == 4
    expected = {doc["Id"]: doc for doc in snapshot["documents"]}
    assert {d.id for d in documents} == set(expected)
    for document in documents:
        lines = expected[document.id]["GLTransactions"]
        assert [line.id for line in document.lines] == [line["Id"] for line in lines]
        assert [line.amount for line in document.lines] == [Decimal(str(line["Amount"])) for line in lines]
        assert sum(line.amount for line in document.lines) == 0


def test_objects_split_across_chunks_are_merged(wow_sandbox: Any) -> None:
    wow_sandbox.control("POST", "config", {"chunk_size": 3, "split": True})
    with client_for(wow_sandbox) as wow:
        read = list(wow.iter_all("GLTransHeader", wow_sandbox.DEMO, max_level=2))
        calls = wow.api_calls_by_kind
    documents = {doc["Id"]: doc for doc in wow_sandbox.snapshot()["documents"]}
    assert len(read) == len(documents)  # no half document counted twice
    for raw in read:
        assert [line["Id"] for line in raw["GLTransactions"]] == [
            line["Id"] for line in documents[raw["Id"]]["GLTransactions"]
        ]
    assert calls["list"] >= 5  # it really was chunked


def test_a_single_object_in_parts_is_merged_whole(wow_sandbox: Any) -> None:
    """WoW-like, a customer at maxLevel 3 (its VatAccount lists the lines booked with it) comes in parts of
    at most 5 objects; get_one follows ContinuePath and merges them, nested lists included."""
    path = f"/app/Customer/BAKKERPEETERS/Folder/{wow_sandbox.DEMO}?maxLevel=3"
    wow_sandbox.config(chunk_size=10_000)
    whole = loads(wow_sandbox.api("GET", path).content)
    wow_sandbox.config(chunk_size=5)
    with client_for(wow_sandbox) as wow:
        read = wow.get_one("Customer", "BAKKERPEETERS", wow_sandbox.DEMO, max_level=3)
        calls = wow.api_calls_by_kind["get"]
    assert read == whole
    if wow_sandbox.config()["chunk_single"]:
        assert calls > 3 and len(whole["Vat"]["GLTransactions"]) > 5


def test_incremental_reads_by_modified_see_edits(client: winbooks.WinbooksClient, wow_sandbox: Any) -> None:
    pages = list(client.iter_changed(wow_sandbox.DEMO, "GLAccount", since=None))
    cursor = pages[-1].last_key
    sales = next(a for a in wow_sandbox.snapshot()["GLAccounts"] if a["Code"] == "700000")
    wow_sandbox.control("PATCH", f"folders/DEMO_BV/objects/GLAccount/{sales['Id']}", {"Label": "Omzet brood"})
    changed = [
        raw
        for page in client.iter_changed(wow_sandbox.DEMO, "GLAccount", since=None, after=cursor)
        for raw in page.records
    ]
    assert [(a["Code"], a["Label"], a["Version"]) for a in changed] == [("700000", "Omzet brood", 2)]
    after_edit = winbooks.pagination.record_key(changed[-1])
    assert list(client.iter_changed(wow_sandbox.DEMO, "GLAccount", since=None, after=after_edit)) == []


def test_aggregates_match_sums_computed_from_the_lines(
    client: winbooks.WinbooksClient, wow_sandbox: Any
) -> None:
    expected: dict[tuple[str, str], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
    for document in wow_sandbox.snapshot()["documents"]:
        for line in document["GLTransactions"]:
            key = (line["BookPeriod_Id"], line["GLAccount_Id"])
            count, total = expected[key]
            expected[key] = (count + 1, total + Decimal(str(line["Amount"])))
    query = q.Query("GLTrans").project(
        q.group_by("BookPeriod_Id"), q.group_by("GLAccount_Id"), q.count("Id"), q.sum_("Amount")
    )
    rows = client.execute_criteria(wow_sandbox.DEMO, query)
    assert {(p, a): (int(c), Decimal(s)) for p, a, c, s in rows} == dict(expected)
    debit_query = q.Query("GLTrans").where(q.gt("Amount", 0)).project(q.sum_("Amount"))
    debits = client.execute_criteria(wow_sandbox.DEMO, debit_query)
    total_debit = sum(
        Decimal(str(line["Amount"]))
        for document in wow_sandbox.snapshot()["documents"]
        for line in document["GLTransactions"]
        if Decimal(str(line["Amount"])) > 0
    )
    assert Decimal(debits[0]) == total_debit


def test_a_large_folder_streams_with_bounded_memory() -> None:
    from tests.winbooks.sandbox_fixtures import SandboxHandle, start_sandbox

    recipe = FolderRecipe(
        "BIG_BV",
        "Big",
        "generated",
        {"years": 2, "accounts": 300, "relations": 200, "documents": 8_000, "seed": 3},
    )
    server = start_sandbox([recipe])
    sandbox = SandboxHandle(server)
    try:
        with client_for(sandbox) as wow:
            seen = lines = 0
            tracemalloc.start()
            for page in wow.iter_changed(
                "BIG_BV",
                "GLTransHeader",
                since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                page_size=500,
                max_level=2,
            ):
                for raw in page.records:
                    seen += 1
                    lines += len(raw["GLTransactions"])
                if seen == 1_000:
                    _, early_peak = tracemalloc.get_traced_memory()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        sandbox.session.close()
        server.stop()
    assert seen == 8_000 and lines == 32_000
    # Only a page is held at a time: reading eight times as much costs no more than a little extra.
    assert peak < early_peak * 1.5, (early_peak, peak)
    assert peak < 40 * 1024 * 1024
