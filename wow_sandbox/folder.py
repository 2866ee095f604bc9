"""One WoW company (dossier): its data in a private in-memory sqlite database, read as API JSON and written
with WoW's rules (references, codes, a document's lines, versions)."""

# ruff: noqa: S608 - SQL text is built only from the fixed schema (model.ENTITIES); values are bound parameters

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from .behaviour import STRICT, Behaviour
from .chunks import Item, Node, Value, item_json
from .criteria import Compiled, quote, select_list
from .errors import bad_request
from .model import (
    ENTITIES,
    LOAD_ORDER,
    NAVIGATIONS,
    USER_TABLE,
    WRITERS_FOR_VAT_TYPE,
    ZERO_GUID,
    Entity,
    Field,
    Nav,
    Raw,
    ValueProblem,
    guid_text,
    lenient_input,
    looks_like_guid,
    money_decimal,
    new_guid,
    to_storage,
)

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

    def items(
        self,
        om: str,
        rows: Sequence[tuple],
        level: int,
        behaviour: Behaviour = STRICT,
        *,
        depth: int = 1,
        parent_via: str | None = None,
    ) -> list[Item]:
        """Rows (rid first) as answer items at ``maxLevel``: an object at ``depth`` below ``level`` has its
        navigation properties expanded (``model.NAVIGATIONS``), deeper ones write them as null. Strict, a
        ``level`` above 2 answers as 2. ``parent_via``: the reference to the object that lists these rows
        (a line's header), left null rather than expanded again inside it."""
        navs = NAVIGATIONS[behaviour.expand_references].get(om, ())
        w = WRITERS_FOR_VAT_TYPE[behaviour.vat_type][om]
        if not navs:
            return [w.json(r[1:]) for r in rows]
        if not behaviour.expand_references:
            level = min(level, 2)
        if depth >= level:
            tail = "".join(',"' + nav.name + '":null' for nav in navs) + "}"
            return [w.body(r[1:]) + tail for r in rows]
        columns: list[Any] = []  # per navigation: (column index, {Id: item}) or {parent rid: [items]}
        for nav in navs:
            if nav.many:
                columns.append(self._children(nav, [r[0] for r in rows], level, behaviour, depth + 1))
            elif nav.via == parent_via:
                columns.append(None)
            else:
                via = self.col(om, nav.via)
                targets = self._by_ids(nav.om, list({r[via] for r in rows if r[via] is not None}))
                expanded = self.items(nav.om, targets, level, behaviour, depth=depth + 1)
                columns.append((via, {t[1]: item for t, item in zip(targets, expanded, strict=True)}))
        out: list[Item] = []
        for r in rows:
            props: list[tuple[str, Value]] = []
            for nav, column in zip(navs, columns, strict=True):
                if column is None:
                    props.append((nav.name, None))
                elif nav.many:
                    props.append((nav.name, column.get(r[0], [])))
                else:
                    via, by_id = column
                    props.append((nav.name, by_id.get(r[via])))
            out.append(Node(w.body(r[1:]), props))
        return out

    def _by_ids(self, om: str, idents: Sequence[str]) -> list[tuple]:
        rows: list[tuple] = []
        for start in range(0, len(idents), 500):
            part = list(idents[start : start + 500])
            rows += self.select(om, f"o.Id IN ({','.join('?' * len(part))})", part)
        return rows

    def _children(
        self, nav: Nav, parent_rids: Sequence[int], level: int, behaviour: Behaviour, depth: int
    ) -> dict[int, list[Item]]:
        """The ``nav.om`` objects listed under each parent rid (lines in LineOrder), as items at ``depth``."""
        sql = self._select_sql[nav.om].replace("SELECT o.rid,", f"SELECT o.{quote(nav.via)}, o.rid,", 1)
        order = "o.LineOrder, o.rid" if "LineOrder" in ENTITIES[nav.om].by_name else "o.rid"
        parents: list[int] = []
        rows: list[tuple] = []
        for start in range(0, len(parent_rids), 500):
            part = list(parent_rids[start : start + 500])
            for r in self.db.execute(
                f"{sql} WHERE o.{quote(nav.via)} IN ({','.join('?' * len(part))}) ORDER BY {order}", part
            ).fetchall():
                parents.append(r[0])
                rows.append(r[1:])
        out: dict[int, list[Item]] = {}
        items = self.items(nav.om, rows, level, behaviour, depth=depth, parent_via=nav.via)
        for parent, item in zip(parents, items, strict=True):
            out.setdefault(parent, []).append(item)
        return out

    def object_json(self, om: str, row: tuple, level: int, behaviour: Behaviour = STRICT) -> str:
        return item_json(self.items(om, [row], level, behaviour)[0])

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

    def create(
        self, om: str, data: Any, t: int, actor: str, code: str | None = None, *, lenient: bool = False
    ) -> tuple[int, str]:
        """Insert one object (a GLTransHeader with its nested GLTransactions, a Customer/Supplier with a
        nested Third); returns (rid, Id). ``lenient``: the body is first read as WoW would
        (``model.lenient_input``)."""
        if not isinstance(data, dict):
            raise bad_request("The body must be a JSON object")
        e = ENTITIES[om]
        if lenient:
            data = lenient_input(e, data)
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
            if third["Code"] is not None and not isinstance(third["Code"], str):
                raise bad_request(f"Third.Code: expected a string, got {third['Code']!r}")
            row = self.row_by_key("Third", third["Code"]) if third["Code"] else None
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

    def update(self, om: str, rid: int, data: Any, t: int, actor: str, *, lenient: bool = False) -> None:
        """Partial update; bumps Version and Modified (and the header's for a line)."""
        if not isinstance(data, dict):
            raise bad_request("The body must be a JSON object")
        e = ENTITIES[om]
        if lenient:
            data = lenient_input(e, data)
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

    def snapshot(self, behaviour: Behaviour = STRICT) -> dict[str, Any]:
        """Everything, in API form as ``behaviour`` answers it, for test equality (objects and documents at
        maxLevel 2, sums per period+account)."""
        out: dict[str, Any] = {
            "folder": {"code": self.code, "name": self.name, "kind": self.kind},
            "counts": self.counts(),
        }
        for om in ("BookYear", "BookPeriod", "GLAccount", "Journal", "Vat", "Third", "Customer", "Supplier"):
            rows = self.select(om)
            out[om + "s"] = [Raw(item_json(i)) for i in self.items(om, rows, 2, behaviour)]
        headers = self.select("GLTransHeader")
        out["documents"] = [Raw(item_json(i)) for i in self.items("GLTransHeader", headers, 2, behaviour)]
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
