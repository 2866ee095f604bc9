"""Closed periods in Chromium: the alert banner on the client file, the changes page, accepting them, and a
closed period's trial balance as locked next to the current one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from syncs.locks import books_lock_set
from syncs.models import ChangeAlert, ClientLink
from tests.clients.test_browser import log_in
from tests.fixtures import FirmWorld

from .test_closed_periods import MARCH, _document, _set_amounts, run_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_staff_read_the_alert_accept_it_and_compare_a_closed_period_as_locked(
    page: Any, live_server: Any, world: FirmWorld, link: ClientLink, wow_sandbox: Any
) -> None:
    run_sync(link)
    books_lock_set(client_file=link.client_file, until=dt.date(2024, 6, 30), actor=world.admin)
    _set_amounts(wow_sandbox, _document(wow_sandbox.snapshot(), MARCH), [900, -900])
    run_sync(link)

    log_in(page, live_server, world.staff.username)
    page.get_by_role("link", name=world.given_file.name).click()
    banner = page.locator(".alert-banner")
    expect(banner).to_contain_text("Syncs changed closed periods")
    expect(banner).to_contain_text("2024-03: 2 accounts moved")
    page.get_by_role("link", name="See the changes").click()
    expect(page).to_have_url(
        f"{live_server.url}/firms/{world.firm.slug}/clients/{link.client_file_id}/closed-periods/"
    )
    table = page.locator(".change-alert table")
    expect(table).to_contain_text("800.00")
    expect(table).to_contain_text("900.00")
    expect(page.locator(".change-items")).to_contain_text("Changed")
    page.screenshot(path=str(ARTIFACTS / "closed-periods-alert.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "closed-periods-alert-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Note (optional)").fill("Checked with the client")
    page.get_by_role("button", name="Accept these changes").click()
    expect(page.get_by_role("status").first).to_contain_text("The changes are accepted")
    expect(page.locator(".change-alert h2").first).to_contain_text("Accepted on")
    assert ChangeAlert.objects.get().status == ChangeAlert.Status.ACCEPTED

    page.goto(
        f"{live_server.url}/firms/{world.firm.slug}/clients/{link.client_file_id}/trial-balance/?period=2024-03"
    )
    expect(page.locator(".closed-period")).to_contain_text("This period is closed")
    page.get_by_role("link", name="Show the balances as locked next to the current ones").click()
    comparison = page.locator("#as-locked-heading + .table-scroll table")
    expect(comparison).to_contain_text("100.00")  # 900 now against 800 as locked
    expect(page.locator('#as-locked-heading ~ .downloads a[href*="as_locked=1"]')).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "closed-periods-as-locked.png"), full_page=True)
