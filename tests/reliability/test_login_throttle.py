"""The log-in throttle, attacked the way issue #17 found it broken: behind the reverse proxy, by strangers
locking out known users, on the admin's log-in, and by parallel guesses racing past the check.

Every attempt is a real POST of the log-in form. The proxy is "127.0.0.1" (the live server's peer too);
client addresses come from documentation ranges and are only ever written into the forwarded header.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD
from tests.fixtures import FirmWorld

PROXY = "127.0.0.1"
OFFICE = "198.51.100.10"
STRANGER = "203.0.113.66"
ELSEWHERE = "192.0.2.44"
ADMIN_LOGIN = "/admin/login/"

IN, WRONG, THROTTLED = "logged in", "wrong password", "throttled"


@pytest.fixture(autouse=True)
def _behind_the_proxy(settings: Any) -> None:
    cache.clear()
    settings.TRUSTED_PROXIES = [PROXY]
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 10
    settings.LOGIN_FAILURE_USER_LIMIT = 6


def attempt(username: str, password: str, address: str, *, path: str = "", peer: str = PROXY) -> str:
    """One log-in from ``address`` as the proxy forwards it; what the attacker sees of the answer."""
    client = Client()
    response = client.post(
        path or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=address,
    )
    if "_auth_user_id" in client.session:
        return IN
    return THROTTLED if "Too many failed log-ins" in response.content.decode() else WRONG


def test_strangers_failing_behind_the_proxy_lock_no_one_else_out(world: FirmWorld) -> None:
    # Through the proxy every request comes from 127.0.0.1: the address must be the forwarded client's.
    for n in range(8):
        assert attempt(f"nobody{n}@nowhere.test", "guess", STRANGER) == WRONG
    assert attempt(world.staff.username, PASSWORD, OFFICE) == IN
    assert attempt(world.admin.username, PASSWORD, ELSEWHERE) == IN


def test_one_address_spraying_user_names_meets_the_per_address_ceiling(world: FirmWorld) -> None:
    outcomes = [attempt(f"nobody{n}@nowhere.test", "guess", STRANGER) for n in range(12)]
    assert outcomes == [WRONG] * 10 + [THROTTLED] * 2
    # Even a right password is not checked from there now, while other addresses are untouched.
    assert attempt(world.staff.username, PASSWORD, STRANGER) == THROTTLED
    assert attempt(world.staff.username, PASSWORD, OFFICE) == IN


def test_a_forwarded_address_from_a_peer_that_is_not_the_proxy_is_not_believed(world: FirmWorld) -> None:
    # An attacker talking to the site directly makes up a new X-Forwarded-For for every guess.
    outcomes = [attempt(world.staff.username, "guess", f"192.0.2.{n}", peer=STRANGER) for n in range(1, 6)]
    assert outcomes == [WRONG] * 3 + [THROTTLED] * 2


def test_the_pair_lock_leaves_the_same_user_elsewhere_and_other_users_at_that_address_alone(
    world: FirmWorld,
) -> None:
    """Changes one key at a time: dropping the user or the address from the pair's key fails this."""
    assert [attempt(world.staff.username, "guess", STRANGER) for _ in range(4)] == [WRONG] * 3 + [THROTTLED]
    assert attempt(world.staff.username, PASSWORD, STRANGER) == THROTTLED
    assert attempt(world.admin.username, PASSWORD, STRANGER) == IN  # same address, another user
    assert attempt(world.staff.username, PASSWORD, OFFICE) == IN  # same user, another address


def test_strangers_cannot_lock_a_user_out_of_an_address_they_logged_in_from(world: FirmWorld) -> None:
    assert attempt(world.staff.username, PASSWORD, OFFICE) == IN  # the office becomes known good
    guesses = [
        attempt(world.staff.username, "guess", f"203.0.113.{n}") for n in range(1, 6) for _ in range(4)
    ]
    assert THROTTLED in guesses and guesses.count(WRONG) <= 6  # the per-user ceiling stopped the spread
    # A new address is refused now (the spread guess is stopped), the usual office is not.
    assert attempt(world.staff.username, PASSWORD, ELSEWHERE) == THROTTLED
    assert attempt(world.staff.username, PASSWORD, OFFICE) == IN


def test_the_admin_log_in_is_throttled_the_same_way(world: FirmWorld) -> None:
    User.objects.create_superuser("root@ops.test", "root@ops.test", PASSWORD)
    outcomes = [attempt("root@ops.test", "guess", STRANGER, path=ADMIN_LOGIN) for _ in range(30)]
    assert outcomes == [WRONG] * 3 + [THROTTLED] * 27
    assert attempt("root@ops.test", PASSWORD, STRANGER, path=ADMIN_LOGIN) == THROTTLED
    # One throttle: the failures at /admin/ count on the site's log-in too, and the reverse.
    assert attempt("root@ops.test", PASSWORD, STRANGER) == THROTTLED
    assert attempt("root@ops.test", PASSWORD, OFFICE, path=ADMIN_LOGIN) == IN


def test_parallel_guesses_cannot_race_past_the_limit(
    live_server: Any, world: FirmWorld, settings: Any
) -> None:
    # A hasher that takes a few milliseconds, as a real one does (the suite's MD5 answers at once and
    # would narrow the window a check-then-record throttle leaves open).
    settings.PASSWORD_HASHERS = ["tests.reliability.test_login_throttle.SlowishHasher"]
    world.staff.set_password(PASSWORD)
    world.staff.save()
    url = live_server.url + reverse("login")
    form = requests.get(url, timeout=10)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert found is not None
    token, cookies = found[1], form.cookies
    start = threading.Barrier(40)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        start.wait(timeout=30)
        for _ in range(10):  # the test server's listen queue is short: a refused connection never got in
            try:
                response = requests.post(
                    url,
                    {
                        "username": world.staff.username,
                        "password": f"guess-{n}",
                        "csrfmiddlewaretoken": token,
                    },
                    headers={"X-Forwarded-For": STRANGER, "Referer": url},
                    cookies=cookies,
                    allow_redirects=False,
                    timeout=60,
                )
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            raise AssertionError("the live server never took the request")
        body = response.text
        outcomes.append(
            THROTTLED if "Too many failed log-ins" in body else WRONG if "do not match" in body else body
        )

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == sorted([WRONG] * 3 + [THROTTLED] * 37)


from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402


class SlowishHasher(PBKDF2PasswordHasher):
    iterations = 20_000
