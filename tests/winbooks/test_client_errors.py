"""Error classes by status, the retry policy (Retry-After, backoff) and secrets kept out of errors."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from tests.winbooks.fake_api import API, EMAIL, NOW
from winbooks import (
    TokenSet,
    WinbooksBadPayload,
    WinbooksBadRequest,
    WinbooksClient,
    WinbooksError,
    WinbooksForbidden,
    WinbooksNotFound,
    WinbooksRateLimited,
    WinbooksTransientError,
    WinbooksUnreachable,
)

TOKENS = TokenSet("ACCESS-secret-123", "REFRESH-secret-456", NOW + timedelta(hours=1))
URL = f"{API}/app/Journals/Folder/DEMO?maxLevel=1"


def make_client(**kwargs: object) -> tuple[WinbooksClient, list[float]]:
    sleeps: list[float] = []
    options: dict[str, object] = {"now": lambda: NOW, "sleep": sleeps.append, "random": lambda: 1.0}
    options.update(kwargs)
    client = WinbooksClient(api_url=API, email=EMAIL, tokens=TOKENS, **options)  # type: ignore[arg-type]
    return client, sleeps


def read_all(client: WinbooksClient) -> list[dict[str, object]]:
    return list(client.iter_all("Journal", "DEMO"))


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, WinbooksBadRequest),
        (403, WinbooksForbidden),
        (404, WinbooksNotFound),
        (405, WinbooksBadRequest),
        (409, WinbooksBadRequest),
    ],
)
def test_permanent_statuses_raise_at_once(
    rsps: responses.RequestsMock, status: int, error_class: type[WinbooksError]
) -> None:
    rsps.get(URL, status=status, json={"Message": "Folder DEMO: computer says no"})
    client, sleeps = make_client()
    with pytest.raises(error_class) as caught:
        read_all(client)
    exc = caught.value
    assert type(exc) is error_class
    assert (exc.status, exc.method, exc.url) == (status, "GET", URL)
    assert exc.body == {"Message": "Folder DEMO: computer says no"}
    assert "computer says no" in str(exc)
    assert exc.transient is False
    assert client.api_calls == 1 and sleeps == []  # never retried


def test_forbidden_and_not_found_messages_help_the_user(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=403, body=b"")
    client, _ = make_client()
    with pytest.raises(WinbooksForbidden, match="Rest API module"):
        read_all(client)


def test_retry_after_is_honoured(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=429, headers={"Retry-After": "7"})
    rsps.get(URL, status=429, headers={"Retry-After": "0.5"})
    rsps.get(URL, json=[{"Code": "VERK"}])
    client, sleeps = make_client()
    assert read_all(client) == [{"Code": "VERK"}]
    assert sleeps == [7.0, 0.5]
    assert client.api_calls == 3


def test_retry_after_as_http_date(rsps: responses.RequestsMock) -> None:
    rsps.get(
        URL, status=429, headers={"Retry-After": format_datetime(NOW + timedelta(seconds=12), usegmt=True)}
    )
    rsps.get(URL, json=[])
    client, sleeps = make_client()
    assert read_all(client) == []
    assert sleeps == [12.0]


def test_long_retry_after_is_left_to_the_caller(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=429, headers={"Retry-After": "120"})
    client, sleeps = make_client()
    with pytest.raises(WinbooksRateLimited) as caught:
        read_all(client)
    assert caught.value.retry_after == 120.0
    assert caught.value.transient is True
    assert sleeps == [] and client.api_calls == 1


def test_rate_limit_exhausts_retries(rsps: responses.RequestsMock) -> None:
    for _ in range(4):
        rsps.get(URL, status=429, headers={"Retry-After": "1"})
    client, sleeps = make_client()
    with pytest.raises(WinbooksRateLimited) as caught:
        read_all(client)
    assert caught.value.retry_after == 1.0 and caught.value.status == 429
    assert sleeps == [1.0, 1.0, 1.0]
    assert client.api_calls == 4


def test_429_without_retry_after_backs_off(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=429)
    rsps.get(URL, json=[])
    client, sleeps = make_client()
    read_all(client)
    assert sleeps == [0.5]


def test_backoff_on_503_then_success(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=503)
    rsps.get(URL, status=502)
    rsps.get(URL, json=[{"Code": "VERK"}])
    client, sleeps = make_client()
    assert read_all(client) == [{"Code": "VERK"}]
    assert sleeps == [0.5, 1.0]  # exponential: base 0.5 s doubled per attempt
    assert client.api_calls_by_kind == {"list": 3}


def test_backoff_jitter_stays_within_half_to_full_delay(rsps: responses.RequestsMock) -> None:
    for _ in range(3):
        rsps.get(URL, status=500)
    rsps.get(URL, json=[])
    client, sleeps = make_client(random=lambda: 0.0)
    read_all(client)
    assert sleeps == [0.25, 0.5, 1.0]


def test_server_errors_exhaust_retries(rsps: responses.RequestsMock) -> None:
    for _ in range(4):
        rsps.get(URL, status=504, body=b"<html>Gateway Timeout</html>")
    client, sleeps = make_client()
    with pytest.raises(WinbooksTransientError) as caught:
        read_all(client)
    assert type(caught.value) is WinbooksTransientError
    assert caught.value.status == 504
    assert sleeps == [0.5, 1.0, 2.0]
    assert client.api_calls == 4


def test_max_retries_zero_means_one_attempt(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=503)
    client, sleeps = make_client(max_retries=0)
    with pytest.raises(WinbooksTransientError):
        read_all(client)
    assert sleeps == [] and client.api_calls == 1


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (requests.ConnectionError("Connection refused"), "could not be reached"),
        (requests.ReadTimeout("read timed out"), "did not answer in time"),
        (requests.exceptions.ChunkedEncodingError("Connection reset by peer"), "could not be reached"),
    ],
)
def test_connection_failures_are_retried_then_unreachable(
    rsps: responses.RequestsMock, failure: Exception, words: str
) -> None:
    for _ in range(4):
        rsps.get(URL, body=failure)
    client, sleeps = make_client()
    with pytest.raises(WinbooksUnreachable) as caught:
        read_all(client)
    assert words in str(caught.value)
    assert isinstance(caught.value, WinbooksTransientError)
    assert sleeps == [0.5, 1.0, 2.0] and client.api_calls == 4


def test_connection_error_then_success(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, body=requests.ConnectionError("reset"))
    rsps.get(URL, json=[{"Code": "VERK"}])
    client, sleeps = make_client()
    assert read_all(client) == [{"Code": "VERK"}]
    assert sleeps == [0.5]


def test_invalid_json_is_a_bad_payload(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, body=b"<html>Maintenance</html>", content_type="text/html")
    client, _ = make_client()
    with pytest.raises(WinbooksBadPayload) as caught:
        read_all(client)
    assert caught.value.body == "<html>Maintenance</html>"
    assert client.api_calls == 1


@pytest.mark.parametrize("payload", [b'{"Code": "VERK"}', b"[1, NaN]", b"[1.5e999999999]x"])
def test_unexpected_shapes_are_bad_payloads(rsps: responses.RequestsMock, payload: bytes) -> None:
    rsps.get(URL, body=payload, content_type="application/json")
    client, _ = make_client()
    with pytest.raises(WinbooksBadPayload):
        read_all(client)


def test_redirect_is_not_followed(rsps: responses.RequestsMock) -> None:
    rsps.get(URL, status=301, headers={"Location": "https://elsewhere.test/app/Journals"})
    client, _ = make_client()
    with pytest.raises(WinbooksError, match="check the API location") as caught:
        read_all(client)
    assert caught.value.status == 301
    assert client.api_calls == 1


def test_secrets_never_reach_errors(rsps: responses.RequestsMock) -> None:
    echo = {"Message": f"Bearer {TOKENS.access_token} of {EMAIL} refused; refresh {TOKENS.refresh_token}"}
    rsps.get(URL, status=400, json=echo)
    client, _ = make_client()
    with pytest.raises(WinbooksBadRequest) as caught:
        read_all(client)
    exc = caught.value
    texts = [
        str(exc),
        repr(exc),
        repr(exc.body),
        repr(exc.args),
        repr(pickle.loads(pickle.dumps(exc)).__dict__),
    ]
    for text in texts:
        for secret in (TOKENS.access_token, TOKENS.refresh_token, EMAIL):
            assert secret not in text
    assert "***" in str(exc)
    assert "secret" not in repr(client) and EMAIL not in repr(client)
    assert "secret" not in repr(TOKENS)


def test_errors_pickle_with_their_fields() -> None:
    error = WinbooksRateLimited("slow down", retry_after=30.0, method="GET", url=URL)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is WinbooksRateLimited
    assert (copy.retry_after, copy.status, copy.url, str(copy)) == (30.0, 429, URL, str(error))


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        WinbooksClient(api_url="rapi.winbooksonweb.be", email=EMAIL, tokens=None)
    with pytest.raises(ValueError):
        WinbooksClient(email="", tokens=None)
    client = WinbooksClient(email=EMAIL, tokens=TOKENS, now=lambda: datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        client.get_one("Customer", "A", "DEMO")


def test_unknown_object_model_and_empty_codes_are_refused_before_any_call() -> None:
    client, _ = make_client()
    with pytest.raises(ValueError):
        client.get_one("Customers2", "A", "DEMO")
    with pytest.raises(ValueError):
        client.get_one("Customer", "", "DEMO")
    with pytest.raises(ValueError):
        client.get_one("Customer", "A", "")
    assert client.api_calls == 0
