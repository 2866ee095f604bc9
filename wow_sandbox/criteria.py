"""ExecuteCriteria bodies compiled to SQL over one entity's table.

Supported (docs/winbooks-api.md, "ExecuteCriteria"): conditions with operators 0 Eq, 2 Between, 3 Ge, 5 Gt,
7 In, 8 IsNotNull, 10 IsNull, 14 Le, 16 Like, 17 Lt, 19 Or, 20 And, 21 Not (Or/And/Not carry their operand
conditions in ``Values``; top-level conditions are AND-ed); projections 22 Select, 26 Count, 29 Max,
30 Min, 31 Sum, 32 GroupBy with SQL group-by semantics; Orders; FirstResult/MaxResult (MaxResult is ignored
unless FirstResult is sent). Anything else is a ``CriteriaError`` (answered 400 ``{"Message": ...}``).
"""

# ruff: noqa: S608 - SQL text is built only from the fixed schema (model.ENTITIES); values are bound parameters

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .model import TYPE_ALIASES, WRITERS, Entity, Field, ValueProblem, to_storage

CONDITION_OPERATORS = {
    0: "Eq",
    2: "Between",
    3: "Ge",
    5: "Gt",
    7: "In",
    8: "IsNotNull",
    10: "IsNull",
    14: "Le",
    16: "Like",
    17: "Lt",
    19: "Or",
    20: "And",
    21: "Not",
}
PROJECTION_OPERATORS = {22: "Select", 26: "Count", 29: "Max", 30: "Min", 31: "Sum", 32: "GroupBy"}
AGGREGATES = {26, 29, 30, 31}
_COMPARE = {3: ">=", 5: ">", 14: "<=", 17: "<"}
_ORDERED_KINDS = {"guid", "ref", "str", "int", "date", "money", "bool"}


class CriteriaError(ValueError):
    """A malformed criteria body; its text becomes the 400 answer's Message."""


def quote(name: str) -> str:
    return '"' + name + '"'


def column(f: Field) -> str:
    """The stored column of the queried table (alias ``o``); a reference holds the target's rowid."""
    return "o." + quote(f.name)


def expr(f: Field) -> str:
    """The property's API value as SQL: for a reference, the target's GUID through a rowid lookup."""
    if f.kind == "ref":
        return f"(SELECT x.Id FROM {quote(f.ref or '')} AS x WHERE x.rid = o.{quote(f.name)})"
    return "o." + quote(f.name)


def select_list(entity: Entity) -> str:
    return ", ".join(expr(f) for f in entity.columns)


@dataclass
class Compiled:
    """A criteria body ready to run: ``sql``/``params`` and, for projections, the row writer."""

    entity: Entity
    sql: str
    params: list[Any]
    projected: bool
    row_json: Callable[[tuple[Any, ...]], str] | None = None


