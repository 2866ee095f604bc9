"""Token exchange, refresh (on expiry and on 401), the refresh coordinator and auth failures."""

from __future__ import annotations

import base64
import pickle
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses import matchers

from tests.winbooks.fake_api import API, EMAIL, NOW
from winbooks import (
    TokenSet,
    WinbooksAuthError,
    WinbooksBadPayload,
    WinbooksClient,
    WinbooksTransientError,
    WinbooksUnreachable,
    exchange_token,
)

TOKEN_URL = f"{API}/OAuth20/Token"
BASIC = "Basic " + base64.b64encode(EMAIL.encode()).decode()
CUSTOMER_URL = f"{API}/app/Customer/ALICE/Folder/DEMO?maxLevel=1"
TOKENS = TokenSet("ACCESS-OLD-secret", "REFRESH-OLD-secret", NOW + timedelta(minutes=10))


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_client(tokens: TokenSet | None = TOKENS, **kwargs: object) -> tuple[WinbooksClient, list[float]]:
    sleeps: list[float] = []
    options: dict[str, object] = {"now": Clock(), "sleep": sleeps.append, "random": lambda: 1.0}
    options.update(kwargs)
    client = WinbooksClient(api_url=API, email=EMAIL, tokens=tokens, **options)  # type: ignore[arg-type]
    return client, sleeps


def token_answer(access: str, refresh: str, expires_in: object = "900") -> dict[str, object]:
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "scope": None,
        "refresh_token": refresh,
    }


def form(call: responses.Call) -> dict[str, list[str]]:
    body = call.request.body
    assert isinstance(body, bytes | str)
    return parse_qs(body.decode() if isinstance(body, bytes) else body)


# --- exchange ---------------------------------------------------------------------------------------


def test_exchange_ok_sends_basic_email_and_form(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, json=token_answer("A1", "TGe0!R1"))
    tokens = exchange_token(api_url=API, email=EMAIL, exchange_token="XCH-secret", now=Clock())
    assert tokens == TokenSet("A1", "TGe0!R1", NOW + timedelta(seconds=900))
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == BASIC
    assert base64.b64decode(BASIC.removeprefix("Basic ")).decode() == EMAIL  # the e-mail alone, no colon
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(rsps.calls[0]) == {"grant_type": ["exchange_token"], "code": ["XCH-secret"]}
    assert "A1" not in repr(tokens) and "TGe0" not in repr(tokens)


@pytest.mark.parametrize(
    ("expires_in", "seconds"), [(3600, 3600), ("86400", 86400), (None, 900), ("900.5", 900.5)]
)
def test_exchange_accepts_string_or_number_expires_in(
    rsps: responses.RequestsMock, expires_in: object, seconds: float
) -> None:
    rsps.post(TOKEN_URL, json=token_answer("A1", "R1", expires_in))
    tokens = exchange_token(api_url=API, email=EMAIL, exchange_token="XCH", now=Clock())
    assert tokens.expires_at == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (400, "invalid_grant", "invalid_grant"),
        (401, "invalid_client", "invalid_client"),
        (403, "access_denied", "access_denied"),
        (400, "expired_token", "expired"),
        (400, None, "unknown"),
    ],
)
def test_exchange_refused(rsps: responses.RequestsMock, status: int, error: str | None, reason: str) -> None:
    body = {"error": error, "error_description": "token XCH-secret refused for boekhouding@example.be"}
    rsps.post(TOKEN_URL, status=status, json=body if error else {"Message": "nope"})
    sleeps: list[float] = []
    with pytest.raises(WinbooksAuthError) as caught:
        exchange_token(api_url=API, email=EMAIL, exchange_token="XCH-secret", sleep=sleeps.append)
    exc = caught.value
    assert exc.reason == reason
    assert exc.status == status
    assert exc.transient is False
    assert len(rsps.calls) == 1 and sleeps == []  # never retried
    for text in (str(exc), repr(exc), repr(exc.body)):
        assert "XCH-secret" not in text
        assert EMAIL not in text
        assert BASIC.removeprefix("Basic ") not in text


def test_exchange_connection_error_is_unreachable_and_not_retried(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, body=requests.ConnectionError("Connection reset by peer"))
    sleeps: list[float] = []
    with pytest.raises(WinbooksUnreachable) as caught:
        exchange_token(api_url=API, email=EMAIL, exchange_token="XCH-secret", sleep=sleeps.append)
    assert isinstance(caught.value, WinbooksTransientError)
    assert caught.value.transient is True
    # The grant is single-use: a request that may have reached the server is not repeated.
    assert len(rsps.calls) == 1 and sleeps == []
    assert "XCH-secret" not in str(caught.value)


