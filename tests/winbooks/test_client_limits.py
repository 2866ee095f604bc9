"""Every WoW call is bounded, whatever the host does: against a hostile HTTP server on loopback.

Each hostile answer here ends on its own eventually (a drip after its last byte, a huge body after
200 MB), so a client without the limits would finish with the wrong outcome rather than hang the suite.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses

from tests.hostile_wow import hostile_server
from tests.winbooks.fake_api import EMAIL, NOW
from winbooks import (
    Limits,
    TokenSet,
    WinbooksClient,
    WinbooksDeadlineExceeded,
    WinbooksRateLimited,
    WinbooksTooLarge,
    WinbooksTransientError,
    exchange_token,
)

TOKENS = TokenSet("ACCESS-secret-123", "REFRESH-secret-456", NOW + timedelta(hours=1))


def make_client(api_url: str, sleeps: list[float] | None = None, **limits: float) -> WinbooksClient:
    return WinbooksClient(
        api_url=api_url,
        email=EMAIL,
        tokens=TOKENS,
        now=lambda: NOW,
        sleep=(sleeps if sleeps is not None else []).append,
        # A read timeout far above the drip interval: only the deadline can cut a dripping answer.
        timeout=(5.0, 30.0),
        limits=Limits(**limits),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("behaviour", ["drip_body", "drip_headers"])
def test_a_dripping_answer_is_cut_at_the_exchange_deadline_and_not_retried(behaviour: str) -> None:
    with hostile_server(behaviour, interval=0.2, drip_bytes=60) as server:  # 12 s of drip
        client = make_client(server.url, deadline=1.0)
        with pytest.raises(WinbooksDeadlineExceeded) as caught:
            list(client.iter_all("Journal", "DEMO"))
        assert caught.value.transient
        assert "longer than 1 s" in str(caught.value)
        assert client.api_calls == 1 and server.requests == 1  # not retried inside the client
        assert server.closed.wait(10)  # the connection was cut: the server's next byte found it closed
        assert server.bytes_sent < 60  # long before the drip would have ended


def test_the_token_call_has_the_same_deadline() -> None:
    with hostile_server("drip_body", interval=0.2) as server:
        with pytest.raises(WinbooksDeadlineExceeded):
            exchange_token(
                api_url=server.url,
                email=EMAIL,
                exchange_token="x",
                limits=Limits(deadline=1.0),
                max_retries=3,
            )
        assert server.requests == 1


@pytest.mark.parametrize("behaviour", ["huge", "huge_announced"])
def test_an_answer_larger_than_allowed_is_abandoned_as_it_streams(behaviour: str) -> None:
    with hostile_server(behaviour) as server:
        client = make_client(server.url, max_answer_bytes=1024 * 1024)
        with pytest.raises(WinbooksTooLarge) as caught:
            list(client.iter_all("Journal", "DEMO"))
        assert not caught.value.transient  # the same request would get the same answer
        assert "more than 1 MB at once" in str(caught.value)
        assert client.api_calls == 1
        assert server.closed.wait(10)
        # Abandoned early: what left the server is the megabyte read plus what the sockets buffer.
        assert server.bytes_sent < 40 * 1024 * 1024


def test_a_continue_path_loop_of_empty_chunks_stops_at_the_chunk_limit() -> None:
    with hostile_server("continue_loop", chunk_body=b"[]") as server:
        client = make_client(server.url, max_chunks=50)
        with pytest.raises(WinbooksTooLarge) as caught:
            list(client.iter_all("Journal", "DEMO"))
        assert "more than 50 ContinuePath chunks" in str(caught.value)
        assert client.api_calls == 50 == server.requests


def test_a_continue_path_loop_of_large_chunks_stops_at_the_call_byte_limit() -> None:
    chunk = b"[" + b",".join(b'{"Id": "%d", "Label": "%s"}' % (n, b"x" * 180) for n in range(1000)) + b"]"
    with hostile_server("continue_loop", chunk_body=chunk) as server:  # ~200 KB a chunk
        client = make_client(server.url, max_call_bytes=2 * 1024 * 1024)
        with pytest.raises(WinbooksTooLarge) as caught:
            for _ in client.iter_all("Journal", "DEMO"):
                pass
        assert "answers to one request" in str(caught.value)
        assert server.requests == client.api_calls <= 11


def test_a_call_is_bounded_as_a_whole_too() -> None:
    # Each answer comes quickly enough, but its ContinuePath continuations never end.
    with hostile_server("continue_loop", loop_delay=0.2) as server:
        client = make_client(server.url, max_call_seconds=1.0)
        with pytest.raises(WinbooksDeadlineExceeded) as caught:
            for _ in client.iter_all("Journal", "DEMO"):
                pass
        assert "longer than 1 s for this call" in str(caught.value)
        assert client.api_calls < 2_000  # the chunk limit was not what stopped it


def test_retry_after_1e308_is_clamped_and_left_to_the_caller() -> None:
    with hostile_server("rate_limited", retry_after="1e308") as server:
        sleeps: list[float] = []
        client = make_client(server.url, sleeps, max_retry_after=3600.0)
        with pytest.raises(WinbooksRateLimited) as caught:
            list(client.iter_all("Journal", "DEMO"))
        assert caught.value.retry_after == 3600.0  # finite: a scheduler can add it to a date
        assert sleeps == [] and client.api_calls == 1


@pytest.mark.parametrize("value", ["inf", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_every_huge_retry_after_is_clamped(value: str) -> None:
    with hostile_server("rate_limited", retry_after=value) as server:
        client = make_client(server.url, max_retry_after=600.0)
        with pytest.raises(WinbooksRateLimited) as caught:
            list(client.iter_all("Journal", "DEMO"))
        assert caught.value.retry_after == 600.0


def test_endless_429_with_short_waits_gives_up_after_the_retries() -> None:
    with hostile_server("rate_limited", retry_after="1") as server:
        sleeps: list[float] = []
        client = make_client(server.url, sleeps)
        with pytest.raises(WinbooksRateLimited):
            list(client.iter_all("Journal", "DEMO"))
        assert sleeps == [1.0, 1.0, 1.0] and client.api_calls == 4 == server.requests


def test_retries_are_counted_across_a_calls_continuations(rsps: responses.RequestsMock) -> None:
    """A host that fails every other answer of a ContinuePath chain cannot make one call retry forever."""
    url = "https://wow.test/app/Journals/Folder/DEMO?maxLevel=1"
    for n in range(3):
        rsps.get(url, status=503)
        rsps.get(url, json=[{"Id": str(n)}], headers={"ContinuePath": f"c{n}"})
    rsps.get(url, status=503)
    sleeps: list[float] = []
    client = make_client("https://wow.test", sleeps)
    with pytest.raises(WinbooksTransientError) as caught:
        list(client.iter_all("Journal", "DEMO"))
    assert "server error" in str(caught.value)
    # three retries in all (each chunk's own budget would have let this chain go on for ever)
    assert len(sleeps) == 3 and client.api_calls == 7
