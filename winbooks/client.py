"""HTTP client for the WinbooksOnWeb (WoW) REST API.

Reference: docs/winbooks-api.md (the contract shared with wow_sandbox/ and the sync engine).

One ``WinbooksClient`` serves one connection (one e-mail and its tokens) and is not thread-safe: give each
worker its own. Every HTTP request it makes, including token calls, retries and ContinuePath
continuations, is counted in ``api_calls`` and ``api_calls_by_kind``.
"""

from __future__ import annotations

import contextlib
import logging
import random as _random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from .auth import (
    REFRESH_MARGIN,
    TokenSet,
    auth_error,
    basic_authorization,
    exchange_form,
    redact,
    refresh_form,
    tokens_from_json,
)
from .backoff import backoff_delay
from .dates import dumps, loads
from .entities import entity
from .exceptions import (
    WinbooksAuthError,
    WinbooksBadPayload,
    WinbooksBadRequest,
    WinbooksDeadlineExceeded,
    WinbooksError,
    WinbooksForbidden,
    WinbooksNotFound,
    WinbooksRateLimited,
    WinbooksTooLarge,
    WinbooksTransientError,
    WinbooksUnreachable,
)
from .pagination import Key, Page, decoded_key, deep_merge, keyset_query, merge_chunks, record_key
from .query import Condition, Query
from .records import Record
from .transport import (
    AddressRefused,
    AnswerTooLarge,
    DeadlinePassed,
    Exchange,
    SlotUnavailable,
    bounded_session,
    read_body,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "INTERACTIVE_LIMITS",
    "Limits",
    "RefreshCoordinator",
    "WinbooksClient",
    "exchange_token",
]

DEFAULT_API_URL: Final = "https://rapi.winbooksonweb.be"
#: (connect, read) seconds: how long one socket operation may wait.
DEFAULT_TIMEOUT: Final = (5.0, 60.0)
#: Seconds one HTTP exchange (request sent, whole answer read) may take, however the server paces it.
DEFAULT_DEADLINE: Final = 120.0
USER_AGENT: Final = "silverfin-sync-winbooks-client/1"

#: ``coordinator(stale_tokens, do_refresh) -> tokens to use``; ``do_refresh(tokens)`` performs the HTTP
#: refresh and returns the new tokens.
RefreshCoordinator = Callable[[TokenSet, Callable[[TokenSet], TokenSet]], TokenSet]

R = TypeVar("R", bound=Record)
logger = logging.getLogger(__name__)

_JSON = "application/json"
_TOKEN_PATH = "/OAuth20/Token"
_ERROR_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Limits:
    """What one call may cost, whatever the server does (docs/winbooks-api.md, "Limits").

    A *call* is one request and its ContinuePath continuations; an *exchange* is one HTTP request and its
    answer. ``deadline`` bounds an exchange's wall-clock time (headers and body, however slowly they come),
    ``max_answer_bytes`` one answer's size (decoded), ``max_chunks``/``max_call_bytes`` a ContinuePath chain,
    ``max_call_seconds`` a whole call, sleeps between retries included. ``max_retry_after`` clamps what a
    server may ask us to wait (a longer ``Retry-After`` is read as this).
    """

    deadline: float = DEFAULT_DEADLINE
    max_answer_bytes: int = 32 * 1024 * 1024
    max_chunks: int = 2_000
    max_call_bytes: int = 128 * 1024 * 1024
    max_call_seconds: float = 900.0
    max_retry_after: float = 6 * 3600.0

    def __post_init__(self) -> None:
        for name in ("deadline", "max_answer_bytes", "max_chunks", "max_call_bytes", "max_call_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if not 0 <= self.max_retry_after < float("inf"):
            raise ValueError("max_retry_after must be finite and >= 0")


#: For calls made while a person waits on a page (connect, reconnect, link): a few seconds, no retries.
INTERACTIVE_LIMITS: Final = Limits(deadline=8.0, max_call_seconds=8.0)


class _CallSlot:
    """A licence slot held across the exchanges of one call: taken when its first exchange starts, kept
    between exchanges, given back when the call waits (a retry, a token refresh) and when it ends."""

    def __init__(self, take: Callable[[float], AbstractContextManager[None]], seconds: float) -> None:
        self._take = take
        self._seconds = seconds  # the lease: how long a worker that dies holding the slot keeps it
        self._held: AbstractContextManager[None] | None = None
        self._lease_end = 0.0
        self.ended = False

    @contextlib.contextmanager
    def use(self, needed: float) -> Iterator[None]:
        """The slot for an exchange that may last ``needed`` seconds: the one held, unless its lease could
        end before the exchange does (a long chain), then a fresh one."""
        if self._held is not None and self._lease_end - time.monotonic() < needed:
            self.release()
        if self._held is None:
            held = self._take(self._seconds)
            held.__enter__()  # SlotUnavailable from here ends the call, as from a slot of one exchange
            self._held = held
            self._lease_end = time.monotonic() + self._seconds
        yield

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)

    def end(self) -> None:
        self.ended = True
        self.release()


