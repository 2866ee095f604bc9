"""The sandbox's object model: entity schemas, value conversions and the JSON writers.

Storage forms (the sqlite columns): an object's own ``Id`` as its canonical lower-case GUID text; a
reference (``…_Id``, ``CreatedBy``, ``ModifiedBy``) as the INTEGER rowid of the target row (NULL = unset,
the zero GUID in JSON), turned back into the target's GUID by a rowid subquery when read; dates as INTEGER
epoch milliseconds (UTC); amounts as INTEGER cents (exact: sums stay exact integers and are written back as
decimals); booleans as 0/1.

JSON is written by hand (never through ``float``): amounts come out as ``1210.00``, dates as
``"/Date(ms)/"``, unset references as the all-zero GUID.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
ACCOUNTING = "Winbooks.TORM.OM.Accounting."
COMMON = "Winbooks.TORM.OM."
ASSEMBLY = ", Winbooks.TORM.OM"

_encode_str: Callable[[str], str] = json.encoder.encode_basestring


class ValueProblem(ValueError):
    """A value that cannot be converted to its storage form (answered as 400)."""


# --------------------------------------------------------------------------------------------- GUIDs


def guid_text(value: Any) -> str | None:
    """A GUID in its canonical lower-case form; the zero GUID and None map to None (unset)."""
    if value is None:
        return None
    if isinstance(value, bytes) and len(value) == 16:
        text = str(uuid.UUID(bytes=value))
    elif isinstance(value, str):
        try:
            text = str(uuid.UUID(value))
        except ValueError as exc:
            raise ValueProblem(f"not a GUID: {value!r}") from exc
    else:
        raise ValueProblem(f"not a GUID: {value!r}")
    return None if text == ZERO_GUID else text


def new_guid() -> str:
    return str(uuid.uuid4())


def looks_like_guid(value: str) -> bool:
    if len(value) < 32:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------- dates

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_from_date(value: date) -> int:
    return ms_from_datetime(datetime(value.year, value.month, value.day, tzinfo=UTC))


def datetime_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_from_ms(ms: int) -> str:
    return datetime_from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_date(value: Any) -> int | None:
    """``"/Date(ms)/"``, ``"/Date(ms+0100)/"`` (ms is UTC already), ISO 8601, or epoch ms as an int."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"not a date: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _MS_DATE.match(value.strip())
        if match:
            return int(match.group(1))
        text = value.strip()
        try:
            if len(text) == 10:
                return ms_from_date(date.fromisoformat(text))
            return ms_from_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError as exc:
            raise ValueProblem(f"not a date: {value!r}") from exc
    raise ValueProblem(f"not a date: {value!r}")


def date_json(ms: int | None) -> str:
    return "null" if ms is None else f'"/Date({ms})/"'


# --------------------------------------------------------------------------------------------- money

CENTS = 100


