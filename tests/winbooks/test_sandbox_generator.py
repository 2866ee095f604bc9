"""WoW sandbox: the deterministic folder generator (counts, balance, spread, references) and the control
API's bulk ``mutate``."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from wow_sandbox import generate_folder
from wow_sandbox.behaviour import WOW_LIKE
from wow_sandbox.model import dumps, loads

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

TESTER = "tester@sandbox.local"
SMALL = {"years": 2, "accounts": 80, "relations": 40, "documents": 300}


def snapshot(**params: Any) -> dict[str, Any]:
    folder = generate_folder("GEN", **params)
    try:
        return dict(loads(dumps(folder.snapshot(WOW_LIKE))))
    finally:
        folder.close()


def test_same_arguments_same_folder() -> None:
    first, second = snapshot(seed=3, **SMALL), snapshot(seed=3, **SMALL)
    assert first == second
    assert json.dumps(first, default=str) == json.dumps(second, default=str)
    other = snapshot(seed=4, **SMALL)
    assert other["documents"] != first["documents"]
    assert other["counts"] == first["counts"]


@pytest.mark.parametrize("lines_per_document", [2, 3, 4, 5])
def test_every_document_balances(lines_per_document: int) -> None:
    snap = snapshot(seed=1, lines_per_document=lines_per_document, **SMALL)
    assert len(snap["documents"]) == 300
    for doc in snap["documents"]:
        lines = doc["GLTransactions"]
        assert len(lines) == lines_per_document
        assert sum(x["Amount"] for x in lines) == Decimal("0.00"), doc
        assert all(x["BookPeriod_Id"] == doc["BookPeriod_Id"] for x in lines)
        assert all(x["Amount"].as_tuple().exponent == -2 for x in lines)


def test_generated_shape() -> None:
    snap = snapshot(seed=2, years=3, accounts=150, relations=50, documents=2000)
    counts = snap["counts"]
    assert counts == {
        "BookYear": 3,
        "BookPeriod": 42,
        "GLAccount": 150,
        "Journal": 7,
        "Vat": 4,
        "Third": 50,
        "Customer": 30,
        "Supplier": 20,
        "GLTransHeader": 2000,
        "GLTrans": 8000,
    }
    assert [y["Code"] for y in snap["BookYears"]] == ["2023", "2024", "2025"]
    codes = [a["Code"] for a in snap["GLAccounts"]]
    assert len(set(codes)) == 150 and all(len(c) == 6 and c.isdigit() and c[0] in "1234567" for c in codes)
    assert {"400000", "440000", "451000", "411000", "550000", "700000"} <= set(codes)
    periods = {p["Id"]: p for p in snap["BookPeriods"]}
    numbers = Counter(periods[d["BookPeriod_Id"]]["Number"] for d in snap["documents"])
    assert set(numbers) <= set(range(13)) and set(range(1, 13)) <= set(numbers)
    assert numbers[0] < 40  # a few opening documents
    years = Counter(periods[d["BookPeriod_Id"]]["RelatedYear"] for d in snap["documents"])
    assert sorted(years.values()) == [666, 667, 667]
    journals = {j["Id"]: j for j in snap["Journals"]}
    customers = {c["Id"] for c in snap["Customers"]}
    suppliers = {s["Id"] for s in snap["Suppliers"]}
    for doc in snap["documents"]:
        kind = journals[doc["Journal_Id"]]["JournalType"]
        refs = [x for x in doc["GLTransactions"] if x["CustomerCode"] or x["SupplierCode"]]
        if kind in ("SAL", "SAC"):
            assert (
                len(refs) == 1
                and refs[0]["Customer_Id"] in customers
                and refs[0]["GLAccountCode"] == "400000"
            )
        if kind in ("PUR", "PUC"):
            assert (
                len(refs) == 1
                and refs[0]["Supplier_Id"] in suppliers
                and refs[0]["GLAccountCode"] == "440000"
            )
    # the journal numbering runs per journal and book year
    numbering: dict[tuple[str, int], list[int]] = defaultdict(list)
    for doc in snap["documents"]:
        numbering[(doc["JournalCode"], periods[doc["BookPeriod_Id"]]["RelatedYear"])].append(doc["DocNumber"])
    for found in numbering.values():
        assert sorted(found) == list(range(1, len(found) + 1))
    # modification times: mostly distinct, a few ties (import batches)
    modified = Counter(d["Modified"] for d in snap["documents"])
    assert max(modified.values()) > 1 and len(modified) > 1800


def test_large_generator_counts_without_timing() -> None:
    folder = generate_folder("BIG", years=5, accounts=2000, relations=400, documents=2000)
    try:
        assert folder.counts()["GLTransHeader"] == 2000 and folder.counts()["GLTrans"] == 8000
        assert folder.counts()["GLAccount"] == 2000 and folder.counts()["BookPeriod"] == 70
        unbalanced = folder.db.execute(
            'SELECT COUNT(*) FROM (SELECT SUM(Amount) s FROM "GLTrans" '
            "GROUP BY GLTransHeader_Id HAVING s <> 0)"
        ).fetchone()[0]
        assert unbalanced == 0
    finally:
        folder.close()


def test_bad_generator_arguments() -> None:
    with pytest.raises(ValueError, match="lines_per_document"):
        generate_folder("X", documents=1, lines_per_document=1)
    with pytest.raises(ValueError, match="accounts"):
        generate_folder("X", accounts=5, documents=1)


def test_generated_folder_over_the_control_api(wow_sandbox: SandboxHandle) -> None:
    created = wow_sandbox.control(
        "POST",
        "folders",
        {"code": "GEN_BV", "name": "Gen", "kind": "generated", "seed": 5, "grant": [TESTER], **SMALL},
    )
    assert created.status_code == 201
    assert created.json()["params"]["documents"] == 300 and created.json()["name"] == "Gen"
    assert wow_sandbox.snapshot("GEN_BV") == snapshot(seed=5, **SMALL) | {
        "folder": {"code": "GEN_BV", "name": "Gen", "kind": "generated"}
    }
    assert wow_sandbox.control("POST", "folders", {"code": "GEN_BV", "kind": "empty"}).status_code == 409
    bad = wow_sandbox.control("POST", "folders", {"code": "BAD", "kind": "generated", "accounts": 3})
    assert bad.status_code == 400


def test_mutate(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.control(
        "POST", "folders", {"code": "GEN_BV", "kind": "generated", "seed": 5, "grant": [TESTER], **SMALL}
    )
    before = {d["Id"]: d for d in wow_sandbox.snapshot("GEN_BV")["documents"]}
    answer = wow_sandbox.control(
        "POST",
        "folders/GEN_BV/mutate",
        {"edit_documents": 5, "add_documents": 4, "delete_documents": 3, "seed": 9},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (len(result["edited"]), len(result["added"]), len(result["deleted"])) == (5, 4, 3)
    assert len(result["edited_lines"]) == 10
    after = {d["Id"]: d for d in wow_sandbox.snapshot("GEN_BV")["documents"]}
    assert len(after) == 300 + 4 - 3
    assert not set(result["deleted"]) & set(after) and set(result["added"]) <= set(after)
    for ident in result["edited"]:
        old, new = before[ident], after[ident]
        assert new["Version"] == old["Version"] + 1 and new["Modified"] != old["Modified"]
        changed = [x for x in new["GLTransactions"] if x["Version"] > 1 or x["Modified"] != old["Modified"]]
        assert len(changed) == 2
    for doc in after.values():
        assert sum(x["Amount"] for x in doc["GLTransactions"]) == 0
        assert len(doc["GLTransactions"]) == 4
    stamps = sorted(after[i]["Modified"] for i in result["edited"] + result["added"])
    assert len(set(stamps)) == 9  # one write each


def test_mutate_in_chosen_periods_with_a_forced_tie(wow_sandbox: SandboxHandle) -> None:
    periods = {p["Code"]: p["Id"] for p in wow_sandbox.snapshot()["BookPeriods"]}
    answer = wow_sandbox.control(
        "POST",
        "folders/DEMO_BV/mutate",
        {
            "edit_documents": 2,
            "add_documents": 3,
            "periods": ["202401", periods["202402"]],
            "same_modified": True,
        },
    )
    result = answer.json()
    assert answer.status_code == 200 and len(result["edited"]) == 2 and len(result["added"]) == 3
    assert result["modified_min"] == result["modified_max"]
    docs = {d["Id"]: d for d in wow_sandbox.snapshot()["documents"]}
    wanted = {periods["202401"], periods["202402"]}
    for ident in result["edited"] + result["added"]:
        assert docs[ident]["BookPeriod_Id"] in wanted
        assert docs[ident]["Modified"] == f"/Date({result['modified_min']})/"
        assert sum(x["Amount"] for x in docs[ident]["GLTransactions"]) == 0
    by_number = wow_sandbox.control("POST", "folders/DEMO_BV/mutate", {"add_documents": 2, "periods": [12]})
    assert by_number.status_code == 200
    assert wow_sandbox.control("POST", "folders/DEMO_BV/mutate", {"periods": ["209912"]}).status_code == 400
