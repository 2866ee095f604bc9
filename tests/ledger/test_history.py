"""The client file's sync history and one run's page: issues, reconciliation per period, error."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from syncs.models import SyncRun
from tests.fixtures import FirmWorld

from .factories import PeriodCheckFactory, SmallLedger, SyncIssueFactory, build_small_ledger, make_run

pytestmark = pytest.mark.django_db


def history_url(world: FirmWorld, page: int | None = None) -> str:
    url = reverse("sync_history", args=[world.firm.slug, world.given_file.pk])
    return f"{url}?page={page}" if page else url


def run_url(world: FirmWorld, run: SyncRun) -> str:
    return reverse("sync_run_detail", args=[world.firm.slug, world.given_file.pk, run.pk])


def finished(run: SyncRun, seconds: int) -> SyncRun:
    started = run.queued_at + dt.timedelta(seconds=2)
    SyncRun.objects.filter(pk=run.pk).update(
        started_at=started, finished_at=started + dt.timedelta(seconds=seconds)
    )
    run.refresh_from_db()
    return run


def test_the_history_lists_every_run_newest_first(client: Client, world: FirmWorld) -> None:
    nightly = finished(
        make_run(
            world.given_file,
            minutes_ago=60 * 24,
            api_calls=17,
            counts={
                "lines": {"created": 40, "updated": 0, "deleted": 2, "unchanged": 0},
                "entries": {"created": 12, "updated": 3, "deleted": 1, "unchanged": 7},
                "accounts": {"created": 0, "updated": 0, "deleted": 0, "unchanged": 80},
            },
        ),
        seconds=65,
    )
    manual = finished(
        make_run(
            world.given_file,
            trigger=SyncRun.Trigger.MANUAL,
            requested_by=world.staff,
            status=SyncRun.Status.FAILED,
            minutes_ago=5,
            error_class="access",
            error_code="wow.access_revoked",
        ),
        seconds=3,
    )
    client.force_login(world.external)
    response = client.get(history_url(world))
    assert response.status_code == 200
    html = response.content.decode()
    tbody = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", tbody, re.S)
    ]
    assert [row[0] for row in rows] == [f"#{manual.pk}", f"#{nightly.pk}"]
    assert rows[0][1] == "Sync now staff@alpha.test"
    assert rows[0][3:5] == ["3.0 s", "Failed"]  # below ten seconds, tenths
    assert rows[0][5] == "Nothing read"
    assert rows[1][1] == "Schedule"
    assert rows[1][3:5] == ["1 min 5 s", "Succeeded"]
    # Counts per entity, in reading order, what stayed the same left out.
    assert rows[1][5] == "Documents: 12 new, 3 changed, 1 removed Document lines: 40 new, 2 removed"
    assert len(rows[1]) == 6  # no "API calls" column: that is for operators (the admin, sync_client)
    assert run_url(world, nightly) in html


def test_the_history_is_paginated(client: Client, world: FirmWorld) -> None:
    runs = [make_run(world.given_file, minutes_ago=100 - n) for n in range(30)]
    client.force_login(world.staff)
    first = client.get(history_url(world)).content.decode()
    assert "1–25 of 30 syncs" in first
    assert f"#{runs[-1].pk}<" in first and f"#{runs[4].pk}<" not in first
    second = client.get(history_url(world, page=2)).content.decode()
    assert "26–30 of 30 syncs" in second
    assert f"#{runs[0].pk}<" in second


def test_a_file_never_synced_says_so(client: Client, world: FirmWorld) -> None:
    client.force_login(world.staff)
    assert "This client file has not been synced yet" in client.get(history_url(world)).content.decode()


def test_a_runs_page_shows_its_issues_reconciliation_and_counts(client: Client, world: FirmWorld) -> None:
    ledger: SmallLedger = build_small_ledger(world.given_file)
    run = finished(
        make_run(
            world.given_file,
            status=SyncRun.Status.SUCCEEDED_WITH_ISSUES,
            reconciled=False,
            api_calls=9,
            counts={"entries": {"created": 5, "updated": 0, "deleted": 0, "unchanged": 0}},
        ),
        seconds=8,
    )
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
    SyncIssueFactory.create(
        run=run,
        entity="document",
        reference="VEN 12",
        code="issue.line_unknown_account",
        params={"line": 2},
    )
    client.force_login(world.staff)
    response = client.get(run_url(world, run))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Succeeded with issues" in html
    assert "8.0 s" in html  # below ten seconds, tenths
    checks = html.split('id="reconciliation-heading"', 1)[1].split('id="issues-heading"', 1)[0]
    assert "2024-01" in checks and "✓ Ties out" in checks
    assert (
        "2024-02" in checks and "✗ Does not tie out" in checks and "after reading the period again" in checks
    )
    assert "Sales" in checks and "-1,334.57" in checks and "-100.00" in checks
    issues = html.split('<table class="data compact issues">', 1)[1].split("</table>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", issues)]
    assert cells == [
        "Document",
        "VEN 12",
        "Line 2 is booked on an account the ledger does not know.",
        "Check the line&#x27;s account in WinbooksOnWeb; the document is left out until it is fixed.",
    ]
    counts = html.split('<table class="data compact counts">', 1)[1].split("</table>", 1)[0]
    assert "Documents" in counts


def test_a_failed_runs_page_shows_its_error(client: Client, world: FirmWorld) -> None:
    run = make_run(
        world.given_file,
        status=SyncRun.Status.FAILED,
        error_class="access",
        # Written before errors were stored as codes: shown as it was.
        error_code="legacy",
        error_params={"text": "WinbooksOnWeb refused the credentials; an admin must reconnect."},
    )
    client.force_login(world.staff)
    html = client.get(run_url(world, run)).content.decode()
    assert "This sync failed." in html
    assert "WinbooksOnWeb refused the credentials; an admin must reconnect." in html
    assert "Kind of error" not in html  # the error's class is for operators (the admin, the logs)
    assert "The sync stopped before the check." in html


def test_a_runs_issues_are_paginated(client: Client, world: FirmWorld) -> None:
    run = make_run(world.given_file, status=SyncRun.Status.SUCCEEDED_WITH_ISSUES)
    for n in range(105):
        SyncIssueFactory.create(run=run, reference=f"VEN {n}")
    client.force_login(world.staff)
    html = client.get(run_url(world, run)).content.decode()
    assert "1–100 of 105 issues" in html
    assert "?issues_page=2" in html
    second = client.get(run_url(world, run) + "?issues_page=2").content.decode()
    assert "101–105 of 105 issues" in second


def test_another_client_files_run_is_not_found(client: Client, world: FirmWorld) -> None:
    other_run = make_run(world.other_file)
    client.force_login(world.admin)
    url = reverse("sync_run_detail", args=[world.firm.slug, world.given_file.pk, other_run.pk])
    assert client.get(url).status_code == 404
