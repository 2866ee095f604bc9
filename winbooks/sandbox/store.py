"""In-memory state of the sandbox: folders (one in-memory sqlite database each), users and their folder
grants, tokens, the sandbox clock, the licence flag, faults, statistics and ContinuePath snapshots.

Every public method of ``Store`` takes ``Store.lock`` (one re-entrant lock for everything); a ``Folder`` is
only touched under that lock.
"""

# ruff: noqa: S608 - SQL text is built only from the fixed schema (model.ENTITIES); values are bound parameters

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .criteria import Compiled, CriteriaError, compile_criteria, quote, select_list
from .model import (
    ENTITIES,
    LOAD_ORDER,
    USER_TABLE,
    WRITER,
    ZERO_GUID,
    Entity,
    Field,
    Raw,
    ValueProblem,
    guid_text,
    iso_from_ms,
    looks_like_guid,
    money_decimal,
    new_guid,
    parse_date,
    to_storage,
)

CHUNK_SIZE = 100
ACCESS_TTL_S = 900
EXCHANGE_TTL_S = 15 * 60
EXCHANGE_TRUSTED_TTL_S = 24 * 3600
CONTINUATION_TTL_S = 600
MAX_CONTINUATIONS = 2000
CONTINUATION_BUDGET = 128 * 1024 * 1024  # bytes of chunks kept for ContinuePaths; the oldest go first
SYSTEM_USER = "5a4d0b0c-0000-4000-8000-000000000001"  # CreatedBy/ModifiedBy of seeded and generated data
_IGNORED_INPUT = {
    "$type",
    "TotalLevel",
    "Folder_Id",
    "Version",
    "Created",
    "CreatedBy",
    "Modified",
    "ModifiedBy",
}


class ApiError(Exception):
    """An answer other than success: status, JSON body and extra headers."""

    def __init__(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"Message": message})


