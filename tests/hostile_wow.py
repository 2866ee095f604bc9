"""A hostile WinbooksOnWeb host on loopback: answers that drip, never end, loop or refuse without end.

Used by the client's limit tests and by the reliability test of fair sharing between firms. Every route
(tokens and data alike) behaves as ``server.behaviour`` says:

- ``drip_body``: 200 with headers at once, then a JSON list one byte every ``interval`` seconds;
- ``drip_headers``: the status line and headers themselves one byte every ``interval`` seconds;
- ``huge``: 200 without a length, then ``[`` and endless list items (up to ``huge_bytes``);
- ``huge_announced``: a ``Content-Length`` of 10 GB, then the same endless items;
- ``continue_loop``: after ``loop_delay`` s, 200 with a ``ContinuePath`` header every time, the body
  ``chunk_body``;
- ``rate_limited``: 429 with ``Retry-After: retry_after`` every time;
- ``slow``: waits ``interval`` seconds, then answers ``[]`` (or a token for the token route).

The server stops an answer when the client hangs up; ``requests`` counts what came in, ``bytes_sent`` what
went out (to show that an abandoned answer was not read to its end).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

_ITEM = (
    b'{"Id":"00000000-0000-0000-0000-00000000000%d","Code":"%d","Label":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},'
)


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = "slow"
        self.interval = 0.2
        self.drip_bytes = 60  # a dripped answer ends after this many bytes (so a client without limits ends)
        self.huge_bytes = 200 * 1024 * 1024
        self.chunk_body = b"[]"
        self.loop_delay = 0.0
        self.retry_after = "1e308"
        self.requests = 0
        self.bytes_sent = 0
        self.in_flight = 0
        self.most_in_flight = 0  # the most answers being given at the same time
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client hanging up is expected
        self.closed.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, sent: int = 0, *, request: bool = False) -> None:
        with self._lock:
            self.bytes_sent += sent
            self.requests += request


class _Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer()

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.server.count(len(data))

    def _answer(self) -> None:
        server = self.server
        with server._lock:
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        try:
            self._answer_as_told()
        finally:
            with server._lock:
                server.in_flight -= 1

    def _answer_as_told(self) -> None:
        server = self.server
        server.count(request=True)
        behaviour = server.behaviour
        try:
            if behaviour == "drip_headers":
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
                for byte in (head * 10)[: server.drip_bytes]:
                    self._send(bytes([byte]))
                    time.sleep(server.interval)
                self.close_connection = True
            elif behaviour == "drip_body":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                body = b"[" + b" " * (server.drip_bytes - 2) + b"]"
                for byte in body:
                    self._send(bytes([byte]))
                    time.sleep(server.interval)
                self.close_connection = True
            elif behaviour in {"huge", "huge_announced"}:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if behaviour == "huge_announced":
                    self.send_header("Content-Length", str(10 * 1024**3))
                self.send_header("Connection", "close")
                self.end_headers()
                self._send(b"[")
                piece = b"".join(_ITEM % (n % 10, n) for n in range(1000))
                sent = 1
                while sent < server.huge_bytes:
                    self._send(piece)
                    sent += len(piece)
                self._send(b"{}]")
                self.close_connection = True
            elif behaviour == "continue_loop":
                time.sleep(server.loop_delay)
                body = server.chunk_body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ContinuePath", f"loop-{server.requests}")
                self.end_headers()
                self._send(body)
            elif behaviour == "rate_limited":
                body = b'{"Message": "slow down"}'
                self.send_response(429)
                self.send_header("Retry-After", server.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self._send(body)
            else:  # slow
                time.sleep(server.interval)
                if self.path.startswith("/OAuth20/Token"):
                    body = json.dumps(
                        {"access_token": "a", "refresh_token": "r", "expires_in": 900, "token_type": "bearer"}
                    ).encode()
                else:
                    body = b"[]"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self._send(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            server.closed.set()


@contextmanager
def hostile_server(behaviour: str, **settings: Any) -> Iterator[HostileServer]:
    server = HostileServer()
    server.behaviour = behaviour
    for name, value in settings.items():
        setattr(server, name, value)
    with serving(server):
        yield server


ServerT = TypeVar("ServerT", bound=ThreadingHTTPServer)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """``server`` answering in a thread of its own until the block ends, then closed."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
