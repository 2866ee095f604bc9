"""Real Chromium: a user logs in through the form and lands on the firm overview."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PASSWORD
from tests.fixtures import FirmWorld

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, live_server: Any, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("E-mail").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_staff_logs_in_and_sees_the_firm_overview(page: Any, live_server: Any, world: FirmWorld) -> None:
    log_in(page, live_server, world.staff.username)
    page.get_by_role("heading", name="Client files").wait_for()
    assert page.url == f"{live_server.url}/firms/{world.firm.slug}/"
    assert page.get_by_role("link", name=world.given_file.name).is_visible()
    assert page.get_by_role("link", name=world.other_file.name).is_visible()
    assert page.get_by_role("link", name="Syncs").is_visible()


def test_external_contributor_sees_only_the_given_file_and_no_syncs_tab(
    page: Any, live_server: Any, world: FirmWorld
) -> None:
    log_in(page, live_server, world.external.username)
    page.get_by_role("heading", name="Client files").wait_for()
    assert page.get_by_role("link", name=world.given_file.name).is_visible()
    assert page.get_by_role("link", name=world.other_file.name).count() == 0
    assert page.get_by_role("link", name="Syncs").count() == 0


def test_a_wrong_password_shows_a_message(page: Any, live_server: Any, world: FirmWorld) -> None:
    log_in(page, live_server, world.staff.username, password="wrong")
    assert page.get_by_role("alert").inner_text().startswith("This e-mail address and password do not match")
