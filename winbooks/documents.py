"""Documents (``GLTransHeader`` with its ``GLTransactions``) decoded straight from the response bodies.

Why: documents are nearly all of what a sync reads (a large company: 480 MB of JSON). Parsing that into
dicts, reading every field of every dict into a record and converting the record cost the worker more CPU
than anything else it does (profiled: 25 µs per line; this way 14). msgspec decodes the bytes against a
typed schema in C: types are checked, unknown keys skipped, amounts read exactly as ``Decimal``, and no
dict is built.

The contract: ``decode_documents`` answers the documents of the merged chunks as ``WireDocument`` objects,
or ``None``, and then the caller parses the chunks the usual way. The schema is made from the records' own
``_FIELDS`` tables, and each kind is declared at least as strictly as ``_read_plain`` (records.py) takes
it: whatever it would not take plainly (a number as a string, a GUID in braces, a date that does not parse,
an object without ``Id`` ...) makes the whole answer go the usual way. The sync's reader turns a
``WireDocument`` into exactly the rows it makes of the record ``GLTransHeader.from_json`` reads from the
same JSON (tests/syncs/test_typed_documents.py holds the two paths to that, field by field).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from .dates import parse_date_text
from .records import (
    BOOLEAN,
    GUID,
    INTEGER,
    LINES,
    MOMENT,
    NUMBER,
    REQUIRED_NUMBER,
    TEXT,
    ZERO_GUID,
    GLTrans,
    GLTransHeader,
    Record,
)

# A GUID is taken plainly only as its 36 characters (records.py, _read_plain). A line's own Id is decoded as
# a UUID, which msgspec checks and makes in C (canonical or 32 hex digits, either case: what uuid.UUID makes
# of them too; anything else declines the answer). References repeat on every line: they are decoded as
# text and replaced by a UUID from a cache (``_REFERENCES``). A document's own Id stays text: it is the
# keyset cursor, sent back to WoW as WoW wrote it.
_Guid = Annotated[str, msgspec.Meta(min_length=36, max_length=36)]
_KIND_TYPES: dict[str, Any] = {
    TEXT: str | None,
    GUID: _Guid | None,
    INTEGER: int | None,  # msgspec refuses booleans and 1.0 for an int, as _read_plain does
    BOOLEAN: bool | None,
    NUMBER: Decimal | None,  # exact from the JSON text; non-finite values are refused below
    REQUIRED_NUMBER: Decimal,
    MOMENT: str | None,
}
_UUIDS = {GLTrans: {"id"}, GLTransHeader: set()}
_REFERENCES = {
    GLTrans: ("book_period_id", "gl_account_id", "customer_id", "supplier_id"),
    GLTransHeader: ("journal_id", "book_period_id"),
}
_WIRE_TYPE = "wire_type"  # "$type": halves of a split object must agree on it (pagination.same_object)
# The zero GUID is no reference (a record reads it as None); anything uuid.UUID refuses declines the answer.
_reference = functools.lru_cache(maxsize=1 << 16)(lambda text: None if text == ZERO_GUID else uuid.UUID(text))
_CANONICAL_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ZERO_UUID = uuid.UUID(int=0)


class _NotPlain(Exception):
    """A value ``_read_plain`` would not take as it is: the answer is read the careful way instead."""


def _schema(cls: type[Record], lines: Any = None) -> tuple[type[msgspec.Struct], tuple[tuple[str, ...], ...]]:
    """A msgspec struct for ``cls``'s JSON object, and the fields to check: (moments, numbers, references)."""
    table = {**Record._FIELDS, **cls._FIELDS}
    fields: list[tuple[str, Any, Any]] = [(_WIRE_TYPE, str | None, None)]
    rename = {_WIRE_TYPE: "$type"}
    moments, numbers = [], []
    for attr, (kind, name, *alternates) in table.items():
        if alternates:
            raise TypeError(f"{cls.__name__}.{attr}: alternate names are not decoded typed")
        rename[attr] = name
        if kind == LINES:
            fields.append((attr, list[lines] | None, None))
        elif kind == GUID and attr in _UUIDS[cls]:
            fields.append((attr, uuid.UUID | None, None))
        elif kind == REQUIRED_NUMBER:
            fields.append((attr, _KIND_TYPES[kind], msgspec.NODEFAULT))
        else:
            fields.append((attr, _KIND_TYPES[kind], None))
        if kind == MOMENT:
            moments.append(attr)
        elif kind in (NUMBER, REQUIRED_NUMBER):
            numbers.append(attr)
    struct = msgspec.defstruct(
        f"Wire{cls.__name__}", fields, rename=rename, kw_only=True, gc=False, omit_defaults=False
    )
    return struct, (tuple(moments), tuple(numbers), _REFERENCES[cls])


WireLine, _LINE_KINDS = _schema(GLTrans)
WireDocument, _DOCUMENT_KINDS = _schema(GLTransHeader, WireLine)
_DECODE_CHUNK = msgspec.json.Decoder(list[WireDocument]).decode  # type: ignore[valid-type]