def user_guid(email: str) -> str:
    """The stable GUID of a user (CreatedBy/ModifiedBy of its writes)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mailto:" + email.strip().lower()))


# --------------------------------------------------------------------------------------------- clock


class Clock:
    """The sandbox clock: real time plus an offset, or frozen at a value (epoch ms, UTC)."""

    def __init__(self) -> None:
        self.offset_ms = 0
        self.frozen_ms: int | None = None

    def now_ms(self) -> int:
        if self.frozen_ms is not None:
            return self.frozen_ms
        return time.time_ns() // 1_000_000 + self.offset_ms

    def advance(self, seconds: float) -> None:
        delta = round(seconds * 1000)
        if self.frozen_ms is not None:
            self.frozen_ms += delta
        else:
            self.offset_ms += delta

    def set(self, now_ms: int, frozen: bool | None = None) -> None:
        freeze = self.frozen_ms is not None if frozen is None else frozen
        if freeze:
            self.frozen_ms = now_ms
        else:
            self.frozen_ms = None
            self.offset_ms = now_ms - time.time_ns() // 1_000_000

    def describe(self) -> dict[str, Any]:
        now = self.now_ms()
        return {"now": iso_from_ms(now), "now_ms": now, "frozen": self.frozen_ms is not None}


# --------------------------------------------------------------------------------------------- list items


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


# --------------------------------------------------------------------------------------------- folder


def _reverse_refs() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for e in ENTITIES.values():
        for f in e.fields:
            if f.kind == "ref" and f.ref:
                out.setdefault(f.ref, []).append((e.name, f.name))
    return out


REFERRERS = _reverse_refs()
SYSTEM_USER_RID = 1


class Folder:
    """One WoW company (dossier): a private in-memory sqlite database, one table per OM.

    Rows read through ``select`` are ``(rid, *values)`` with values in API form (GUID text for ``Id`` and
    references, ints for dates and cents); writes convert references to the target rows' rids."""

    def __init__(
        self, code: str, name: str, kind: str = "empty", params: dict[str, Any] | None = None
    ) -> None:
        self.code = code
        self.name = name
        self.kind = kind
        self.params = dict(params or {})
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.db.execute("PRAGMA cache_size=-1000000")  # an upper bound (KiB), not an allocation
        self._indexed = False
        self.db.execute(
            f"CREATE TABLE {quote(USER_TABLE)} (rid INTEGER PRIMARY KEY, Id TEXT NOT NULL UNIQUE)"
        )
        self.db.execute(
            f"INSERT INTO {quote(USER_TABLE)} (rid, Id) VALUES (?, ?)", [SYSTEM_USER_RID, SYSTEM_USER]
        )
        self._users: dict[str, int] = {SYSTEM_USER: SYSTEM_USER_RID}
        self._select_sql: dict[str, str] = {}
        for e in ENTITIES.values():
            cols = ", ".join(f"{quote(f.name)} {self._sql_type(f)}" for f in e.columns)
            self.db.execute(f"CREATE TABLE {quote(e.name)} (rid INTEGER PRIMARY KEY, {cols})")
            self._select_sql[e.name] = f"SELECT o.rid, {select_list(e)} FROM {quote(e.name)} AS o"

    @staticmethod
    def _sql_type(f: Field) -> str:
        return {"guid": "TEXT", "str": "TEXT"}.get(f.kind, "INTEGER")

    def ready(self) -> Folder:
        """Create the indexes (after a bulk load: cheaper than maintaining them row by row)."""
        if self._indexed:
            return self
        for e in ENTITIES.values():
            t = quote(e.name)
            self.db.execute(f"CREATE UNIQUE INDEX {quote(e.name + '_Id')} ON {t} (Id)")
            self.db.execute(f"CREATE INDEX {quote(e.name + '_Modified')} ON {t} (Modified, Id)")
            if e.has_code:
                self.db.execute(f"CREATE INDEX {quote(e.name + '_Code')} ON {t} (Code)")
            for col in e.indexes:
                self.db.execute(f"CREATE INDEX {quote(e.name + '_' + col)} ON {t} ({quote(col)})")
        self.db.execute("ANALYZE")
        self._indexed = True
        return self

    def close(self) -> None:
        self.db.close()

    # -- raw access ---------------------------------------------------------------------------------------

    def bulk_insert(self, om: str, rows: Iterable[Sequence[Any]]) -> None:
        """Storage rows ``(rid, *columns)`` in ``Entity.columns`` order (see ``make_row``)."""
        names = ["rid", *ENTITIES[om].column_names]
        sql = (
            f"INSERT INTO {quote(om)} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        self.db.execute("BEGIN")
        try:
            self.db.executemany(sql, rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def count(self, om: str) -> int:
        return int(self.db.execute(f"SELECT COUNT(*) FROM {quote(om)}").fetchone()[0])

    def counts(self) -> dict[str, int]:
        return {om: self.count(om) for om in LOAD_ORDER}

    def max_modified(self) -> int:
        best = 0
        for om in ENTITIES:
            v = self.db.execute(f"SELECT MAX(Modified) FROM {quote(om)}").fetchone()[0]
            if v is not None and v > best:
                best = int(v)
        return best

    def select(
        self, om: str, where: str = "1", params: Sequence[Any] = (), order: str = "o.rid"
    ) -> list[tuple]:
        """Rows ``(rid, *API values)``; ``where``/``order`` use the alias ``o``."""
        return self.db.execute(
            f"{self._select_sql[om]} WHERE {where} ORDER BY {order}", list(params)
        ).fetchall()

    def row_by_id(self, om: str, ident: str | None) -> tuple | None:
        if ident is None:
            return None
        rows = self.select(om, "o.Id = ?", [ident])
        return rows[0] if rows else None

    def row_by_rid(self, om: str, rid: int) -> tuple | None:
        rows = self.select(om, "o.rid = ?", [rid])
        return rows[0] if rows else None

    def row_by_key(self, om: str, key: str) -> tuple | None:
        """By Id when the key is a GUID, otherwise by Code (objects without a Code: by Id only)."""
        e = ENTITIES[om]
        if looks_like_guid(key):
            row = self.row_by_id(om, guid_text(key))
            if row is not None or not e.has_code:
                return row
        if not e.has_code:
            return None
        rows = self.select(om, "o.Code = ?", [key])
        return rows[0] if rows else None

    def rid_of(self, om: str, ident: str) -> int | None:
        row = self.db.execute(f"SELECT rid FROM {quote(om)} WHERE Id = ?", [ident]).fetchone()
        return None if row is None else int(row[0])

    def raw(self, om: str, rid: int, name: str) -> Any:
        """A stored column as is (a reference: the target's rid)."""
        row = self.db.execute(f"SELECT {quote(name)} FROM {quote(om)} WHERE rid = ?", [rid]).fetchone()
        return None if row is None else row[0]

    def user_rid(self, ident: str) -> int:
        rid = self._users.get(ident)
        if rid is None:
            found = self.rid_of(USER_TABLE, ident)
            if found is None:
                cur = self.db.execute(f"INSERT INTO {quote(USER_TABLE)} (Id) VALUES (?)", [ident])
                found = int(cur.lastrowid or 0)
            rid = self._users[ident] = found
        return rid

    @staticmethod
    def col(om: str, name: str) -> int:
        """Index of a column in a ``select`` row (rid is 0)."""
        return ENTITIES[om].column_names.index(name) + 1

    # -- serialization --------------------------------------------------------------------------------------

    def items(self, om: str, rows: Sequence[tuple], level: int) -> list[Item]:
        """Rows (rid first) as list items at ``maxLevel``."""
        e = ENTITIES[om]
        w = WRITER[om]
        nested = e.nested
        if nested is None:
            return [w.json(r[1:]) for r in rows]
        if level < 2:
            tail = "," + '"' + nested.name + '":null}'
            return [w.body(r[1:]) + tail for r in rows]
        if nested.many:
            children = self.children(nested.om, nested.via, [r[0] for r in rows])
            head = "," + '"' + nested.name + '":['
            return [Split(w.body(r[1:]) + head, children.get(r[0], [])) for r in rows]
        via = self.col(om, nested.via)
        refs = list({r[via] for r in rows if r[via] is not None})
        targets: dict[str, str] = {}
        tw = WRITER[nested.om]
        for start in range(0, len(refs), 500):
            part = refs[start : start + 500]
            for t in self.select(nested.om, f"o.Id IN ({','.join('?' * len(part))})", part):
                targets[t[1]] = tw.json(t[1:])
        key = "," + '"' + nested.name + '":'
        return [w.body(r[1:]) + key + targets.get(r[via], "null") + "}" for r in rows]

    def children(self, om: str, via: str, parent_rids: Sequence[int]) -> dict[int, list[str]]:
        """Serialized children (lines) per parent rid, in LineOrder."""
        out: dict[int, list[str]] = {}
        w = WRITER[om]
        sql = self._select_sql[om].replace("SELECT o.rid,", f"SELECT o.{quote(via)},", 1)
        for start in range(0, len(parent_rids), 500):
            part = list(parent_rids[start : start + 500])
            rows = self.db.execute(
                f"{sql} WHERE o.{quote(via)} IN ({','.join('?' * len(part))}) ORDER BY o.LineOrder, o.rid",
                part,
            ).fetchall()
            for r in rows:
                out.setdefault(r[0], []).append(w.json(r[1:]))
        return out

    def object_json(self, om: str, row: tuple, level: int) -> str:
        return item_json(self.items(om, [row], level)[0])

    # -- writes -------------------------------------------------------------------------------------------

    def _convert(self, e: Entity, data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """API values to storage values (references resolved to rids; a friendly code resolves too)."""
        values: dict[str, Any] = {}
        nested_name = e.nested.name if e.nested else None
        for key, raw in data.items():
            if key in _IGNORED_INPUT or key == nested_name:
                continue
            if key == "Id":
                if creating:
                    try:
                        values["Id"] = guid_text(raw)
                    except ValueProblem as exc:
                        raise bad_request(f"Id: {exc}") from exc
                continue
            f = e.by_name.get(key)
            if f is None:
                raise bad_request(f"Unknown property '{key}' on {e.name}")
            try:
                values[key] = to_storage(f, raw)
            except ValueProblem as exc:
                raise bad_request(str(exc)) from exc
        for f in e.fields:
            if f.kind != "ref" or f.ref is None:
                continue
            target = ENTITIES[f.ref]
            if values.get(f.name) is not None:
                ident = values[f.name]
                rid = self.rid_of(f.ref, ident)
                if rid is None:
                    raise bad_request(f"{e.name}.{f.name}: no {f.ref} with Id {ident}")
                values[f.name] = rid
                if f.code_field and target.has_code:
                    values[f.code_field] = self.raw(f.ref, rid, "Code")
            elif f.code_field and values.get(f.code_field) is not None:
                found = self.db.execute(
                    f"SELECT rid FROM {quote(f.ref)} WHERE Code = ? LIMIT 1", [values[f.code_field]]
                ).fetchone()
                if found is None:
                    raise bad_request(
                        f"{e.name}.{f.code_field}: no {f.ref} with Code {values[f.code_field]!r}"
                    )
                values[f.name] = int(found[0])
            elif f.name in values and f.code_field:
                values[f.code_field] = None
        return values

    def _check_code(self, e: Entity, values: dict[str, Any], rid: int | None) -> None:
        if not e.has_code or "Code" not in values:
            return
        code = values["Code"]
        if not code:
            raise bad_request(f"{e.name}: Code is required")
        row = self.db.execute(f"SELECT rid FROM {quote(e.name)} WHERE Code = ?", [code]).fetchone()
        if row is not None and row[0] != rid:
            raise bad_request(f"{e.name} with Code {code!r} already exists")

    def _insert(self, e: Entity, values: dict[str, Any], t: int, actor: int) -> tuple[int, str]:
        ident = values.get("Id") or new_guid()
        if self.rid_of(e.name, ident) is not None:
            raise bad_request(f"{e.name} with Id {ident} already exists")
        for f in e.fields:
            if f.kind == "bool" and values.get(f.name) is None:
                values[f.name] = 0
        values.update(Id=ident, Version=1, Created=t, CreatedBy=actor, Modified=t, ModifiedBy=actor)
        names = list(values)
        cur = self.db.execute(
            f"INSERT INTO {quote(e.name)} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join('?' * len(names))})",
            [values[n] for n in names],
        )
        return int(cur.lastrowid or 0), ident

    def _bump(self, om: str, rid: int, t: int, actor: int, values: dict[str, Any] | None = None) -> None:
        sets = ["Version = Version + 1", "Modified = ?", "ModifiedBy = ?"]
        params: list[Any] = [t, actor]
        for name, v in (values or {}).items():
            if name == "Id":
                continue
            sets.append(f"{quote(name)} = ?")
            params.append(v)
        self.db.execute(f"UPDATE {quote(om)} SET {', '.join(sets)} WHERE rid = ?", [*params, rid])

    def _atomic(self) -> _Atomic:
        return _Atomic(self.db)

    def create(self, om: str, data: Any, t: int, actor: str, code: str | None = None) -> tuple[int, str]:
        """Insert one object (a GLTransHeader with its nested GLTransactions, a Customer/Supplier with a
        nested Third); returns (rid, Id)."""
        if not isinstance(data, dict):
            raise bad_request("The body must be a JSON object")
        e = ENTITIES[om]
        if code is not None:  # POST /app/{OM}/{Code}/Folder/{F}; an object without a Code takes its Id there
            if e.has_code:
                data = {**data, "Code": code}
            elif looks_like_guid(code):
                data = {**data, "Id": code}
            else:
                raise bad_request(f"{om} has no Code; address it by Id")
        with self._atomic():
            return self._create(e, data, t, self.user_rid(actor))

    def _create(self, e: Entity, data: dict[str, Any], t: int, actor: int) -> tuple[int, str]:
        if (
            e.name in ("Customer", "Supplier")
            and isinstance(data.get("Third"), dict)
            and not data.get("Third_Id")
        ):
            third = dict(data["Third"])
            third.setdefault("Code", data.get("Code"))
            row = self.row_by_key("Third", third["Code"]) if third.get("Code") else None
            third_id = row[1] if row is not None else self._create(ENTITIES["Third"], third, t, actor)[1]
            data = {**data, "Third_Id": third_id}
        values = self._convert(e, data, creating=True)
        if e.has_code:
            if "Code" not in values:
                raise bad_request(f"{e.name}: Code is required")
            self._check_code(e, values, None)
        if e.name == "GLTransHeader":
            return self._create_header(e, data, values, t, actor)
        if e.name == "GLTrans":
            header_rid = values.get("GLTransHeader_Id")
            if header_rid is None:
                raise bad_request("GLTrans: GLTransHeader_Id is required")
            self._line_defaults(values, header_rid, None)
            out = self._insert(e, values, t, actor)
            self._bump("GLTransHeader", header_rid, t, actor)
            return out
        return self._insert(e, values, t, actor)

    def _line_defaults(self, values: dict[str, Any], header_rid: int, order: int | None) -> None:
        period = self.raw("GLTransHeader", header_rid, "BookPeriod_Id")
        if values.get("BookPeriod_Id") not in (None, period):
            raise bad_request("GLTrans: BookPeriod_Id must be the header's")
        values["BookPeriod_Id"] = period
        values["GLTransHeader_Id"] = header_rid
        if values.get("GLAccount_Id") is None:
            raise bad_request("GLTrans: GLAccount_Id or GLAccountCode is required")
        if values.get("Amount") is None:
            raise bad_request("GLTrans: Amount is required")
        if values.get("LineOrder") is None:
            if order is None:
                found = self.db.execute(
                    'SELECT MAX(LineOrder) FROM "GLTrans" WHERE GLTransHeader_Id = ?', [header_rid]
                ).fetchone()[0]
                order = 0 if found is None else int(found) + 1
            values["LineOrder"] = order
        if values.get("ValueDate") is None:
            values["ValueDate"] = self.raw("GLTransHeader", header_rid, "BookDate")
        if values.get("CurrencyCode") is None:
            values["CurrencyCode"] = "EUR"

    def _create_header(
        self, e: Entity, data: dict[str, Any], values: dict[str, Any], t: int, actor: int
    ) -> tuple[int, str]:
        if values.get("BookPeriod_Id") is None:
            raise bad_request("GLTransHeader: BookPeriod_Id is required")
        if values.get("Journal_Id") is None:
            raise bad_request("GLTransHeader: Journal_Id or JournalCode is required")
        if values.get("DocNumber") is None:
            values["DocNumber"] = self.next_doc_number(values["Journal_Id"], values["BookPeriod_Id"])
        lines = data.get("GLTransactions") or []
        if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
            raise bad_request("GLTransactions must be a list of objects")
        converted = []
        for line in lines:
            if line.get("GLTransHeader_Id") not in (None, ZERO_GUID, values.get("Id")):
                raise bad_request("GLTransactions: GLTransHeader_Id must be the new header's")
            converted.append(
                self._convert(ENTITIES["GLTrans"], {**line, "GLTransHeader_Id": None}, creating=True)
            )
        rid, ident = self._insert(e, values, t, actor)
        for index, line in enumerate(converted):
            self._line_defaults(line, rid, index)
            self._insert(ENTITIES["GLTrans"], line, t, actor)
        return rid, ident

    def next_doc_number(self, journal_rid: int, period_rid: int) -> int:
        found = self.db.execute(
            'SELECT MAX(h.DocNumber) FROM "GLTransHeader" h JOIN "BookPeriod" p ON p.rid = h.BookPeriod_Id '
            'WHERE h.Journal_Id = ? AND p.BookYear_Id = (SELECT BookYear_Id FROM "BookPeriod" WHERE rid = ?)',
            [journal_rid, period_rid],
        ).fetchone()[0]
        return 1 if found is None else int(found) + 1

    def update(self, om: str, rid: int, data: Any, t: int, actor: str) -> None:
        """Partial update; bumps Version and Modified (and the header's for a line)."""
        if not isinstance(data, dict):
            raise bad_request("The body must be a JSON object")
        e = ENTITIES[om]
        if e.nested is not None and e.nested.many and e.nested.name in data:
            raise bad_request(f"Change {e.nested.name} through the {e.nested.om} routes")
        with self._atomic():
            who = self.user_rid(actor)
            values = self._convert(e, data, creating=False)
            self._check_code(e, values, rid)
            if om == "GLTrans":
                for name in ("GLTransHeader_Id", "BookPeriod_Id"):
                    if name in values and values[name] != self.raw(om, rid, name):
                        raise bad_request(f"GLTrans: {name} cannot change (delete and add the line)")
                self._bump(om, rid, t, who, values)
                header = self.raw(om, rid, "GLTransHeader_Id")
                if header is not None:
                    self._bump("GLTransHeader", header, t, who)
                return
            old_period = self.raw(om, rid, "BookPeriod_Id") if om == "GLTransHeader" else None
            self._bump(om, rid, t, who, values)
            if om == "GLTransHeader" and values.get("BookPeriod_Id", old_period) != old_period:
                self.db.execute(
                    'UPDATE "GLTrans" SET BookPeriod_Id = ?, Version = Version + 1, Modified = ?, '
                    "ModifiedBy = ? WHERE GLTransHeader_Id = ?",
                    [values["BookPeriod_Id"], t, who, rid],
                )
            if om in ("Customer", "Supplier") and isinstance(data.get("Third"), dict):
                third = self.raw(om, rid, "Third_Id")
                if third is not None:
                    tv = self._convert(ENTITIES["Third"], data["Third"], creating=False)
                    self._check_code(ENTITIES["Third"], tv, third)
                    self._bump("Third", third, t, who, tv)

    def delete(self, om: str, rid: int, t: int, actor: str) -> None:
        """Delete one object; a header takes its lines along, a deleted line bumps its header."""
        with self._atomic():
            who = self.user_rid(actor)
            if om == "GLTransHeader":
                self.db.execute('DELETE FROM "GLTrans" WHERE GLTransHeader_Id = ?', [rid])
            for other, col in REFERRERS.get(om, []):
                used = self.db.execute(
                    f"SELECT 1 FROM {quote(other)} WHERE {quote(col)} = ? LIMIT 1", [rid]
                ).fetchone()
                if used:
                    raise bad_request(f"{om} is still used by {other}.{col}")
            if om == "GLTrans":
                header = self.raw(om, rid, "GLTransHeader_Id")
                if header is not None:
                    self._bump("GLTransHeader", header, t, who)
            self.db.execute(f"DELETE FROM {quote(om)} WHERE rid = ?", [rid])

    def edit_document(self, header_rid: int, delta: int, t: int, actor: str) -> list[str]:
        """Move ``delta`` cents from the second line to the first (the document stays balanced); bumps the
        two lines and the header once. Returns the edited lines' Ids."""
        with self._atomic():
            who = self.user_rid(actor)
            lines = self.db.execute(
                'SELECT rid, Id FROM "GLTrans" WHERE GLTransHeader_Id = ? ORDER BY LineOrder, rid LIMIT 2',
                [header_rid],
            ).fetchall()
            edited = []
            for (rid, ident), sign in zip(lines, (1, -1), strict=False):
                self.db.execute(
                    'UPDATE "GLTrans" SET Amount = Amount + ?, CommentBooking = ?, Version = Version + 1, '
                    "Modified = ?, ModifiedBy = ? WHERE rid = ?",
                    [sign * delta if len(lines) == 2 else 0, "Gewijzigd", t, who, rid],
                )
                edited.append(ident)
            self._bump("GLTransHeader", header_rid, t, who)
            return edited

    # -- queries ------------------------------------------------------------------------------------------

    def run(self, compiled: Compiled) -> list[tuple]:
        return self.db.execute(compiled.sql, compiled.params).fetchall()

    def snapshot(self) -> dict[str, Any]:
        """Everything, in API form, for test equality (documents at maxLevel 2, sums per period+account)."""
        out: dict[str, Any] = {
            "folder": {"code": self.code, "name": self.name, "kind": self.kind},
            "counts": self.counts(),
        }
        for om in ("BookYear", "BookPeriod", "GLAccount", "Journal", "Vat", "Third", "Customer", "Supplier"):
            rows = self.select(om)
            out[om + "s"] = [Raw(item_json(i)) for i in self.items(om, rows, 2)]
        headers = self.select("GLTransHeader")
        out["documents"] = [Raw(item_json(i)) for i in self.items("GLTransHeader", headers, 2)]
        sums = self.db.execute(
            'SELECT (SELECT Id FROM "BookPeriod" WHERE rid = l.BookPeriod_Id), '
            '(SELECT Id FROM "GLAccount" WHERE rid = l.GLAccount_Id), COUNT(*), SUM(l.Amount) '
            'FROM "GLTrans" l GROUP BY l.BookPeriod_Id, l.GLAccount_Id ORDER BY 1, 2'
        ).fetchall()
        out["sums"] = [
            {
                "BookPeriod_Id": p or ZERO_GUID,
                "GLAccount_Id": a or ZERO_GUID,
                "Count": n,
                "Sum": money_decimal(s),
            }
            for p, a, n, s in sums
        ]
        return out


class _Atomic:
    """BEGIN … COMMIT, ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


# --------------------------------------------------------------------------------------------- recipes


@dataclass
class FolderRecipe:
    code: str
    name: str
    kind: str  # demo | generated | empty
    params: dict[str, Any] = field(default_factory=dict)


GENERATOR_PARAMS = ("years", "accounts", "relations", "documents", "lines_per_document", "seed", "end_year")


def build_folder(recipe: FolderRecipe) -> Folder:
    if recipe.kind == "demo":
        from .seed import build_demo_folder

        return build_demo_folder(recipe.code, name=recipe.name or None)
    if recipe.kind == "generated":
        from .generator import generate_folder

        params = {k: v for k, v in recipe.params.items() if k in GENERATOR_PARAMS}
        return generate_folder(recipe.code, name=recipe.name or None, **params)
    if recipe.kind == "empty":
        return Folder(recipe.code, recipe.name or recipe.code, "empty").ready()
    raise bad_request(f"Unknown folder kind {recipe.kind!r} (demo, generated or empty)")


# --------------------------------------------------------------------------------------------- tokens, faults


@dataclass
class ExchangeToken:
    email: str
    expires_ms: int
    used: bool = False


@dataclass
class AccessToken:
    email: str
    expires_ms: int


FAULT_KINDS = ("status", "slow", "drop", "malformed")


@dataclass
class Fault:
    id: int
    path_contains: str
    kind: str
    count: int = 1
    skip: int = 0
    method: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    target: str = "amount"  # malformed: amount | account | json
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.fired >= self.count:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path_contains in path

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path_contains": self.path_contains,
            "method": self.method,
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "target": self.target,
            "count": self.count,
            "skip": self.skip,
            "seen": self.seen,
            "fired": self.fired,
            "remaining": max(0, self.count - self.fired),
        }


# --------------------------------------------------------------------------------------------- the store


class Store:
    def __init__(
        self,
        recipes: Iterable[FolderRecipe] = (),
        users: dict[str, Iterable[str]] | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
        split: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.initial_recipes = list(recipes)
        self.initial_users = {k.lower(): set(v) for k, v in (users or {}).items()}
        self.initial_config = (chunk_size, split)
        self.folders: dict[str, Folder] = {}
        self.recipes: dict[str, FolderRecipe] = {}
        self._reset_state()
        for recipe in self.initial_recipes:
            self.add_folder(recipe)

    def _reset_state(self) -> None:
        self.chunk_size, self.split = self.initial_config
        self.users: dict[str, set[str]] = {k: set(v) for k, v in self.initial_users.items()}
        self.exchange_tokens: dict[str, ExchangeToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.licence_enabled = True
        self.faults: list[Fault] = []
        self._fault_ids = 0
        self.stats: Counter[str] = Counter()
        self.continuations: dict[str, tuple[Continuation, int]] = {}
        self._continuation_order: list[Continuation] = []
        self.last_write_ms = 0
        self.clock = Clock()

    # -- folders ---------------------------------------------------------------------------------------

    def add_folder(self, recipe: FolderRecipe, folder: Folder | None = None) -> Folder:
        with self.lock:
            if recipe.code in self.folders:
                raise ApiError(409, {"Message": f"Folder {recipe.code} already exists"})
        built = folder if folder is not None else build_folder(recipe)  # outside the lock: may take seconds
        with self.lock:
            if recipe.code in self.folders:
                built.close()
                raise ApiError(409, {"Message": f"Folder {recipe.code} already exists"})
            self.folders[recipe.code] = built
            self.recipes[recipe.code] = recipe
            self.last_write_ms = max(self.last_write_ms, built.max_modified())
            return built

    def remove_folder(self, code: str) -> bool:
        with self.lock:
            folder = self.folders.pop(code, None)
            self.recipes.pop(code, None)
            if folder is None:
                return False
            folder.close()
            for granted in self.users.values():
                granted.discard(code)
            return True

    def folder(self, code: str) -> Folder:
        with self.lock:
            folder = self.folders.get(code)
            if folder is None:
                raise ApiError(404, {"Message": f"Folder '{code}' does not exist"})
            return folder

    def reset(self) -> None:
        """Back to the start state: the initial folders rebuilt, users, tokens, faults, stats, clock."""
        with self.lock:
            for folder in self.folders.values():
                folder.close()
            self.folders.clear()
            self.recipes.clear()
            self._reset_state()
            for recipe in self.initial_recipes:
                self.add_folder(recipe)

    def grant(self, email: str, folders: Iterable[str], replace: bool = False) -> set[str]:
        with self.lock:
            key = email.strip().lower()
            granted = self.users.setdefault(key, set())
            if replace:
                granted.clear()
            granted.update(folders)
            return set(granted)

    # -- clock -----------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def write_stamp(self) -> int:
        """Modified for the next write: the sandbox clock, strictly after every earlier write."""
        with self.lock:
            t = max(self.clock.now_ms(), self.last_write_ms + 1)
            self.last_write_ms = t
            return t

    def note_modified(self, value: int) -> None:
        with self.lock:
            self.last_write_ms = max(self.last_write_ms, value)

    # -- tokens ----------------------------------------------------------------------------------------

    def issue_exchange_token(self, email: str, trusted: bool = False) -> tuple[str, int]:
        with self.lock:
            token = secrets.token_urlsafe(32)
            ttl = EXCHANGE_TRUSTED_TTL_S if trusted else EXCHANGE_TTL_S
            expires = self.clock.now_ms() + ttl * 1000
            self.exchange_tokens[token] = ExchangeToken(email.strip(), expires)
            return token, expires

    def _issue_pair(self, email: str) -> dict[str, Any]:
        access = secrets.token_urlsafe(96)
        refresh = "TGe0!" + secrets.token_urlsafe(48)
        self.access_tokens[access] = AccessToken(email, self.clock.now_ms() + ACCESS_TTL_S * 1000)
        self.refresh_tokens[refresh] = email
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": str(ACCESS_TTL_S),
            "scope": None,
            "refresh_token": refresh,
        }

    def token_grant(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        """POST /OAuth20/Token: the exchange_token and refresh_token grants."""
        with self.lock:
            if not self.licence_enabled:
                raise ApiError(403, _oauth("access_denied", "The licence has no Rest API module"))
            email = _basic_email(authorization)
            if email is None:
                raise ApiError(
                    401, _oauth("invalid_client", "Basic authorization with the e-mail is required")
                )
            grant = form.get("grant_type")
            now = self.clock.now_ms()
            if grant == "exchange_token":
                code = form.get("code", "")
                tok = self.exchange_tokens.get(code)
                if tok is None:
                    raise ApiError(400, _oauth("invalid_grant", "Unknown exchange token"))
                if tok.used:
                    raise ApiError(400, _oauth("invalid_grant", "The exchange token was already used"))
                if tok.expires_ms <= now:
                    raise ApiError(400, _oauth("invalid_grant", "The exchange token has expired"))
                if tok.email.lower() != email.lower():
                    raise ApiError(
                        401, _oauth("invalid_client", "The exchange token was issued to another e-mail")
                    )
                tok.used = True
                return self._issue_pair(tok.email)
            if grant == "refresh_token":
                code = form.get("code") or form.get("refresh_token") or ""
                owner = self.refresh_tokens.get(code)
                if owner is None:
                    raise ApiError(400, _oauth("invalid_grant", "Unknown or revoked refresh token"))
                if owner.lower() != email.lower():
                    raise ApiError(
                        401, _oauth("invalid_client", "The refresh token was issued to another e-mail")
                    )
                del self.refresh_tokens[code]
                return self._issue_pair(owner)
            raise ApiError(400, _oauth("unsupported_grant_type", f"grant_type {grant!r} is not supported"))

    def bearer_email(self, authorization: str | None) -> str:
        with self.lock:
            denied = ApiError(
                401,
                {"Message": "Authorization has been denied for this request."},
                {"WWW-Authenticate": "Bearer"},
            )
            if not authorization or not authorization.startswith("Bearer "):
                raise denied
            tok = self.access_tokens.get(authorization[7:].strip())
            if tok is None or tok.expires_ms <= self.clock.now_ms():
                raise denied
            return tok.email

    def expire_access(self, email: str | None = None) -> int:
        with self.lock:
            now = self.clock.now_ms()
            n = 0
            for tok in self.access_tokens.values():
                if (email is None or tok.email.lower() == email.lower()) and tok.expires_ms > now:
                    tok.expires_ms = now
                    n += 1
            return n

    def revoke_refresh(self, email: str | None = None) -> int:
        with self.lock:
            doomed = [
                k for k, v in self.refresh_tokens.items() if email is None or v.lower() == email.lower()
            ]
            for k in doomed:
                del self.refresh_tokens[k]
            return len(doomed)

    def check_folder(self, email: str, code: str) -> Folder:
        with self.lock:
            if not self.licence_enabled:
                raise ApiError(403, {"Message": "The licence has no Rest API module"})
            folder = self.folder(code)
            if code not in self.users.get(email.lower(), set()):
                raise ApiError(403, {"Message": f"{email} has no access to folder '{code}'"})
            return folder

    # -- faults and stats ------------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise bad_request(f"kind must be one of {', '.join(FAULT_KINDS)}")
        path = spec.get("path_contains")
        if not isinstance(path, str):
            raise bad_request("path_contains (a string) is required")
        status = spec.get("status")
        if kind == "status" and not isinstance(status, int):
            raise bad_request("a status fault needs status (an integer)")
        target = spec.get("target", "amount")
        if target not in ("amount", "account", "json"):
            raise bad_request("target must be amount, account or json")
        with self.lock:
            self._fault_ids += 1
            fault = Fault(
                id=self._fault_ids,
                path_contains=path,
                kind=kind,
                count=int(spec.get("count", 1)),
                skip=int(spec.get("skip", 0)),
                method=spec.get("method"),
                status=status,
                retry_after=None if spec.get("retry_after") is None else float(spec["retry_after"]),
                delay=float(spec.get("delay", 0) or 0),
                target=target,
            )
            self.faults.append(fault)
            return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.seen < fault.skip:
                        fault.seen += 1
                        continue
                    fault.seen += 1
                    fault.fired += 1
                    self.stats["faults." + fault.kind] += 1
                    return fault
            return None

    def count_request(self, key: str, status: int) -> None:
        with self.lock:
            self.stats["requests." + key] += 1
            self.stats[f"status.{status}"] += 1
            self.stats["requests.total"] += 1

    def stats_report(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {"requests": {}, "status": {}, "faults": {}, "other": {}}
            for key, n in sorted(self.stats.items()):
                group, _, name = key.partition(".")
                out.get(group, out["other"])[name] = n
            return out

    # -- lists and ContinuePath ------------------------------------------------------------------------

    def list_answer(self, items: Sequence[Item], fingerprint: str) -> tuple[bytes, str | None]:
        """The first chunk of a list answer and the ContinuePath for the rest (None when it fits)."""
        with self.lock:
            chunks: list[bytes | None] = list(build_chunks(items, self.chunk_size, self.split))
            if len(chunks) == 1:
                return chunks[0] or b"[]", None
            self._purge_continuations()
            tokens = [""] + [secrets.token_urlsafe(24) for _ in chunks[1:]]
            cont = Continuation(fingerprint, chunks, tokens, self.clock.now_ms() + CONTINUATION_TTL_S * 1000)
            first = chunks[0] or b"[]"
            chunks[0] = None
            for index, token in enumerate(tokens[1:], start=1):
                self.continuations[token] = (cont, index)
            self._continuation_order.append(cont)
            return first, tokens[1]

    def continue_answer(self, token: str, fingerprint: str) -> tuple[bytes, str | None]:
        with self.lock:
            entry = self.continuations.get(token)
            if entry is None:
                raise bad_request("Unknown or expired ContinuePath")
            cont, index = entry
            if cont.expires_ms <= self.clock.now_ms():
                self._drop_continuation(cont)
                raise bad_request("Unknown or expired ContinuePath")
            if cont.fingerprint != fingerprint:
                raise bad_request("The ContinuePath belongs to another request (method, URL, body or user)")
            body = cont.chunks[index]
            if body is None:
                raise bad_request("Unknown or expired ContinuePath")
            for earlier in range(index):  # the client has moved on: free what it cannot ask for again
                cont.chunks[earlier] = None
            nxt = cont.tokens[index + 1] if index + 1 < len(cont.tokens) else None
            return body, nxt

    def _drop_continuation(self, cont: Continuation) -> None:
        for token in cont.tokens[1:]:
            self.continuations.pop(token, None)
        cont.chunks.clear()

    def _purge_continuations(self) -> None:
        now = self.clock.now_ms()
        keep: list[Continuation] = []
        for cont in self._continuation_order:
            if cont.expires_ms <= now:
                self._drop_continuation(cont)
            else:
                keep.append(cont)
        while len(keep) >= MAX_CONTINUATIONS:
            self._drop_continuation(keep.pop(0))
        kept = sum(len(c) for cont in keep for c in cont.chunks if c is not None)
        while keep and kept > CONTINUATION_BUDGET:
            oldest = keep.pop(0)
            kept -= sum(len(c) for c in oldest.chunks if c is not None)
            self._drop_continuation(oldest)
        self._continuation_order = keep

    def drop_continuations(self) -> int:
        with self.lock:
            n = len(self._continuation_order)
            for cont in self._continuation_order:
                self._drop_continuation(cont)
            self._continuation_order = []
            return n

    # -- WoW reads and writes --------------------------------------------------------------------------

    def get_one(self, folder: Folder, om: str, key: str, level: int) -> str | None:
        with self.lock:
            row = folder.row_by_key(om, key)
            return None if row is None else folder.object_json(om, row, level)

    def get_all(self, folder: Folder, om: str, level: int) -> list[Item]:
        with self.lock:
            return folder.items(om, folder.select(om), level)

    def execute_criteria(self, folder: Folder, om: str, body: Any, level: int) -> list[Item]:
        try:
            compiled = compile_criteria(ENTITIES[om], body)
        except CriteriaError as exc:
            raise bad_request(str(exc)) from exc
        with self.lock:
            try:
                rows = folder.run(compiled)
            except sqlite3.Error as exc:  # e.g. an integer overflow in a SUM
                raise bad_request(f"The criteria could not run: {exc}") from exc
            if compiled.projected:
                assert compiled.row_json is not None
                return [compiled.row_json(r) for r in rows]
            return folder.items(om, rows, level)

    def insert(
        self, folder: Folder, om: str, data: Any, actor: str, code: str | None = None
    ) -> tuple[int, str]:
        with self.lock:
            return folder.create(om, data, self.write_stamp(), actor, code)

    def _existing(self, folder: Folder, om: str, key: str) -> tuple:
        row = folder.row_by_key(om, key)
        if row is None:
            raise ApiError(404, {"Message": f"{om} '{key}' does not exist in folder {folder.code}"})
        return row

    def update(self, folder: Folder, om: str, key: str, data: Any, actor: str, modified: Any = None) -> tuple:
        """Partial update of one object; ``modified`` (control API only) forces the Modified value so that
        tests can create ties."""
        with self.lock:
            row = self._existing(folder, om, key)
            if modified is not None:
                try:
                    stamp = parse_date(modified)
                except ValueProblem as exc:
                    raise bad_request(str(exc)) from exc
                if stamp is None:
                    raise bad_request("Modified cannot be null")
                self.note_modified(stamp)
            else:
                stamp = self.write_stamp()
            folder.update(om, row[0], data, stamp, actor)
            return folder.row_by_rid(om, row[0]) or row

    def delete(self, folder: Folder, om: str, key: str, actor: str) -> str:
        with self.lock:
            row = self._existing(folder, om, key)
            folder.delete(om, row[0], self.write_stamp(), actor)
            return str(row[1])

    def iter_folders(self) -> Iterator[Folder]:
        with self.lock:
            return iter(list(self.folders.values()))


def _oauth(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


def _basic_email(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.strip() or None


def fingerprint(method: str, path: str, body: bytes, email: str) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body, email.lower().encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def make_row(om: str, values: dict[str, Any], stamp: int, actor: int = SYSTEM_USER_RID) -> tuple[Any, ...]:
    """A storage row ``(rid, *columns)`` for ``Folder.bulk_insert``: ``values`` must hold ``rid`` and ``Id``;
    references are target rids; Version 1 and Created = Modified = ``stamp`` unless given."""
    e = ENTITIES[om]
    full: dict[str, Any] = {
        "Version": 1,
        "Created": stamp,
        "CreatedBy": actor,
        "Modified": stamp,
        "ModifiedBy": actor,
    }
    for f in e.fields:
        if f.kind == "bool":
            full[f.name] = 0
    full.update(values)
    names = ["rid", *e.column_names]
    unknown = set(full) - set(names)
    if unknown or "rid" not in full or "Id" not in full:
        raise KeyError(f"{om}: unknown columns {sorted(unknown)} or rid/Id missing")
    return tuple(full.get(name) for name in names)
