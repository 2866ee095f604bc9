from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import PASSWORD
from tests.fixtures import FirmWorld


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


def test_a_wrong_password_is_refused_with_a_message(client: Client, world: FirmWorld) -> None:
    response = client.post(reverse("login"), {"username": world.staff.username, "password": "nope"})
    assert response.status_code == 200
    assert "This e-mail address and password do not match an account." in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_failed_log_ins_are_throttled_even_with_the_right_password(client: Client, world: FirmWorld) -> None:
    for _ in range(3):
        client.post(reverse("login"), {"username": world.staff.username, "password": "wrong"})
    response = client.post(reverse("login"), {"username": world.staff.username, "password": PASSWORD})
    assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def _fail_three_times(client: Client, username: str, address: str) -> None:
    for _ in range(3):
        client.post(reverse("login"), {"username": username, "password": "wrong"}, REMOTE_ADDR=address)


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_locked_user_and_address_leaves_another_user_at_that_address_alone(
    client: Client, world: FirmWorld
) -> None:
    # Only the user changes: dropping the user from the lock's key fails this test.
    _fail_three_times(client, world.staff.username, "10.0.0.1")
    response = client.post(
        reverse("login"), {"username": world.admin.username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_locked_user_and_address_leaves_that_user_at_another_address_alone(
    client: Client, world: FirmWorld
) -> None:
    # Only the address changes: dropping the address from the lock's key fails this test.
    _fail_three_times(client, world.staff.username, "10.0.0.1")
    response = client.post(
        reverse("login"), {"username": world.staff.username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 302


def test_log_out_ends_the_session(client: Client, world: FirmWorld) -> None:
    client.force_login(world.staff)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("firm_overview", args=[world.firm.slug])).status_code == 302
