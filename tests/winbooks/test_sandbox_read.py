"""WoW sandbox: GET one / GET all, maxLevel, record format (``$type``, dates, amounts, zero GUIDs) and the
demo company of the reference §7."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wow_sandbox.model import loads

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
ZERO = "00000000-0000-0000-0000-000000000000"
MS_DATE = re.compile(r"^/Date\(\d+\)/$")


def get(sandbox: SandboxHandle, path: str) -> Any:
    answer = sandbox.api("GET", path)
    assert answer.status_code == 200, answer.text
    return loads(answer.content)


def test_get_one_by_code_and_by_id(wow_sandbox: SandboxHandle) -> None:
    account = get(wow_sandbox, f"/app/GLAccount/700000/Folder/{DEMO}")
    assert account["$type"] == "Winbooks.TORM.OM.Accounting.GLAccount, Winbooks.TORM.OM"
    assert (account["Code"], account["Label"], account["Label2"]) == ("700000", "Verkopen", "Ventes")
    assert (
        account["Version"] == 1 and MS_DATE.match(account["Created"]) and MS_DATE.match(account["Modified"])
    )
    assert get(wow_sandbox, f"/app/GLAccount/{account['Id']}/Folder/{DEMO}") == account
    assert get(wow_sandbox, f"/app/GLAccount/{account['Id'].upper()}/Folder/{DEMO}") == account


def test_missing_object_is_204(wow_sandbox: SandboxHandle) -> None:
    for path in (
        f"/app/GLAccount/999999/Folder/{DEMO}",
        f"/app/GLTransHeader/6f1c1a36-0000-4000-8000-000000000000/Folder/{DEMO}",
        f"/app/Customer/NOBODY/Folder/{DEMO}",
    ):
        answer = wow_sandbox.api("GET", path)
        assert answer.status_code == 204 and answer.content == b""


def test_unknown_object_model_is_404(wow_sandbox: SandboxHandle) -> None:
    assert wow_sandbox.api("GET", f"/app/Invoice/1/Folder/{DEMO}").status_code == 404
    assert wow_sandbox.api("GET", f"/app/Invoices/Folder/{DEMO}").status_code == 404
    assert wow_sandbox.api("GET", "/nothing/here").status_code == 404


def test_codes_are_url_decoded(wow_sandbox: SandboxHandle) -> None:
    code = "HÉLOÏSE/1 & 2"
    created = wow_sandbox.control("POST", f"folders/{DEMO}/objects/Third", {"Code": code, "Name": "Héloïse"})
    assert created.status_code == 201, created.text
    third = get(wow_sandbox, f"/app/Third/{quote(code, safe='')}/Folder/{DEMO}")
    assert third["Name"] == "Héloïse" and third["Code"] == code


def test_get_all_uses_the_plural(wow_sandbox: SandboxHandle) -> None:
    accounts = get(wow_sandbox, f"/app/GLAccounts/Folder/{DEMO}")
    assert [a["Code"] for a in accounts] == [
        "100000",
        "400000",
        "411000",
        "440000",
        "451000",
        "499000",
        "550000",
        "570000",
        "604000",
        "610000",
        "700000",
    ]
    journals = {j["Code"]: j["JournalType"] for j in get(wow_sandbox, f"/app/Journals/Folder/{DEMO}")}
    assert journals == {"VERK": "SAL", "VCN": "SAC", "AANK": "PUR", "BNK1": "CAS", "DIV": "PRI"}
    vats = {v["Code"]: v["Rate"] for v in get(wow_sandbox, f"/app/Vats/Folder/{DEMO}")}
    assert vats == {"0": Decimal("0.00"), "6": Decimal("6.00"), "21": Decimal("21.00")}
    lines_a = get(wow_sandbox, f"/app/GLTranss/Folder/{DEMO}")
    lines_b = get(wow_sandbox, f"/app/GLTrans/Folder/{DEMO}")
    assert lines_a == lines_b and len(lines_a) == 40


def test_book_years_and_periods(wow_sandbox: SandboxHandle) -> None:
    years = get(wow_sandbox, f"/app/BookYears/Folder/{DEMO}")
    assert [y["Code"] for y in years] == ["2024", "2025"]
    periods = get(wow_sandbox, f"/app/BookPeriods/Folder/{DEMO}")
    by_year: dict[str, list[int]] = defaultdict(list)
    year_code = {y["Id"]: y["Code"] for y in years}
    for p in periods:
        by_year[year_code[p["BookYear_Id"]]].append(p["Number"])
        assert MS_DATE.match(p["StartDate"]) and MS_DATE.match(p["EndDate"])
    assert by_year == {"2024": list(range(14)), "2025": list(range(14))}
    march = next(p for p in periods if p["RelatedYear"] == 2024 and p["Number"] == 3)
    assert march["RelatedMonth"] == 3 and march["Code"] == "202403"


def test_max_level(wow_sandbox: SandboxHandle) -> None:
    customer1 = get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}")
    assert customer1["Third"] is None and customer1["Third_Id"] != ZERO
    customer2 = get(wow_sandbox, f"/app/Customer/BAKKERPEETERS/Folder/{DEMO}?maxLevel=2")
    assert (
        customer2["Third"]["Name"] == "Bakkerij Peeters NV"
        and customer2["Third"]["Id"] == customer1["Third_Id"]
    )
    assert customer2["GLAccount2_Id"] == get(wow_sandbox, f"/app/GLAccount/400000/Folder/{DEMO}")["Id"]
    supplier = get(wow_sandbox, f"/app/Supplier/MEELFABRIEK/Folder/{DEMO}?MaxLevel=2")
    assert supplier["$type"] == "Winbooks.TORM.OM.Supplier, Winbooks.TORM.OM"
    assert supplier["Third"]["Name"] == "Meelfabriek De Molen BV"

    headers1 = get(wow_sandbox, f"/app/GLTransHeaders/Folder/{DEMO}")
    assert all(h["GLTransactions"] is None for h in headers1)
    headers2 = get(wow_sandbox, f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2")
    assert sum(len(h["GLTransactions"]) for h in headers2) == 40
    one = get(wow_sandbox, f"/app/GLTransHeader/{headers1[0]['Id']}/Folder/{DEMO}?maxLevel=2")
    assert one == headers2[0]
    assert [line["LineOrder"] for line in one["GLTransactions"]] == [0, 1, 2]
    assert all(line["GLTransHeader_Id"] == one["Id"] for line in one["GLTransactions"])


def test_record_format(wow_sandbox: SandboxHandle) -> None:
    raw = wow_sandbox.api("GET", f"/app/GLTranss/Folder/{DEMO}").text
    # amounts are JSON numbers with their two decimals, never floats like 1210.0
    assert '"Amount":1210.00,' in raw and '"Amount":-1000.00,' in raw and '"VatBaseAmount":null' in raw
    lines = loads(raw)
    first = lines[0]
    assert first["$type"] == "Winbooks.TORM.OM.Accounting.GLTrans, Winbooks.TORM.OM"
    assert isinstance(first["Amount"], Decimal)
    assert first["Supplier_Id"] == ZERO and first["SupplierCode"] is None  # unset reference
    assert first["CustomerCode"] == "BAKKERPEETERS" and first["Customer_Id"] != ZERO
    assert MS_DATE.match(first["ValueDate"]) and first["CurrencyCode"] == "EUR"
    for name in ("Id", "Version", "Created", "CreatedBy", "Modified", "ModifiedBy"):
        assert name in first
    header = get(wow_sandbox, f"/app/GLTransHeader/{first['GLTransHeader_Id']}/Folder/{DEMO}")
    assert header["$type"] == "Winbooks.TORM.OM.Accounting.GLTransHeader, Winbooks.TORM.OM"
    assert (header["JournalCode"], header["DocNumber"]) == ("VERK", 1)
    assert header["BookDate"] == "/Date(1705276800000)/"  # 2024-01-15T00:00:00Z
    assert header["DueDate"] == "/Date(1707868800000)/"  # 2024-02-14


def test_demo_documents_of_the_reference(wow_sandbox: SandboxHandle) -> None:
    headers = get(wow_sandbox, f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2")
    docs = {(h["JournalCode"], h["DocNumber"], h["BookDate"]): h for h in headers}

    def lines(journal: str, number: int, booked_ms: int) -> list[tuple[str, Decimal, str | None, str | None]]:
        doc = docs[(journal, number, f"/Date({booked_ms})/")]
        return [
            (x["GLAccountCode"], x["Amount"], x["CustomerCode"] or x["SupplierCode"], x["VatCode"])
            for x in doc["GLTransactions"]
        ]

    assert lines("VERK", 1, 1705276800000) == [
        ("400000", Decimal("1210.00"), "BAKKERPEETERS", None),
        ("700000", Decimal("-1000.00"), None, "21"),
        ("451000", Decimal("-210.00"), None, "21"),
    ]
    assert lines("AANK", 1, 1705708800000) == [
        ("440000", Decimal("-605.00"), "MEELFABRIEK", None),
        ("604000", Decimal("500.00"), None, "21"),
        ("411000", Decimal("105.00"), None, "21"),
    ]
    assert lines("BNK1", 1, 1707091200000) == [
        ("550000", Decimal("1210.00"), None, None),
        ("400000", Decimal("-1210.00"), "BAKKERPEETERS", None),
        ("440000", Decimal("605.00"), "MEELFABRIEK", None),
        ("550000", Decimal("-605.00"), None, None),
    ]
    assert lines("DIV", 1, 1711843200000) == [
        ("610000", Decimal("800.00"), None, None),
        ("499000", Decimal("-800.00"), None, None),
    ]
    # every document balances; every month of 2024 (and its opening period) has activity
    periods = {p["Id"]: p for p in get(wow_sandbox, f"/app/BookPeriods/Folder/{DEMO}")}
    used = set()
    for h in headers:
        assert sum(x["Amount"] for x in h["GLTransactions"]) == 0
        assert all(x["BookPeriod_Id"] == h["BookPeriod_Id"] for x in h["GLTransactions"])
        p = periods[h["BookPeriod_Id"]]
        used.add((p["RelatedYear"], p["Number"]))
    assert {(2024, n) for n in range(13)} <= used


def test_snapshot_matches_the_api(wow_sandbox: SandboxHandle) -> None:
    snap = wow_sandbox.snapshot()
    assert snap["counts"]["GLTransHeader"] == 15 and snap["counts"]["GLTrans"] == 40
    assert snap["documents"] == get(wow_sandbox, f"/app/GLTransHeaders/Folder/{DEMO}?maxLevel=2")
    assert snap["GLAccounts"] == get(wow_sandbox, f"/app/GLAccounts/Folder/{DEMO}")
    assert snap["Customers"] == get(wow_sandbox, f"/app/Customers/Folder/{DEMO}?maxLevel=2")
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for doc in snap["documents"]:
        for line in doc["GLTransactions"]:
            sums[(line["BookPeriod_Id"], line["GLAccount_Id"])] += line["Amount"]
    assert {(s["BookPeriod_Id"], s["GLAccount_Id"]): s["Sum"] for s in snap["sums"]} == sums
