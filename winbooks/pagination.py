"""ContinuePath chunk merging, offset pages and keyset pages.

Reference: docs/winbooks-api.md, "Chunking (ContinuePath)" and "How the engine reads".

Pure functions: the HTTP side is in ``winbooks.client``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .dates import parse_date
from .exceptions import WinbooksBadPayload
from .query import Condition, Query, and_, eq, ge, gt, or_
from .records import ZERO_GUID

__all__ = [
    "Page",
    "after_key",
    "decoded_key",
    "deep_merge",
    "keyset_query",
    "merge_chunks",
    "record_key",
    "same_object",
]

Key = tuple[datetime, str]


@dataclass(frozen=True)
class Page:
    """One keyset page: its records (in server order) and the key ``(Modified, Id)`` of its last record,
    to pass as ``after`` to resume after this page."""

    records: list[Any]  # parsed dicts, or the objects a ``decode`` made of the answer (iter_changed)
    last_key: Key
    decoded: bool = False  # whether ``records`` are a decoder's objects


def _identity(item: Mapping[str, Any]) -> tuple[str, Any] | None:
    ident = item.get("Id")
    if isinstance(ident, str) and ident and ident.strip("{}") != ZERO_GUID:
        return ("Id", ident)
    code = item.get("Code")
    if code is not None and code != "":
        return ("Code", code)
    return None


def same_object(first: Any, second: Any) -> bool:
    """Whether two items are halves of one object split by a chunk boundary: same ``Id``, or without an
    ``Id`` the same ``Code`` (and the same ``$type`` when both carry one)."""
    if not isinstance(first, Mapping) or not isinstance(second, Mapping):
        return False
    if "$type" in first and "$type" in second and first["$type"] != second["$type"]:
        return False
    key = _identity(first)
    return key is not None and key == _identity(second)


def deep_merge(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two halves of one object: lists concatenated (a nested object split at the boundary merged
    too), nested objects merged, other fields taken from whichever half has them (the first when both)."""
    merged: dict[str, Any] = dict(first)
    for key, value in second.items():
        if key not in merged or merged[key] is None:
            merged[key] = value
            continue
        current = merged[key]
        if value is None:
            continue
        if isinstance(current, list) and isinstance(value, list):
            merged[key] = _concat(current, value)
        elif isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
    return merged


def _concat(first: list[Any], second: list[Any]) -> list[Any]:
    if first and second and same_object(first[-1], second[0]):
        return [*first[:-1], deep_merge(first[-1], second[0]), *second[1:]]
    return [*first, *second]


def merge_chunks(chunks: Iterable[list[Any]]) -> Iterator[Any]:
    """The items of consecutive list chunks, lazily, with an object split across a boundary merged.

    The last item of a chunk is held back until the next chunk shows whether it continues.
    """
    pending: list[Any] = []  # zero or one held-back item
    for chunk in chunks:
        if not chunk:
            continue
        items = iter(chunk)
        first = chunk[0]
        if pending and same_object(pending[0], first):
            pending[0] = deep_merge(pending[0], first)
            next(items)
            if len(chunk) == 1:
                continue
        rest = list(items)
        if not rest:
            continue
        yield from pending
        yield from rest[:-1]
        pending = [rest[-1]]
    yield from pending


def record_key(record: Any) -> Key:
    """``(Modified, Id)`` of a record, for keyset paging."""
    if not isinstance(record, Mapping):
        raise WinbooksBadPayload("keyset page: a row is not a JSON object")
    try:
        modified = parse_date(record.get("Modified"))
    except ValueError:
        modified = None
    ident = record.get("Id")
    if modified is None or not isinstance(ident, str) or not ident:
        raise WinbooksBadPayload("keyset page: a row has no Modified or no Id")
    return (modified, ident)


def decoded_key(record: Any) -> Key:
    """``record_key`` of an object decoded typed (``id`` and ``modified`` as sent)."""
    try:
        modified = parse_date(record.modified)
    except ValueError:
        modified = None
    ident = record.id
    if modified is None or not isinstance(ident, str) or not ident:
        raise WinbooksBadPayload("keyset page: a row has no Modified or no Id")
    return (modified, ident)


def after_key(key: Key) -> Condition:
    """Strictly after the key ``(m, id)`` in ``(Modified, Id)`` order: ``(Modified > m) OR (Modified = m AND
    Id > id)``."""
    modified, ident = key
    return or_(gt("Modified", modified), and_(eq("Modified", modified), gt("Id", ident)))


def keyset_query(
    om: str,
    *,
    since: datetime | None,
    after: Key | None,
    page_size: int,
    max_level: int = 1,
    conditions: Sequence[Condition] = (),
) -> Query:
    """The query for one keyset page: ``Modified >= since`` on the first page (nothing without ``since``),
    ``(Modified > m) OR (Modified = m AND Id > id)`` after the key ``(m, id)``; orders Modified, Id
    ascending; ``FirstResult`` 0, ``MaxResult`` ``page_size``. Extra ``conditions`` come first, AND-ed."""
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    query = Query(om, conditions=tuple(conditions), max_level=max_level).order_by("Modified", "Id")
    query = query.paged(0, page_size)
    if after is not None:
        return query.where(after_key(after))
    if since is not None:
        return query.where(ge("Modified", since))
    return query