def parse_money(value: Any) -> int | None:
    """A JSON number (parsed as Decimal or int) to exact cents; more than 2 decimals is refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"not an amount: {value!r}")
    if isinstance(value, int):
        return value * CENTS
    if isinstance(value, float):  # only from in-process callers; JSON bodies are parsed to Decimal
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        try:
            scaled = value * CENTS
            if not scaled.is_finite() or scaled != scaled.to_integral_value():
                raise ValueProblem(f"amount {value} has more than 2 decimals")
            return int(scaled)
        except InvalidOperation as exc:
            raise ValueProblem(f"not an amount: {value!r}") from exc
    raise ValueProblem(f"not an amount: {value!r} (amounts are JSON numbers)")


def money_json(cents: int | None) -> str:
    if cents is None:
        return "null"
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), CENTS)
    return f"{sign}{whole}.{frac:02d}"


def money_decimal(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(money_json(cents))


# --------------------------------------------------------------------------------------------- schema

USER_TABLE = "_User"  # internal: the users behind CreatedBy/ModifiedBy (rid, Id)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    ref: str | None = None  # target OM of a "ref"
    code_field: str | None = None  # the friendly code property that mirrors a "ref" (e.g. GLAccountCode)
    system: bool = False  # Id, Version, Created, ...: never written by a client


@dataclass(frozen=True)
class Nested:
    name: str  # JSON property, e.g. "GLTransactions" or "Third"
    om: str  # nested OM
    many: bool  # list of children (by their parent ref) or one object (by our ref)
    via: str  # children: their ref to us (GLTransHeader_Id); single: our ref (Third_Id)


@dataclass(frozen=True)
class Entity:
    name: str
    namespace: str
    fields: tuple[Field, ...]
    nested: Nested | None = None
    indexes: tuple[str, ...] = ()
    by_name: dict[str, Field] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.columns})

    @property
    def type_name(self) -> str:
        return f"{self.namespace}{self.name}{ASSEMBLY}"

    @property
    def has_code(self) -> bool:
        return "Code" in self.by_name

    @property
    def columns(self) -> tuple[Field, ...]:
        """Storage and JSON order: Id, own fields, then the audit fields."""
        return (
            Field("Id", "guid", system=True),
            *self.fields,
            Field("Version", "int", system=True),
            Field("Created", "date", system=True),
            Field("CreatedBy", "ref", ref=USER_TABLE, system=True),
            Field("Modified", "date", system=True),
            Field("ModifiedBy", "ref", ref=USER_TABLE, system=True),
        )

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.columns]


def _ref(name: str, om: str, code_field: str | None = None) -> Field:
    return Field(name, "ref", ref=om, code_field=code_field)


_RELATION_FIELDS = (
    Field("Code", "str"),
    _ref("Third_Id", "Third"),
    _ref("Vat_Id", "Vat", "VatCode"),
    Field("VatCode", "str"),
    _ref("GLAccount_Id", "GLAccount"),
    _ref("GLAccount2_Id", "GLAccount"),
    Field("PayCodeCode", "str"),
    Field("IsLocked", "bool"),
    Field("Memo", "str"),
    Field("MemoType", "int"),  # 0 none, 1 green, 5 yellow, 9 red (WoW's Customer page)
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "BookYear",
            ACCOUNTING,
            (
                Field("Code", "str"),
                Field("Label", "str"),
                Field("StartDate", "date"),
                Field("EndDate", "date"),
                Field("IsClosed", "bool"),
            ),
        ),
        Entity(
            "BookPeriod",
            ACCOUNTING,
            (
                Field("Code", "str"),
                Field("Label", "str"),
                _ref("BookYear_Id", "BookYear"),
                Field("Number", "int"),
                Field("RelatedYear", "int"),
                Field("RelatedMonth", "int"),
                Field("StartDate", "date"),
                Field("EndDate", "date"),
            ),
        ),
        Entity(
            "Journal",
            ACCOUNTING,
            (
                Field("Code", "str"),
                Field("Label", "str"),
                Field("JournalType", "str"),
                _ref("GLAccount_Id", "GLAccount"),
            ),
        ),
        Entity(
            "GLAccount",
            ACCOUNTING,
            (
                Field("Code", "str"),
                Field("Label", "str"),
                Field("Label2", "str"),
                Field("CentralAccountTypeCode", "str"),
                Field("IsLocked", "bool"),
            ),
        ),
        Entity("Vat", ACCOUNTING, (Field("Code", "str"), Field("Label", "str"), Field("Rate", "money"))),
        Entity(
            "Third",
            COMMON,
            (
                Field("Code", "str"),
                Field("Name", "str"),
                Field("VatNumber", "str"),
                Field("VatCountryCode", "str"),
                Field("LanguageCode", "str"),
                Field("CurrencyCode", "str"),
                Field("WebSite", "str"),
            ),
        ),
        Entity("Customer", COMMON, _RELATION_FIELDS, nested=Nested("Third", "Third", False, "Third_Id")),
        Entity("Supplier", COMMON, _RELATION_FIELDS, nested=Nested("Third", "Third", False, "Third_Id")),
        Entity(
            "GLTransHeader",
            ACCOUNTING,
            (
                _ref("BookPeriod_Id", "BookPeriod"),
                _ref("Journal_Id", "Journal", "JournalCode"),
                Field("JournalCode", "str"),
                Field("DocNumber", "int"),
                Field("BookDate", "date"),
                Field("DueDate", "date"),
                Field("IsLocked", "bool"),
            ),
            nested=Nested("GLTransactions", "GLTrans", True, "GLTransHeader_Id"),
            indexes=("BookPeriod_Id",),
        ),
        Entity(
            "GLTrans",
            ACCOUNTING,
            (
                _ref("GLTransHeader_Id", "GLTransHeader"),
                _ref("BookPeriod_Id", "BookPeriod"),
                Field("LineOrder", "int"),
                _ref("GLAccount_Id", "GLAccount", "GLAccountCode"),
                Field("GLAccountCode", "str"),
                _ref("Customer_Id", "Customer", "CustomerCode"),
                Field("CustomerCode", "str"),
                _ref("Supplier_Id", "Supplier", "SupplierCode"),
                Field("SupplierCode", "str"),
                _ref("Vat_Id", "Vat", "VatCode"),
                Field("VatCode", "str"),
                Field("Amount", "money"),
                Field("VatBaseAmount", "money"),
                Field("VatTaxAmount", "money"),
                Field("CommentBooking", "str"),
                Field("ValueDate", "date"),
                Field("CurrencyCode", "str"),
            ),
            indexes=("BookPeriod_Id", "GLTransHeader_Id"),
        ),
    )
}

# Route names: singular OM and plural OMS (singular + "s"; GLTrans also answers as its own plural). VAT codes
# answer as Vat and as VatAccount, the class name WoW's Customer page and the PHP client give them.
SINGULAR: dict[str, str] = {name.lower(): name for name in ENTITIES}
PLURAL: dict[str, str] = {f"{name}s".lower(): name for name in ENTITIES}
PLURAL["gltrans"] = "GLTrans"
SINGULAR["vataccount"] = "Vat"
PLURAL["vataccounts"] = "Vat"
#: Other class names an OM's ``$type`` / ``EntityType`` may carry.
TYPE_ALIASES: dict[str, tuple[str, ...]] = {"Vat": ("VatAccount",)}


@dataclass(frozen=True)
class Nav:
    """A navigation property: ``name`` holds one ``om`` object (``via`` is our reference to it) or, when
    ``many``, the list of ``om`` objects whose ``via`` refers to us."""

    name: str
    om: str
    many: bool
    via: str


def _navigations(expand_references: bool) -> dict[str, tuple[Nav, ...]]:
    """Per OM, its navigation properties, in JSON order. WoW-like: every reference ``X_Id`` as ``X``, then
    the collections WoW's sources show (a GLTransHeader's lines; a VatAccount's lines, in the PHP client's
    maxLevel 3 test). Strict: only the nested objects the sandbox first had."""
    out: dict[str, tuple[Nav, ...]] = {}
    for e in ENTITIES.values():
        if not expand_references:
            if e.nested is not None:
                n = e.nested
                out[e.name] = (Nav(n.name, n.om, n.many, n.via),)
            continue
        navs = [
            Nav(f.name.removesuffix("_Id"), f.ref, False, f.name)
            for f in e.fields
            if f.kind == "ref" and f.ref in ENTITIES and f.name.endswith("_Id")
        ]
        navs += [Nav(name, om, True, via) for name, om, via in _COLLECTIONS.get(e.name, ())]
        if navs:
            out[e.name] = tuple(navs)
    return out


_COLLECTIONS = {
    "GLTransHeader": (("GLTransactions", "GLTrans", "GLTransHeader_Id"),),
    "Vat": (("GLTransactions", "GLTrans", "Vat_Id"),),
}
NAVIGATIONS: dict[bool, dict[str, tuple[Nav, ...]]] = {flag: _navigations(flag) for flag in (True, False)}
# Loading order for creates/snapshots (targets before the objects that refer to them).
LOAD_ORDER = (
    "BookYear",
    "BookPeriod",
    "GLAccount",
    "Journal",
    "Vat",
    "Third",
    "Customer",
    "Supplier",
    "GLTransHeader",
    "GLTrans",
)


# --------------------------------------------------------------------------------------------- conversion


def to_storage(f: Field, value: Any) -> Any:
    """A JSON value (floats parsed as Decimal) to its storage form; raises ValueProblem."""
    kind = f.kind
    if kind in ("guid", "ref"):
        try:
            return guid_text(value)
        except ValueProblem as exc:
            raise ValueProblem(f"{f.name}: {exc}") from exc
    if kind == "str":
        if value is None or isinstance(value, str):
            return value
        raise ValueProblem(f"{f.name}: expected a string, got {value!r}")
    if kind == "int":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValueProblem(f"{f.name}: expected an integer, got {value!r}")
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise ValueProblem(f"{f.name}: expected an integer, got {value!r}")
            return int(value)
        return value
    if kind == "bool":
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int) and value in (0, 1):
            return value
        raise ValueProblem(f"{f.name}: expected a boolean, got {value!r}")
    if kind == "date":
        try:
            return parse_date(value)
        except ValueProblem as exc:
            raise ValueProblem(f"{f.name}: {exc}") from exc
    if kind == "money":
        try:
            return parse_money(value)
        except ValueProblem as exc:
            raise ValueProblem(f"{f.name}: {exc}") from exc
    raise AssertionError(kind)


def _guid_json(value: str | None) -> str:
    return '"' + (value or ZERO_GUID) + '"'


def _str_json(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def _int_json(value: int | None) -> str:
    return "null" if value is None else str(value)


def _bool_json(value: int | None) -> str:
    return "null" if value is None else ("true" if value else "false")


WRITERS: dict[str, Callable[[Any], str]] = {
    "guid": _guid_json,
    "ref": _guid_json,
    "str": _str_json,
    "int": _int_json,
    "bool": _bool_json,
    "date": date_json,
    "money": money_json,
}


_INLINE: dict[str, str] = {
    # f-string fields per kind (``@`` is the value); compiled once per entity by ObjectWriter
    "guid": '"{@ or Z}"',
    "ref": '"{@ or Z}"',
    "str": '{"null" if @ is None else S(@)}',
    "int": '{"null" if @ is None else @}',
    "bool": '{"null" if @ is None else ("true" if @ else "false")}',
    "date": "{D(@)}",
    "money": "{M(@)}",
}


class ObjectWriter:
    """Turns a storage row (columns in ``Entity.columns`` order) into the object's JSON text. The writer
    is one generated function per entity (an f-string), which keeps a 100-object chunk at a few ms."""

    def __init__(self, entity: Entity, type_name: str | None = None) -> None:
        self.entity = entity
        names = [f"v{i}" for i in range(len(entity.columns))]
        pieces = ['{{"$type":' + _encode_str(type_name or entity.type_name)]
        for name, f in zip(names, entity.columns, strict=True):
            pieces.append("," + _encode_str(f.name) + ":" + _INLINE[f.kind].replace("@", name))
        source = f"def body(row):\n    {', '.join(names)}, = row\n    return f'''{''.join(pieces)}'''\n"
        scope: dict[str, Any] = {"Z": ZERO_GUID, "S": _encode_str, "D": date_json, "M": money_json}
        exec(compile(source, f"<sandbox writer {entity.name}>", "exec"), scope)  # noqa: S102 - fixed schema
        self.body: Callable[[Iterable[Any]], str] = scope["body"]
        self.source = source

    def json(self, row: Iterable[Any]) -> str:
        return self.body(row) + "}"


WRITER: dict[str, ObjectWriter] = {name: ObjectWriter(e) for name, e in ENTITIES.items()}
#: The writers per VAT class name (``Behaviour.vat_type``).
WRITERS_FOR_VAT_TYPE: dict[str, dict[str, ObjectWriter]] = {
    "Vat": WRITER,
    "VatAccount": {
        **WRITER,
        "Vat": ObjectWriter(ENTITIES["Vat"], f"{ACCOUNTING}VatAccount{ASSEMBLY}"),
    },
}


# --------------------------------------------------------------------------------------------- JSON helpers


class Raw(str):
    """Text that is already JSON; ``dumps`` embeds it as is."""

    __slots__ = ()


def dumps(value: Any) -> str:
    """JSON with exact decimals (Decimal written with its own digits, never through float)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = str(value)
        if "E" in text or "e" in text:
            text = format(value, "f")
        return text
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(_encode_str(str(k)) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


# --------------------------------------------------------------------------------------------- lenient input

_LENIENT_NESTED = {
    "Customer": ("Third", "Third"),
    "Supplier": ("Third", "Third"),
    "GLTransHeader": ("GLTransactions", "GLTrans"),
}
_INTEGER_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_NUMBER_TEXT = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")


def lenient_input(entity: Entity, data: dict[str, Any]) -> dict[str, Any]:
    """A body as WoW's .NET JSON reader would take it (``Behaviour.lenient_input``): property names in any
    case, unknown properties (and navigation objects read at a higher ``maxLevel``) dropped, a number where
    a string is expected written as text, an integer, amount or boolean given as text converted. Anything
    still wrong is left for the strict checks to refuse with 400."""
    names = {f.name.lower(): f for f in entity.columns}
    nested_name, nested_om = _LENIENT_NESTED.get(entity.name, (None, None))
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if nested_name is not None and nested_om is not None and key.lower() == nested_name.lower():
            target = ENTITIES[nested_om]
            if isinstance(value, dict):
                value = lenient_input(target, value)
            elif isinstance(value, list):
                value = [lenient_input(target, v) if isinstance(v, dict) else v for v in value]
            out[nested_name] = value
            continue
        f = names.get(key.lower())
        if f is None:
            continue
        out[f.name] = _lenient_value(f, value)
    return out


def _lenient_value(f: Field, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if f.kind == "str" and isinstance(value, int | Decimal):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, str):
        if f.kind == "int" and _INTEGER_TEXT.match(value):
            return int(value)
        if f.kind == "money" and _NUMBER_TEXT.match(value):
            return Decimal(value.strip())
        if f.kind == "bool" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    return value
