"""The whole product in Chromium: an admin connects the firm, staff link a client file, sync it with a real
Celery worker, read the trial balance, drill into an account and an entry, and see an edit made in WoW
arrive after the next "Sync now"."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from clients.models import Account
from syncs.models import Connection, SyncRun
from syncs.services import connection_connect
from tests.fixtures import FirmWorld

from ..clients.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def test_an_admin_connects_the_firm_through_the_whole_flow(
    page: Any, live_server: Any, world: FirmWorld, wow_sandbox: Any
) -> None:
    log_in(page, live_server, world.admin.username)
    page.get_by_role("link", name="Syncs").click()
    page.get_by_role("link", name="Add new sync").click()
    page.get_by_role("link", name="Bookkeeping sync").click()
    page.get_by_label("Bookkeeping package").select_option("winbooks")
    page.get_by_role("button", name="Connect").click()
    page.get_by_label("E-mail", exact=True).fill(wow_sandbox.TESTER)
    page.get_by_label("Exchange token", exact=True).fill("a-wrong-token")
    page.get_by_text("Advanced").click()
    page.get_by_label("API location").fill(wow_sandbox.url)
    page.get_by_role("button", name="Set up synchronisation with WinbooksOnWeb").click()
    expect(page.get_by_role("alert").first).to_contain_text("did not accept this exchange token")
    assert not Connection.objects.exists()
    page.screenshot(path=str(ROOT / "test-artifacts" / "flow-1-wrong-token.png"), full_page=True)

    page.get_by_label("Exchange token", exact=True).fill(wow_sandbox.exchange_token())
    page.get_by_role("button", name="Set up synchronisation with WinbooksOnWeb").click()
    expect(page).to_have_url(re.compile(rf"/firms/{world.firm.slug}/syncs/$"))
    expect(page.get_by_text("Connected to WinbooksOnWeb.")).to_be_visible()
    row = page.locator("table").first.get_by_role("row", name=re.compile("^WinbooksOnWeb"))
    expect(row).to_contain_text("Connected")
    expect(row).to_contain_text(world.admin.username)
    page.screenshot(path=str(ROOT / "test-artifacts" / "flow-2-connected.png"), full_page=True)


def test_staff_link_sync_read_and_see_an_edit_arrive(
    page: Any, live_server: Any, world: FirmWorld, wow_sandbox: Any, celery_worker: Any
) -> None:
    connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    artifacts = ROOT / "test-artifacts"
    log_in(page, live_server, world.staff.username)
    page.get_by_role("link", name=world.given_file.name).click()

    page.get_by_label("WinbooksOnWeb company code").fill("NO_SUCH_COMPANY")
    page.get_by_role("button", name="Link and sync").click()
    expect(page.get_by_role("alert").first).to_contain_text("knows no company with this code")
    page.screenshot(path=str(artifacts / "flow-3-wrong-code.png"), full_page=True)

    # Slow WoW down a little so the progress can be watched.
    wow_sandbox.control(
        "POST", "faults", {"path_contains": "ExecuteCriteria", "kind": "slow", "delay": 0.3, "count": 6}
    )
    page.get_by_label("WinbooksOnWeb company code").fill("DEMO_BV")
    page.get_by_role("button", name="Link and sync").click()
    page.locator(".run-progress").wait_for(timeout=15_000)
    page.screenshot(path=str(artifacts / "flow-4-progress.png"), full_page=True)
    expect(page.get_by_text("Ties out with WinbooksOnWeb").first).to_be_visible(timeout=60_000)
    expect(page.locator(".run-progress")).to_have_count(0)
    expect(page.locator("#sync-status")).to_contain_text("Succeeded")
    page.screenshot(path=str(artifacts / "flow-5-synced.png"), full_page=True)

    # Each step waits for its own page (the URL) and then for what it must show: a check on the page
    # before would otherwise pass.
    client_file = f"/firms/{world.firm.slug}/clients/{world.given_file.pk}/"
    page.get_by_role("link", name="Trial balance").first.click()
    page.get_by_label("Period").select_option("2024-01")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(
        re.compile(re.escape(client_file + "trial-balance/") + r"\?(.*&)?period=2024-01")
    )
    expect(page.get_by_role("link", name="700000")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Ties out")
    page.screenshot(path=str(artifacts / "flow-6-trial-balance.png"), full_page=True)

    receivables = Account.objects.get(client_file=world.given_file, number="400000")
    page.get_by_role("link", name="400000").click()
    expect(page).to_have_url(re.compile(re.escape(f"{client_file}accounts/{receivables.pk}/")))
    expect(page.get_by_role("heading", level=1)).to_contain_text("400000")
    expect(page.locator("main")).to_contain_text("1,210.00")
    page.screenshot(path=str(artifacts / "flow-7-account.png"), full_page=True)
    document = page.locator("a[href*='/entries/']").first
    href = document.get_attribute("href")
    assert href and "/entries/" in href
    document.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Document")
    expect(page.locator("main")).to_contain_text("700000")
    page.screenshot(path=str(artifacts / "flow-8-entry.png"), full_page=True)

    run = SyncRun.objects.get(link__client_file=world.given_file)
    page.get_by_role("link", name=world.given_file.name).first.click()
    page.get_by_role("link", name="Details of this sync").click()
    expect(page).to_have_url(re.compile(re.escape(f"{client_file}history/{run.pk}/") + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Sync #{run.pk}")
    expect(page.locator("main")).to_contain_text("Ties out")
    page.screenshot(path=str(artifacts / "flow-9-run.png"), full_page=True)

    # An edit in WinbooksOnWeb: the sales account is renamed; it shows after the next "Sync now".
    sales = next(a for a in wow_sandbox.snapshot()["GLAccounts"] if a["Code"] == "700000")
    wow_sandbox.control("PATCH", f"folders/DEMO_BV/objects/GLAccount/{sales['Id']}", {"Label": "Omzet brood"})
    page.get_by_role("link", name=world.given_file.name).first.click()
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("Accounts: 1 changed")).to_be_visible(timeout=60_000)
    expect(page.locator("#sync-status")).to_contain_text("Succeeded")
    page.get_by_role("link", name="Trial balance").first.click()
    page.get_by_label("Period").select_option("2024-01")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/trial-balance/\?(.*&)?period=2024-01"))
    expect(page.get_by_role("row", name=re.compile("700000"))).to_contain_text("Omzet brood")
    page.screenshot(path=str(artifacts / "flow-10-after-edit.png"), full_page=True)