def decode_documents(contents: Iterable[bytes]) -> list[Any] | None:
    """The documents of one answer's chunks (ContinuePath bodies, in order), split documents merged, as
    ``WireDocument``s; ``None`` when any part is not plainly of the expected shape (module docstring).

    A ``WireDocument`` (and its ``lines``, ``WireLine``s) has its record's attribute names, and the values
    as sent except: references (``_REFERENCES``) are ``uuid.UUID`` or None (for the zero GUID, as in a
    record), a line's ``id`` is a ``uuid.UUID`` (never the zero one), a document's ``id`` is a canonical
    GUID, and dates are their JSON text, known to parse. ``contents`` may be a generator: each body is
    decoded as it comes, and the rest is not asked for once one is declined.
    """
    documents: list[Any] = []
    try:
        for content in contents:
            chunk = _DECODE_CHUNK(content)
            if documents and chunk and _same_object(documents[-1], chunk[0]):
                documents[-1] = _merge(documents[-1], chunk[0])
                documents.extend(chunk[1:])
            else:
                documents.extend(chunk)
        for document in documents:
            _check(document, _DOCUMENT_KINDS)
            if not _CANONICAL_GUID.fullmatch(document.id):
                raise _NotPlain
            for line in document.lines or ():
                _check_line(line)
    except (msgspec.MsgspecError, _NotPlain, ValueError, OverflowError):
        return None
    return documents


def _identity(wire: Any) -> Any:
    """pagination._identity, for an object decoded typed: one without a real ``Id`` is not plain."""
    ident = wire.id
    if ident is None or ident in (ZERO_GUID, _ZERO_UUID):
        raise _NotPlain
    return ident


def _same_object(first: Any, second: Any) -> bool:
    """pagination.same_object for two decoded objects."""
    if first.wire_type is not None and second.wire_type is not None and first.wire_type != second.wire_type:
        return False
    return bool(_identity(first) == _identity(second))


def _merge(first: Any, second: Any) -> Any:
    """pagination.deep_merge for two halves of one decoded object: a field from the first half unless it
    is null there, lists concatenated (a line split at the boundary merged too)."""
    merged = msgspec.structs.replace(first)
    for name in first.__struct_fields__:
        current, value = getattr(first, name), getattr(second, name)
        if current is None:
            setattr(merged, name, value)
        elif isinstance(current, list) and isinstance(value, list):
            if current and value and _same_object(current[-1], value[0]):
                value = [_merge(current[-1], value[0]), *value[1:]]
                current = current[:-1]
            setattr(merged, name, [*current, *value])
    return merged


def _check(wire: Any, kinds: tuple[tuple[str, ...], ...]) -> None:
    """What ``_read_plain`` checks beyond the types msgspec checked (dates that parse, finite numbers), an
    ``Id`` of its own, and references that read as GUIDs (replaced by them): the reader's conversion of
    what passes cannot fail."""
    _identity(wire)
    moments, numbers, references = kinds
    for attr in references:
        text = getattr(wire, attr)
        if text is not None:
            setattr(wire, attr, _reference(text))  # ValueError: not a GUID
    for attr in moments:
        text = getattr(wire, attr)
        if text is not None:
            parse_date_text(
                text
            )  # ValueError / OverflowError: not plain; cached, so the reader's parse is free
    for attr in numbers:
        number = getattr(wire, attr)
        if number is not None and not number.is_finite():
            raise _NotPlain


# _check for a line, written out: it runs for every line of a first sync (half the cost of the loop above).
_LINE_CHECKED = (
    ("created", "modified", "value_date"),
    ("amount", "vat_base_amount", "vat_tax_amount"),
    ("book_period_id", "gl_account_id", "customer_id", "supplier_id"),
)
if _LINE_KINDS != _LINE_CHECKED:  # the record's field table changed: _check_line must follow it
    raise TypeError(f"winbooks.documents._check_line checks {_LINE_CHECKED}, GLTrans has {_LINE_KINDS}")


def _check_line(line: Any, parse: Any = parse_date_text, reference: Any = _reference) -> None:
    ident = line.id
    if ident is None or not ident.int:
        raise _NotPlain
    for text in (line.created, line.modified, line.value_date):
        if text is not None:
            parse(text)
    if not line.amount.is_finite():
        raise _NotPlain
    for number in (line.vat_base_amount, line.vat_tax_amount):
        if number is not None and not number.is_finite():
            raise _NotPlain
    if line.book_period_id is not None:
        line.book_period_id = reference(line.book_period_id)
    if line.gl_account_id is not None:
        line.gl_account_id = reference(line.gl_account_id)
    if line.customer_id is not None:
        line.customer_id = reference(line.customer_id)
    if line.supplier_id is not None:
        line.supplier_id = reference(line.supplier_id)
