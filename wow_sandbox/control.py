"""The sandbox control API under ``/_sandbox/``.

THIS IS NOT PART OF WINBOOKSONWEB. It exists only in the sandbox, for tests, the demo and the benchmarks:
issue exchange tokens, grant folders, create/delete folders, edit data without authentication, move the
clock, switch the licence, expire/revoke tokens, inject faults, read snapshots and statistics, reset.
JSON in and out, no authentication (the sandbox listens on loopback). Routes: see README.md.
"""

# ruff: noqa: S608 - SQL text is built only from the fixed schema (model.ENTITIES); values are bound parameters

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .behaviour import MODES
from .errors import ApiError, bad_request
from .folder import Folder
from .generator import factory_for_folder, folder_journals, insert_document
from .model import SINGULAR, ValueProblem, dumps, iso_from_ms, loads, parse_date
from .recipes import GENERATOR_PARAMS, FolderRecipe
from .store import Store, user_guid

CONTROL_ACTOR = user_guid("control@sandbox.local")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, dumps(payload).encode(), dict(headers or {}))


def raw_response(status: int, text: str) -> Response:
    return Response(status, text.encode())


def _body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid JSON body: {exc}") from exc


def _object(raw: bytes) -> dict[str, Any]:
    data = _body(raw)
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object")
    return data


def _om(name: str) -> str:
    om = SINGULAR.get(name.lower())
    if om is None:
        raise ApiError(404, {"Message": f"Unknown object model '{name}'"})
    return om


def _folder_info(store: Store, folder: Folder) -> dict[str, Any]:
    with store.lock:
        return {
            "code": folder.code,
            "name": folder.name,
            "kind": folder.kind,
            "params": folder.params,
            "counts": folder.counts(),
        }


def handle(store: Store, base_url: str, method: str, path: str, raw: bytes) -> Response:
    """Answer one control request; ``path`` is the URL path (still percent-encoded)."""
    parts = [unquote(p) for p in path.split("/")[2:] if p != ""]
    try:
        return _dispatch(store, base_url, method.upper(), parts, raw)
    except ApiError as exc:
        return json_response(exc.status, exc.body or {}, exc.headers)