class _Compiler:
    def __init__(self, entity: Entity, alias: str) -> None:
        self.entity = entity
        self.alias = alias or "this"
        self.params: list[Any] = []

    # -- properties and values -------------------------------------------------------------------------

    def prop(self, name: Any, where: str) -> Field:
        if not isinstance(name, str) or not name:
            raise CriteriaError(f"{where}: PropertyName is missing")
        plain = name
        for prefix in (f"{self.alias}.", "this."):
            if plain.startswith(prefix):
                plain = plain[len(prefix) :]
                break
        if "." in plain:
            raise CriteriaError(f"{where}: property '{name}' uses an alias the sandbox does not know")
        f = self.entity.by_name.get(plain)
        if f is None:
            raise CriteriaError(f"Unknown property '{name}' on {self.entity.name}")
        return f

    def value(self, f: Field, raw: Any) -> Any:
        if isinstance(raw, dict | list):
            raise CriteriaError(f"{f.name}: a value cannot be {type(raw).__name__}")
        if f.kind == "str" and isinstance(raw, int | Decimal) and not isinstance(raw, bool):
            raw = str(raw)
        if f.kind == "int" and isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            raw = int(raw)
        try:
            return to_storage(f, raw)
        except ValueProblem as exc:
            raise CriteriaError(f"Bad value for {f.name}: {exc}") from exc

    # -- conditions ------------------------------------------------------------------------------------

    def condition(self, cond: Any) -> str:
        if not isinstance(cond, dict):
            raise CriteriaError(f"A condition must be an object, got {cond!r}")
        op = cond.get("Operator")
        if isinstance(op, bool) or not isinstance(op, int):
            raise CriteriaError(f"Condition operator {op!r} is not a number")
        if op not in CONDITION_OPERATORS:
            raise CriteriaError(f"Unsupported condition operator {op}")
        values = cond.get("Values")
        if values is None:
            values = []
        if not isinstance(values, list):
            raise CriteriaError(f"Values of operator {op} must be a list")
        if op in (19, 20, 21):
            parts = [self.condition(v) for v in values]
            if op == 19:
                return "(" + " OR ".join(parts) + ")" if parts else "0"
            joined = " AND ".join(parts) if parts else "1"
            return f"(NOT ({joined}))" if op == 21 else f"({joined})"
        f = self.prop(cond.get("PropertyName"), f"Operator {op}")
        col = column(f)
        ref = f.kind == "ref"
        target = quote(f.ref or "")
        if op in (8, 10):
            return f"({col} IS {'NOT ' if op == 8 else ''}NULL)"
        if op == 7:
            converted = [self.value(f, v) for v in values]
            present = [v for v in converted if v is not None]
            pieces = []
            if present:
                marks = ",".join("?" * len(present))
                if ref:
                    pieces.append(f"{col} IN (SELECT x.rid FROM {target} AS x WHERE x.Id IN ({marks}))")
                else:
                    pieces.append(f"{col} IN ({marks})")
                self.params.extend(present)
            if len(present) != len(converted):
                pieces.append(f"{col} IS NULL")
            return "(" + " OR ".join(pieces) + ")" if pieces else "0"
        value_sql = expr(f)
        if op == 2:
            if len(values) != 2:
                raise CriteriaError(f"Between on {f.name} needs two values")
            low, high = (self.value(f, v) for v in values)
            if low is None or high is None:
                raise CriteriaError(f"Between on {f.name} cannot take null")
            self.params.extend([low, high])
            return f"({value_sql} BETWEEN ? AND ?)"
        if len(values) != 1:
            raise CriteriaError(f"Operator {op} on {f.name} needs exactly one value")
        if op == 16:
            if f.kind != "str":
                raise CriteriaError(f"Like needs a text property; {f.name} is not")
            pattern = values[0]
            if not isinstance(pattern, str):
                raise CriteriaError(f"Like on {f.name} needs a text pattern")
            self.params.append(pattern)
            return f"({col} LIKE ?)"
        v = self.value(f, values[0])
        if op == 0:
            if v is None:
                return f"({col} IS NULL)"
            self.params.append(v)
            if ref:
                return f"({col} = (SELECT x.rid FROM {target} AS x WHERE x.Id = ?))"
            return f"({col} = ?)"
        if v is None:
            raise CriteriaError(f"Operator {op} on {f.name} cannot compare with null")
        self.params.append(v)
        return f"({value_sql} {_COMPARE[op]} ?)"

    def lower_bounds(self, cond: Any) -> dict[str, Any]:
        """Inclusive lower bounds a condition implies, per column (used to let an index serve keyset ORs:
        ``Modified > m OR (Modified = m AND Id > i)`` implies ``Modified >= m``)."""
        if not isinstance(cond, dict):
            return {}
        op = cond.get("Operator")
        values = cond.get("Values") or []
        if op == 20:
            merged: dict[str, Any] = {}
            for sub in values:
                for name, bound in self.lower_bounds(sub).items():
                    merged[name] = bound if name not in merged else max(merged[name], bound)
            return merged
        if op == 19:
            branches = [self.lower_bounds(sub) for sub in values]
            if not branches:
                return {}
            common = set(branches[0]).intersection(*branches[1:])
            return {name: min(b[name] for b in branches) for name in common}
        if op in (0, 2, 3, 5) and values:
            try:
                f = self.prop(cond.get("PropertyName"), "bound")
                v = self.value(f, values[0])
            except CriteriaError:
                return {}
            return {} if v is None or f.kind == "ref" else {f.name: v}
        return {}


