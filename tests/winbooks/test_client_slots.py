"""The licence's request slots as the client takes them: one per call (a request and its ContinuePath
continuations), never one more at a time per thread, and none held while the call waits.

The slot here is a recording stand-in for the Redis semaphore (``syncs/providers/winbooks/slots.py``, whose
cap across workers tests/reliability/test_fair_sharing.py holds against real Redis)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Generator, Iterator
from datetime import timedelta
from typing import Any

import responses
from responses import matchers

from tests.winbooks.fake_api import API, EMAIL, NOW
from winbooks import Limits, TokenSet, WinbooksClient

LIST_URL = f"{API}/app/Journals/Folder/DEMO?maxLevel=1"
TOKEN_URL = f"{API}/OAuth20/Token"
TOKENS = TokenSet("ACCESS", "REFRESH", NOW + timedelta(hours=1))


class Slots:
    """Counts the slots taken and how many are held at once, and what was held when the client slept."""

    def __init__(self) -> None:
        self.taken = 0
        self.held = 0
        self.most_held = 0
        self.held_while_sleeping: list[int] = []
        self.leases: list[float] = []

    @contextlib.contextmanager
    def __call__(self, seconds: float) -> Iterator[None]:
        assert seconds > 0
        self.leases.append(seconds)
        self.taken += 1
        self.held += 1
        self.most_held = max(self.most_held, self.held)
        try:
            yield
        finally:
            self.held -= 1

    def sleep(self, seconds: float) -> None:
        self.held_while_sleeping.append(self.held)


def make_client(slots: Slots, limits: Limits | None = None) -> WinbooksClient:
    return WinbooksClient(
        api_url=API,
        email=EMAIL,
        tokens=TOKENS,
        now=lambda: NOW,
        sleep=slots.sleep,
        random=lambda: 0.0,
        exchange_slot=slots,
        limits=limits,
    )


def continued(value: str) -> list[object]:
    return [matchers.header_matcher({"ContinuePath": value})]


def test_a_request_and_its_continuations_take_one_slot(rsps: responses.RequestsMock) -> None:
    rsps.get(LIST_URL, json=[{"Code": "A"}], headers={"ContinuePath": "p1"})
    rsps.get(LIST_URL, json=[{"Code": "B"}], headers={"ContinuePath": "p2"}, match=continued("p1"))
    rsps.get(LIST_URL, json=[{"Code": "C"}], match=continued("p2"))
    slots = Slots()
    client = make_client(slots)
    assert [item["Code"] for item in client.iter_all("Journal", "DEMO")] == ["A", "B", "C"]
    assert client.api_calls == 3
    assert (slots.taken, slots.most_held, slots.held) == (1, 1, 0)  # one slot, given back at the end
    assert slots.leases == [2 * Limits().deadline]  # a worker dying with it frees it after two deadlines


def test_a_chain_that_outlasts_its_slot_s_lease_takes_a_fresh_one_and_never_two(
    rsps: responses.RequestsMock,
) -> None:
    def slow(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(0.15)
        number = int(request.headers.get("ContinuePath", "p0")[1:]) + 1
        return 200, ({"ContinuePath": f"p{number}"} if number < 6 else {}), json.dumps([{"Code": number}])

    rsps.add_callback(responses.GET, LIST_URL, callback=slow)
    slots = Slots()
    # A lease of 1 s: at the fifth chunk (0.6 s in) less than one deadline is left of it. Each chunk keeps
    # 0.35 s from its own deadline, so a loaded machine does not turn the test into a timeout.
    client = make_client(slots, Limits(deadline=0.5))
    assert [item["Code"] for item in client.iter_all("Journal", "DEMO")] == [1, 2, 3, 4, 5, 6]
    assert slots.taken >= 2 and (slots.most_held, slots.held) == (1, 0)


def test_each_call_takes_a_slot_of_its_own(rsps: responses.RequestsMock) -> None:
    rsps.get(LIST_URL, json=[{"Code": "A"}])
    rsps.get(LIST_URL, json=[{"Code": "B"}])
    slots = Slots()
    client = make_client(slots)
    assert list(client.iter_all("Journal", "DEMO")) == [{"Code": "A"}]
    assert list(client.iter_all("Journal", "DEMO")) == [{"Code": "B"}]
    assert (slots.taken, slots.held) == (2, 0)


def test_a_call_abandoned_between_chunks_gives_its_slot_back(rsps: responses.RequestsMock) -> None:
    rsps.get(LIST_URL, json=[{"Code": "A"}], headers={"ContinuePath": "p1"})
    rsps.get(LIST_URL, json=[{"Code": "B"}], headers={"ContinuePath": "p2"}, match=continued("p1"))
    slots = Slots()
    items = make_client(slots).iter_all("Journal", "DEMO")
    assert isinstance(items, Generator)
    assert next(items) == {"Code": "A"}  # (a split object may go on in the next chunk: it was read too)
    assert slots.held == 1  # kept for the continuation to come
    items.close()
    assert slots.held == 0


def test_no_slot_is_held_while_a_retry_waits(rsps: responses.RequestsMock) -> None:
    rsps.get(LIST_URL, json=[{"Code": "A"}], headers={"ContinuePath": "p1"})
    rsps.get(LIST_URL, status=503, match=continued("p1"))
    rsps.get(LIST_URL, json=[{"Code": "B"}], match=continued("p1"))
    slots = Slots()
    client = make_client(slots)
    assert [item["Code"] for item in client.iter_all("Journal", "DEMO")] == ["A", "B"]
    assert slots.held_while_sleeping == [0]
    assert (slots.taken, slots.most_held, slots.held) == (2, 1, 0)  # taken again for the retry


def test_a_token_refresh_in_a_call_holds_no_second_slot(rsps: responses.RequestsMock) -> None:
    rsps.get(LIST_URL, json=[{"Code": "A"}], headers={"ContinuePath": "p1"})
    rsps.get(LIST_URL, status=401, match=continued("p1"))
    rsps.post(TOKEN_URL, json={"access_token": "NEW", "refresh_token": "R2", "expires_in": "900"})
    rsps.get(
        LIST_URL,
        json=[{"Code": "B"}],
        match=[*continued("p1"), matchers.header_matcher({"Authorization": "Bearer NEW"})],
    )
    slots = Slots()
    client = make_client(slots)
    assert [item["Code"] for item in client.iter_all("Journal", "DEMO")] == ["A", "B"]
    assert client.api_calls_by_kind == {"list": 3, "token": 1}
    # Given back before the refresh (which may wait for another worker's), taken again for the token call
    # and kept for the call's last chunk: never two at once.
    assert (slots.taken, slots.most_held, slots.held) == (2, 1, 0)