def _dispatch(store: Store, base_url: str, method: str, parts: list[str], raw: bytes) -> Response:
    route = parts[0] if parts else ""
    rest = parts[1:]

    if route == "exchange-tokens" and method == "POST" and not rest:
        data = _object(raw)
        email = data.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise bad_request("email is required")
        if data.get("folders"):
            store.grant(email, data["folders"])
        token, expires = store.issue_exchange_token(email, bool(data.get("trusted", False)))
        return json_response(
            201,
            {
                "exchange_token": token,
                "email": email,
                "api_location": base_url,
                "expires_at": iso_from_ms(expires),
            },
        )

    if route == "users" and not rest:
        if method == "GET":
            with store.lock:
                return json_response(200, {k: sorted(v) for k, v in sorted(store.users.items())})
        if method == "POST":
            data = _object(raw)
            email, folders = data.get("email"), data.get("folders", [])
            if not isinstance(email, str) or not isinstance(folders, list):
                raise bad_request("email (string) and folders (list) are required")
            granted = store.grant(email, [str(f) for f in folders], bool(data.get("replace", False)))
            return json_response(200, {"email": email, "folders": sorted(granted)})

    if route == "folders":
        return _folders(store, method, rest, raw)

    if route == "clock" and not rest:
        if method == "POST":
            data = _object(raw)
            with store.lock:
                if "advance_seconds" in data:
                    store.clock.advance(float(data["advance_seconds"]))
                if "now" in data:
                    try:
                        now = parse_date(data["now"])
                    except ValueProblem as exc:
                        raise bad_request(str(exc)) from exc
                    if now is None:
                        raise bad_request("now cannot be null")
                    store.clock.set(now, data.get("frozen"))
                elif "frozen" in data:
                    store.clock.set(store.clock.now_ms(), bool(data["frozen"]))
                return json_response(200, store.clock.describe())
        if method == "GET":
            return json_response(200, store.clock.describe())

    if route == "licence" and not rest:
        if method == "POST":
            data = _object(raw)
            if not isinstance(data.get("rest_api_enabled"), bool):
                raise bad_request("rest_api_enabled (boolean) is required")
            with store.lock:
                store.licence_enabled = data["rest_api_enabled"]
        return json_response(200, {"rest_api_enabled": store.licence_enabled})

    if route == "tokens" and method == "POST" and len(rest) == 1:
        data = _object(raw)
        email = data.get("email")
        if rest[0] == "expire-access":
            return json_response(200, {"expired": store.expire_access(email)})
        if rest[0] == "revoke-refresh":
            return json_response(200, {"revoked": store.revoke_refresh(email)})

    if route == "faults" and not rest:
        if method == "POST":
            fault = store.add_fault(_object(raw))
            return json_response(201, fault.describe())
        if method == "GET":
            with store.lock:
                return json_response(200, [f.describe() for f in store.faults])
        if method == "DELETE":
            with store.lock:
                n = len(store.faults)
                store.faults.clear()
            return json_response(200, {"deleted": n})

    if route == "stats" and not rest:
        if method == "GET":
            return json_response(200, store.stats_report())
        if method == "DELETE":
            store.clear_stats()
            return json_response(200, store.stats_report())

    if route == "network" and not rest:
        if method == "POST":
            with store.lock:
                try:
                    store.network = store.network.changed(_object(raw))
                except ValueError as exc:
                    raise bad_request(str(exc)) from exc
        if method in ("GET", "POST"):
            with store.lock:
                return json_response(200, store.network.describe())

    if route == "config" and not rest:
        if method == "POST":
            data = _object(raw)
            with store.lock:
                behaviour = store.behaviour
                if "mode" in data:
                    if data["mode"] not in MODES:
                        raise bad_request(f"mode must be one of {', '.join(MODES)}")
                    behaviour = MODES[data["mode"]]
                switches = {k: v for k, v in data.items() if k not in ("mode", "chunk_size", "split")}
                try:
                    behaviour = behaviour.changed(switches)
                except ValueError as exc:
                    raise bad_request(str(exc)) from exc
                if "chunk_size" in data:
                    size = data["chunk_size"]
                    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                        raise bad_request("chunk_size must be a positive integer")
                    store.chunk_size = size
                if "split" in data:
                    store.split = bool(data["split"])
                store.behaviour = behaviour
        with store.lock:
            return json_response(
                200, {"chunk_size": store.chunk_size, "split": store.split, **store.behaviour.describe()}
            )

    if route == "continuations" and not rest and method == "DELETE":
        return json_response(200, {"dropped": store.drop_continuations()})

    if route == "reset" and not rest and method == "POST":
        store.reset()
        return json_response(200, {"reset": True, "folders": sorted(store.folders)})

    raise ApiError(404, {"Message": f"No sandbox control route {method} /_sandbox/{'/'.join(parts)}"})


def _folders(store: Store, method: str, rest: list[str], raw: bytes) -> Response:
    if not rest:
        if method == "GET":
            return json_response(200, [_folder_info(store, f) for f in store.iter_folders()])
        if method == "POST":
            data = _object(raw)
            code = data.get("code")
            if not isinstance(code, str) or not code:
                raise bad_request("code is required")
            kind = data.get("kind", "empty")
            params = {k: data[k] for k in GENERATOR_PARAMS if k in data}
            try:
                folder = store.add_folder(FolderRecipe(code, str(data.get("name") or ""), str(kind), params))
            except (TypeError, ValueError) as exc:
                raise bad_request(f"Cannot build the folder: {exc}") from exc
            for email in data.get("grant", []) or []:
                store.grant(str(email), [code])
            return json_response(201, _folder_info(store, folder))
        raise ApiError(405, {"Message": f"{method} not allowed on /_sandbox/folders"})

    code = rest[0]
    if len(rest) == 1:
        if method == "DELETE":
            if not store.remove_folder(code):
                raise ApiError(404, {"Message": f"Folder '{code}' does not exist"})
            return json_response(200, {"deleted": code})
        if method == "GET":
            return json_response(200, _folder_info(store, store.folder(code)))
    folder = store.folder(code)
    action = rest[1] if len(rest) > 1 else ""

    if action == "snapshot" and len(rest) == 2 and method == "GET":
        with store.lock:
            return json_response(200, folder.snapshot(store.behaviour))

    if action == "mutate" and len(rest) == 2 and method == "POST":
        return json_response(200, mutate(store, folder, _object(raw)))

    if action == "objects" and len(rest) in (3, 4):
        om = _om(rest[2])
        if len(rest) == 3 and method == "POST":
            with store.lock:
                rid, _ = store.insert(folder, om, _body(raw), CONTROL_ACTOR)
                row = folder.row_by_rid(om, rid)
                assert row is not None
                return raw_response(201, folder.object_json(om, row, 2))
        if len(rest) == 4:
            key = rest[3]
            if method == "GET":
                with store.lock:
                    row = folder.row_by_key(om, key)
                    if row is None:
                        raise ApiError(404, {"Message": f"{om} '{key}' does not exist"})
                    return raw_response(200, folder.object_json(om, row, 2))
            if method == "PATCH":
                data = _object(raw)
                forced = data.pop("Modified", None)
                with store.lock:
                    row = store.update(folder, om, key, data, CONTROL_ACTOR, modified=forced)
                    return raw_response(200, folder.object_json(om, row, 2))
            if method == "DELETE":
                return json_response(200, {"deleted": store.delete(folder, om, key, CONTROL_ACTOR)})

    raise ApiError(404, {"Message": f"No sandbox control route {method} /_sandbox/folders/{'/'.join(rest)}"})


