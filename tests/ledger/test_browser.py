"""Real Chromium: an accountant opens a client file, its trial balance, an account, a document and a sync;
and the client file page follows a running sync live until it ends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from syncs.models import ClientLink, SyncRun
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD
from tests.fixtures import FirmWorld

from .factories import PeriodCheckFactory, SyncIssueFactory, build_small_ledger, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("E-mail").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Client files").wait_for()


def snapshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ledger-{name}.png"), full_page=True)


def test_an_accountant_reads_the_ledger_down_to_a_document_and_a_sync(
    page: Any, live_server: Any, world: FirmWorld
) -> None:
    ledger = build_small_ledger(world.given_file)
    started = timezone.now() - dt.timedelta(hours=3)
    run = make_run(
        world.given_file,
        minutes_ago=3 * 60 + 1,
        status=SyncRun.Status.SUCCEEDED_WITH_ISSUES,
        reconciled=False,
        api_calls=23,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=95),
        counts={
            "fiscal_years": {"created": 1, "updated": 0, "deleted": 0, "unchanged": 0},
            "periods": {"created": 5, "updated": 0, "deleted": 0, "unchanged": 0},
            "accounts": {"created": 7, "updated": 0, "deleted": 0, "unchanged": 0},
            "entries": {"created": 5, "updated": 0, "deleted": 0, "unchanged": 0},
            "lines": {"created": 12, "updated": 0, "deleted": 0, "unchanged": 0},
        },
    )
    ClientLink.objects.filter(pk=run.link_id).update(last_success_at=run.finished_at)
    PeriodCheckFactory.create(run=run, period=ledger.january, ties_out=True, line_count=5)
    PeriodCheckFactory.create(
        run=run,
        period=ledger.february,
        ties_out=False,
        healed=True,
        line_count=4,
        differences=[
            {"account": "700000", "ledger": "-1234.5678", "wow": "-1334.5678", "difference": "-100.0000"}
        ],
    )
    SyncIssueFactory.create(run=run, reference="VEN 12")

    log_in(page, live_server, world.staff.username)
    page.get_by_role("link", name=world.given_file.name).click()
    page.get_by_role("heading", name=world.given_file.name).wait_for()
    assert page.get_by_text("Changes:").is_visible()
    assert page.get_by_role("button", name="Sync now").is_visible()
    snapshot(page, "1-client-file")

    page.get_by_role("navigation", name=world.given_file.name).get_by_role(
        "link", name="Trial balance"
    ).click()
    page.get_by_role("heading", name="Trial balance").wait_for()
    assert page.get_by_label("Period").input_value() == "2024-02"
    page.get_by_label("Period").select_option("2024-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/trial-balance/?period=2024-01")
    assert page.get_by_text("✓ Ties out with WinbooksOnWeb").is_visible()
    table = page.locator("table.trial-balance")
    assert table.locator("tbody tr").count() == 7
    # Amounts sit right-aligned under their header.
    debit_header = table.locator("thead th").nth(3).bounding_box()
    debit_cell = table.locator("tbody tr").nth(1).locator("td").nth(3).bounding_box()
    assert abs((debit_header["x"] + debit_header["width"]) - (debit_cell["x"] + debit_cell["width"])) < 1
    snapshot(page, "2-trial-balance")

    page.get_by_label("Period").select_option(label="Whole fiscal year 2024")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("2024-02 ✗").wait_for()
    snapshot(page, "3-trial-balance-year")

    page.get_by_label("Period").select_option("2024-02")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="400000").click()
    page.get_by_role("heading", name="400000 Customers").wait_for()
    assert page.locator("table.account-lines tbody tr").count() == 3
    snapshot(page, "4-account-lines")

    page.get_by_role("link", name="2", exact=True).click()
    page.get_by_role("heading", name="Document VEN 2").wait_for()
    assert page.get_by_text("✓ Balanced").is_visible()
    snapshot(page, "5-document")

    page.get_by_role("navigation", name=world.given_file.name).get_by_role(
        "link", name="Sync history"
    ).click()
    page.get_by_role("heading", name="Sync history").wait_for()
    snapshot(page, "6-history")
    page.get_by_role("link", name=f"#{run.pk}").click()
    page.get_by_role("heading", name=f"Sync #{run.pk}").wait_for()
    assert page.get_by_text("✗ Does not tie out").first.is_visible()
    assert page.get_by_text("VEN 12").is_visible()


def test_the_client_file_page_follows_a_running_sync_until_it_ends(
    page: Any, live_server: Any, world: FirmWorld
) -> None:
    run = make_run(
        world.given_file,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        progress={"stream": "accounts", "pages": 2, "records": 1500, "streams_done": 3},
    )
    log_in(page, live_server, world.staff.username)
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/clients/{world.given_file.pk}/")
    page.get_by_text("Reading accounts").wait_for()
    assert page.locator("progress").get_attribute("value") == "3"
    snapshot(page, "7-progress")

    SyncRun.objects.filter(pk=run.pk).update(progress={"stream": "entries", "pages": 9, "records": 6200})
    page.get_by_text("Reading documents").wait_for()  # the fragment polled and swapped in
    assert page.locator("progress").get_attribute("value") is None  # indeterminate without streams_done

    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        reconciled=True,
        api_calls=14,
        counts={"entries": {"created": 40, "updated": 2, "deleted": 0, "unchanged": 0}},
    )
    page.get_by_text("Changes:").wait_for()
    assert page.get_by_text("✓ Ties out with WinbooksOnWeb").is_visible()
    assert page.locator("#sync-status[hx-trigger]").count() == 0  # polling stopped


def test_an_external_contributor_on_a_file_not_synced_yet_sees_plain_empty_states(
    page: Any, live_server: Any, world: FirmWorld
) -> None:
    log_in(page, live_server, world.external.username)
    page.get_by_role("link", name=world.given_file.name).click()
    page.get_by_text("Not linked to a bookkeeping package.").wait_for()
    assert page.get_by_role("button", name="Sync now").count() == 0
    assert page.get_by_role("heading", name="Bookkeeping sync").count() == 0
    snapshot(page, "8-external-unsynced")
    page.get_by_role("navigation", name=world.given_file.name).get_by_role(
        "link", name="Trial balance"
    ).click()
    page.get_by_text("There is no ledger yet").wait_for()
    snapshot(page, "9-empty-trial-balance")
    page.get_by_role("navigation", name=world.given_file.name).get_by_role(
        "link", name="Sync history"
    ).click()
    page.get_by_text("This client file has not been synced yet.").wait_for()
