"""WoW sandbox: ExecuteCriteria — every operator, every projection (group-by sums checked against the
snapshot's lines), orders, FirstResult/MaxResult, keyset paging and the 400 answers."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

DEMO = "DEMO_BV"
LINE_TYPE = "Winbooks.TORM.OM.Accounting.GLTrans, Winbooks.TORM.OM"
EQ, BETWEEN, GE, GT, IN, NOT_NULL, IS_NULL, LE, LIKE, LT, OR, AND, NOT = (
    0,
    2,
    3,
    5,
    7,
    8,
    10,
    14,
    16,
    17,
    19,
    20,
    21,
)
SELECT, COUNT, MAX, MIN, SUM, GROUP_BY = 22, 26, 29, 30, 31, 32


def lines_of(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for doc in snapshot["documents"] for line in doc["GLTransactions"]]


def line_ids(sandbox: SandboxHandle, *conditions: dict[str, Any]) -> set[str]:
    body = {
        "EntityType": LINE_TYPE,
        "Alias": "this",
        "Conditions": list(conditions),
        "ProjectionsList": [{"PropertyName": "Id", "Operator": SELECT}],
    }
    ids = sandbox.criteria("GLTranss", body)
    assert all(isinstance(i, str) for i in ids)
    return set(ids)


def ms(text: str) -> int:
    return int(text[6:-2])


@pytest.fixture
def demo_lines(wow_sandbox: SandboxHandle) -> list[dict[str, Any]]:
    return lines_of(wow_sandbox.snapshot())


def test_comparison_operators(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    c = wow_sandbox.cond

    def expect(predicate: Any) -> set[str]:
        return {x["Id"] for x in demo_lines if predicate(x)}

    assert line_ids(wow_sandbox, c(EQ, "GLAccountCode", "400000")) == expect(
        lambda x: x["GLAccountCode"] == "400000"
    )
    assert line_ids(wow_sandbox, c(GT, "Amount", 0)) == expect(lambda x: x["Amount"] > 0)
    assert line_ids(wow_sandbox, c(GE, "Amount", Decimal("605.00"))) == expect(lambda x: x["Amount"] >= 605)
    assert line_ids(wow_sandbox, c(LT, "Amount", -605)) == expect(lambda x: x["Amount"] < -605)
    assert line_ids(wow_sandbox, c(LE, "Amount", Decimal("-605"))) == expect(lambda x: x["Amount"] <= -605)
    assert line_ids(wow_sandbox, c(BETWEEN, "Amount", -210, 800)) == expect(
        lambda x: -210 <= x["Amount"] <= 800
    )
    assert line_ids(wow_sandbox, c(IN, "VatCode", "6", "21")) == expect(lambda x: x["VatCode"] in ("6", "21"))
    assert line_ids(wow_sandbox, c(IS_NULL, "Customer_Id")) == expect(lambda x: x["CustomerCode"] is None)
    assert line_ids(wow_sandbox, c(NOT_NULL, "Supplier_Id")) == expect(
        lambda x: x["SupplierCode"] is not None
    )
    assert line_ids(wow_sandbox, c(IS_NULL, "VatBaseAmount")) == expect(lambda x: x["VatBaseAmount"] is None)
    assert line_ids(wow_sandbox, c(LIKE, "CommentBooking", "Betaling%")) == expect(
        lambda x: (x["CommentBooking"] or "").startswith("Betaling")
    )
    assert len(line_ids(wow_sandbox, c(EQ, "GLAccountCode", "400000"))) == 8


def test_reference_and_id_conditions(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    c = wow_sandbox.cond
    period = demo_lines[0]["BookPeriod_Id"]
    in_period = {x["Id"] for x in demo_lines if x["BookPeriod_Id"] == period}
    assert line_ids(wow_sandbox, c(EQ, "BookPeriod_Id", period)) == in_period
    assert line_ids(wow_sandbox, c(EQ, "BookPeriod_Id", period.upper())) == in_period
    assert (
        line_ids(wow_sandbox, c(IN, "BookPeriod_Id", period, "00000000-0000-0000-0000-000000000001"))
        == in_period
    )
    assert line_ids(wow_sandbox, c(EQ, "Customer_Id", "00000000-0000-0000-0000-000000000000")) == {
        x["Id"] for x in demo_lines if x["CustomerCode"] is None
    }
    some = sorted(x["Id"] for x in demo_lines)[10]
    assert line_ids(wow_sandbox, c(EQ, "Id", some)) == {some}
    assert line_ids(wow_sandbox, c(GT, "Id", some)) == {x["Id"] for x in demo_lines if x["Id"] > some}
    assert line_ids(wow_sandbox, c(GT, "GLAccount_Id", period)) == {
        x["Id"] for x in demo_lines if x["GLAccount_Id"] > period
    }


def test_logical_operators(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    c = wow_sandbox.cond
    either = c(OR, "", c(EQ, "GLAccountCode", "400000"), c(EQ, "GLAccountCode", "440000"))
    assert line_ids(wow_sandbox, either) == {
        x["Id"] for x in demo_lines if x["GLAccountCode"] in ("400000", "440000")
    }
    both = c(AND, "", c(GT, "Amount", 0), c(EQ, "GLAccountCode", "550000"))
    assert line_ids(wow_sandbox, both) == {
        x["Id"] for x in demo_lines if x["Amount"] > 0 and x["GLAccountCode"] == "550000"
    }
    negated = c(NOT, "", c(EQ, "GLAccountCode", "550000"))
    assert line_ids(wow_sandbox, negated) == {x["Id"] for x in demo_lines if x["GLAccountCode"] != "550000"}
    nested = c(
        OR, "", c(NOT, "", c(GT, "Amount", -1000)), c(AND, "", c(EQ, "VatCode", "6"), c(GT, "Amount", 0))
    )
    assert line_ids(wow_sandbox, nested) == {
        x["Id"] for x in demo_lines if x["Amount"] <= -1000 or (x["VatCode"] == "6" and x["Amount"] > 0)
    }
    # top-level conditions are AND-ed
    assert line_ids(wow_sandbox, c(GT, "Amount", 0), c(EQ, "GLAccountCode", "550000")) == line_ids(
        wow_sandbox, both
    )


def test_dates_in_conditions(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    c = wow_sandbox.cond
    cut = sorted({ms(x["Modified"]) for x in demo_lines})[5]
    expected = {x["Id"] for x in demo_lines if ms(x["Modified"]) >= cut}
    assert line_ids(wow_sandbox, c(GE, "Modified", f"/Date({cut})/")) == expected
    assert line_ids(wow_sandbox, c(GE, "Modified", f"/Date({cut}+0100)/")) == expected
    iso = datetime.fromtimestamp(cut / 1000, tz=UTC).isoformat(timespec="milliseconds")
    assert line_ids(wow_sandbox, c(GE, "Modified", iso)) == expected
    assert line_ids(wow_sandbox, c(GE, "Modified", iso.replace("+00:00", "Z"))) == expected
    assert line_ids(wow_sandbox, c(BETWEEN, "ValueDate", "2024-02-01", "2024-03-31")) == {
        x["Id"] for x in demo_lines if 1706745600000 <= ms(x["ValueDate"]) <= 1711843200000
    }


def test_projections_and_group_by_sums(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    c = wow_sandbox.cond
    # Select: one projection gives a flat list, several give positional arrays
    codes = wow_sandbox.criteria(
        "GLTranss", {"ProjectionsList": [{"PropertyName": "GLAccountCode", "Operator": SELECT}]}
    )
    assert sorted(codes) == sorted(x["GLAccountCode"] for x in demo_lines)
    pairs = wow_sandbox.criteria(
        "GLTranss",
        {
            "ProjectionsList": [
                {"PropertyName": "Id", "Operator": SELECT},
                {"PropertyName": "Amount", "Operator": SELECT},
            ]
        },
    )
    assert {p[0]: p[1] for p in pairs} == {x["Id"]: x["Amount"] for x in demo_lines}

    # aggregates without grouping: one row
    [row] = wow_sandbox.criteria(
        "GLTranss",
        {
            "ProjectionsList": [
                {"PropertyName": "Id", "Operator": COUNT},
                {"PropertyName": "Amount", "Operator": SUM},
                {"PropertyName": "Amount", "Operator": MAX},
                {"PropertyName": "Amount", "Operator": MIN},
                {"PropertyName": "Modified", "Operator": MAX},
            ]
        },
    )
    amounts = [x["Amount"] for x in demo_lines]
    assert row[:4] == [len(demo_lines), Decimal("0.00"), max(amounts), min(amounts)]
    assert row[4] == max((x["Modified"] for x in demo_lines), key=ms)
    assert wow_sandbox.criteria(
        "GLTranss", {"ProjectionsList": [{"PropertyName": "Id", "Operator": COUNT}]}
    ) == [40]

    # group by period and account: Count and Sum equal those computed from the snapshot's lines
    grouped = wow_sandbox.criteria(
        "GLTranss",
        {
            "ProjectionsList": [
                {"PropertyName": "BookPeriod_Id", "Operator": GROUP_BY},
                {"PropertyName": "GLAccount_Id", "Operator": GROUP_BY},
                {"PropertyName": "Id", "Operator": COUNT},
                {"PropertyName": "Amount", "Operator": SUM},
            ]
        },
    )
    expected: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for x in demo_lines:
        slot = expected[(x["BookPeriod_Id"], x["GLAccount_Id"])]
        slot[0] += 1
        slot[1] += x["Amount"]
    assert {(g[0], g[1]): [g[2], g[3]] for g in grouped} == dict(expected)
    assert len(grouped) == len(expected)

    # the engine's fingerprint: per period, Count of Id and Sum of Amount over Amount > 0
    fingerprint = wow_sandbox.criteria(
        "GLTranss",
        {
            "Conditions": [c(GT, "Amount", 0)],
            "ProjectionsList": [
                {"PropertyName": "BookPeriod_Id", "Operator": GROUP_BY},
                {"PropertyName": "Id", "Operator": COUNT},
                {"PropertyName": "Amount", "Operator": SUM},
            ],
        },
    )
    positive: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for x in demo_lines:
        if x["Amount"] > 0:
            positive[x["BookPeriod_Id"]][0] += 1
            positive[x["BookPeriod_Id"]][1] += x["Amount"]
    assert {f[0]: [f[1], f[2]] for f in fingerprint} == dict(positive)
    # group-by results come ordered by the group key unless Orders say otherwise
    assert [f[0] for f in fingerprint] == sorted(positive)


def test_group_by_with_orders_and_min(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    rows = wow_sandbox.criteria(
        "GLTranss",
        {
            "ProjectionsList": [
                {"PropertyName": "GLAccountCode", "Operator": GROUP_BY},
                {"PropertyName": "Amount", "Operator": MIN},
                {"PropertyName": "LineOrder", "Operator": MAX},
            ],
            "Orders": [{"PropertyName": "GLAccountCode", "Ascending": False}],
        },
    )
    assert [r[0] for r in rows] == sorted({x["GLAccountCode"] for x in demo_lines}, reverse=True)
    for code, smallest, order in rows:
        mine = [x for x in demo_lines if x["GLAccountCode"] == code]
        assert smallest == min(x["Amount"] for x in mine) and order == max(x["LineOrder"] for x in mine)


def test_orders_and_paging(wow_sandbox: SandboxHandle, demo_lines: list[dict[str, Any]]) -> None:
    by_amount = sorted(demo_lines, key=lambda x: (-x["Amount"], x["Id"]))
    orders = [
        {"PropertyName": "Amount", "Alias": None, "Projections": None, "Ascending": False},
        {"PropertyName": "Id", "Alias": None, "Projections": None, "Ascending": True},
    ]
    all_rows = wow_sandbox.criteria("GLTranss", {"Orders": orders})
    assert [x["Id"] for x in all_rows] == [x["Id"] for x in by_amount]
    page = wow_sandbox.criteria("GLTranss", {"Orders": orders, "FirstResult": 5, "MaxResult": 7})
    assert [x["Id"] for x in page] == [x["Id"] for x in by_amount[5:12]]
    # MaxResult is ignored unless FirstResult is sent
    assert len(wow_sandbox.criteria("GLTranss", {"Orders": orders, "MaxResult": 7})) == 40
    assert len(wow_sandbox.criteria("GLTranss", {"Orders": orders, "FirstResult": 0})) == 40


def test_keyset_paging_sees_every_line_once_even_with_ties(wow_sandbox: SandboxHandle) -> None:
    c = wow_sandbox.cond
    snapshot_lines = lines_of(wow_sandbox.snapshot())
    # force a tie: three lines of different documents get the same Modified
    tied = [snapshot_lines[i]["Id"] for i in (0, 10, 20)]
    for ident in tied:
        answer = wow_sandbox.control(
            "PATCH",
            f"folders/{DEMO}/objects/GLTrans/{ident}",
            {"CommentBooking": "tie", "Modified": "/Date(1720000000000)/"},
        )
        assert answer.status_code == 200, answer.text
    orders = [{"PropertyName": "Modified", "Ascending": True}, {"PropertyName": "Id", "Ascending": True}]
    seen: list[str] = []
    last: tuple[str, str] | None = None
    while True:
        if last is None:
            conditions = [c(GE, "Modified", "/Date(0)/")]
        else:
            m, i = last
            conditions = [c(OR, "", c(GT, "Modified", m), c(AND, "", c(EQ, "Modified", m), c(GT, "Id", i)))]
        page = wow_sandbox.criteria(
            "GLTranss", {"Conditions": conditions, "Orders": orders, "FirstResult": 0, "MaxResult": 4}
        )
        seen.extend(x["Id"] for x in page)
        if len(page) < 4:
            break
        last = (page[-1]["Modified"], page[-1]["Id"])
    assert sorted(seen) == sorted(x["Id"] for x in snapshot_lines)
    assert len(seen) == len(set(seen))


def test_max_level_on_criteria(wow_sandbox: SandboxHandle) -> None:
    c = wow_sandbox.cond
    body = {
        "Conditions": [c(EQ, "JournalCode", "BNK1")],
        "Orders": [{"PropertyName": "DocNumber", "Ascending": True}],
    }
    flat = wow_sandbox.criteria("GLTransHeaders", body)
    deep = wow_sandbox.criteria("GLTransHeaders", body, level=2)
    assert [h["DocNumber"] for h in flat] == [1, 2, 3, 4, 5]
    assert all(h["GLTransactions"] is None for h in flat)
    assert [len(h["GLTransactions"]) for h in deep] == [4, 2, 2, 2, 2]
    customers = wow_sandbox.criteria("Customers", {"Conditions": [c(LIKE, "Code", "BAKKER%")]}, level=2)
    assert customers[0]["Third"]["Code"] == "BAKKERPEETERS"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"Conditions": [{"Operator": 0, "PropertyName": "Nope", "Values": [1]}]}, "Nope"),
        ({"Conditions": [{"Operator": 12, "PropertyName": "Amount", "Values": []}]}, "operator"),
        ({"Conditions": [{"Operator": 99, "PropertyName": "Amount", "Values": [1]}]}, "operator"),
        ({"Conditions": [{"Operator": 0, "PropertyName": "Modified", "Values": ["yesterday"]}]}, "Modified"),
        (
            {"Conditions": [{"Operator": 0, "PropertyName": "BookPeriod_Id", "Values": ["not-a-guid"]}]},
            "GUID",
        ),
        ({"Conditions": [{"Operator": 2, "PropertyName": "Amount", "Values": [1]}]}, "two values"),
        ({"Conditions": [{"Operator": 16, "PropertyName": "Amount", "Values": ["1%"]}]}, "Like"),
        ({"ProjectionsList": [{"PropertyName": "Amount", "Operator": 25}]}, "projection"),
        ({"ProjectionsList": [{"PropertyName": "Nope", "Operator": 22}]}, "Nope"),
        (
            {
                "ProjectionsList": [
                    {"PropertyName": "GLAccountCode", "Operator": 22},
                    {"PropertyName": "Amount", "Operator": 31},
                ]
            },
            "grouped",
        ),
        ({"ProjectionsList": [{"PropertyName": "GLAccountCode", "Operator": 31}]}, "Sum"),
        ({"Orders": [{"PropertyName": "Nope", "Ascending": True}]}, "Nope"),
        ({"EntityType": "Winbooks.TORM.OM.Accounting.GLAccount, Winbooks.TORM.OM"}, "EntityType"),
        ({"FirstResult": -1}, "FirstResult"),
        ({"Conditions": {"Operator": 0}}, "list"),
    ],
)
def test_malformed_criteria_is_400(wow_sandbox: SandboxHandle, body: dict[str, Any], fragment: str) -> None:
    answer = wow_sandbox.api("POST", f"/app/GLTranss/Folder/{DEMO}/ExecuteCriteria", json=body)
    assert answer.status_code == 400, answer.text
    assert fragment.lower() in answer.json()["Message"].lower()


def test_invalid_json_body_is_400(wow_sandbox: SandboxHandle) -> None:
    answer = wow_sandbox.api(
        "POST",
        f"/app/GLTranss/Folder/{DEMO}/ExecuteCriteria",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and "Message" in answer.json()