def _period_rids(folder: Folder, wanted: Any) -> list[int]:
    db = folder.db
    if not wanted:
        return [
            int(r)
            for (r,) in db.execute('SELECT rid FROM "BookPeriod" WHERE Number BETWEEN 1 AND 12 ORDER BY rid')
        ]
    if not isinstance(wanted, list):
        raise bad_request("periods must be a list of period Ids, Codes or Numbers")
    rids: list[int] = []
    for p in wanted:
        if isinstance(p, int) and not isinstance(p, bool):
            found = db.execute('SELECT rid FROM "BookPeriod" WHERE Number = ? ORDER BY rid', [p]).fetchall()
        else:
            found = db.execute(
                'SELECT rid FROM "BookPeriod" WHERE Id = ? OR Code = ?', [str(p).lower(), str(p)]
            ).fetchall()
        if not found:
            raise bad_request(f"No book period {p!r}")
        rids.extend(int(r) for (r,) in found)
    return sorted(set(rids))


def mutate(store: Store, folder: Folder, spec: dict[str, Any]) -> dict[str, Any]:
    """Bulk edits for tests and benchmarks: edit, add and delete documents (in the given periods).
    An edit moves an amount between the first two lines (the document stays balanced) and bumps both lines
    and the header; ``same_modified`` gives every write of the call one Modified value (a forced tie)."""

    def count(key: str) -> int:
        value = spec.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad_request(f"{key} must be a non-negative integer")
        return value

    edits, adds, deletes = count("edit_documents"), count("add_documents"), count("delete_documents")
    rng = random.Random(spec.get("seed", 0))  # noqa: S311 - test data, not secrets
    lines_per_document = int(folder.params.get("lines_per_document", 4))
    with store.lock:
        periods = _period_rids(folder, spec.get("periods"))
        shared = store.write_stamp() if spec.get("same_modified") else None

        def stamp() -> int:
            return shared if shared is not None else store.write_stamp()

        candidates = []
        if periods:
            marks = ",".join("?" * len(periods))
            candidates = folder.db.execute(
                f'SELECT rid, Id FROM "GLTransHeader" WHERE BookPeriod_Id IN ({marks}) ORDER BY rid', periods
            ).fetchall()
        chosen = rng.sample(candidates, min(len(candidates), edits + deletes))
        edited, edited_lines, deleted, added = [], [], [], []
        stamps: list[int] = []
        for rid, ident in chosen[:edits]:
            t = stamp()
            stamps.append(t)
            edited_lines.extend(folder.edit_document(int(rid), rng.randint(1, 10_000), t, CONTROL_ACTOR))
            edited.append(str(ident))
        for rid, ident in chosen[edits:]:
            t = stamp()
            stamps.append(t)
            folder.delete("GLTransHeader", int(rid), t, CONTROL_ACTOR)
            deleted.append(str(ident))
        if adds:
            journals = folder_journals(folder)
            if not journals or not periods:
                raise bad_request("The folder needs journals and book periods to add documents")
            factory = factory_for_folder(folder, rng, lines_per_document)
            weights = [j[4] for j in journals]
            for _ in range(adds):
                t = stamp()
                stamps.append(t)
                journal = rng.choices(journals, weights)[0]
                added.append(insert_document(folder, factory, journal, rng.choice(periods), t, CONTROL_ACTOR))
    return {
        "edited": edited,
        "edited_lines": edited_lines,
        "added": added,
        "deleted": deleted,
        "modified_min": min(stamps) if stamps else None,
        "modified_max": max(stamps) if stamps else None,
    }
