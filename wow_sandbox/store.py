"""In-memory state of the sandbox: folders, users and their folder grants, tokens, the sandbox clock, the
licence flag, faults, statistics and ContinuePath snapshots.

Every public method of ``Store`` takes ``Store.lock`` (one re-entrant lock for everything); a ``Folder`` is
only touched under that lock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .behaviour import WOW_LIKE, Behaviour
from .chunks import CHUNK_SIZE, Continuation, Item, chunk_items, chunk_object, chunk_objects, item_json
from .criteria import CriteriaError, compile_criteria
from .errors import ApiError, bad_request
from .folder import Folder
from .model import ENTITIES, Raw, ValueProblem, iso_from_ms, parse_date
from .network import NO_DELAY, Link, Network
from .recipes import FolderRecipe, build_folder

ACCESS_TTL_S = 900
EXCHANGE_TTL_S = 15 * 60
EXCHANGE_TRUSTED_TTL_S = 24 * 3600
CONTINUATION_TTL_S = 600
MAX_CONTINUATIONS = 2000
CONTINUATION_BUDGET = 128 * 1024 * 1024  # bytes of chunks kept for ContinuePaths; the oldest go first


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


def _fault_value(spec: dict[str, Any]) -> Any:
    """A value fault's ``value``, or ``value_json``: JSON text embedded as it is (``1e400``, which no Python
    value writes back the same)."""
    if "value_json" not in spec:
        return spec.get("value")
    text = spec["value_json"]
    try:
        json.loads(text)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"value_json is not JSON: {exc}") from exc
    return Raw(text)


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
    target: str = "amount"  # malformed: amount | account | json | value
    field: str = ""  # target value: the line field that gets ``value`` (a client's own hostile data)
    value: Any = None
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
            "field": self.field,
            "value": self.value,
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
        behaviour: Behaviour = WOW_LIKE,
        network: Network = NO_DELAY,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.link = Link()  # kept across resets: it counts the requests being answered right now
        self.initial_recipes = list(recipes)
        self.initial_users = {k.lower(): set(v) for k, v in (users or {}).items()}
        self.initial_config = (chunk_size, split, behaviour)
        self.initial_network = network
        self.folders: dict[str, Folder] = {}
        self.recipes: dict[str, FolderRecipe] = {}
        self._reset_state()
        for recipe in self.initial_recipes:
            self.add_folder(recipe)

    def _reset_state(self) -> None:
        self.chunk_size, self.split, self.behaviour = self.initial_config
        self.network = self.initial_network
        self.users: dict[str, set[str]] = {k: set(v) for k, v in self.initial_users.items()}
        self.exchange_tokens: dict[str, ExchangeToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.licence_enabled = True
        self.faults: list[Fault] = []
        self._fault_ids = 0
        self.stats: Counter[str] = Counter()
        self.link.reset_max()
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
                if tok.used and not self.behaviour.reusable_exchange_tokens:
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
        if target not in ("amount", "account", "json", "value"):
            raise bad_request("target must be amount, account, json or value")
        field = spec.get("field", "")
        if target == "value" and (not isinstance(field, str) or not field):
            raise bad_request("a value fault needs field (the line field to set) and value")
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
                field=field if target == "value" else "",
                value=_fault_value(spec) if target == "value" else None,
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
            out["in_flight"] = self.link.describe()
            return out

    def clear_stats(self) -> None:
        with self.lock:
            self.stats.clear()
            self.link.reset_max()

    # -- lists and ContinuePath ------------------------------------------------------------------------

    def list_answer(self, items: Sequence[Item], fingerprint: str) -> tuple[bytes, str | None]:
        """The first chunk of a list answer and the ContinuePath for the rest (None when it fits)."""
        with self.lock:
            if self.behaviour.count_nested:
                return self._answer(chunk_objects(items, self.chunk_size), fingerprint)
            return self._answer(chunk_items(items, self.chunk_size, self.split), fingerprint)

    def object_answer(self, item: Item, fingerprint: str) -> tuple[bytes, str | None]:
        """The first part of a single object and the ContinuePath for the rest (None when it fits)."""
        with self.lock:
            if self.behaviour.chunk_single:
                return self._answer(chunk_object(item, self.chunk_size), fingerprint)
            return self._answer([item_json(item).encode()], fingerprint)

    def _answer(self, parts: list[bytes], fingerprint: str) -> tuple[bytes, str | None]:
        with self.lock:
            chunks: list[bytes | None] = list(parts)
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

    def get_one(self, folder: Folder, om: str, key: str, level: int) -> Item | None:
        with self.lock:
            row = folder.row_by_key(om, key)
            return None if row is None else folder.items(om, [row], level, self.behaviour)[0]

    def get_all(self, folder: Folder, om: str, level: int) -> list[Item]:
        with self.lock:
            return folder.items(om, folder.select(om), level, self.behaviour)

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
            return folder.items(om, rows, level, self.behaviour)

    def insert(
        self, folder: Folder, om: str, data: Any, actor: str, code: str | None = None
    ) -> tuple[int, str]:
        with self.lock:
            return folder.create(
                om, data, self.write_stamp(), actor, code, lenient=self.behaviour.lenient_input
            )

    def bulk_upsert(self, folder: Folder, om: str, data: Any, actor: str) -> tuple:
        """One object of a list POST/PUT: updated when its ``Id`` or ``Code`` names an existing object,
        inserted otherwise; returns its row."""
        with self.lock:
            if not isinstance(data, dict):
                raise bad_request("Each item of the list must be a JSON object")
            lenient = self.behaviour.lenient_input
            given = {k.lower(): v for k, v in data.items() if isinstance(k, str)} if lenient else data
            row = None
            for name in ("Id", "Code"):
                key = given.get(name.lower() if lenient else name)
                if lenient and isinstance(key, int | Decimal) and not isinstance(key, bool):
                    key = format(key, "f") if isinstance(key, Decimal) else str(key)
                if isinstance(key, str) and key and (name == "Id" or ENTITIES[om].has_code):
                    row = folder.row_by_key(om, key)
                    if row is not None:
                        break
            if row is None:
                rid, _ = self.insert(folder, om, data, actor)
            else:
                rid = row[0]
                folder.update(om, rid, data, self.write_stamp(), actor, lenient=lenient)
            found = folder.row_by_rid(om, rid)
            assert found is not None
            return found

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
            folder.update(om, row[0], data, stamp, actor, lenient=self.behaviour.lenient_input)
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
