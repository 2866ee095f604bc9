"""Bounded HTTP exchanges: a wall-clock deadline for the whole exchange and a ceiling on the answer's size.

Reference: docs/winbooks-api.md, "What the client does where the sources are thin" (Limits).

``requests`` bounds each socket read (the read timeout), not an exchange: a server that sends a byte every
few seconds, headers included, keeps a worker forever. Here every exchange gets a deadline; when it passes,
a watchdog thread shuts the exchange's socket down, which makes the blocked read return at once, and the
client reports the deadline. The answer is read in pieces, counted as they come, and abandoned as soon as
it is larger than allowed (a ``Content-Length`` that says so is refused before any of it is read).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "AddressRefused",
    "AnswerTooLarge",
    "DeadlinePassed",
    "Exchange",
    "SlotUnavailable",
    "bounded_session",
    "read_body",
]

_READ_PIECE = 64 * 1024


class AnswerTooLarge(Exception):
    """The answer is larger than the exchange allows (``size`` is what was seen or announced)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class DeadlinePassed(Exception):
    """The exchange's deadline passed before the answer was complete."""


class SlotUnavailable(Exception):
    """The caller's ``exchange_slot`` found no free slot in time (too many requests to one host at once)."""


class AddressRefused(Exception):
    """The host's name led to an address the caller does not allow (checked on the connected socket, so a
    name that resolves differently between a check and the call changes nothing)."""


class _Watchdog:
    """One daemon thread that calls each registered callback when its deadline passes, unless cancelled.

    The thread sleeps until the earliest deadline and is woken only by an earlier one: exchanges come with
    deadlines later than those already waiting, so a request costs no wake-up of this thread (waking it for
    each of a first sync's thousands of requests was a twentieth of the fetching CPU, profiled). A
    cancelled deadline stays in the heap until it comes first, and is dropped then without a call."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, callback: Callable[[], None]) -> int:
        with self._lock:
            ident = next(self._ids)
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline, ident, callback))
            self._live.add(ident)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="winbooks-deadlines", daemon=True)
                self._thread.start()
            if earliest is None or deadline < earliest:
                self._lock.notify()
            return ident

    def cancel(self, ident: int) -> None:
        with self._lock:
            self._live.discard(ident)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._heap:
                    self._lock.wait()
                deadline, ident, callback = self._heap[0]
                if ident not in self._live:
                    heapq.heappop(self._heap)
                    continue
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._lock.wait(timeout=wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(ident)
            with contextlib.suppress(Exception):  # a socket already gone is what the callback wanted anyway
                callback()


_WATCHDOG = _Watchdog()
_current = threading.local()


class Exchange:
    """One HTTP exchange under a deadline (``time.monotonic()`` seconds), as a context manager.

    While it is open, the socket that carries its request (in this thread) registers with it; when the
    deadline passes, that socket is shut down and ``aborted`` is set.
    """

    def __init__(self, deadline: float, address_allowed: Callable[[str], bool] | None = None) -> None:
        self.deadline = deadline
        self.address_allowed = address_allowed
        self.aborted = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._watch: int | None = None

    def __enter__(self) -> Exchange:
        _current.exchange = self
        self._watch = _WATCHDOG.watch(self.deadline, self._abort)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _current.exchange = None
        if self._watch is not None:
            _WATCHDOG.cancel(self._watch)
        with self._lock:
            self._sockets.clear()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self) -> None:
        if self.aborted or self.remaining() <= 0:
            self.aborted = True
            raise DeadlinePassed

    def _register(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _abort(self) -> None:
        with self._lock:
            self.aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            # The plain socket's shutdown, also under TLS: the read blocked in another thread returns. A
            # socket closed meanwhile refuses (its descriptor is not reused under it).
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _register_with_current_exchange(sock: socket.socket | None) -> None:
    exchange = getattr(_current, "exchange", None)
    if exchange is not None and sock is not None:
        exchange._register(sock)


def _check_peer(sock: socket.socket | None) -> None:
    exchange = getattr(_current, "exchange", None)
    if exchange is None or exchange.address_allowed is None or sock is None:
        return
    address = str(sock.getpeername()[0])
    if not exchange.address_allowed(address):
        sock.close()
        raise AddressRefused(address)


class _WatchedHTTPConnection(HTTPConnection):
    # The socket is registered, not the connection: http.client lets go of the connection's socket when an
    # answer ends with the connection, while the answer is still being read from it.
    def connect(self) -> None:
        super().connect()
        _register_with_current_exchange(self.sock)
        _check_peer(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register_with_current_exchange(self.sock)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _register_with_current_exchange(self.sock)
        _check_peer(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register_with_current_exchange(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }


class _EnvironmentReadOnceSession(requests.Session):
    """A session that reads the process's environment (proxy variables, ``REQUESTS_CA_BUNDLE``) once per
    origin instead of on every request, and never ``~/.netrc``.

    ``requests`` with ``trust_env`` looks up the proxy variables (and whether the host bypasses them) and
    the netrc files again for each request: about a tenth of the CPU of fetching a first sync's pages
    (profiled), for answers that cannot change while a worker runs. ``~/.netrc`` is left out on purpose:
    credentials found there for the host would replace the bearer token of every request.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self._environment: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}
        self._environment_lock = threading.Lock()

    def _environment_of(self, url: str) -> tuple[dict[str, str], str | None]:
        parts = urllib.parse.urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        with self._environment_lock:
            known = self._environment.get(origin)
            if known is None:
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                known = self._environment[origin] = (get_environ_proxies(url), bundle)
        return known

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        # What requests.Session does with trust_env, with the environment's answers read once per origin.
        environ_proxies, bundle = self._environment_of(str(url))
        proxies = dict(proxies or {})
        for scheme, address in environ_proxies.items():
            proxies.setdefault(scheme, address)
        if bundle and (verify is True or verify is None):
            verify = bundle
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


def bounded_session() -> requests.Session:
    """A session whose connections can be cut by an ``Exchange``'s deadline."""
    session = _EnvironmentReadOnceSession()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def read_body(response: requests.Response, *, max_bytes: int, exchange: Exchange) -> None:
    """Read a streamed answer into ``response.content``, refusing more than ``max_bytes`` (decoded).

    Raises ``AnswerTooLarge`` or ``DeadlinePassed`` (the response is closed), or what ``requests`` raises
    when the connection fails mid-answer.
    """
    try:
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.strip().isdigit() and int(announced) > max_bytes:
            raise AnswerTooLarge(int(announced))
        pieces: list[bytes] = []
        size = 0
        for piece in response.iter_content(chunk_size=_READ_PIECE):
            size += len(piece)
            if size > max_bytes:
                raise AnswerTooLarge(size)
            pieces.append(piece)
            exchange.check()
        exchange.check()
        response._content = b"".join(pieces)
        response._content_consumed = True  # type: ignore[attr-defined]
    except BaseException:
        response.close()
        raise
