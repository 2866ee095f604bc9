"""The overview as the control room, in Chromium: a firm with files in every state (chips count right,
filters and search narrow the list), the arrows start a run and the row follows it live, "Sync now" on a
filter queues one run per file, and a revoked token: one mail to the admins, one digest for 300 failing
files, reconnecting queues them again and their pages say so. Screenshots at 1,280 and 390 px."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from syncs.models import ClientLink, SyncRun
from syncs.services import client_link_set, connection_connect
from tests.clients.test_browser import log_in
from tests.fixtures import FirmWorld

from .helpers import make_every_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chip_counts(page: Any) -> dict[str, int]:
    counts = {}
    for chip in page.locator("nav.chips a").all():
        counts[chip.get_attribute("data-chip")] = int(
            chip.locator(".chip-count").inner_text().replace(",", "")
        )
    return counts


def file_codes(page: Any) -> list[str]:
    return [code.inner_text() for code in page.locator("tr.file-row .file-code").all()]


def test_the_chips_count_every_state_and_filters_and_search_narrow_the_list(
    page: Any, live_server: Any, world: FirmWorld
) -> None:
    make_every_state(world.firm)
    log_in(page, live_server, world.staff.username)
    expect(page.get_by_role("heading", name="Client files")).to_be_visible()
    assert chip_counts(page) == {
        "all": 11,
        "attention": 3,
        "failed": 1,
        "issues": 1,
        "needs_reconnect": 1,
        "running": 2,
        "in_step": 2,
        "never_synced": 1,
        "not_linked": 3,
        "archived": 0,
        "closed_changes": 0,
    }
    running = page.locator("tr.status-running")
    expect(running).to_contain_text("Running")
    expect(running).to_contain_text("Reading documents")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "overview-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name=re.compile(r"^Needs attention")).click()
    expect(page).to_have_url(re.compile(r"\?status=attention$"))
    assert sorted(file_codes(page)) == ["F-failed", "F-issues", "F-needs_reconnect"]
    page.get_by_label("Search client files").fill("refused")  # a company code
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=refused"))
    assert file_codes(page) == ["F-needs_reconnect"]
    assert chip_counts(page)["all"] == 1
    page.get_by_role("link", name="Clear filters").click()
    assert len(file_codes(page)) == 11
    page.get_by_role("link", name="Status", exact=True).click()
    assert file_codes(page)[:2] == ["F-needs_reconnect", "F-failed"]


def test_the_arrows_start_a_run_and_the_row_follows_it_live(
    page: Any,
    live_server: Any,
    world: FirmWorld,
    wow_sandbox: Any,
    celery_worker: Any,
) -> None:
    connection = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    client_link_set(
        client_file=world.given_file, connection=connection, company_code=wow_sandbox.DEMO, actor=world.staff
    )
    log_in(page, live_server, world.staff.username)
    row = page.locator(f"#file-{world.given_file.pk}")
    # The first sync (queued by linking) runs and the row follows it without a reload.
    expect(row).to_contain_text("In step", timeout=60_000)
    expect(row.locator(".last-sync time")).to_have_attribute("title", re.compile(r"\d{4} \d\d:\d\d"))
    # Slow WoW down so the running state can be seen, then press the arrows.
    wow_sandbox.control(
        "POST", "faults", {"path_contains": "ExecuteCriteria", "kind": "slow", "delay": 0.4, "count": 8}
    )
    row.get_by_role("button", name=f"Sync {world.given_file.name} now").click()
    expect(page.get_by_text("1 sync queued.")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    expect(row).to_contain_text(re.compile("Queued|Running"))
    expect(row.get_by_role("button", name=f"Sync {world.given_file.name} now")).to_be_disabled()
    expect(row).to_contain_text("In step", timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True  # swapped in place by the live refresh
    expect(row.get_by_role("button", name=f"Sync {world.given_file.name} now")).to_be_enabled()
    runs = SyncRun.objects.filter(client_file=world.given_file).order_by("pk")
    assert [(r.trigger, r.status) for r in runs] == [("first_link", "succeeded"), ("manual", "succeeded")]


def test_sync_now_on_a_filter_queues_one_run_per_file_and_never_two(
    page: Any, live_server: Any, world: FirmWorld
) -> None:
    make_every_state(world.firm)
    make_every_state(world.firm, prefix="Z")
    log_in(page, live_server, world.admin.username)
    page.get_by_role("link", name=re.compile(r"^Needs attention")).click()
    page.get_by_role("button", name="Sync all 6 matching files now").click()
    # Failed and with issues, twice; "needs reconnecting" waits for an admin to reconnect.
    expect(page.get_by_text("4 syncs queued.")).to_be_visible()
    expect(
        page.get_by_text("2 client files wait for their sync to be reconnected by an admin.")
    ).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?status=running$"))
    manual = SyncRun.objects.filter(trigger=SyncRun.Trigger.MANUAL)
    assert sorted(manual.values_list("client_file__file_code", flat=True)) == [
        "F-failed",
        "F-issues",
        "ZF-failed",
        "ZF-issues",
    ]
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/?status=running")
    page.get_by_role("checkbox", name="Select Failed BV").check()
    page.get_by_role("checkbox", name="Select ZFailed BV").check()
    page.get_by_role("button", name="Sync selected now").click()
    expect(page.get_by_text("2 client files were already syncing.")).to_be_visible()
    assert manual.count() == 4
    for link in ClientLink.objects.all():
        assert SyncRun.objects.filter(link=link, status__in=SyncRun.ACTIVE_STATUSES).count() <= 1
