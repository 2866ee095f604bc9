"""WoW sandbox, WoW-like against strict (issue #21): references expanded per maxLevel, single objects chunked,
VatAccount type and route names, bulk routes, unknown properties and .NET-style conversions, and no 500 on
bad input in either mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from wow_sandbox.model import loads

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
VAT_ACCOUNT = "Winbooks.TORM.OM.Accounting.VatAccount, Winbooks.TORM.OM"


def get(sandbox: SandboxHandle, path: str) -> Any:
    answer = sandbox.api("GET", path)
    assert answer.status_code == 200, answer.text
    assert "ContinuePath" not in answer.headers
    return loads(answer.content)


def read_one(sandbox: SandboxHandle, path: str) -> tuple[Any, int]:
    """A single object over all its ContinuePath parts (merged), and the number of parts."""
    answers = sandbox.chunks("GET", path)
    assert all(a.status_code == 200 for a in answers), answers[-1].text
    parts = [loads(a.content) for a in answers]
    merged = parts[0]
    for part in parts[1:]:
        assert part["Id"] == merged["Id"]
        merged = sandbox.merge_parts(merged, part)
    return merged, len(parts)


def test_level_2_expands_every_reference_one_level(wow_sandbox: SandboxHandle) -> None:
    customer1 = get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}")
    assert [customer1[k] for k in ("Third", "Vat", "GLAccount", "GLAccount2")] == [None] * 4
    customer = get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}?maxLevel=2")
    assert (
        customer["Third"]["Id"] == customer["Third_Id"] and customer["Third"]["Name"] == "Bakkerij Peeters NV"
    )
    assert customer["Vat"]["Id"] == customer["Vat_Id"] and customer["Vat"]["$type"] == VAT_ACCOUNT
    assert customer["GLAccount"]["Code"] == "700000" and customer["GLAccount2"]["Code"] == "400000"
    assert customer["Vat"]["GLTransactions"] is None  # a level-2 object's own relations stay unexpanded

    header = get(wow_sandbox, f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2")[0]
    assert header["BookPeriod"]["Id"] == header["BookPeriod_Id"] and header["BookPeriod"]["BookYear"] is None
    assert header["Journal"]["Code"] == header["JournalCode"]
    assert header["GLTransactions"] and all(
        line["GLAccount"] is None and line["GLTransHeader"] is None for line in header["GLTransactions"]
    )


def test_level_3_expands_the_references_of_those(wow_sandbox: SandboxHandle) -> None:
    header = wow_sandbox.read_list("GET", f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=3")[0]
    assert header["BookPeriod"]["BookYear"]["Id"] == header["BookPeriod"]["BookYear_Id"]
    for line in header["GLTransactions"]:
        assert line["GLAccount"]["Id"] == line["GLAccount_Id"]
        assert line["BookPeriod"]["Id"] == header["BookPeriod_Id"]
        assert line["GLTransHeader"] is None  # not the document it is listed in, again
    # the PHP client's level-3 test: a customer's VatAccount carries the lines booked with it
    customer, _ = read_one(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}?maxLevel=3")
    vat_lines = customer["Vat"]["GLTransactions"]
    assert vat_lines and all(line["Vat_Id"] == customer["Vat_Id"] for line in vat_lines)


def test_strict_expands_only_third_and_lines_and_level_3_is_level_2(wow_sandbox: SandboxHandle) -> None:
    wow_sandbox.config(mode="strict")
    customer = get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}?maxLevel=3")
    assert customer["Third"]["Name"] == "Bakkerij Peeters NV" and "Vat" not in customer
    assert customer == get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}?maxLevel=2")
    header = get(wow_sandbox, f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=3")[0]
    assert "BookPeriod" not in header and "GLAccount" not in header["GLTransactions"][0]
    assert get(wow_sandbox, f"/app/Vat/21/Folder/{DEMO}")["$type"].endswith(
        "Accounting.Vat, Winbooks.TORM.OM"
    )


def test_a_single_object_larger_than_a_chunk_comes_in_parts(wow_sandbox: SandboxHandle) -> None:
    path = f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}?maxLevel=3"
    wow_sandbox.config(chunk_size=1000)
    whole = get(wow_sandbox, path)
    wow_sandbox.config(chunk_size=4)
    merged, parts = read_one(wow_sandbox, path)
    assert parts > 2 and merged == whole
    wow_sandbox.config(chunk_single=False)
    assert len(wow_sandbox.chunks("GET", path)) == 1


def test_vat_codes_answer_under_both_route_names(wow_sandbox: SandboxHandle) -> None:
    by_vat = get(wow_sandbox, f"/app/Vat/21/Folder/{DEMO}")
    assert by_vat == get(wow_sandbox, f"/app/VatAccount/21/Folder/{DEMO}") and by_vat["$type"] == VAT_ACCOUNT
    assert get(wow_sandbox, f"/app/Vats/Folder/{DEMO}") == get(wow_sandbox, f"/app/VatAccounts/Folder/{DEMO}")
    for type_name in (VAT_ACCOUNT, "Winbooks.TORM.OM.Accounting.Vat, Winbooks.TORM.OM"):
        rows = wow_sandbox.criteria("VatAccounts", {"EntityType": type_name})
        assert {r["Code"] for r in rows} == {"0", "6", "21"}


def test_bulk_routes_insert_or_update_each_object(wow_sandbox: SandboxHandle) -> None:
    """The PHP client's addMany/updateMany: numeric codes, nested Thirds with a Website, one bad object."""
    customers = [
        {"Code": 4242, "Third": {"Code": 4242, "Name": "MR TEST 4242", "Website": "https://4242.com"}},
        {"Code": "ALICE", "Memo": "memo", "MemoType": "1", "Third": {"Name": "Alice Wilder"}},
        {"Code": "BAD", "GLAccount_Id": "not-a-guid"},
    ]
    answer = wow_sandbox.api("POST", f"/app/Customers/Folder/{DEMO}", json=customers)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["Method"] == "InsertOrUpdateList"
    assert (summary["NumberOfSuccess"], summary["NumberOfFail"]) == (2, 1)
    assert summary["ListUrlSuccess"][0].endswith(f"/app/Customer/4242/Folder/{DEMO}")
    assert "GLAccount_Id" in summary["ReasonFail"][0] and summary["ListObjectFail"][0]["Code"] == "BAD"
    not_objects = wow_sandbox.api("POST", f"/app/Customers/Folder/{DEMO}", json=[1, "x"]).json()
    assert not_objects["NumberOfFail"] == 2 and "object" in not_objects["ReasonFail"][0]
    stored = get(wow_sandbox, f"/app/Customer/4242/Folder/{DEMO}?maxLevel=2")
    assert stored["Code"] == "4242" and stored["Third"]["Code"] == "4242"
    assert stored["Third"]["WebSite"] == "https://4242.com"
    alice = get(wow_sandbox, f"/app/Customer/ALICE/Folder/{DEMO}")
    assert alice["Memo"] == "memo" and alice["MemoType"] == 1

    renamed = [{"Code": 4242, "Third": {"Code": 4242, "Name": "MR TEST renamed"}}]
    answer = wow_sandbox.api("PUT", f"/app/Customers/Folder/{DEMO}", json=renamed)
    assert answer.status_code == 200 and answer.json()["NumberOfSuccess"] == 1, answer.text
    again = get(wow_sandbox, f"/app/Customer/4242/Folder/{DEMO}?maxLevel=3")
    assert (
        again["Third"]["Name"] == "MR TEST renamed" and again["Version"] == 2 and again["Id"] == stored["Id"]
    )

    gone = wow_sandbox.api("DELETE", f"/app/Customers/Folder/{DEMO}?code=4242,ALICE,NOPE")
    assert (
        gone.status_code == 200
        and gone.json()["NumberOfSuccess"] == 2
        and gone.json()["ListObjectFail"] == ["NOPE"]
    )
    assert wow_sandbox.api("GET", f"/app/Customer/4242/Folder/{DEMO}").status_code == 204