def _int_option(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or int(value) != value or value < 0:
        raise CriteriaError(f"{key} must be a non-negative integer")
    return int(value)


def compile_criteria(entity: Entity, body: Any) -> Compiled:
    if not isinstance(body, dict):
        raise CriteriaError("The criteria body must be a JSON object")
    entity_type = body.get("EntityType")
    namespace = entity.type_name.split(",")[0].rsplit(".", 1)[0]
    accepted = {f"{namespace}.{name}" for name in (entity.name, *TYPE_ALIASES.get(entity.name, ()))}
    if entity_type and (
        not isinstance(entity_type, str) or entity_type.split(",")[0].strip() not in accepted
    ):
        raise CriteriaError(f"EntityType {entity_type!r} does not match the route ({entity.type_name})")
    if body.get("Association"):
        raise CriteriaError("Associations (joins) are not supported by the sandbox")
    alias = body.get("Alias") or "this"
    if not isinstance(alias, str):
        raise CriteriaError("Alias must be a string")
    c = _Compiler(entity, alias)

    conditions = body.get("Conditions") or []
    if not isinstance(conditions, list):
        raise CriteriaError("Conditions must be a list")
    where_parts = [c.condition(cond) for cond in conditions]
    # Redundant range conditions implied by OR-ed keyset conditions, so an index range can be used.
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("Operator") in (19, 20):
            for name, bound in c.lower_bounds(cond).items():
                where_parts.append(f"(o.{quote(name)} >= ?)")
                c.params.append(bound)
    where = " AND ".join(where_parts) if where_parts else "1"

    projections = body.get("ProjectionsList") or []
    if not isinstance(projections, list):
        raise CriteriaError("ProjectionsList must be a list")
    selects: list[str] = []
    writers: list[Callable[[Any], str]] = []
    group_by: list[str] = []
    group_exprs: dict[str, str] = {}
    aggregated = False
    plain_selects: list[str] = []
    for p in projections:
        if not isinstance(p, dict):
            raise CriteriaError(f"A projection must be an object, got {p!r}")
        op = p.get("Operator")
        if isinstance(op, bool) or op not in PROJECTION_OPERATORS:
            raise CriteriaError(f"Unsupported projection operator {op!r}")
        prop_name = p.get("PropertyName")
        if op == 26 and prop_name in (None, "", "*"):
            selects.append("COUNT(*)")
            writers.append(WRITERS["int"])
            aggregated = True
            continue
        f = c.prop(prop_name, f"Projection {op}")
        value_sql = expr(f)
        if op == 26:
            selects.append(f"COUNT({column(f)})")
            writers.append(WRITERS["int"])
        elif op == 31:
            if f.kind not in ("money", "int"):
                raise CriteriaError(f"Sum needs a numeric property; {f.name} is not")
            selects.append(f"SUM({value_sql})")
            writers.append(WRITERS[f.kind])
        elif op in (29, 30):
            if f.kind not in _ORDERED_KINDS:
                raise CriteriaError(f"{PROJECTION_OPERATORS[op]} is not defined on {f.name}")
            selects.append(f"{'MAX' if op == 29 else 'MIN'}({value_sql})")
            writers.append(WRITERS[f.kind])
        else:
            selects.append(value_sql)
            writers.append(WRITERS[f.kind])
            if op == 32:
                if column(f) not in group_by:
                    group_by.append(column(f))
                    group_exprs[column(f)] = value_sql
            else:
                plain_selects.append(column(f))
        if op in AGGREGATES or op == 32:
            aggregated = True
    if aggregated:
        stray = [s for s in plain_selects if s not in group_by]
        if stray:
            raise CriteriaError(
                f"Projection {stray[0][2:].strip(chr(34))} is neither grouped (32) nor aggregated; "
                "with aggregates every selected property must be grouped"
            )

    orders = body.get("Orders") or []
    if not isinstance(orders, list):
        raise CriteriaError("Orders must be a list")
    order_parts: list[str] = []
    ordered: set[str] = set()
    for o in orders:
        if not isinstance(o, dict):
            raise CriteriaError(f"An order must be an object, got {o!r}")
        f = c.prop(o.get("PropertyName"), "Order")
        if aggregated and column(f) not in group_by:
            raise CriteriaError(f"Cannot order an aggregated result by {f.name}: it is not grouped")
        ascending = o.get("Ascending", True)
        order_parts.append(f"{expr(f)} {'ASC' if ascending is not False else 'DESC'}")
        ordered.add(column(f))
    if aggregated:
        order_parts.extend(group_exprs[g] for g in group_by if g not in ordered)
    else:
        order_parts.append("o.rid")

    first = _int_option(body, "FirstResult")
    maximum = _int_option(body, "MaxResult")
    limit = ""
    if first is not None:
        limit = f" LIMIT {maximum if maximum else -1} OFFSET {first}"

    table = quote(entity.name) + " AS o"
    if projections:
        sql = f"SELECT {', '.join(selects)} FROM {table} WHERE {where}"
        if group_by:
            sql += f" GROUP BY {', '.join(group_by)}"
    else:
        sql = f"SELECT o.rid, {select_list(entity)} FROM {table} WHERE {where}"
    if order_parts:
        sql += f" ORDER BY {', '.join(order_parts)}"
    sql += limit

    if not projections:
        return Compiled(entity, sql, c.params, projected=False)
    if len(writers) == 1:
        only = writers[0]

        def row_json(row: tuple[Any, ...]) -> str:
            return only(row[0])

    else:
        indexed = list(enumerate(writers))

        def row_json(row: tuple[Any, ...]) -> str:
            return "[" + ",".join(w(row[i]) for i, w in indexed) + "]"

    return Compiled(entity, sql, c.params, projected=True, row_json=row_json)
