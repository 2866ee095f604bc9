"""URL converters."""

from __future__ import annotations


class IdConverter:
    """A database id in a URL: at most 18 digits, so an id too large for a bigint column is a 404 (no such
    page) rather than a database error and a 500."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