def test_exchange_retried_when_the_connection_was_never_established(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, body=requests.ConnectTimeout("connect timeout"))
    rsps.post(TOKEN_URL, status=503)
    rsps.post(TOKEN_URL, json=token_answer("A1", "R1"))
    client, sleeps = make_client(tokens=None)
    assert client.exchange("XCH").access_token == "A1"
    assert sleeps == [0.5, 1.0]
    assert client.api_calls_by_kind == {"token": 3}


def test_exchange_500_is_transient_and_not_retried(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, status=500, json={"Message": "boom"})
    client, sleeps = make_client(tokens=None)
    with pytest.raises(WinbooksTransientError) as caught:
        client.exchange("XCH")
    assert caught.value.status == 500
    assert sleeps == [] and client.api_calls == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"<html>maintenance</html>",
        b'{"token_type": "bearer"}',
        b'{"access_token": "A", "refresh_token": "R", "expires_in": "soon"}',
        b'{"access_token": "A", "expires_in": 900}',
        b"[1, 2]",
    ],
)
def test_exchange_bad_answer(rsps: responses.RequestsMock, answer: bytes) -> None:
    rsps.post(TOKEN_URL, body=answer, content_type="application/json")
    with pytest.raises(WinbooksBadPayload):
        exchange_token(api_url=API, email=EMAIL, exchange_token="XCH")


def test_client_exchange_stores_tokens_and_calls_back(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, json=token_answer("A1", "R1", 900))
    seen: list[TokenSet] = []
    client, _ = make_client(tokens=None, on_tokens_refreshed=seen.append)
    tokens = client.exchange("XCH")
    assert client.tokens == tokens and seen == [tokens]
    assert client.api_calls == 1 and client.api_calls_by_kind == {"token": 1}


def test_no_tokens_is_an_auth_error_without_any_call(rsps: responses.RequestsMock) -> None:
    client, _ = make_client(tokens=None)
    with pytest.raises(WinbooksAuthError) as caught:
        client.get_one("Customer", "ALICE", "DEMO")
    assert caught.value.reason == "no_tokens"
    assert client.api_calls == 0


# --- refresh ----------------------------------------------------------------------------------------


def test_refresh_on_401_then_retry(rsps: responses.RequestsMock) -> None:
    rsps.get(
        CUSTOMER_URL,
        status=401,
        match=[matchers.header_matcher({"Authorization": "Bearer ACCESS-OLD-secret"})],
    )
    rsps.post(TOKEN_URL, json=token_answer("ACCESS-NEW", "REFRESH-NEW"))
    rsps.get(
        CUSTOMER_URL,
        json={"Code": "ALICE"},
        match=[matchers.header_matcher({"Authorization": "Bearer ACCESS-NEW"})],
    )
    seen: list[TokenSet] = []
    client, _ = make_client(on_tokens_refreshed=seen.append)
    assert client.get_one("Customer", "ALICE", "DEMO") == {"Code": "ALICE"}
    refresh_call = rsps.calls[1]
    assert refresh_call.request.headers["Authorization"] == BASIC
    assert form(refresh_call) == {
        "grant_type": ["refresh_token"],
        "code": ["REFRESH-OLD-secret"],
        "refresh_token": ["REFRESH-OLD-secret"],
    }
    new = TokenSet("ACCESS-NEW", "REFRESH-NEW", NOW + timedelta(seconds=900))
    assert seen == [new] and client.tokens == new
    assert client.api_calls == 3
    assert client.api_calls_by_kind == {"get": 2, "token": 1}


def test_refresh_before_the_call_when_expired_by_the_clock(rsps: responses.RequestsMock) -> None:
    clock = Clock(TOKENS.expires_at - timedelta(seconds=29))  # within the 30 s margin
    rsps.post(TOKEN_URL, json=token_answer("ACCESS-NEW", "REFRESH-NEW"))
    rsps.get(
        CUSTOMER_URL,
        json={"Code": "ALICE"},
        match=[matchers.header_matcher({"Authorization": "Bearer ACCESS-NEW"})],
    )
    seen: list[TokenSet] = []
    client, _ = make_client(now=clock, on_tokens_refreshed=seen.append)
    client.get_one("Customer", "ALICE", "DEMO")
    assert [call.request.url for call in rsps.calls] == [TOKEN_URL, CUSTOMER_URL]
    assert seen[0].expires_at == clock.now + timedelta(seconds=900)


def test_no_refresh_while_the_token_is_fresh(rsps: responses.RequestsMock) -> None:
    clock = Clock(TOKENS.expires_at - timedelta(seconds=31))
    rsps.get(CUSTOMER_URL, json={"Code": "ALICE"})
    client, _ = make_client(now=clock)
    client.get_one("Customer", "ALICE", "DEMO")
    assert client.api_calls_by_kind == {"get": 1}


