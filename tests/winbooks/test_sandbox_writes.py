"""WoW sandbox: inserts, partial updates and deletes; Version/Modified bookkeeping (sandbox clock, strictly
increasing), a line's change bumping its header, cascade on header delete, and the 400/404 answers."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from wow_sandbox.model import loads

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
T0 = 1_780_000_000_000  # 2026-05-28, frozen sandbox clock


def get(sandbox: SandboxHandle, path: str) -> Any:
    answer = sandbox.api("GET", path)
    assert answer.status_code == 200, answer.text
    return loads(answer.content)


def freeze(sandbox: SandboxHandle, ms: int = T0) -> None:
    assert sandbox.control("POST", "clock", {"now": f"/Date({ms})/", "frozen": True}).status_code == 200


def ms(text: str) -> int:
    return int(text[6:-2])


def test_insert_with_the_code_in_the_path_or_the_body(wow_sandbox: SandboxHandle) -> None:
    freeze(wow_sandbox)
    answer = wow_sandbox.api(
        "POST",
        f"/app/GLAccount/620000/Folder/{DEMO}",
        json={"Label": "Bezoldigingen", "Label2": "Rémunérations"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"Href": f"{wow_sandbox.url}/app/GLAccount/620000/Folder/{DEMO}"}
    account = get(wow_sandbox, f"/app/GLAccount/620000/Folder/{DEMO}")
    assert account["Version"] == 1 and account["Created"] == account["Modified"] == f"/Date({T0})/"
    assert account["Label2"] == "Rémunérations" and account["IsLocked"] is False
    second = wow_sandbox.api(
        "POST", f"/app/GLAccount/Folder/{DEMO}", json={"Code": "630000", "Label": "Afschrijvingen"}
    )
    assert second.status_code == 200 and second.json()["Href"].endswith(
        "/app/GLAccount/630000/Folder/DEMO_BV"
    )
    assert get(wow_sandbox, f"/app/GLAccount/630000/Folder/{DEMO}")["Modified"] == f"/Date({T0 + 1})/"
    dup = wow_sandbox.api("POST", f"/app/GLAccount/620000/Folder/{DEMO}", json={"Label": "again"})
    assert dup.status_code == 400 and "exists" in dup.json()["Message"]


def test_partial_update_bumps_version_and_modified(wow_sandbox: SandboxHandle) -> None:
    before = get(wow_sandbox, f"/app/GLAccount/610000/Folder/{DEMO}")
    freeze(wow_sandbox)
    answer = wow_sandbox.api("PUT", f"/app/GLAccount/610000/Folder/{DEMO}", json={"Label": "Huur gebouw"})
    assert answer.status_code == 200 and answer.json()["Href"].endswith("/GLAccount/610000/Folder/DEMO_BV")
    after = get(wow_sandbox, f"/app/GLAccount/610000/Folder/{DEMO}")
    assert after["Label"] == "Huur gebouw" and after["Label2"] == before["Label2"]
    assert (
        after["Version"] == 2
        and after["Modified"] == f"/Date({T0})/"
        and after["Created"] == before["Created"]
    )
    assert after["ModifiedBy"] != before["ModifiedBy"]  # the tester, not the seed
    by_id = wow_sandbox.api("PUT", f"/app/GLAccount/{after['Id']}/Folder/{DEMO}", json={"IsLocked": True})
    assert by_id.status_code == 200
    locked = get(wow_sandbox, f"/app/GLAccount/610000/Folder/{DEMO}")
    assert locked["IsLocked"] is True and locked["Version"] == 3 and locked["Modified"] == f"/Date({T0 + 1})/"


def test_modified_is_strictly_increasing_and_follows_the_clock(wow_sandbox: SandboxHandle) -> None:
    freeze(wow_sandbox)
    stamps = []
    for label in ("a", "b", "c"):
        wow_sandbox.api("PUT", f"/app/Journal/DIV/Folder/{DEMO}", json={"Label": label})
        stamps.append(ms(get(wow_sandbox, f"/app/Journal/DIV/Folder/{DEMO}")["Modified"]))
    assert stamps == [T0, T0 + 1, T0 + 2]
    wow_sandbox.control("POST", "clock", {"advance_seconds": 60})
    wow_sandbox.api("PUT", f"/app/Journal/DIV/Folder/{DEMO}", json={"Label": "d"})
    assert ms(get(wow_sandbox, f"/app/Journal/DIV/Folder/{DEMO}")["Modified"]) == T0 + 60_000
    # a clock moved backwards cannot make Modified go back
    freeze(wow_sandbox, T0 - 3_600_000)
    wow_sandbox.api("PUT", f"/app/Journal/DIV/Folder/{DEMO}", json={"Label": "e"})
    assert ms(get(wow_sandbox, f"/app/Journal/DIV/Folder/{DEMO}")["Modified"]) == T0 + 60_001


def test_unfrozen_clock_still_gives_distinct_stamps(wow_sandbox: SandboxHandle) -> None:
    for i in range(5):
        wow_sandbox.api("PUT", f"/app/Vat/21/Folder/{DEMO}", json={"Label": f"Btw 21% ({i})"})
    lines = wow_sandbox.read_list("GET", f"/app/Vats/Folder/{DEMO}")
    assert next(v for v in lines if v["Code"] == "21")["Version"] == 6


def find_doc(sandbox: SandboxHandle, journal: str, number: int) -> dict[str, Any]:
    docs = sandbox.read_list("GET", f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2")
    return next(d for d in docs if d["JournalCode"] == journal and d["DocNumber"] == number)


def test_changing_a_line_bumps_its_header(wow_sandbox: SandboxHandle) -> None:
    doc = find_doc(wow_sandbox, "DIV", 1)
    line = doc["GLTransactions"][0]
    freeze(wow_sandbox)
    answer = wow_sandbox.api(
        "PUT",
        f"/app/GLTrans/{line['Id']}/Folder/{DEMO}",
        json={"Amount": Decimal("850.50"), "CommentBooking": "Huur + kosten"},
    )
    assert answer.status_code == 200, answer.text
    after = find_doc(wow_sandbox, "DIV", 1)
    changed = after["GLTransactions"][0]
    assert changed["Amount"] == Decimal("850.50") and changed["Version"] == 2
    assert after["Version"] == 2 and after["Modified"] == changed["Modified"] == f"/Date({T0})/"
    assert after["GLTransactions"][1] == doc["GLTransactions"][1]  # the other line is untouched
    raw = wow_sandbox.api("GET", f"/app/GLTrans/{line['Id']}/Folder/{DEMO}").text
    assert '"Amount":850.50,' in raw
    moved = wow_sandbox.api(
        "PUT",
        f"/app/GLTrans/{line['Id']}/Folder/{DEMO}",
        json={"BookPeriod_Id": doc["GLTransactions"][0]["GLAccount_Id"]},
    )
    assert moved.status_code == 400


def test_adding_and_deleting_a_line_bump_the_header(wow_sandbox: SandboxHandle) -> None:
    doc = find_doc(wow_sandbox, "DIV", 1)
    freeze(wow_sandbox)
    added = wow_sandbox.api(
        "POST",
        f"/app/GLTrans/Folder/{DEMO}",
        json={"GLTransHeader_Id": doc["Id"], "GLAccountCode": "570000", "Amount": Decimal("0.00")},
    )
    assert added.status_code == 200, added.text
    line_id = added.json()["Href"].split("/app/GLTrans/")[1].split("/")[0]
    after_add = find_doc(wow_sandbox, "DIV", 1)
    new_line = after_add["GLTransactions"][-1]
    assert new_line["Id"] == line_id and new_line["LineOrder"] == 2 and new_line["GLAccountCode"] == "570000"
    assert new_line["BookPeriod_Id"] == doc["BookPeriod_Id"] and new_line["ValueDate"] == doc["BookDate"]
    assert after_add["Version"] == 2 and after_add["Modified"] == f"/Date({T0})/"
    deleted = wow_sandbox.api("DELETE", f"/app/GLTrans/{line_id}/Folder/{DEMO}")
    assert deleted.status_code == 200 and deleted.json() == {"Id": line_id, "Deleted": True}
    after_delete = find_doc(wow_sandbox, "DIV", 1)
    assert len(after_delete["GLTransactions"]) == 2
    assert after_delete["Version"] == 3 and after_delete["Modified"] == f"/Date({T0 + 1})/"
    assert wow_sandbox.api("GET", f"/app/GLTrans/{line_id}/Folder/{DEMO}").status_code == 204


def test_insert_a_document_with_nested_lines(wow_sandbox: SandboxHandle) -> None:
    periods = wow_sandbox.read_list("GET", f"/app/BookPeriods/Folder/{DEMO}")
    may = next(p for p in periods if p["Code"] == "202405")
    answer = wow_sandbox.api(
        "POST",
        f"/app/GLTransHeader/Folder/{DEMO}",
        json={
            "$type": "Winbooks.TORM.OM.Accounting.GLTransHeader, Winbooks.TORM.OM",
            "BookPeriod_Id": may["Id"],
            "JournalCode": "VERK",
            "BookDate": "/Date(1715558400000)/",
            "GLTransactions": [
                {
                    "GLAccountCode": "400000",
                    "CustomerCode": "BAKKERPEETERS",
                    "Amount": Decimal("121.00"),
                    "VatBaseAmount": Decimal("100.00"),
                    "VatTaxAmount": Decimal("21.00"),
                },
                {"GLAccountCode": "700000", "VatCode": "21", "Amount": Decimal("-100.00")},
                {
                    "GLAccountCode": "451000",
                    "VatCode": "21",
                    "Amount": Decimal("-21.00"),
                    "VatBaseAmount": 100,
                },
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    href = answer.json()["Href"]
    ident = href.split("/app/GLTransHeader/")[1].split("/")[0]
    doc = get(wow_sandbox, f"/app/GLTransHeader/{ident}/Folder/{DEMO}?maxLevel=2")
    journal = get(wow_sandbox, f"/app/Journal/VERK/Folder/{DEMO}")
    customer = get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}")
    assert doc["Journal_Id"] == journal["Id"] and doc["DocNumber"] == 4  # VERK 1..3 exist in 2024
    assert doc["Version"] == 1 and doc["DueDate"] is None
    lines = doc["GLTransactions"]
    assert [x["LineOrder"] for x in lines] == [0, 1, 2]
    assert lines[0]["Customer_Id"] == customer["Id"] and lines[0]["GLAccount_Id"] != lines[1]["GLAccount_Id"]
    assert all(x["BookPeriod_Id"] == may["Id"] and x["GLTransHeader_Id"] == ident for x in lines)
    assert (
        lines[2]["VatBaseAmount"] == Decimal("100.00")
        and lines[1]["Vat_Id"] != "00000000-0000-0000-0000-000000000000"
    )
    assert sum(x["Amount"] for x in lines) == 0


def test_deleting_a_header_removes_its_lines(wow_sandbox: SandboxHandle) -> None:
    doc = find_doc(wow_sandbox, "VERK", 2)
    answer = wow_sandbox.api("DELETE", f"/app/GLTransHeader/{doc['Id']}/Folder/{DEMO}")
    assert answer.status_code == 200
    assert wow_sandbox.api("GET", f"/app/GLTransHeader/{doc['Id']}/Folder/{DEMO}").status_code == 204
    for line in doc["GLTransactions"]:
        assert wow_sandbox.api("GET", f"/app/GLTrans/{line['Id']}/Folder/{DEMO}").status_code == 204
    assert len(wow_sandbox.read_list("GET", f"/app/GLTranss/Folder/{DEMO}")) == 37


def test_customer_with_a_nested_third(wow_sandbox: SandboxHandle) -> None:
    answer = wow_sandbox.api(
        "POST",
        f"/app/Customer/ALICE/Folder/{DEMO}",
        json={
            "VatCode": "6",
            "GLAccount_Id": get(wow_sandbox, f"/app/GLAccount/700000/Folder/{DEMO}")["Id"],
            "Third": {"Name": "Alice BV", "VatNumber": "0123.456.789", "LanguageCode": "NL"},
        },
    )
    assert answer.status_code == 200, answer.text
    customer = get(wow_sandbox, f"/app/Customer/ALICE/Folder/{DEMO}?maxLevel=2")
    assert customer["Third"]["Code"] == "ALICE" and customer["Third"]["Name"] == "Alice BV"
    assert customer["Vat_Id"] == get(wow_sandbox, f"/app/Vat/6/Folder/{DEMO}")["Id"]
    update = wow_sandbox.api(
        "PUT", f"/app/Customer/ALICE/Folder/{DEMO}", json={"Third": {"Name": "Alice NV"}}
    )
    assert update.status_code == 200
    assert get(wow_sandbox, f"/app/Third/ALICE/Folder/{DEMO}")["Name"] == "Alice NV"


@pytest.mark.parametrize("mode", ["wow-like", "strict"])
def test_refused_writes(wow_sandbox: SandboxHandle, mode: str) -> None:
    wow_sandbox.config(mode=mode)
    strict = [
        ("PUT", "/app/GLAccount/700000", {"Nope": 1}, 400, "Nope"),
        ("PUT", "/app/GLTrans/{line}", {"Amount": "12.00"}, 400, "Amount"),
        ("PUT", "/app/GLTrans/{line}", {"Amount": 5, "Nope": 1}, 400, "Nope"),
    ]
    cases = [
        *(strict if mode == "strict" else []),
        ("PUT", "/app/GLTrans/{line}", {"Amount": Decimal("1.005")}, 400, "decimals"),
        ("PUT", "/app/GLTrans/{line}", {"Amount": "1.2.3"}, 400, "Amount"),
        ("PUT", "/app/GLTrans/{line}", {"Amount": True}, 400, "Amount"),
        ("PUT", "/app/GLTrans/{line}", {"GLAccountCode": "999999"}, 400, "999999"),
        ("PUT", "/app/GLAccount/123456", {"Label": "x"}, 404, "123456"),
        ("DELETE", "/app/GLAccount/123456", None, 404, "123456"),
        ("DELETE", "/app/GLAccount/700000", None, 400, "used"),
        ("POST", "/app/GLTransHeader", {"JournalCode": "VERK"}, 400, "BookPeriod_Id"),
        ("POST", "/app/GLAccount", {"Label": "no code"}, 400, "Code"),
        ("POST", "/app/GLAccount", "text", 400, "object"),
    ]
    line = find_doc(wow_sandbox, "DIV", 1)["GLTransactions"][0]["Id"]
    for method, path, body, status, fragment in cases:
        answer = wow_sandbox.api(method, path.format(line=line) + f"/Folder/{DEMO}", json=body)
        assert answer.status_code == status, (method, path, answer.text)
        assert fragment.lower() in answer.json()["Message"].lower(), answer.text
    # nothing changed
    assert find_doc(wow_sandbox, "DIV", 1)["Version"] == 1
