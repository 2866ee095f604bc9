"""The log-in throttle's counters themselves (clients/throttle.py), in the suite's Redis: what each attempt
adds, what a refusal and a success give back, how long a count lasts, and what the keys hold. The log-in
pages over HTTP are tested in tests/clients/test_login.py and tests/reliability/test_login_throttle.py; these
tests pin the arithmetic underneath, which mutation testing (make mutation) found loosely held."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from clients.throttle import login_attempt_reserve, login_attempt_succeeded, password_reset_reserve

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


def test_a_later_attempt_does_not_stretch_the_window() -> None:
    # The window runs from the first attempt: guessing on does not keep the count alive any longer.
    reservation = login_attempt_reserve(username=USER, address=AWAY)
    cache = caches["default"]
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    for key in reservation.counters:
        client.expire(cache.make_and_validate_key(key), 100)  # as if the first attempt was 800 s ago
    fail(times=1)
    for key in reservation.counters:
        assert 0 < client.ttl(cache.make_and_validate_key(key)) <= 100, key
    assert counts(reservation.counters) == [2, 2, 2]


def test_a_count_stored_without_an_expiry_gets_the_window_at_the_next_attempt() -> None:
    # Whatever wrote it (an older release, an operator), a count never outlives the window for good.
    reservation = login_attempt_reserve(username=USER, address=AWAY)
    cache = caches["default"]
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    for key in reservation.counters:
        client.persist(cache.make_and_validate_key(key))
    fail(times=1)
    for key in reservation.counters:
        assert 890 <= client.ttl(cache.make_and_validate_key(key)) <= 900, key


def test_the_counters_are_written_to_the_primary_when_replicas_are_configured(settings: Any) -> None:
    # Django's Redis cache writes to its first server and reads from the others: the counters must be
    # counted on the primary (a replica would refuse the write, or lose it). A second database of the suite's
    # Redis stands in for the replica.
    primary = settings.CACHES["default"]["LOCATION"]
    replica = primary.rsplit("/", 1)[0] + "/3"
    on_primary, on_replica = redis.Redis.from_url(primary), redis.Redis.from_url(replica)
    on_replica.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": [primary, replica]}
    }
    try:
        reservation = login_attempt_reserve(username=USER, address=AWAY)
        fail(times=1)
        keys = [caches["default"].make_and_validate_key(key) for key in reservation.counters]
        assert [int(on_primary.get(key) or 0) for key in keys] == [2, 2, 2]
        assert on_replica.dbsize() == 0
    finally:
        on_replica.flushdb()


DEMO_CACHE_TABLE = "throttle_test_cache"


class CountersExpiringAtOnce(DatabaseCache):
    """The demo's database cache, on which every counter expires right after it was created: between the
    throttle's ``add()`` and its ``incr()``."""

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        self.delete(key, version=version)
        return super().incr(key, delta, version)


def use_database_cache(settings: Any, backend: type[DatabaseCache] = DatabaseCache) -> None:
    """The demo's cache (no Redis): a database table, counted without an atomic increment."""
    settings.CACHES = {
        "default": {"BACKEND": f"{backend.__module__}.{backend.__qualname__}", "LOCATION": DEMO_CACHE_TABLE}
    }
    call_command("createcachetable", verbosity=0)


def expiries() -> list[dt.datetime]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT expires FROM {DEMO_CACHE_TABLE}")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_without_redis_the_database_cache_counts_refuses_and_gives_back_the_same(settings: Any) -> None:
    use_database_cache(settings)
    assert fail(times=3) == [False, False, False]
    pair, address, user = login_attempt_reserve(username=USER, address=AWAY).counters
    assert counts([pair, address, user]) == [3, 3, 3]  # the fourth, refused, added nothing
    assert fail(address=HOME, times=1) == [False]
    success = login_attempt_reserve(username=USER, address=HOME)
    assert counts(success.counters) == [2, 2, 5]  # this pair, this address, the user's five attempts
    login_attempt_succeeded(success)
    assert counts(success.counters) == [0, 1, 4]


@pytest.mark.django_db
def test_without_redis_a_counter_expiring_between_two_steps_counts_the_attempt_all_the_same(
    settings: Any,
) -> None:
    use_database_cache(settings, CountersExpiringAtOnce)
    settings.LOGIN_FAILURE_LIMIT = 1
    reservation = login_attempt_reserve(username=USER, address=AWAY)
    assert not reservation.refused
    cache = caches["default"]
    assert [cache.get(key) for key in reservation.counters] == [1, 1, 1]
    now = timezone.now()
    assert all(  # the window: neither the cache's default nor for ever
        now + dt.timedelta(seconds=850) < expiry <= now + dt.timedelta(seconds=900) for expiry in expiries()
    )
    login_attempt_succeeded(reservation)
    pair, *others = reservation.counters
    assert cache.get(pair) is None
    assert [cache.get(key) for key in others] == [0, 0]  # given back: none, never less than none


def test_reset_mails_are_limited_per_e_mail_address_whatever_its_case(settings: Any) -> None:
    settings.PASSWORD_RESET_LIMIT = 2
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 10
    sent = [password_reset_reserve(email=email, address=AWAY) for email in (USER, " ALICE@firm.test", USER)]
    assert sent == [True, True, False]  # the limit itself is allowed, one more is not
    assert password_reset_reserve(email="bob@firm.test", address=AWAY) is True  # another person's own count


def test_reset_mails_are_limited_per_client_address_over_every_e_mail_address(settings: Any) -> None:
    settings.PASSWORD_RESET_LIMIT = 5
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 3
    sent = [password_reset_reserve(email=f"u{n}@firm.test", address=AWAY) for n in range(4)]
    assert sent == [True, True, True, False]
    assert password_reset_reserve(email="u9@firm.test", address=HOME) is True  # another address's own count
