"""What a new user tripped over in the sync itself (#13): the "Do not sync before" date, a failed first sync,
empty periods left unchecked, and an issue the ledger contradicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from clients.models import Entry, Period
from syncs.engine import sync_run_execute
from syncs.models import AuditEvent, ClientLink, Connection, PeriodCheck, SyncIssue, SyncRun
from syncs.services import client_link_set
from tests.fixtures import FirmWorld
from tests.syncs.helpers import assert_ledger_equals_sandbox

pytestmark = pytest.mark.django_db


def run_queued(link: ClientLink) -> SyncRun:
    return sync_run_execute(run_id=SyncRun.objects.get(link=link, status=SyncRun.Status.QUEUED).pk)


def link_with_start(
    world: FirmWorld, connection: Connection, start: dt.date | None, sandbox: Any
) -> ClientLink:
    return client_link_set(
        client_file=world.given_file,
        connection=connection,
        company_code=sandbox.DEMO,
        start_date=start,
        actor=world.staff,
    )


def page(world: FirmWorld, name: str, query: str = "", **kwargs: Any) -> str:
    client = Client()
    client.force_login(world.staff)
    url = reverse(
        name, kwargs={"firm_slug": world.firm.slug, "client_file_id": world.given_file.pk, **kwargs}
    )
    response = client.get(url + query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("start", [dt.date(2031, 1, 1), dt.date(2024, 3, 15)])
def test_a_start_date_that_is_no_fiscal_year_start_is_refused_naming_the_valid_ones(
    world: FirmWorld, connection: Connection, wow_sandbox: Any, start: dt.date
) -> None:
    with pytest.raises(ValidationError) as refused:
        link_with_start(world, connection, start, wow_sandbox)
    message = " ".join(refused.value.message_dict["start_date"])
    # Dates as the reader's language writes them (English here: 31/12/2024).
    assert f"{start:%d/%m/%Y}" in message and "01/01/2024, 01/01/2025" in message
    assert not ClientLink.objects.exists() and not SyncRun.objects.exists()


def test_moving_the_start_date_is_audited_and_resyncs_what_it_adds_or_removes(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    link = link_with_start(world, connection, dt.date(2025, 1, 1), wow_sandbox)
    first = run_queued(link)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error_message
    assert not Entry.objects.filter(client_file=world.given_file, book_date__year=2024).exists()
    january = Period.objects.get(client_file=world.given_file, year=2024, number=1)
    text = page(world, "trial_balance", f"?period={january.key}")
    assert "is not synced: it comes before" in text and "“Do not sync before” date, 01/01/2025" in text
    assert "nothing was booked" not in text

    # Earlier: the documents of 2024 are read after all, although the cursor had gone past them.
    link_with_start(world, connection, dt.date(2024, 1, 1), wow_sandbox)
    changed = AuditEvent.objects.get(action=AuditEvent.Action.START_DATE_CHANGED)
    assert "from 01/01/2025 to 01/01/2024." in changed.summary
    earlier = run_queued(link)
    assert earlier.status == SyncRun.Status.SUCCEEDED and earlier.reconciled is True
    assert_ledger_equals_sandbox(world.given_file, wow_sandbox.snapshot())

    # Later again: 2024 leaves the ledger, and the run still ties out (2024 is not compared any more).
    link_with_start(world, connection, dt.date(2025, 1, 1), wow_sandbox)
    later = run_queued(link)
    assert later.status == SyncRun.Status.SUCCEEDED and later.reconciled is not False, later.error_message
    assert not Entry.objects.filter(client_file=world.given_file, book_date__year=2024).exists()
    assert later.counts["entries"]["deleted"] > 0


def test_a_failed_first_sync_says_the_ledger_is_incomplete(
    world: FirmWorld, link: ClientLink, wow_sandbox: Any
) -> None:
    wow_sandbox.control(
        "POST", "faults", {"path_contains": "GLTransHeaders", "kind": "status", "status": 403, "count": 50}
    )
    run = run_queued(link)
    assert run.status == SyncRun.Status.FAILED
    text = page(world, "trial_balance")
    assert "The ledger is incomplete: its first sync failed before it finished." in text
    assert run.error_message.split(".")[0] in text.replace("&#x27;", "'")
    assert "nothing was booked" not in text


def test_every_period_of_a_complete_first_sync_is_checked_empty_ones_too(
    world: FirmWorld, link: ClientLink, wow_sandbox: Any
) -> None:
    run = run_queued(link)
    assert run.status == SyncRun.Status.SUCCEEDED
    periods = Period.objects.filter(client_file=world.given_file)
    checks = PeriodCheck.objects.filter(run=run)
    assert set(checks.values_list("period_id", flat=True)) == set(periods.values_list("pk", flat=True))
    empty = checks.filter(line_count=0).select_related("period").first()
    assert empty is not None and empty.ties_out
    text = page(world, "trial_balance", f"?period={empty.period_key}")
    assert "Nothing booked, as in WinbooksOnWeb" in text and "Not checked against WinbooksOnWeb" not in text
    # A sync with no change has nothing new to check: it records no check again.
    again = sync_run_execute(run_id=client_sync(link).pk)
    assert not PeriodCheck.objects.filter(run=again).exists()


def client_sync(link: ClientLink) -> SyncRun:
    from syncs.runs import sync_run_request

    return sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)[0]


@pytest.mark.parametrize("target", ["amount", "account"])
def test_what_an_issue_says_is_true_of_the_ledger_after_the_run(
    world: FirmWorld, link: ClientLink, wow_sandbox: Any, target: str
) -> None:
    """One malformed answer: the document is rejected, then read again whole by the gap check. The run may not
    both say it is left out and hold it."""
    wow_sandbox.control(
        "POST",
        "faults",
        {
            "path_contains": "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria?maxLevel=2",
            "kind": "malformed",
            "target": target,
            "count": 1,
        },
    )
    run = run_queued(link)
    ours = {
        str(i) for i in Entry.objects.filter(client_file=world.given_file).values_list("wow_id", flat=True)
    }
    said_left_out = set(SyncIssue.objects.filter(run=run).values_list("wow_id", flat=True))
    assert not said_left_out & ours
    if run.reconciled and not said_left_out:
        assert run.status == SyncRun.Status.SUCCEEDED
        assert_ledger_equals_sandbox(world.given_file, wow_sandbox.snapshot())


def periods_from(world: FirmWorld, start: dt.date) -> set[int]:
    """The client file's periods a link starting at ``start`` syncs: those of fiscal years starting on or
    after it."""
    return set(
        Period.objects.filter(client_file=world.given_file, fiscal_year__start_date__gte=start).values_list(
            "pk", flat=True
        )
    )


def periods_with_documents_in_wow(world: FirmWorld, sandbox: Any) -> set[int]:
    booked = {document["BookPeriod_Id"] for document in sandbox.snapshot()["documents"]}
    return {
        pk
        for pk, wow_id in Period.objects.filter(client_file=world.given_file).values_list("pk", "wow_id")
        if str(wow_id) in booked
    }


def test_a_first_sync_with_a_start_date_checks_every_period_from_it_empty_ones_too_and_none_before(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    link = link_with_start(world, connection, dt.date(2025, 1, 1), wow_sandbox)
    run = run_queued(link)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    synced = periods_from(world, dt.date(2025, 1, 1))
    every_period = set(Period.objects.filter(client_file=world.given_file).values_list("pk", flat=True))
    booked = periods_with_documents_in_wow(world, wow_sandbox)
    # Both sides of the start date have periods WoW has documents in and periods it has none in.
    assert synced & booked and synced - booked
    assert (every_period - synced) & booked and (every_period - synced) - booked
    checks = PeriodCheck.objects.filter(run=run)
    assert set(checks.values_list("period_id", flat=True)) == synced
    assert set(checks.filter(line_count=0).values_list("period_id", flat=True)) == synced - booked
    assert all(check.ties_out and not check.healed for check in checks)


def test_moving_the_start_date_later_removes_the_years_before_it_and_leaves_the_others_as_they_are(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    link = link_with_start(world, connection, dt.date(2024, 1, 1), wow_sandbox)
    first = run_queued(link)
    assert first.status == SyncRun.Status.SUCCEEDED and first.reconciled is True, first.error_message
    kept = periods_from(world, dt.date(2025, 1, 1))
    entries = Entry.objects.filter(client_file=world.given_file)
    kept_before = set(entries.filter(period_id__in=kept).values_list("pk", "wow_version", "synced_at"))
    leaving = entries.exclude(period_id__in=kept).count()
    assert kept_before and leaving

    link_with_start(world, connection, dt.date(2025, 1, 1), wow_sandbox)
    later = run_queued(link)
    assert later.status == SyncRun.Status.SUCCEEDED and later.reconciled is not False, later.error_message
    assert later.counts["entries"]["deleted"] == leaving and later.counts["entries"]["created"] == 0
    # The documents of the years kept are neither removed nor read again: the same rows, untouched.
    assert set(entries.values_list("pk", "wow_version", "synced_at")) == kept_before
    assert not PeriodCheck.objects.filter(run=later, healed=True).exists()