class _Call:
    """The running totals of one call (a request and its ContinuePath continuations)."""

    __slots__ = ("bytes", "chunks", "retries", "started")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.chunks = 0
        self.bytes = 0
        # Shared by the call's exchanges (continuations, the re-send after a token refresh): a server that
        # fails every other answer cannot make a call retry without end.
        self.retries = 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _not_sent(exc: requests.RequestException) -> bool:
    """Whether a failed request certainly never reached the server (safe to repeat a single-use grant)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        cause = exc.args[0]
        return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)
    return False


class WinbooksClient:
    """Client of one WoW connection.

    ``tokens`` may be ``None`` until ``exchange()`` is called. The access token is refreshed when it has
    expired by the injected clock (30 s early) or when a data call answers 401, once per request; the
    refresh goes through ``refresh_coordinator(stale, do_refresh)`` when given (for single-flight refresh
    across workers), otherwise ``do_refresh`` runs directly and ``on_tokens_refreshed(new)`` is called.

    Transient failures are retried ``max_retries`` times: 429 after ``Retry-After`` (a longer wait than
    ``retry_after_cap`` raises ``WinbooksRateLimited`` at once), 5xx and connection errors/timeouts with
    exponential backoff and jitter. 400, 403, 404 and a 401 after a refresh are never retried. Token
    requests are only repeated when the server cannot have consumed the single-use grant (429, 503,
    connection never established).

    ``exchange_slot(seconds)``, when given, is entered around each call (a slot of the licence's cap on
    concurrent requests, held at most ``seconds``): a request and its ContinuePath continuations, which
    follow one another in one thread, share one slot, given back while a retry waits. Exchanges a thread
    makes while its call holds a slot (a token refresh, a call made between two chunks) use that slot;
    ``SlotUnavailable`` from it ends the call as ``WinbooksRateLimited``.

    ``address_allowed(ip)``, when given, is asked about the address each new connection reached (after DNS
    resolution, on the connected socket); a refused one ends the call as ``WinbooksUnreachable``.

    Every call is bounded by ``limits`` (see ``Limits``): an exchange past its deadline raises
    ``WinbooksDeadlineExceeded`` and is not retried here (the server is too slow now; the caller decides
    when to try again), an answer or a chain too large raises ``WinbooksTooLarge``, never retried.
    """

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        email: str,
        tokens: TokenSet | None,
        on_tokens_refreshed: Callable[[TokenSet], None] | None = None,
        refresh_coordinator: RefreshCoordinator | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utcnow,
        random: Callable[[], float] = _random.random,
        retry_after_cap: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        limits: Limits | None = None,
        address_allowed: Callable[[str], bool] | None = None,
        exchange_slot: Callable[[float], AbstractContextManager[None]] | None = None,
    ) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise ValueError("api_url must start with https:// or http://")
        if not email:
            raise ValueError("email is required (the token endpoint authenticates with it)")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.api_url = api_url.rstrip("/")
        self._email = email
        self._tokens = tokens
        self._on_tokens_refreshed = on_tokens_refreshed
        self._refresh_coordinator = refresh_coordinator
        self._own_session = session is None
        self._session = session if session is not None else bounded_session()
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep = sleep
        self._now = now
        self._random = random
        self._retry_after_cap = retry_after_cap
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._limits = limits or Limits()
        self._address_allowed = address_allowed
        self._exchange_slot = exchange_slot
        self._thread_slot = threading.local()  # .holder: the _CallSlot of the call this thread is in
        #: Every HTTP request made (token calls, retries and ContinuePath continuations included).
        self.api_calls = 0
        #: The same count per kind: "token", "get", "list", "criteria".
        self.api_calls_by_kind: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"WinbooksClient(api_url={self.api_url!r}, api_calls={self.api_calls})"

    def __enter__(self) -> WinbooksClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Reference: docs/winbooks-api.md, "Hosts" (no route: releases the HTTP session it created)."""
        if self._own_session:
            self._session.close()

    @property
    def tokens(self) -> TokenSet | None:
        """Reference: docs/winbooks-api.md, "Authentication".

        The tokens in use (updated after every exchange or refresh).
        """
        return self._tokens

    # --- tokens -------------------------------------------------------------------------------------

    def exchange(self, exchange_token: str) -> TokenSet:
        """Reference: docs/winbooks-api.md, "Authentication" (Exchange).

        Trade a (single-use) exchange token for tokens, keep them and pass them to ``on_tokens_refreshed``.
        Raises ``WinbooksAuthError`` when refused (``reason`` from the OAuth ``error`` field).
        """
        tokens = self._token_request(exchange_form(exchange_token), grant="exchange", previous=None)
        self._tokens = tokens
        if self._on_tokens_refreshed is not None:
            self._on_tokens_refreshed(tokens)
        return tokens

    def refresh(self) -> TokenSet:
        """Reference: docs/winbooks-api.md, "Authentication" (Refresh).

        Refresh now (through the refresh coordinator), e.g. to test a stored connection.
        """
        return self._refresh(self._require_tokens())

    def _do_refresh(self, tokens: TokenSet) -> TokenSet:
        return self._token_request(
            refresh_form(tokens.refresh_token), grant="refresh", previous=tokens, extra_secrets=(tokens,)
        )

    def _default_coordinator(self, stale: TokenSet, do_refresh: Callable[[TokenSet], TokenSet]) -> TokenSet:
        new = do_refresh(stale)
        self._tokens = new
        if self._on_tokens_refreshed is not None:
            self._on_tokens_refreshed(new)
        return new

    def _refresh(self, stale: TokenSet) -> TokenSet:
        # No slot held while the coordinator may make this thread wait for another worker's refresh (which
        # may need a slot itself); the token exchange takes one as any exchange does.
        self._release_call_slot()
        coordinator = self._refresh_coordinator or self._default_coordinator
        new = coordinator(stale, self._do_refresh)
        if not isinstance(new, TokenSet):
            raise TypeError("refresh_coordinator must return a TokenSet")
        self._tokens = new
        return new

    def _require_tokens(self) -> TokenSet:
        if self._tokens is None:
            raise WinbooksAuthError("no tokens: exchange a token first", reason="no_tokens")
        return self._tokens

    def _token_request(
        self,
        form: Mapping[str, str],
        *,
        grant: str,
        previous: TokenSet | None,
        extra_secrets: tuple[TokenSet, ...] = (),
    ) -> TokenSet:
        url = self.api_url + _TOKEN_PATH
        headers = {
            "Authorization": basic_authorization(self._email),
            "Accept": _JSON,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        secrets = [*self._secrets(*extra_secrets), *form.values()]
        response = self._http(
            "token",
            "POST",
            url,
            headers=headers,
            data=urlencode(form).encode("ascii"),
            token=True,
            secrets=secrets,
        )
        status = response.status_code
        if 200 <= status < 300:
            data = self._json(response, "POST", url, secrets)
            return tokens_from_json(data, now=self._clock(), previous=previous)
        body = self._error_body(response, secrets)
        if 400 <= status < 500:
            raise auth_error(grant=grant, status=status, body=body, method="POST", url=url, secrets=secrets)
        raise self._status_error(response, "POST", url, body, secrets)

    # --- reading ------------------------------------------------------------------------------------

    def get_one(
        self, om: str, code_or_id: str, folder: str, *, max_level: int = 1, none_on_404: bool = False
    ) -> dict[str, Any] | None:
        """Reference: docs/winbooks-api.md, "Routes for data" (One object by code or Id).

        The object ``om`` (singular, e.g. ``"Customer"``) with this code or Id in ``folder``, or ``None``
        when the server answers 204. A 404 raises ``WinbooksNotFound`` (it means an unknown folder) unless
        ``none_on_404`` is set by a caller that knows the folder exists.
        """
        url = self._route(entity(om).om, _segment(code_or_id, "code_or_id"), folder, max_level=max_level)
        result: dict[str, Any] | None = None
        try:
            for payload in self._chunks("get", "GET", url, None):
                if payload is None:
                    continue
                if not isinstance(payload, dict):
                    raise WinbooksBadPayload("expected a JSON object", method="GET", url=url)
                result = payload if result is None else deep_merge(result, payload)
        except WinbooksNotFound:
            if none_on_404:
                return None
            raise
        return result

    def iter_all(self, om: str, folder: str, *, max_level: int = 1) -> Iterator[dict[str, Any]]:
        """Reference: docs/winbooks-api.md, "Routes for data" (All objects of a type) and "Chunking".

        Every object of type ``om`` in ``folder``, lazily, following ContinuePath.
        """
        url = self._route(entity(om).plural, None, folder, max_level=max_level)
        for item in self._items("list", "GET", url, None):
            if not isinstance(item, dict):
                raise WinbooksBadPayload("expected a list of JSON objects", method="GET", url=url)
            yield item

    def iter_records(self, record_type: type[R], folder: str, *, max_level: int = 1) -> Iterator[R]:
        """Reference: docs/winbooks-api.md, "Records".

        ``iter_all`` of ``record_type.OM`` turned into typed records, e.g.
        ``client.iter_records(BookYear, "DEMO_BV")``.
        """
        for item in self.iter_all(record_type.OM, folder, max_level=max_level):
            yield record_type.from_json(item)

    def iter_criteria(self, folder: str, query: Query) -> Iterator[Any]:
        """Reference: docs/winbooks-api.md, "ExecuteCriteria" and "Chunking (ContinuePath)".

        The rows of ``query``, lazily, following ContinuePath: objects, or with projections positional
        arrays (a flat list of scalars with a single projection).
        """
        url = self._route(query.plural, None, folder, max_level=query.max_level, action="ExecuteCriteria")
        body = dumps(query.to_json()).encode("utf-8")
        return self._items("criteria", "POST", url, body)

    def execute_criteria(self, folder: str, query: Query) -> list[Any]:
        """Reference: docs/winbooks-api.md, "ExecuteCriteria" and "Chunking (ContinuePath)".

        All rows of ``query`` (ContinuePath followed to the end).
        """
        return list(self.iter_criteria(folder, query))

    def iter_pages(self, folder: str, query: Query, page_size: int = 500) -> Iterator[list[Any]]:
        """Reference: docs/winbooks-api.md, "ExecuteCriteria" (FirstResult, MaxResult).

        Offset paging: pages of ``page_size`` rows from ``query.first_result``, until a page is short. Give
        the query a total order (e.g. ``order_by("Id")``), or rows may move between pages.
        """
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        offset = query.first_result
        while True:
            rows = self.execute_criteria(folder, query.paged(offset, page_size))
            if rows:
                yield rows
            if len(rows) < page_size:
                return
            offset += page_size

    def iter_changed(
        self,
        folder: str,
        om: str,
        *,
        since: datetime | None,
        after: Key | None = None,
        page_size: int = 500,
        max_level: int = 1,
        conditions: Sequence[Condition] = (),
        decode: Callable[[Iterable[bytes]], list[Any] | None] | None = None,
    ) -> Iterator[Page]:
        """Reference: docs/winbooks-api.md, "How the engine reads" (Changed since a cursor, keyset-paged).

        Objects of ``om`` modified since ``since`` (all objects when ``None``), in pages ordered by
        ``(Modified, Id)``. ``after`` resumes after a page's ``last_key`` (and then replaces ``since``).
        Extra ``conditions`` (e.g. ``in_("BookPeriod_Id", ids)``) are AND-ed to every page's query.
        Ends after a page with fewer than ``page_size`` rows; empty pages are not yielded. A record that the
        previous page already returned is dropped, and a page that does not move the key forward raises
        ``WinbooksBadPayload`` rather than looping.

        With ``decode`` (e.g. ``documents.decode_documents``), each answer's chunk bodies are first given to
        it, as they come: when it answers objects (with ``id`` and ``modified`` attributes), the page holds
        those (``decoded``); when it answers ``None``, the request is sent again and the page holds the
        usual parsed dicts (the bodies are not kept for that rare case).
        """
        key = after
        previous_ids: set[str] = set()
        while True:
            query = keyset_query(
                om, since=since, after=key, page_size=page_size, max_level=max_level, conditions=conditions
            )
            decoded: list[Any] | None = None
            if decode is None:
                rows = self.execute_criteria(folder, query)
            else:
                # Each chunk is decoded as it comes and its body dropped: one call's bodies are never all
                # held. An answer the decoder does not take plainly is asked again and parsed the usual way.
                bodies = self._criteria_bodies(folder, query)
                try:
                    decoded = decode(bodies)
                finally:
                    bodies.close()
                rows = decoded if decoded is not None else self.execute_criteria(folder, query)
            if rows:
                keyed = record_key if decoded is None else decoded_key
                new_key = keyed(rows[-1])
                if key is not None and new_key == key:
                    raise WinbooksBadPayload("keyset paging did not advance (the server ignored the cursor)")
                records: list[Any] = []
                ids = []
                for row in rows:
                    ident = keyed(row)[1]  # every row must be a keyed object
                    ids.append(ident)
                    if ident not in previous_ids:
                        records.append(row)
                previous_ids = set(ids)
                key = new_key
                if records:
                    yield Page(records=records, last_key=new_key, decoded=decoded is not None)
            if len(rows) < page_size:
                return

    def _criteria_bodies(self, folder: str, query: Query) -> Generator[bytes]:
        """The bodies of one ExecuteCriteria request and its ContinuePath continuations, one at a time."""
        url = self._route(query.plural, None, folder, max_level=query.max_level, action="ExecuteCriteria")
        body = dumps(query.to_json()).encode("utf-8")
        for response in self._responses("criteria", "POST", url, body):
            yield response.content

    def _route(
        self, om: str, code: str | None, folder: str, *, max_level: int, action: str | None = None
    ) -> str:
        parts = ["app", om]
        if code is not None:
            parts.append(quote(code, safe=""))
        parts += ["Folder", quote(_segment(folder, "folder"), safe="")]
        if action:
            parts.append(action)
        if max_level < 0:
            raise ValueError("max_level must be >= 0")
        return f"{self.api_url}/{'/'.join(parts)}?maxLevel={int(max_level)}"

    def _items(self, kind: str, method: str, url: str, body: bytes | None) -> Iterator[Any]:
        return merge_chunks(self._list_chunks(kind, method, url, body))

    def _list_chunks(self, kind: str, method: str, url: str, body: bytes | None) -> Iterator[list[Any]]:
        return self._lists(self._chunks(kind, method, url, body), method, url)

    @staticmethod
    def _lists(payloads: Iterable[Any], method: str, url: str) -> Iterator[list[Any]]:
        for payload in payloads:
            if payload is None:
                continue
            if not isinstance(payload, list):
                raise WinbooksBadPayload("expected a JSON list", method=method, url=url)
            yield payload

    def _chunks(self, kind: str, method: str, url: str, body: bytes | None) -> Iterator[Any]:
        """The parsed answers to one request and its ContinuePath continuations (``None`` for no body)."""
        for response in self._responses(kind, method, url, body):
            yield self._json(response, method, url, self._secrets())

    def _responses(self, kind: str, method: str, url: str, body: bytes | None) -> Iterator[requests.Response]:
        """The answers to one request and its ContinuePath continuations, within the call's limits."""
        call = _Call()
        with self._call_slot():
            yield from self._chained_responses(kind, method, url, body, call)

    def _chained_responses(
        self, kind: str, method: str, url: str, body: bytes | None, call: _Call
    ) -> Iterator[requests.Response]:
        continue_path: str | None = None
        while True:
            if call.chunks >= self._limits.max_chunks:
                raise WinbooksTooLarge(
                    f"WinbooksOnWeb kept answering in more than {self._limits.max_chunks} ContinuePath chunks",
                    method=method,
                    url=url,
                )
            response = self._data_request(kind, method, url, body, continue_path, call)
            call.chunks += 1
            continue_path = response.headers.get("ContinuePath") or None
            yield response
            if continue_path is None:
                return

    def _data_request(
        self, kind: str, method: str, url: str, body: bytes | None, continue_path: str | None, call: _Call
    ) -> requests.Response:
        tokens = self._require_tokens()
        refreshed = False
        if tokens.expires_within(self._clock(), REFRESH_MARGIN):
            tokens = self._refresh(tokens)
            refreshed = True
        while True:
            headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": _JSON}
            if body is not None:
                headers["Content-Type"] = f"{_JSON}; charset=utf-8"
            if continue_path is not None:
                headers["ContinuePath"] = continue_path
            secrets = self._secrets(tokens)
            response = self._http(kind, method, url, headers=headers, data=body, secrets=secrets, call=call)
            if response.status_code == 401:
                if refreshed:
                    raise WinbooksAuthError(
                        "WinbooksOnWeb refused the access token again after a refresh",
                        reason="unauthorized",
                        status=401,
                        body=self._error_body(response, secrets),
                        method=method,
                        url=url,
                    )
                tokens = self._refresh(tokens)
                refreshed = True
                continue
            if not 200 <= response.status_code < 300:
                raise self._status_error(response, method, url, self._error_body(response, secrets), secrets)
            return response

    def _http(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        data: bytes | None,
        secrets: list[str],
        token: bool = False,
        call: _Call | None = None,
    ) -> requests.Response:
        """One request with the retry policy, within the call's limits; returns any answer not retried."""
        headers = {"User-Agent": USER_AGENT, **headers}
        call = call or _Call()
        limits = self._limits
        while True:
            left = limits.max_call_seconds - (time.monotonic() - call.started)
            if left <= 0:
                raise self._deadline_exceeded(limits.max_call_seconds, method, url, whole_call=True)
            cut_by_call = left < limits.deadline  # then the exchange ends with the call's own deadline
            exchange = Exchange(time.monotonic() + min(limits.deadline, left), self._address_allowed)
            answer_limit = min(limits.max_answer_bytes, limits.max_call_bytes - call.bytes)
            self.api_calls += 1
            self.api_calls_by_kind[kind] = self.api_calls_by_kind.get(kind, 0) + 1
            try:
                with self._slot(exchange), exchange:
                    response = self._session.request(
                        method,
                        url,
                        headers=headers,
                        data=data,
                        timeout=self._timeout,
                        allow_redirects=False,
                        stream=True,
                    )
                    read_body(response, max_bytes=answer_limit, exchange=exchange)
            except AnswerTooLarge:
                raise self._too_large(answer_limit < limits.max_answer_bytes, method, url) from None
            except DeadlinePassed:
                raise self._exchange_deadline(cut_by_call, method, url) from None
            except SlotUnavailable:
                # Other workers hold every request slot of this licence: try the run again a little later.
                raise WinbooksRateLimited(
                    "too many requests to this WinbooksOnWeb licence at once; try again shortly",
                    retry_after=30.0,
                    status=None,
                    method=method,
                    url=url,
                ) from None
            except AddressRefused:
                # Said no more precisely: what is (or is not) at an address must not be learnt from here.
                raise WinbooksUnreachable(
                    "WinbooksOnWeb could not be reached (the API location's address is not allowed)",
                    method=method,
                    url=url,
                ) from None
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                if exchange.aborted:  # the watchdog cut the connection at the deadline
                    raise self._exchange_deadline(cut_by_call, method, url) from None
                delay = self._backoff(call.retries)
                if (
                    call.retries < self._max_retries
                    and (not token or _not_sent(exc))
                    and self._can_wait(call, delay)
                ):
                    self._wait_without_slot(delay)
                    call.retries += 1
                    continue
                what = (
                    "did not answer in time" if isinstance(exc, requests.Timeout) else "could not be reached"
                )
                detail = redact(f"{type(exc).__name__}: {exc}", secrets)
                raise WinbooksUnreachable(
                    f"WinbooksOnWeb {what} ({_shorten(detail)})", method=method, url=url
                ) from None
            except requests.RequestException as exc:
                raise WinbooksError(
                    f"request failed: {type(exc).__name__}; check the API location", method=method, url=url
                ) from None
            call.bytes += len(response.content)
            status = response.status_code
            logger.debug("WinbooksOnWeb %s %s -> %s (retry %d)", method, url, status, call.retries)
            if status == 429 or status >= 500:
                retry_after = self._retry_after(response)
                if status == 429 and retry_after is not None and retry_after > self._retry_after_cap:
                    raise self._rate_limited(response, method, url, retry_after, secrets)
                retryable = status in (429, 503) if token else True
                if not retryable:
                    return response
                if retry_after is not None and retry_after <= self._retry_after_cap:
                    delay = retry_after
                else:
                    delay = self._backoff(call.retries)
                if call.retries >= self._max_retries or not self._can_wait(call, delay):
                    if status == 429:
                        raise self._rate_limited(response, method, url, retry_after, secrets)
                    return response
                self._wait_without_slot(delay)
                call.retries += 1
                continue
            return response

    def _slot(self, exchange: Exchange) -> AbstractContextManager[object]:
        """One of the licence's request slots for this exchange (shared across workers), when capped: the
        one this thread's call holds, else one for the exchange alone."""
        if self._exchange_slot is None:
            return contextlib.nullcontext()
        holder = self._call_slot_holder()
        if holder is not None:
            return holder.use(max(0.0, exchange.remaining()))
        return self._exchange_slot(max(0.0, exchange.remaining()))

    def _call_slot_holder(self) -> _CallSlot | None:
        holder: _CallSlot | None = getattr(self._thread_slot, "holder", None)
        return holder if holder is not None and not holder.ended else None

    @contextlib.contextmanager
    def _call_slot(self) -> Iterator[None]:
        """Hold one slot for the call's exchanges, taken at its first exchange: a chain of 40 continuations
        then asks Redis twice instead of 80 times (profiled: a tenth of the CPU of reading a first sync's
        pages). A call made while another holds a slot (a call between two chunks) uses that one."""
        if self._exchange_slot is None or self._call_slot_holder() is not None:
            yield
            return
        # Leased for two exchanges' deadlines: a chain is seconds long, and one that outlasts the lease
        # takes a fresh slot; a worker that dies holding one frees it when the lease ends, as with a slot
        # of one exchange (whose lease is one deadline).
        holder = _CallSlot(self._exchange_slot, 2 * self._limits.deadline)
        self._thread_slot.holder = holder
        try:
            yield
        finally:
            # A generator can be closed in another thread (where its last reference went): ``ended`` keeps
            # the holder from being used again wherever it is still referenced.
            holder.end()

    def _release_call_slot(self) -> None:
        holder = self._call_slot_holder()
        if holder is not None:
            holder.release()

    def _wait_without_slot(self, delay: float) -> None:
        """Sleep before a retry with no slot held: another request of the licence may use it meanwhile."""
        self._release_call_slot()
        self._sleep(delay)

    def _can_wait(self, call: _Call, delay: float) -> bool:
        """Whether sleeping ``delay`` before a retry still leaves the call time to send it."""
        return time.monotonic() - call.started + delay < self._limits.max_call_seconds

    def _exchange_deadline(self, cut_by_call: bool, method: str, url: str) -> WinbooksDeadlineExceeded:
        limits = self._limits
        if cut_by_call:
            return self._deadline_exceeded(limits.max_call_seconds, method, url, whole_call=True)
        return self._deadline_exceeded(limits.deadline, method, url)

    def _deadline_exceeded(
        self, seconds: float, method: str, url: str, *, whole_call: bool = False
    ) -> WinbooksDeadlineExceeded:
        what = "this call" if whole_call else "one answer"
        return WinbooksDeadlineExceeded(
            f"WinbooksOnWeb took longer than {seconds:g} s for {what}; the exchange was abandoned",
            method=method,
            url=url,
        )

    def _too_large(self, whole_call: bool, method: str, url: str) -> WinbooksTooLarge:
        limits = self._limits
        if whole_call:
            message = (
                f"WinbooksOnWeb's answers to one request (ContinuePath chunks included) exceeded "
                f"{limits.max_call_bytes / 1_048_576:g} MB; the read was abandoned"
            )
        else:
            message = (
                f"WinbooksOnWeb answered more than {limits.max_answer_bytes / 1_048_576:g} MB at once; "
                "the answer was abandoned"
            )
        return WinbooksTooLarge(message, method=method, url=url)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap, rand=self._random)

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None or not value.strip():
            return None
        try:
            seconds = float(value.strip())
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - self._clock()).total_seconds()
            except (TypeError, ValueError, OverflowError):
                return None
        if seconds != seconds:  # NaN
            return None
        # Clamped: a server cannot make us wait for ever, nor overflow a scheduler with 1e308 s.
        return min(max(0.0, seconds), self._limits.max_retry_after)

    def _rate_limited(
        self,
        response: requests.Response,
        method: str,
        url: str,
        retry_after: float | None,
        secrets: list[str],
    ) -> WinbooksRateLimited:
        wait = "" if retry_after is None else f"; retry after {retry_after:g} s"
        return WinbooksRateLimited(
            f"WinbooksOnWeb rate limit reached{wait}",
            retry_after=retry_after,
            status=response.status_code,
            body=self._error_body(response, secrets),
            method=method,
            url=url,
        )

    def _status_error(
        self, response: requests.Response, method: str, url: str, body: Any, secrets: list[str]
    ) -> WinbooksError:
        status = response.status_code
        server = _server_message(body)
        suffix = f": {server}" if server else ""
        kwargs: dict[str, Any] = {"status": status, "body": body, "method": method, "url": url}
        if status == 403:
            return WinbooksForbidden(
                f"WinbooksOnWeb refused access (Rest API module inactive or no access to the folder){suffix}",
                **kwargs,
            )
        if status == 404:
            return WinbooksNotFound(f"WinbooksOnWeb found nothing there (unknown folder?){suffix}", **kwargs)
        if status == 429:
            return self._rate_limited(response, method, url, self._retry_after(response), secrets)
        if status >= 500:
            return WinbooksTransientError(f"WinbooksOnWeb server error{suffix}", **kwargs)
        if 400 <= status < 500:
            return WinbooksBadRequest(f"WinbooksOnWeb rejected the request{suffix}", **kwargs)
        if 300 <= status < 400:
            location = redact(response.headers.get("Location", ""), secrets)
            return WinbooksError(
                f"unexpected redirect to {location or '?'}; check the API location", **kwargs
            )
        return WinbooksBadPayload(f"unexpected HTTP status {status}", **kwargs)

    def _json(self, response: requests.Response, method: str, url: str, secrets: list[str]) -> Any:
        content = response.content
        if response.status_code == 204 or not content.strip():
            return None
        try:
            return loads(content)
        except (ValueError, RecursionError):
            raise WinbooksBadPayload(
                "WinbooksOnWeb answered something that is not valid JSON",
                status=response.status_code,
                body=_text(response, secrets),
                method=method,
                url=url,
            ) from None

    def _error_body(self, response: requests.Response, secrets: list[str]) -> Any:
        try:
            parsed = loads(response.content) if response.content.strip() else None
        except (ValueError, RecursionError):
            return _text(response, secrets)
        return redact(parsed, secrets)

    def _secrets(self, *token_sets: TokenSet) -> list[str]:
        secrets = [self._email, basic_authorization(self._email).removeprefix("Basic ")]
        for tokens in (self._tokens, *token_sets):
            if tokens is not None:
                secrets += [tokens.access_token, tokens.refresh_token]
        return secrets

    def _clock(self) -> datetime:
        now = self._now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the client's clock must return timezone-aware datetimes")
        return now


