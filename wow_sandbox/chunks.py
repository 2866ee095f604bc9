"""Answers cut into chunks (ContinuePath).

An answer's objects are kept as JSON text (``str``, an object with nothing expanded) or as a ``Node`` (an
object whose navigation properties hold other objects), so that a chunk boundary can cut an object without
parsing anything. Two ways to cut (``Behaviour.count_nested``):

- ``chunk_items`` (strict): ``size`` top-level items a chunk; the last GLTransHeader of a chunk gives the
  first half of its lines to this chunk and the rest to the next one.
- ``chunk_objects`` (WoW-like): every JSON object counts toward ``size``, nested ones included, and an
  object that does not fit is cut at the first nested object that does not: this chunk ends with its first
  part, the next one starts with the same object (same head: ``$type``, ``Id`` and fields) carrying the
  rest. ``chunk_object`` does the same to a single object (GET one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

CHUNK_SIZE = 100

Value = Union["Item", list["Item"], None]


class Node:
    """An object: ``head`` is its JSON text without the closing brace, ``props`` its navigation properties
    in order (an object, a list of objects, or None for null). ``remainder`` marks the second part of an
    object already cut (strict chunking cuts an object once)."""

    __slots__ = ("count", "head", "props", "remainder")
    count: int

    def __init__(self, head: str, props: list[tuple[str, Value]], remainder: bool = False) -> None:
        self.head = head
        self.props = props
        self.remainder = remainder
        n = 1
        for _, value in props:
            if value is None:
                continue
            if isinstance(value, list):
                for child in value:
                    n += child.count if isinstance(child, Node) else 1
            else:
                n += value.count if isinstance(value, Node) else 1
        self.count = n


Item = str | Node


def count(item: Item) -> int:
    """JSON objects in ``item``, itself included."""
    return 1 if isinstance(item, str) else item.count


def item_json(item: Item) -> str:
    if isinstance(item, str):
        return item
    parts = [item.head]
    for name, value in item.props:
        parts.append(',"' + name + '":')
        if value is None:
            parts.append("null")
        elif isinstance(value, list):
            parts.append("[" + ",".join(item_json(x) for x in value) + "]")
        else:
            parts.append(item_json(value))
    parts.append("}")
    return "".join(parts)


def _list_json(items: Sequence[Item]) -> bytes:
    return ("[" + ",".join(item_json(i) for i in items) + "]").encode()


def chunk_items(items: Sequence[Item], size: int, split: bool) -> list[bytes]:
    """Strict: ``size`` top-level items a chunk; with ``split`` the last object of a chunk whose last
    property is a list of more than one object (a GLTransHeader's lines) gives the first half of that list
    to this chunk and the rest to the next one."""
    if len(items) <= size:
        return [_list_json(items)]
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
        last = part[-1]
        if i < n and split and isinstance(last, Node) and not last.remainder and last.props:
            name, lines = last.props[-1]
            if isinstance(lines, list) and len(lines) > 1:
                cut = len(lines) // 2
                part[-1] = Node(last.head, [*last.props[:-1], (name, lines[:cut])])
                carry = Node(last.head, [(name, lines[cut:])], remainder=True)
        chunks.append(_list_json(part))
    return chunks


def split_node(node: Node, room: int) -> tuple[Node, Node]:
    """Cut ``node`` (more than ``room`` objects, ``room`` >= 2) into a first part of at most ``room``
    objects and the rest. Both parts carry the head; the rest carries only the properties from the one that
    was cut onwards, so merging the parts (lists concatenated, an object cut inside a list merged with its
    other part) gives the object back."""
    used = 1
    first: list[tuple[str, Value]] = []
    for index, (name, value) in enumerate(node.props):
        if value is None:
            first.append((name, None))
            continue
        if isinstance(value, list):
            taken: list[Item] = []
            for j, child in enumerate(value):
                size = count(child)
                if size <= room - used:
                    taken.append(child)
                    used += size
                    continue
                if isinstance(child, Node) and room - used >= 2:
                    child_first, child_rest = split_node(child, room - used)
                    taken.append(child_first)
                    rest: list[Item] = [child_rest, *value[j + 1 :]]
                else:
                    rest = list(value[j:])
                first.append((name, taken))
                return Node(node.head, first), Node(node.head, [(name, rest), *node.props[index + 1 :]])
            first.append((name, taken))
            continue
        size = count(value)
        if size <= room - used:
            first.append((name, value))
            used += size
            continue
        if isinstance(value, Node) and room - used >= 2:
            child_first, child_rest = split_node(value, room - used)
            first.append((name, child_first))
            return Node(node.head, first), Node(node.head, [(name, child_rest), *node.props[index + 1 :]])
        return Node(node.head, first), Node(node.head, node.props[index:])
    raise ValueError("split_node: the object fits in the room")  # callers only cut what does not fit


def chunk_objects(items: Sequence[Item], size: int) -> list[bytes]:
    """WoW-like: at most ``size`` JSON objects a chunk (nested ones counted); an object that does not fit
    is cut (``split_node``) when at least two objects' room is left, otherwise it starts the next chunk. An
    object that cannot be cut small enough (nesting deeper than ``size``) is sent whole in a chunk of its
    own rather than never."""
    size = max(2, size)
    chunks: list[bytes] = []
    part: list[Item] = []
    room = size
    pending: list[Item] = list(reversed(items))
    while pending:
        item = pending.pop()
        n = count(item)
        if n <= room:
            part.append(item)
            room -= n
            continue
        if isinstance(item, Node) and room >= 2:
            first, rest = split_node(item, room)
            if first.count > 1 or part:
                part.append(first)
                pending.append(rest)
            else:  # not even one nested object fits an empty chunk: send it whole
                part.append(item)
        elif not part:
            part.append(item)
        else:
            pending.append(item)
        chunks.append(_list_json(part))
        part, room = [], size
    if part or not chunks:
        chunks.append(_list_json(part))
    return chunks


def chunk_object(item: Item, size: int) -> list[bytes]:
    """WoW-like GET one: the object in parts of at most ``size`` objects, each a JSON object (the same
    head) carrying the next part of its nested lists."""
    size = max(2, size)
    chunks: list[bytes] = []
    while isinstance(item, Node) and item.count > size:
        first, rest = split_node(item, size)
        if first.count == 1:
            break
        chunks.append(item_json(first).encode())
        item = rest
    chunks.append(item_json(item).encode())
    return chunks


@dataclass
class Continuation:
    fingerprint: str
    chunks: list[bytes | None]
    tokens: list[str]
    expires_ms: int
