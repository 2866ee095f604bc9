"""Query objects and their ExecuteCriteria bodies; the entity table."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from winbooks import ENTITIES, Query, entity
from winbooks.dates import dumps
from winbooks.entities import entity_for_type, plural, type_name
from winbooks.query import (
    and_,
    between,
    count,
    eq,
    ge,
    group_by,
    gt,
    in_,
    is_not_null,
    is_null,
    le,
    like,
    lt,
    max_,
    min_,
    ne,
    not_,
    or_,
    select,
    sum_,
)


def cond(operator: int, name: str, values: list[object]) -> dict[str, object]:
    return {"Operator": operator, "PropertyName": name, "OtherPropertyName": "", "Values": values}


def test_the_contract_example_body() -> None:
    query = (
        Query("GLTrans")
        .where(ge("Modified", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)))
        .group_by("BookPeriod_Id")
        .sum("Amount")
        .order_by("Modified")
        .paged(0, 500)
    )
    assert query.to_json() == {
        "EntityType": "Winbooks.TORM.OM.Accounting.GLTrans, Winbooks.TORM.OM",
        "Alias": "this",
        "Conditions": [cond(3, "Modified", ["/Date(1700000000000)/"])],
        "ProjectionsList": [
            {"PropertyName": "BookPeriod_Id", "Operator": 32},
            {"PropertyName": "Amount", "Operator": 31},
        ],
        "Orders": [{"PropertyName": "Modified", "Alias": None, "Projections": None, "Ascending": True}],
        "FirstResult": 0,
        "MaxResult": 500,
    }


def test_condition_operators() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert eq("Code", "VERK").to_json() == cond(0, "Code", ["VERK"])
    assert ne("Number", 0).to_json() == cond(21, "", [cond(0, "Number", [0])])
    assert ge("Modified", when).to_json() == cond(3, "Modified", ["/Date(1704067200000)/"])
    assert gt("Amount", 0).to_json() == cond(5, "Amount", [0])
    assert le("Number", 12).to_json() == cond(14, "Number", [12])
    assert lt("Number", 13).to_json() == cond(17, "Number", [13])
    assert between("BookDate", date(2024, 1, 1), date(2024, 1, 31)).to_json() == cond(
        2, "BookDate", ["/Date(1704067200000)/", "/Date(1706659200000)/"]
    )
    assert in_("Code", ["VERK", "AANK"]).to_json() == cond(7, "Code", ["VERK", "AANK"])
    assert like("Code", "VE%").to_json() == cond(16, "Code", ["VE%"])
    assert is_null("DueDate").to_json() == cond(10, "DueDate", [])
    assert is_not_null("DueDate").to_json() == cond(8, "DueDate", [])
    assert not_(eq("A", 1)).to_json() == cond(21, "", [cond(0, "A", [1])])
    assert and_(eq("A", 1), eq("B", 2)).to_json() == cond(20, "", [cond(0, "A", [1]), cond(0, "B", [2])])
    assert or_(eq("A", 1), is_null("B")).to_json() == cond(19, "", [cond(0, "A", [1]), cond(10, "B", [])])
    guid = UUID("6f1c2a4e-0d5b-4c1e-9a43-1b2c3d4e5f60")
    assert eq("Id", guid).to_json() == cond(0, "Id", [str(guid)])


def test_projection_operators() -> None:
    projections = [
        select("Id"),
        count("Id"),
        max_("Amount"),
        min_("Amount"),
        sum_("Amount"),
        group_by("Code"),
    ]
    assert [p.to_json()["Operator"] for p in projections] == [22, 26, 29, 30, 31, 32]
    query = Query("GLTrans").select("Id", "Code").count().max("Amount").min("Amount")
    assert [p.to_json() for p in query.projections] == [
        {"PropertyName": "Id", "Operator": 22},
        {"PropertyName": "Code", "Operator": 22},
        {"PropertyName": "Id", "Operator": 26},
        {"PropertyName": "Amount", "Operator": 29},
        {"PropertyName": "Amount", "Operator": 30},
    ]


def test_minimal_body_and_max_level() -> None:
    query = Query("Customers", max_level=2)
    assert query.entity == "Customer" and query.plural == "Customers" and query.max_level == 2
    assert query.to_json() == {"EntityType": "Winbooks.TORM.OM.Customer, Winbooks.TORM.OM", "Alias": "this"}
    assert query.with_max_level(3).max_level == 3


def test_queries_are_immutable() -> None:
    base = Query("Journal")
    narrowed = base.where(eq("Code", "VERK")).order_by("Code", ascending=False)
    assert base.conditions == () and base.orders == ()
    assert narrowed.to_json()["Orders"] == [
        {"PropertyName": "Code", "Alias": None, "Projections": None, "Ascending": False}
    ]


def test_decimals_are_sent_exactly() -> None:
    query = Query("GLTrans").where(
        eq("Amount", Decimal("12345678901234.56")), gt("VatBaseAmount", Decimal("0.1"))
    )
    body = dumps(query.to_json())
    assert '"Values":[12345678901234.56]' in body and '"Values":[0.1]' in body
    assert json.loads(body, parse_float=Decimal)["Conditions"][0]["Values"] == [Decimal("12345678901234.56")]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Query("Nope"),
        lambda: Query("GLTrans", first_result=10),
        lambda: Query("GLTrans", max_result=0),
        lambda: Query("GLTrans", first_result=-1, max_result=5),
        lambda: eq("Code", None),
        lambda: eq("", 1),
        lambda: in_("Code", []),
        lambda: between("Number", 1, None),
        lambda: and_(),
        lambda: ge("Modified", datetime(2024, 1, 1)).to_json(),
    ],
)
def test_invalid_queries_are_refused(build: object) -> None:
    assert callable(build)
    with pytest.raises(ValueError):
        build()


def test_entity_table() -> None:
    assert list(ENTITIES) == [
        "BookYear",
        "BookPeriod",
        "Journal",
        "GLAccount",
        "Customer",
        "Supplier",
        "Third",
        "Vat",
        "GLTransHeader",
        "GLTrans",
    ]
    assert plural("GLTrans") == "GLTranss" and plural("Vat") == "Vats"
    assert type_name("Supplier") == "Winbooks.TORM.OM.Supplier, Winbooks.TORM.OM"
    assert type_name("BookYear") == "Winbooks.TORM.OM.Accounting.BookYear, Winbooks.TORM.OM"
    assert entity("GLTransHeaders").om == "GLTransHeader"
    assert entity_for_type("Winbooks.TORM.OM.Third, Winbooks.TORM.OM") == entity("Third")
    assert entity_for_type("Winbooks.TORM.OM.Logistics.Item, Winbooks.TORM.OM") is None