def _segment(value: str, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(response: requests.Response, secrets: list[str]) -> str:
    text = response.content[:_ERROR_TEXT_LIMIT].decode("utf-8", errors="replace")
    return str(redact(text, secrets))


def _server_message(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("Message", "message", "error_description", "error", "ExceptionMessage"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return _shorten(value)
    if isinstance(body, str) and body.strip() and not body.lstrip().startswith("<"):
        return _shorten(body, 200)
    return ""


def exchange_token(
    *,
    api_url: str = DEFAULT_API_URL,
    email: str,
    exchange_token: str,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    now: Callable[[], datetime] = _utcnow,
    max_retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    limits: Limits | None = None,
    address_allowed: Callable[[str], bool] | None = None,
) -> TokenSet:
    """Reference: docs/winbooks-api.md, "Authentication" (Exchange).

    Trade an exchange token for a ``TokenSet``: ``POST /OAuth20/Token`` with Basic base64(email) and the
    form ``grant_type=exchange_token&code=…``. Raises ``WinbooksAuthError`` when refused,
    ``WinbooksUnreachable`` when the server cannot be reached.
    """
    client = WinbooksClient(
        api_url=api_url,
        email=email,
        tokens=None,
        session=session,
        timeout=timeout,
        now=now,
        max_retries=max_retries,
        sleep=sleep,
        limits=limits,
        address_allowed=address_allowed,
    )
    with client:
        return client.exchange(exchange_token)
