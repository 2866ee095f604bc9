"""The whole product in Chromium: an admin connects the firm, staff link a client file, sync it with a real
Celery worker, read the trial balance, drill into an account and an entry, and see an edit made in WoW
arrive after the next "Sync now"."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from syncs.models import Connection
from syncs.services import connection_connect
from tests.fixtures import FirmWorld

from ..clients.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process on the test database and the test Redis broker."""
    from silverfin_sync.celery import app

    app.control.purge()  # tasks other tests queued for runs that no longer exist
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "silverfin_sync",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "syncs,syncs-now",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    yield worker
    worker.terminate()
    worker.wait(timeout=20)


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
    alert = page.get_by_role("alert").first
    assert "did not accept this exchange token" in alert.inner_text()
    assert not Connection.objects.exists()
    page.screenshot(path=str(ROOT / "test-artifacts" / "flow-1-wrong-token.png"), full_page=True)

    page.get_by_label("Exchange token", exact=True).fill(wow_sandbox.exchange_token())
    page.get_by_role("button", name="Set up synchronisation with WinbooksOnWeb").click()
    page.get_by_text("is connected to WinbooksOnWeb").wait_for()
    row = page.locator("table").first.get_by_role("row", name=re.compile("^WinbooksOnWeb"))
    assert "Connected" in row.inner_text()
    assert world.admin.username in row.inner_text()
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
    assert "knows no company with this code" in page.get_by_role("alert").first.inner_text()
    page.screenshot(path=str(artifacts / "flow-3-wrong-code.png"), full_page=True)

    # Slow WoW down a little so the progress can be watched.
    wow_sandbox.control(
        "POST", "faults", {"path_contains": "ExecuteCriteria", "kind": "slow", "delay": 0.3, "count": 6}
    )
    page.get_by_label("WinbooksOnWeb company code").fill("DEMO_BV")
    page.get_by_role("button", name="Link and sync").click()
    page.locator(".run-progress").wait_for(timeout=15_000)
    page.screenshot(path=str(artifacts / "flow-4-progress.png"), full_page=True)
    page.get_by_text("Ties out with WinbooksOnWeb").first.wait_for(timeout=60_000)
    assert page.locator(".run-progress").count() == 0
    assert "Succeeded" in page.locator("#sync-status").inner_text()
    page.screenshot(path=str(artifacts / "flow-5-synced.png"), full_page=True)

    page.get_by_role("link", name="Trial balance").first.click()
    page.get_by_label("Period").select_option("2024-01")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="700000").wait_for()
    assert "Ties out" in page.locator("body").inner_text()
    page.screenshot(path=str(artifacts / "flow-6-trial-balance.png"), full_page=True)

    page.get_by_role("link", name="400000").click()
    page.get_by_role("heading", level=1).wait_for()
    assert "1,210.00" in page.locator("body").inner_text()
    page.screenshot(path=str(artifacts / "flow-7-account.png"), full_page=True)
    page.locator("a[href*='/entries/']").first.click()
    page.get_by_role("heading", level=1).wait_for()
    assert "700000" in page.locator("body").inner_text()
    page.screenshot(path=str(artifacts / "flow-8-entry.png"), full_page=True)

    page.get_by_role("link", name=world.given_file.name).first.click()
    page.get_by_role("link", name="Details of this sync").click()
    assert "Ties out" in page.locator("body").inner_text()
    page.screenshot(path=str(artifacts / "flow-9-run.png"), full_page=True)

    # An edit in WinbooksOnWeb: the sales account is renamed; it shows after the next "Sync now".
    sales = next(a for a in wow_sandbox.snapshot()["GLAccounts"] if a["Code"] == "700000")
    wow_sandbox.control("PATCH", f"folders/DEMO_BV/objects/GLAccount/{sales['Id']}", {"Label": "Omzet brood"})
    page.get_by_role("link", name=world.given_file.name).first.click()
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Accounts: 1 changed").wait_for(timeout=60_000)
    assert "Succeeded" in page.locator("#sync-status").inner_text()
    page.get_by_role("link", name="Trial balance").first.click()
    page.get_by_label("Period").select_option("2024-01")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Omzet brood").wait_for()
    page.screenshot(path=str(artifacts / "flow-10-after-edit.png"), full_page=True)