def test_unknown_properties_are_ignored_when_wow_like_and_refused_when_strict(
    wow_sandbox: SandboxHandle,
) -> None:
    body = {"Label": "Omzet", "Nope": 1, "label2": "Ventes", "IsLocked": "false"}
    answer = wow_sandbox.api("PUT", f"/app/GLAccount/700000/Folder/{DEMO}", json=body)
    assert answer.status_code == 200, answer.text
    account = get(wow_sandbox, f"/app/GLAccount/700000/Folder/{DEMO}")
    assert (account["Label"], account["Label2"], account["IsLocked"]) == ("Omzet", "Ventes", False)
    wow_sandbox.config(mode="strict")
    refused = wow_sandbox.api("PUT", f"/app/GLAccount/700000/Folder/{DEMO}", json={"Label": "x", "Nope": 1})
    assert refused.status_code == 400 and "Nope" in refused.json()["Message"]
    assert get(wow_sandbox, f"/app/GLAccount/700000/Folder/{DEMO}")["Version"] == account["Version"]


@pytest.mark.parametrize("mode", ["wow-like", "strict"])
def test_a_third_code_given_as_a_number(wow_sandbox: SandboxHandle, mode: str) -> None:
    """It crashed the sandbox (500); WoW, per the PHP client's test, stores the text."""
    wow_sandbox.config(mode=mode)
    body = {"Code": 777, "Third": {"Code": 777, "Name": "Seven"}}
    answer = wow_sandbox.api("POST", f"/app/Customer/Folder/{DEMO}", json=body)
    if mode == "strict":
        assert answer.status_code == 400 and "Code" in answer.json()["Message"]
        assert wow_sandbox.api("GET", f"/app/Third/777/Folder/{DEMO}").status_code == 204
    else:
        assert answer.status_code == 200, answer.text
        assert get(wow_sandbox, f"/app/Customer/777/Folder/{DEMO}?maxLevel=2")["Third"]["Code"] == "777"


