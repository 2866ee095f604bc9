"""Wire formats: Microsoft JSON dates and Decimal-exact JSON.

Reference: docs/winbooks-api.md, "Records" (dates, amounts) and "ExecuteCriteria" (date values).

- ``"/Date(1520491871000)/"`` is epoch milliseconds, UTC. ``"/Date(1520491871000+0100)/"`` carries the same
  instant (the milliseconds are UTC; the offset only tells the writer's zone). ISO 8601 is read too; an ISO
  value without an offset is taken as UTC. Every parsed value is an aware datetime in UTC.
- JSON is read with ``parse_float=Decimal`` (integers stay ``int``) and written with Decimals as exact JSON
  numbers, so no amount ever passes through a float.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import msgspec

__all__ = ["EPOCH", "dumps", "format_date", "loads", "parse_date", "parse_date_text"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_MS_DATE = re.compile(r"^\\?/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)\\?/$")


def parse_date(value: Any) -> datetime | None:
    """An aware UTC datetime from a Microsoft JSON date, an ISO 8601 string or a datetime; ``None`` for
    ``None`` or ``""``. Raises ``ValueError`` for anything else."""
    if value.__class__ is str:
        return parse_date_text(value)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    return _parse_str(value)


def _parse_str(value: str) -> datetime | None:
    if value == "":
        return None
    # The usual "/Date(ms)/" without the regex: the same value when ms is ASCII digits with an optional minus
    # sign; anything else (an offset, a backslash, spaces) takes the regex below.
    if value.startswith("/Date(") and value.endswith(")/"):
        ms = value[6:-2]
        digits = ms[1:] if ms.startswith("-") else ms
        if digits.isdecimal() and digits.isascii():
            return EPOCH + timedelta(0, 0, 0, int(ms))  # (days, seconds, microseconds, milliseconds)
    text = value.strip()
    match = _MS_DATE.match(text)
    if match:
        return EPOCH + timedelta(milliseconds=int(match["ms"]))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None
    return _as_utc(parsed)


# ``parse_date`` of a str, cached: the lines of a document repeat its header's Created/Modified (and often its
# BookDate), so most values were parsed a moment ago; a datetime is immutable, so handing out the same one
# again is safe. The fast paths (records, typed documents, the sync's conversion) call it directly.
parse_date_text = functools.lru_cache(maxsize=4096)(_parse_str)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_date(value: datetime | date) -> str:
    """``"/Date(ms)/"`` for an aware datetime (a ``date`` is midnight UTC). A naive datetime is refused:
    the client cannot guess its zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: give a timezone-aware datetime")
        moment = value
    else:
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({(moment - EPOCH) // _ONE_MS})/"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON number {name}")


# msgspec parses twice as fast as json (in C, the Decimal made from each number's own text, as
# parse_float=Decimal does). What it refuses (a byte order mark, a lone surrogate escape, invalid JSON) json
# parses as it always did: the same value, or the same error.
_DECODE = msgspec.json.Decoder(float_hook=Decimal).decode


def loads(data: bytes | str) -> Any:
    """Parse JSON with floats as ``Decimal`` (integers stay ``int``); ``NaN``/``Infinity`` are refused.
    Raises ``ValueError`` on invalid JSON."""
    try:
        return _DECODE(data)
    except (msgspec.MsgspecError, ValueError):
        return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: Any) -> str:
    """Compact JSON with ``Decimal`` written as an exact number, datetimes as ``"/Date(ms)/"``, UUIDs as
    strings."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} as a JSON number")
        out.append(str(value))
    elif isinstance(value, int):
        out.append(int.__repr__(int(value)))
    elif isinstance(value, float):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, datetime | date):
        out.append(json.dumps(format_date(value)))
    elif isinstance(value, UUID):
        out.append(json.dumps(str(value)))
    elif isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")
