"""Typed ExecuteCriteria queries.

Reference: docs/winbooks-api.md, "ExecuteCriteria".

A ``Query`` is immutable; its builder methods return a new query::

    query = (
        Query("GLTrans")
        .where(eq("BookPeriod_Id", period_id), gt("Amount", 0))
        .group_by("GLAccount_Id")
        .count("Id")
        .sum("Amount")
    )
    client.execute_criteria("DEMO_BV", query)

``to_json()`` gives the request body: datetimes become ``"/Date(ms)/"``; Decimals stay exact numbers (the
client serialises them with ``winbooks.dates.dumps``). Empty lists are left out of the body, as the public
PHP client does; ``FirstResult`` and ``MaxResult`` are sent together whenever ``max_result`` is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import IntEnum
from typing import Any
from uuid import UUID

from .dates import format_date
from .entities import entity as _entity

__all__ = [
    "Condition",
    "Operator",
    "Order",
    "Projection",
    "ProjectionOperator",
    "Query",
    "and_",
    "between",
    "count",
    "eq",
    "ge",
    "group_by",
    "gt",
    "in_",
    "is_not_null",
    "is_null",
    "le",
    "like",
    "lt",
    "max_",
    "min_",
    "ne",
    "not_",
    "or_",
    "select",
    "sum_",
]


class Operator(IntEnum):
    """Condition operators (the subset of WoW's operator codes the client uses)."""

    EQ = 0
    BETWEEN = 2
    GE = 3
    GT = 5
    IN = 7
    IS_NOT_NULL = 8
    IS_NULL = 10
    LE = 14
    LIKE = 16
    LT = 17
    OR = 19
    AND = 20
    NOT = 21


class ProjectionOperator(IntEnum):
    """Projection operators."""

    SELECT = 22
    COUNT = 26
    MAX = 29
    MIN = 30
    SUM = 31
    GROUP_BY = 32


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition. Logical operators (Or, And, Not) carry their operand conditions in ``values``."""

    operator: Operator
    property_name: str = ""
    values: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The condition as it appears in ``Conditions``."""
        return {
            "Operator": int(self.operator),
            "PropertyName": self.property_name,
            "OtherPropertyName": "",
            "Values": [_value(value) for value in self.values],
        }


def _value(value: Any) -> Any:
    if isinstance(value, Condition):
        return value.to_json()
    if isinstance(value, datetime | date):
        return format_date(value)
    if isinstance(value, UUID):
        return str(value)
    return value


def _check_property(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("a condition needs a property name")
    return name


def _compare(operator: Operator, name: str, value: Any) -> Condition:
    if value is None:
        raise ValueError(f"comparing {name!r} with None: use is_null()/is_not_null()")
    return Condition(operator, _check_property(name), (value,))


def eq(name: str, value: Any) -> Condition:
    """``name = value``."""
    return _compare(Operator.EQ, name, value)


def ne(name: str, value: Any) -> Condition:
    """``name <> value``, sent as ``Not(Eq)``. Like SQL, it does not match rows where ``name`` is null."""
    return not_(eq(name, value))


def ge(name: str, value: Any) -> Condition:
    """``name >= value``."""
    return _compare(Operator.GE, name, value)


def gt(name: str, value: Any) -> Condition:
    """``name > value``."""
    return _compare(Operator.GT, name, value)


def le(name: str, value: Any) -> Condition:
    """``name <= value``."""
    return _compare(Operator.LE, name, value)


def lt(name: str, value: Any) -> Condition:
    """``name < value``."""
    return _compare(Operator.LT, name, value)


def between(name: str, low: Any, high: Any) -> Condition:
    """``low <= name <= high`` (inclusive)."""
    if low is None or high is None:
        raise ValueError("between() needs two bounds")
    return Condition(Operator.BETWEEN, _check_property(name), (low, high))


def in_(name: str, values: Iterable[Any]) -> Condition:
    """``name IN (values)``; at least one value."""
    items = tuple(values)
    if not items:
        raise ValueError("in_() needs at least one value")
    return Condition(Operator.IN, _check_property(name), items)


def like(name: str, pattern: str) -> Condition:
    """``name LIKE pattern`` (``%`` is the wildcard)."""
    return _compare(Operator.LIKE, name, pattern)


def is_null(name: str) -> Condition:
    """``name IS NULL``."""
    return Condition(Operator.IS_NULL, _check_property(name))


def is_not_null(name: str) -> Condition:
    """``name IS NOT NULL``."""
    return Condition(Operator.IS_NOT_NULL, _check_property(name))


def not_(condition: Condition) -> Condition:
    """``NOT condition``."""
    return Condition(Operator.NOT, "", (condition,))


def _logical(operator: Operator, conditions: tuple[Condition, ...]) -> Condition:
    if not conditions:
        raise ValueError(f"{operator.name.lower()}_() needs at least one condition")
    if not all(isinstance(item, Condition) for item in conditions):
        raise TypeError(f"{operator.name.lower()}_() takes conditions")
    return Condition(operator, "", conditions)


def and_(*conditions: Condition) -> Condition:
    """All of ``conditions`` (top-level conditions of a query are AND-ed already)."""
    return _logical(Operator.AND, conditions)


def or_(*conditions: Condition) -> Condition:
    """Any of ``conditions``."""
    return _logical(Operator.OR, conditions)


@dataclass(frozen=True, slots=True)
class Projection:
    """One projection: a selected property or an aggregate."""

    operator: ProjectionOperator
    property_name: str

    def to_json(self) -> dict[str, Any]:
        """The projection as it appears in ``ProjectionsList``."""
        return {"PropertyName": self.property_name, "Operator": int(self.operator)}


def select(name: str) -> Projection:
    """Project the property ``name``."""
    return Projection(ProjectionOperator.SELECT, _check_property(name))


def count(name: str = "Id") -> Projection:
    """Count of ``name``."""
    return Projection(ProjectionOperator.COUNT, _check_property(name))


def sum_(name: str) -> Projection:
    """Sum of ``name``."""
    return Projection(ProjectionOperator.SUM, _check_property(name))


def max_(name: str) -> Projection:
    """Maximum of ``name``."""
    return Projection(ProjectionOperator.MAX, _check_property(name))


def min_(name: str) -> Projection:
    """Minimum of ``name``."""
    return Projection(ProjectionOperator.MIN, _check_property(name))


def group_by(name: str) -> Projection:
    """Group by ``name`` (the group key is returned at this position of each row)."""
    return Projection(ProjectionOperator.GROUP_BY, _check_property(name))


@dataclass(frozen=True, slots=True)
class Order:
    """One sort key."""

    property_name: str
    ascending: bool = True

    def to_json(self) -> dict[str, Any]:
        """The order as it appears in ``Orders``."""
        return {
            "PropertyName": self.property_name,
            "Alias": None,
            "Projections": None,
            "Ascending": self.ascending,
        }


@dataclass(frozen=True, slots=True)
class Query:
    """An ExecuteCriteria query on the object model ``entity`` (singular OM name, e.g. ``"GLTrans"``).

    ``max_level`` is sent as the route's ``maxLevel`` parameter, not in the body. ``first_result`` needs
    ``max_result`` (WoW ignores MaxResult without FirstResult, so both are sent together).
    """

    entity: str
    conditions: tuple[Condition, ...] = ()
    projections: tuple[Projection, ...] = ()
    orders: tuple[Order, ...] = ()
    first_result: int = 0
    max_result: int | None = None
    max_level: int = 1
    alias: str = field(default="this")

    def __post_init__(self) -> None:
        object.__setattr__(self, "entity", _entity(self.entity).om)
        object.__setattr__(self, "conditions", tuple(self.conditions))
        object.__setattr__(self, "projections", tuple(self.projections))
        object.__setattr__(self, "orders", tuple(self.orders))
        if self.first_result < 0:
            raise ValueError("first_result must be >= 0")
        if self.max_result is not None and self.max_result < 1:
            raise ValueError("max_result must be >= 1")
        if self.first_result and self.max_result is None:
            raise ValueError("first_result needs max_result")
        if self.max_level < 0:
            raise ValueError("max_level must be >= 0")

    @property
    def entity_type(self) -> str:
        """The ``EntityType`` string (``$type``) of the queried object model."""
        return _entity(self.entity).type_name

    @property
    def plural(self) -> str:
        """The plural route name used by ExecuteCriteria."""
        return _entity(self.entity).plural

    def where(self, *conditions: Condition) -> Query:
        """Add top-level conditions (AND-ed)."""
        return replace(self, conditions=self.conditions + conditions)

    def project(self, *projections: Projection) -> Query:
        """Add projections, in order."""
        return replace(self, projections=self.projections + projections)

    def select(self, *names: str) -> Query:
        """Project the given properties."""
        return self.project(*(select(name) for name in names))

    def count(self, name: str = "Id") -> Query:
        """Add a Count projection."""
        return self.project(count(name))

    def sum(self, name: str) -> Query:
        """Add a Sum projection."""
        return self.project(sum_(name))

    def max(self, name: str) -> Query:
        """Add a Max projection."""
        return self.project(max_(name))

    def min(self, name: str) -> Query:
        """Add a Min projection."""
        return self.project(min_(name))

    def group_by(self, *names: str) -> Query:
        """Add GroupBy projections."""
        return self.project(*(group_by(name) for name in names))

    def order_by(self, *names: str, ascending: bool = True) -> Query:
        """Add sort keys."""
        return replace(self, orders=self.orders + tuple(Order(name, ascending) for name in names))

    def paged(self, first_result: int, max_result: int) -> Query:
        """The same query limited to ``max_result`` rows from offset ``first_result``."""
        return replace(self, first_result=first_result, max_result=max_result)

    def with_max_level(self, max_level: int) -> Query:
        """The same query with another ``maxLevel``."""
        return replace(self, max_level=max_level)

    def to_json(self) -> dict[str, Any]:
        """The ExecuteCriteria request body."""
        body: dict[str, Any] = {"EntityType": self.entity_type, "Alias": self.alias}
        if self.conditions:
            body["Conditions"] = [condition.to_json() for condition in self.conditions]
        if self.projections:
            body["ProjectionsList"] = [projection.to_json() for projection in self.projections]
        if self.orders:
            body["Orders"] = [order.to_json() for order in self.orders]
        if self.max_result is not None:
            body["FirstResult"] = self.first_result
            body["MaxResult"] = self.max_result
        return body
