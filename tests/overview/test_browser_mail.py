"""The control room when WinbooksOnWeb revokes the firm's tokens, in Chromium with a real Celery worker and
the suite's SMTP server: "Sync now" on 300 files, one mail to the admins (not 300), one digest for the 300
failing files (and none on a second beat), reconnecting from the mail's link queues them all and their pages
say a sync is queued."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clients.models import ClientFile
from notifications.services import send_daily_digests
from syncs.models import ClientLink, Connection, SyncRun
from syncs.services import connection_connect
from tests.clients.test_browser import log_in
from tests.fixtures import FirmWorld

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_revoked_token_one_mail_one_digest_for_300_files_and_reconnect_queues_them(
    page: Any,
    live_server: Any,
    world: FirmWorld,
    wow_sandbox: Any,
    celery_worker: Any,
    smtp_mail: Any,
) -> None:
    connection = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=world.firm, name=f"Client {n:03d} BV", file_code=f"C-{n:03d}") for n in range(300)
    )
    ClientLink.objects.bulk_create(
        ClientLink(
            firm=world.firm,
            client_file=f,
            connection=connection,
            company_code=f"CO{n:03d}",
            last_success_at=timezone.now(),
        )
        for n, f in enumerate(files)
    )
    # WinbooksOnWeb revokes the firm's tokens.
    wow_sandbox.control("POST", "tokens/expire-access", {"email": wow_sandbox.TESTER})
    wow_sandbox.control("POST", "tokens/revoke-refresh", {"email": wow_sandbox.TESTER})

    log_in(page, live_server, world.admin.username)
    page.get_by_role("link", name=re.compile(r"^Never synced")).click()
    page.get_by_role("button", name="Sync all 300 matching files now").click()
    expect(page.get_by_text("300 syncs queued.")).to_be_visible()
    # The worker's first run is refused; the rest stop without asking WoW.
    deadline = time.monotonic() + 120
    while SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/")
    expect(page.locator("nav.chips a[data-chip=needs_reconnect] .chip-count")).to_have_text("300")
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/?status=needs_reconnect")
    expect(page.locator("tr.status-needs_reconnect")).to_have_count(50)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    outcomes = list(SyncRun.objects.values_list("status", "error_class", "error_code").distinct())
    assert SyncRun.objects.filter(status="failed").count() == 300, outcomes
    assert SyncRun.objects.filter(status="failed", error_class="access").count() >= 1

    [alert] = smtp_mail.wait_for(1)
    assert alert["To"] == world.admin.email
    assert alert["Subject"].strip() == "Alpha Accountants: the sync “WinbooksOnWeb” needs reconnecting"
    text = alert.get_body(preferencelist=("plain",)).get_content()
    html = alert.get_body(preferencelist=("html",)).get_content()
    assert "300 client files do not sync until an admin reconnects it" in text
    # Sent by the worker, which links to the portal's address (SITE_URL, the default here).
    reconnect_path = f"/firms/{world.firm.slug}/syncs/{connection.pk}/reconnect/"
    assert (
        f"http://127.0.0.1:8000{reconnect_path}" in text
        and f'href="http://127.0.0.1:8000{reconnect_path}"' in html
    )
    assert send_daily_digests() == 1
    assert send_daily_digests() == 0  # a second beat the same day
    messages = smtp_mail.wait_for(2)
    assert len(messages) == 2
    digest = messages[1]
    assert digest["Subject"].strip() == "Alpha Accountants: 300 client files need attention"
    assert "Needs reconnecting (300)" in digest.get_body(preferencelist=("plain",)).get_content()
    for message in messages:
        raw = message.as_string()
        assert connection.refresh_token not in raw and "Traceback" not in raw

    # The admin reconnects from the link in the mail; the worker is stopped so the queue can be seen.
    celery_worker.terminate()
    celery_worker.wait(timeout=20)
    page.goto(live_server.url + reconnect_path)
    page.get_by_label("E-mail", exact=True).fill(wow_sandbox.TESTER)
    page.get_by_label("Exchange token", exact=True).fill(wow_sandbox.exchange_token())
    page.get_by_role("button", name=re.compile("Reconnect")).click()
    expect(
        page.get_by_text("those whose last sync was refused access are queued to sync now")
    ).to_be_visible()
    assert SyncRun.objects.filter(status=SyncRun.Status.QUEUED).count() == 300
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/clients/{files[0].pk}/")
    expect(page.locator("#sync-status")).to_contain_text("Waiting for a worker to start the sync")
    expect(page.locator("#sync-status")).not_to_contain_text("failed")
    page.goto(f"{live_server.url}/firms/{world.firm.slug}/")
    expect(page.locator("nav.chips a[data-chip=running] .chip-count")).to_have_text("300")
    assert len(smtp_mail.messages()) == 2
