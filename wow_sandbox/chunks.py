"""List answers cut into chunks (ContinuePath): items kept as JSON text, a GLTransHeader's lines kept apart
so a chunk boundary can split it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CHUNK_SIZE = 100


class Split:
    """A GLTransHeader with its lines kept apart, so a chunk boundary can cut it (``head`` ends in
    ``"GLTransactions":[``)."""

    __slots__ = ("head", "lines", "remainder")

    def __init__(self, head: str, lines: list[str], remainder: bool = False) -> None:
        self.head = head
        self.lines = lines
        self.remainder = remainder

    def json(self) -> str:
        return self.head + ",".join(self.lines) + "]}"


Item = str | Split


def item_json(item: Item) -> str:
    return item if isinstance(item, str) else item.json()


def build_chunks(items: Sequence[Item], size: int, split: bool) -> list[bytes]:
    """Cut a list answer into chunks of ``size`` top-level items; with ``split`` the last header of a chunk
    gives the first part of its lines to this chunk and the rest to the next one."""
    if len(items) <= size:
        return [("[" + ",".join(item_json(i) for i in items) + "]").encode()]
    chunks: list[bytes] = []
    carry: Item | None = None
    i = 0
    n = len(items)
    while i < n or carry is not None:
        part: list[Item] = []
        if carry is not None:
            part.append(carry)
            carry = None
        take = size - len(part)
        part.extend(items[i : i + take])
        i += take
        more = i < n
        last = part[-1]
        if more and split and isinstance(last, Split) and not last.remainder and len(last.lines) > 1:
            cut = len(last.lines) // 2
            part[-1] = Split(last.head, last.lines[:cut])
            carry = Split(last.head, last.lines[cut:], remainder=True)
        chunks.append(("[" + ",".join(item_json(x) for x in part) + "]").encode())
    return chunks


@dataclass
class Continuation:
    fingerprint: str
    chunks: list[bytes | None]
    tokens: list[str]
    expires_ms: int