BAD_BODIES: list[Any] = [
    None,
    [],
    [1, "x", None],
    "text",
    12,
    {"Code": {"nested": 1}},
    {"Code": ["a"], "Third": {"Code": 5.5}},
    {"Third": "x", "Code": "T1"},
    {"Third": {"Code": {"x": 1}}, "Code": None},
    {"Third_Id": 12, "GLAccount_Id": ["x"]},
    {"Amount": {"x": 1}, "GLTransHeader_Id": "nope"},
    {"GLTransactions": "nope", "BookPeriod_Id": "x"},
    {"GLTransactions": [1, {"Amount": "x"}], "JournalCode": 7},
    {"Id": 12, "Version": "x", "Modified": {"a": 1}},
    {"BookDate": "2024-13-45", "DocNumber": "12x"},
    {"Rate": "abc", "Code": 12.5},
    {"IsLocked": "maybe", "Code": True},
]


@pytest.mark.parametrize("mode", ["wow-like", "strict"])
def test_no_bad_input_gets_a_500(wow_sandbox: SandboxHandle, mode: str) -> None:
    wow_sandbox.config(mode=mode)
    line = get(wow_sandbox, f"/app/GLTranss/Folder/{DEMO}")[0]["Id"]
    routes = [
        ("POST", "/app/{om}/Folder/DEMO_BV"),
        ("POST", "/app/{om}/NEWCODE/Folder/DEMO_BV"),
        ("POST", "/app/{om}s/Folder/DEMO_BV"),
        ("PUT", "/app/{om}s/Folder/DEMO_BV"),
        ("PUT", "/app/{om}/{key}/Folder/DEMO_BV"),
        ("POST", "/app/{om}s/Folder/DEMO_BV/ExecuteCriteria"),
    ]
    keys = {
        "Customer": "BAKKERPEETERS",
        "GLTransHeader": "x",
        "GLTrans": line,
        "Vat": "21",
        "GLAccount": "700000",
    }
    statuses = set()
    for om, key in keys.items():
        for method, route in routes:
            for body in BAD_BODIES:
                path = route.format(om=om, key=key)
                answer = (
                    wow_sandbox.api(method, path, json=body)
                    if body is not None
                    else wow_sandbox.api(method, path)
                )
                assert answer.status_code < 500, (method, path, body, answer.text)
                statuses.add(answer.status_code)
                if answer.status_code == 400:
                    assert answer.json()["Message"]
    assert 400 in statuses
    assert wow_sandbox.control("GET", "stats").json()["status"].get("500") is None