def test_refresh_response_without_refresh_token_keeps_the_old_one(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, json={"access_token": "ACCESS-NEW", "expires_in": "900"})
    client, _ = make_client()
    assert client.refresh() == TokenSet("ACCESS-NEW", "REFRESH-OLD-secret", NOW + timedelta(seconds=900))


def test_refresh_coordinator_is_used(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMER_URL, status=401)
    rsps.post(TOKEN_URL, json=token_answer("ACCESS-NEW", "REFRESH-NEW"))
    rsps.get(
        CUSTOMER_URL,
        json={"Code": "ALICE"},
        match=[matchers.header_matcher({"Authorization": "Bearer ACCESS-NEW"})],
    )
    calls: list[TokenSet] = []
    callback: list[TokenSet] = []

    def coordinator(stale: TokenSet, do_refresh: object) -> TokenSet:
        calls.append(stale)
        assert callable(do_refresh)
        new = do_refresh(stale)
        assert isinstance(new, TokenSet)
        return new

    client, _ = make_client(refresh_coordinator=coordinator, on_tokens_refreshed=callback.append)
    client.get_one("Customer", "ALICE", "DEMO")
    assert calls == [TOKENS]
    assert client.tokens is not None and client.tokens.access_token == "ACCESS-NEW"
    assert callback == []  # persisting is the coordinator's job


def test_refresh_coordinator_may_return_tokens_refreshed_by_another_worker(
    rsps: responses.RequestsMock,
) -> None:
    other = TokenSet("ACCESS-OTHER", "REFRESH-OTHER", NOW + timedelta(minutes=15))
    rsps.get(CUSTOMER_URL, status=401)
    rsps.get(
        CUSTOMER_URL,
        json={"Code": "ALICE"},
        match=[matchers.header_matcher({"Authorization": "Bearer ACCESS-OTHER"})],
    )
    client, _ = make_client(refresh_coordinator=lambda stale, do_refresh: other)
    assert client.get_one("Customer", "ALICE", "DEMO") == {"Code": "ALICE"}
    assert client.tokens == other
    assert "token" not in client.api_calls_by_kind


@pytest.mark.parametrize("status", [400, 401])
def test_refused_refresh_is_permanent_and_does_not_loop(rsps: responses.RequestsMock, status: int) -> None:
    rsps.get(CUSTOMER_URL, status=401)
    error = "invalid_grant" if status == 400 else "invalid_client"
    rsps.post(
        TOKEN_URL, status=status, json={"error": error, "error_description": "REFRESH-OLD-secret is revoked"}
    )
    seen: list[TokenSet] = []
    client, sleeps = make_client(on_tokens_refreshed=seen.append)
    with pytest.raises(WinbooksAuthError) as caught:
        client.get_one("Customer", "ALICE", "DEMO")
    assert caught.value.reason == error
    assert "refresh" in caught.value.message
    assert client.api_calls == 2 and sleeps == [] and seen == []
    assert client.tokens == TOKENS
    assert "REFRESH-OLD-secret" not in str(caught.value) + repr(caught.value) + repr(caught.value.body)


def test_401_after_a_refresh_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    rsps.get(CUSTOMER_URL, status=401)
    rsps.post(TOKEN_URL, json=token_answer("ACCESS-NEW", "REFRESH-NEW"))
    rsps.get(CUSTOMER_URL, status=401)
    client, _ = make_client()
    with pytest.raises(WinbooksAuthError) as caught:
        client.get_one("Customer", "ALICE", "DEMO")
    assert caught.value.reason == "unauthorized" and caught.value.status == 401
    assert client.api_calls_by_kind == {"get": 2, "token": 1}


def test_401_after_a_clock_refresh_does_not_refresh_again(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, json=token_answer("ACCESS-NEW", "REFRESH-NEW"))
    rsps.get(CUSTOMER_URL, status=401)
    client, _ = make_client(now=Clock(TOKENS.expires_at))
    with pytest.raises(WinbooksAuthError):
        client.get_one("Customer", "ALICE", "DEMO")
    assert client.api_calls_by_kind == {"token": 1, "get": 1}


def test_token_set_requires_an_aware_expiry() -> None:
    with pytest.raises(ValueError):
        TokenSet("a", "r", datetime(2024, 1, 1))


def test_auth_error_survives_pickling() -> None:
    error = WinbooksAuthError("refused", reason="invalid_grant", status=400, method="POST", url=TOKEN_URL)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is WinbooksAuthError
    assert (copy.reason, copy.status, copy.url, str(copy)) == ("invalid_grant", 400, TOKEN_URL, str(error))
