"""The sandbox's HTTP server: WoW routes (docs/winbooks-api.md) plus the control API under ``/_sandbox/``.

``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive (every answer has a Content-Length), quiet
logging. Usage in-process::

    with SandboxServer(Store([FolderRecipe("DEMO_BV", "", "demo")])) as sandbox:
        requests.get(sandbox.url + "/_sandbox/folders")
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from . import control
from .behaviour import WOW_LIKE, Behaviour
from .chunks import CHUNK_SIZE
from .control import Response, json_response
from .errors import ApiError, bad_request
from .folder import Folder
from .model import ENTITIES, PLURAL, SINGULAR, dumps, loads
from .network import Network
from .store import Fault, Store, fingerprint, user_guid

log = logging.getLogger("wow_sandbox")
NOT_FOUND = {"Message": "No HTTP resource was found that matches the request URI."}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: SandboxServer


class SandboxServer:
    """The sandbox on ``host:port`` (port 0 = a free port). ``start()`` serves in a background thread,
    ``serve_forever()`` in the calling one. ``chunk_size``/``split``/``behaviour`` only apply when no ``store`` is given
    (otherwise they are the store's own settings)."""

    def __init__(
        self,
        store: Store | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunk_size: int = CHUNK_SIZE,
        split: bool = True,
        behaviour: Behaviour = WOW_LIKE,
    ) -> None:
        self.store = (
            store if store is not None else Store(chunk_size=chunk_size, split=split, behaviour=behaviour)
        )
        self.httpd = _HTTPServer((host, port), Handler)
        self.httpd.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="wow-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WinbooksSandbox/1.0"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # -- plumbing --------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.server.sandbox.store

    def _base_url(self) -> str:
        host = self.headers.get("Host") or f"{self.server.sandbox.host}:{self.server.sandbox.port}"
        return f"http://{host}"

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path = urlsplit(self.path).path
        store = self.store
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            # The control API: NOT part of WoW (no auth, no faults, not counted in the statistics).
            try:
                response = control.handle(store, self._base_url(), method, path, raw)
            except Exception as exc:  # a bug in the sandbox: answer, do not hang the client
                log.exception("control %s %s failed", method, self.path)
                response = json_response(500, {"Message": f"Sandbox error: {exc!r}"})
            self._send(response)
            return

        # A WoW request: in flight (counted) from here until its answer is sent, over the played network.
        link, network = store.link, store.network
        link.enter()
        try:
            link.wait_latency(network)
            self._answer_wow(method, path, raw, network)
        finally:
            link.leave()

    def _answer_wow(self, method: str, path: str, raw: bytes, network: Network) -> None:
        store = self.store
        fault = store.take_fault(method, self.path)
        if fault is not None and fault.kind == "status":
            status = fault.status or 500
            headers = {}
            if status == 429 or fault.retry_after is not None:
                headers["Retry-After"] = _seconds(fault.retry_after if fault.retry_after is not None else 1)
            response = json_response(status, {"Message": f"Sandbox fault: injected status {status}"}, headers)
            store.count_request(f"{method} fault", status)
            self._send(response, network)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(max(0.0, fault.delay))

        self._kind = "other"  # the route kind for the statistics, set by _wow as soon as it is known
        try:
            response = self._wow(method, path, raw)
        except ApiError as exc:
            response = json_response(exc.status, exc.body or {}, exc.headers)
        except Exception as exc:
            log.exception("%s %s failed", method, self.path)
            response = json_response(500, {"Message": f"Sandbox error: {exc!r}"})
        store.count_request(f"{method} {self._kind}", response.status)
        if fault is not None and fault.kind == "malformed":
            response = _corrupt(response, fault)
        if fault is not None and fault.kind == "drop":
            self._send_dropped(response)
            return
        self._send(response, network)

    def _send(self, response: Response, network: Network | None = None) -> None:
        self.send_response(response.status)
        if response.status != 204:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if response.status != 204 and response.body:
            if network is None:
                self.wfile.write(response.body)
            else:
                self.store.link.write(network, self.wfile.write, response.body)

    def _send_dropped(self, response: Response) -> None:
        """Headers and part of the body, then the connection is closed (a network failure mid-answer)."""
        self.close_connection = True
        body = response.body
        if body:
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[: max(1, len(body) // 2)])
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- WoW -------------------------------------------------------------------------------------------

    def _wow(self, method: str, path: str, raw: bytes) -> Response:
        segments = [unquote(s) for s in path.split("/")[1:]]
        if segments and segments[-1] == "":
            segments.pop()
        store = self.store
        if len(segments) == 2 and segments[0].lower() == "oauth20" and segments[1].lower() == "token":
            self._kind = "token"
            if method != "POST":
                raise ApiError(405, {"Message": "The token endpoint only accepts POST"})
            form = {
                k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()
            }
            return json_response(200, store.token_grant(self.headers.get("Authorization"), form))
        if not segments or segments[0].lower() != "app":
            raise ApiError(404, NOT_FOUND)

        email = store.bearer_email(self.headers.get("Authorization"))
        parts = segments[1:]
        level = self._max_level()
        actor = user_guid(email)

        # /app/{OM}/{CodeOrId}/Folder/{F}
        if len(parts) == 4 and parts[2].lower() == "folder":
            self._kind = {"GET": "one", "PUT": "update", "DELETE": "delete", "POST": "insert"}.get(
                method, "other"
            )
            folder = store.check_folder(email, parts[3])
            om = _resolve(SINGULAR, parts[0])
            key = parts[1]
            if method == "GET":
                return self._one(folder, om, key, level, raw, email)
            if method == "PUT":
                row = store.update(folder, om, key, _json(raw), actor)
                return json_response(200, {"Href": self._href(om, row, folder)})
            if method == "DELETE":
                ident = store.delete(folder, om, key, actor)
                return json_response(200, {"Id": ident, "Deleted": True})
            if method == "POST":
                return self._insert(folder, om, raw, actor, code=key)
            raise ApiError(405, {"Message": f"{method} is not allowed here"})

        # /app/{OMS}/Folder/{F}: GET all, POST or PUT a list (insert or update each), DELETE ?code=A,B;
        # /app/{OM}/Folder/{F}: POST insert one
        if len(parts) == 3 and parts[1].lower() == "folder":
            self._kind = {"GET": "all", "POST": "insert", "PUT": "update", "DELETE": "delete"}.get(
                method, "other"
            )
            folder = store.check_folder(email, parts[2])
            if method == "GET":
                om = _resolve(PLURAL, parts[0])
                return self._list(folder, method, raw, email, lambda: store.get_all(folder, om, level))
            if method in ("POST", "PUT"):
                body = _json(raw)
                if isinstance(body, list):
                    self._kind = "bulk"
                    om = _resolve({**SINGULAR, **PLURAL}, parts[0])
                    return json_response(200, self._bulk(folder, om, body, actor))
                if method == "POST":
                    return self._insert(folder, _resolve(SINGULAR, parts[0]), raw, actor)
                raise bad_request("PUT on a list route takes a JSON list of objects")
            if method == "DELETE":
                om = _resolve(PLURAL, parts[0])
                return json_response(200, self._delete_many(folder, om, actor))
            raise ApiError(405, {"Message": f"{method} is not allowed here"})

        # /app/{OMS}/Folder/{F}/ExecuteCriteria
        if len(parts) == 4 and parts[1].lower() == "folder" and parts[3].lower() == "executecriteria":
            self._kind = "criteria"
            folder = store.check_folder(email, parts[2])
            om = _resolve(PLURAL, parts[0])
            if method != "POST":
                raise ApiError(405, {"Message": "ExecuteCriteria only accepts POST"})
            return self._list(
                folder, method, raw, email, lambda: store.execute_criteria(folder, om, _json(raw), level)
            )
        raise ApiError(404, NOT_FOUND)

    def _max_level(self) -> int:
        query = parse_qs(urlsplit(self.path).query)
        for key, values in query.items():
            if key.lower() == "maxlevel":
                try:
                    return max(1, int(values[0]))
                except ValueError as exc:
                    raise bad_request(f"maxLevel must be an integer, got {values[0]!r}") from exc
        return 1

    def _list(self, folder: Folder, method: str, raw: bytes, email: str, compute: Any) -> Response:
        store = self.store
        token = self.headers.get("ContinuePath")
        fp = fingerprint(method, self.path, raw, email)
        if token:
            body, nxt = store.continue_answer(token, fp)
            store.count_request("continuation", 200)
        else:
            body, nxt = store.list_answer(compute(), fp)
        return Response(200, body, {"ContinuePath": nxt} if nxt else {})

    def _one(self, folder: Folder, om: str, key: str, level: int, raw: bytes, email: str) -> Response:
        """GET one: 204 when there is no such object; a large object in parts (``Behaviour.chunk_single``)."""
        store = self.store
        token = self.headers.get("ContinuePath")
        fp = fingerprint("GET", self.path, raw, email)
        if token:
            body, nxt = store.continue_answer(token, fp)
            store.count_request("continuation", 200)
        else:
            found = store.get_one(folder, om, key, level)
            if found is None:
                return Response(204)
            body, nxt = store.object_answer(found, fp)
        return Response(200, body, {"ContinuePath": nxt} if nxt else {})

    def _bulk(self, folder: Folder, om: str, body: list[Any], actor: str) -> dict[str, Any]:
        """InsertOrUpdateList: each object is updated when its Id or Code exists, inserted otherwise, on its
        own (one failing object does not stop the others); the answer is WoW's summary (D-UPD)."""
        store = self.store
        done: list[str] = []
        failed: list[Any] = []
        reasons: list[str] = []
        for data in body:
            try:
                with store.lock:
                    row = store.bulk_upsert(folder, om, data, actor)
                done.append(self._href(om, row, folder))
            except ApiError as exc:
                failed.append(data)
                reasons.append(str((exc.body or {}).get("Message") or exc.status))
        return {
            "Method": "InsertOrUpdateList",
            "ObjectType": ENTITIES[om].type_name,
            "NumberOfSuccess": len(done),
            "NumberOfFail": len(failed),
            "ListObjectFail": failed,
            "ListUrlSuccess": done,
            "ReasonFail": reasons,
        }

    def _delete_many(self, folder: Folder, om: str, actor: str) -> dict[str, Any]:
        """DELETE /app/{OMS}/Folder/{F}?code=A,B: each code or Id deleted on its own."""
        query = parse_qs(urlsplit(self.path).query)
        keys = [k for value in query.get("code", []) for k in value.split(",") if k]
        if not keys:
            raise bad_request("DELETE on a list route needs ?code=A,B,...")
        deleted: list[str] = []
        failed: list[str] = []
        reasons: list[str] = []
        for key in keys:
            try:
                deleted.append(self.store.delete(folder, om, key, actor))
            except ApiError as exc:
                failed.append(key)
                reasons.append(str((exc.body or {}).get("Message") or exc.status))
        return {
            "Deleted": deleted,
            "NumberOfSuccess": len(deleted),
            "NumberOfFail": len(failed),
            "ListObjectFail": failed,
            "ReasonFail": reasons,
        }

    def _insert(self, folder: Folder, om: str, raw: bytes, actor: str, code: str | None = None) -> Response:
        store = self.store
        with store.lock:
            rid, _ = store.insert(folder, om, _json(raw), actor, code)
            row = folder.row_by_rid(om, rid)
        assert row is not None
        return json_response(200, {"Href": self._href(om, row, folder)})

    def _href(self, om: str, row: tuple, folder: Folder) -> str:
        key = row[1]
        if ENTITIES[om].has_code:
            key = row[Folder.col(om, "Code")] or key
        return f"{self._base_url()}/app/{om}/{quote(str(key), safe='')}/Folder/{quote(folder.code, safe='')}"


def _resolve(table: dict[str, str], name: str) -> str:
    om = table.get(name.lower())
    if om is None:
        raise ApiError(404, {"Message": f"Unknown object model '{name}'"})
    return om


def _json(raw: bytes) -> Any:
    if not raw.strip():
        raise bad_request("A JSON body is required")
    try:
        return loads(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid JSON body: {exc}") from exc


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --------------------------------------------------------------------------------------------- faults


def _corrupt(response: Response, fault: Fault) -> Response:
    """Spoil one record of a JSON answer: an Amount becomes "abc" (target amount), a GLAccount_Id points
    nowhere (target account), the line field ``field`` becomes ``value`` (target value: values WoW would
    hold for a client, e.g. a VAT base of 1e400 or a NUL in a comment, that the sandbox cannot store);
    target json (or an answer without such a record) cuts the JSON in half."""
    body = response.body
    if (response.status == 204 or not body) and fault.target != "value":
        return Response(200, b'{"Message": ', dict(response.headers))
    if fault.target != "json":
        try:
            data = loads(body)
        except ValueError:
            data = None
        if data is not None and _spoil(data, fault.target, fault.field, fault.value):
            return Response(response.status, dumps(data).encode(), dict(response.headers))
        if fault.target == "value":  # an answer without a line (a projection, a count) is left as it is
            return response
    return Response(response.status, body[: max(1, len(body) // 2)], dict(response.headers))


def _spoil(data: Any, target: str, field: str = "", value: Any = None) -> bool:
    key = {"amount": "Amount", "value": field}.get(target, "GLAccount_Id")
    replacement: Any = {"amount": "abc", "value": value}.get(target, str(uuid.uuid4()))
    stack = [data]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            if (key in node or target == "value") and "Amount" in node:  # a line, not a Journal's account
                node[key] = replacement
                return True
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, dict | list):
                    stack.append(v)
                elif (
                    target == "amount"
                    and not isinstance(v, bool)
                    and v is not None
                    and not isinstance(v, str)
                ):
                    node[i] = "abc"  # a projection row: its first number
                    return True
    return False
