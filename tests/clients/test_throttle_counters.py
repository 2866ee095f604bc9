"""The log-in throttle's counters themselves (clients/throttle.py), in the suite's Redis: what each attempt
adds, what a refusal and a success give back, how long a count lasts, and what the keys hold. The log-in
pages over HTTP are tested in tests/clients/test_login.py and tests/reliability/test_login_throttle.py; these
tests pin the arithmetic underneath, which mutation testing (make mutation) found loosely held."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from clients.throttle import login_attempt_reserve, login_attempt_succeeded

USER = "alice@firm.test"
HOME = "198.51.100.7"
AWAY = "203.0.113.9"


@pytest.fixture(autouse=True)
def _empty_cache(settings: Any) -> Iterator[None]:
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 10
    settings.LOGIN_FAILURE_USER_LIMIT = 6
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    settings.LOGIN_KNOWN_GOOD_SECONDS = 3600
    caches["default"].clear()
    yield
    caches["default"].clear()


def count(key: str) -> int:
    return int(caches["default"].get(key) or 0)


def counts(keys: list[str]) -> list[int]:
    return [count(key) for key in keys]


def fail(username: str = USER, address: str = AWAY, times: int = 1) -> list[bool]:
    return [login_attempt_reserve(username=username, address=address).refused for _ in range(times)]


def test_each_attempt_counts_once_on_the_pair_the_address_and_the_user() -> None:
    first = login_attempt_reserve(username=USER, address=AWAY)
    assert not first.refused and len(first.counters) == 3
    fail(times=1)
    assert counts(first.counters) == [2, 2, 2]


def test_the_keys_are_short_digests_holding_neither_the_user_name_nor_the_address() -> None:
    reservation = login_attempt_reserve(username=USER, address=AWAY)
    pair, address, user = reservation.counters
    assert re.fullmatch(r"login:pair:[0-9a-f]{32}:[0-9a-f]{32}", pair), pair
    assert re.fullmatch(r"login:addr:[0-9a-f]{32}", address), address
    assert re.fullmatch(r"login:user:[0-9a-f]{32}", user), user
    assert pair.split(":")[2] == user.split(":")[2] and pair.split(":")[3] == address.split(":")[2]
    assert not [key for key in reservation.counters if USER in key or AWAY in key]


def test_a_user_name_counts_the_same_whatever_its_case_and_surrounding_spaces() -> None:
    first = login_attempt_reserve(username=USER, address=AWAY)
    again = login_attempt_reserve(username="  Alice@FIRM.test ", address=AWAY)
    assert again.counters == first.counters
    assert count(first.counters[0]) == 2


def test_the_pair_is_refused_past_its_limit_and_a_refusal_gives_every_place_back() -> None:
    assert fail(times=3) == [False, False, False]
    pair, address, user = login_attempt_reserve(username=USER, address=AWAY).counters
    assert counts([pair, address, user]) == [3, 3, 3]  # the fourth, refused, added nothing
    assert fail(times=2) == [True, True]
    assert counts([pair, address, user]) == [3, 3, 3]


def test_the_address_and_the_user_ceilings_refuse_on_their_own() -> None:
    # Ten user names from one address: the address ceiling (10), never any pair's (3).
    assert not any(fail(username=f"u{n}@firm.test")[0] for n in range(10))
    assert fail(username="u10@firm.test") == [True]
    # One user name from six addresses: the user ceiling (6).
    assert not any(fail(address=f"192.0.2.{n}")[0] for n in range(6))
    assert fail(address="192.0.2.99") == [True]


def test_a_success_forgets_the_pair_gives_its_attempt_back_and_remembers_the_address() -> None:
    fail(address=HOME, times=2)
    fail(username="bob@firm.test", address=HOME, times=1)  # another user at the same address
    fail(address=AWAY, times=1)  # the same user elsewhere
    reservation = login_attempt_reserve(username=USER, address=HOME)
    pair, address, user = reservation.counters
    assert counts([pair, address, user]) == [3, 4, 4]
    login_attempt_succeeded(reservation)
    assert counts([pair, address, user]) == [0, 3, 3]  # the successful attempt is given back, not more
    # From now on, from this address, only the pair counts for this user.
    assert login_attempt_reserve(username=USER, address=HOME).counters == [pair]
    assert counts([pair, address, user]) == [1, 3, 3]
    # Elsewhere the user is still a stranger.
    assert len(login_attempt_reserve(username=USER, address=AWAY).counters) == 3


def test_a_count_lasts_the_window_and_the_known_address_its_own_time() -> None:
    reservation = login_attempt_reserve(username=USER, address=HOME)
    cache = caches["default"]
    client = cache._cache.get_client(write=False)  # type: ignore[attr-defined]
    for key in reservation.counters:
        assert 890 <= client.ttl(cache.make_and_validate_key(key)) <= 900, key
    login_attempt_succeeded(reservation)
    known = [key for key in client.keys("*login:good:*")]
    assert len(known) == 1 and 3590 <= client.ttl(known[0]) <= 3600
