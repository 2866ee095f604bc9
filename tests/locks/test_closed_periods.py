"""Closed books: a sync that changes closed periods still writes them (the ledger equals WoW) and opens one
change alert listing each (period, account) moved, before and after, and the documents responsible; runs
before anyone looks add to it; accepting closes it; who may lock, unlock and accept."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from clients.models import Account, Membership, Period, Profile, Role
from notifications.models import SentNotification
from notifications.services import notification_settings_set
from syncs.engine import sync_run_execute
from syncs.exports import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE
from syncs.locks import books_lock_set, change_alert_accept
from syncs.models import AuditEvent, ChangeAlert, ChangeAlertItem, ClientLink, SyncRun
from syncs.runs import sync_run_request
from tests.factories import MembershipFactory, UserFactory
from tests.fixtures import FirmWorld
from tests.syncs.helpers import assert_ledger_equals_sandbox

pytestmark = pytest.mark.django_db

MARCH = "47767ee5-18d7-5681-8041-a575c220e9f6"  # the demo company's periods (wow_sandbox/seed.py)
FEBRUARY = "25a92a24-42ba-5213-8379-a2107f8dc2c2"
MAY = "7114369c-ffdf-50aa-88af-afefb019110a"
JULY = "e70ca79f-931e-574f-9bdc-d59a0e51e257"


def run_sync(link: ClientLink) -> SyncRun:
    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    run = sync_run_execute(run_id=run.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    return run


def _document(snapshot: dict[str, Any], period: str) -> dict[str, Any]:
    return next(d for d in snapshot["documents"] if d["BookPeriod_Id"] == period)


def _set_amounts(wow_sandbox: Any, document: dict[str, Any], amounts: list[int]) -> None:
    for line, amount in zip(document["GLTransactions"], amounts, strict=True):
        answer = wow_sandbox.control(
            "PATCH", f"folders/DEMO_BV/objects/GLTrans/{line['Id']}", {"Amount": amount}
        )
        assert answer.status_code == 200, answer.text


def _alert_lines(link: ClientLink) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    alert = ChangeAlert.objects.get(client_file=link.client_file, status=ChangeAlert.Status.OPEN)
    return {
        (line.period.key, line.account.number): (line.before, line.after)
        for line in alert.lines.select_related("period", "account")
    }


def _account_number(link: ClientLink, wow_id: str) -> str:
    return Account.objects.get(client_file=link.client_file, wow_id=wow_id).number


def test_changes_in_closed_periods_open_one_alert_that_follows_later_syncs(
    world: FirmWorld, link: ClientLink, wow_sandbox: Any
) -> None:
    run_sync(link)
    books_lock_set(client_file=link.client_file, until=dt.date(2024, 6, 30), actor=world.staff)
    snapshot = wow_sandbox.snapshot()
    march, may, july = _document(snapshot, MARCH), _document(snapshot, MAY), _document(snapshot, JULY)
    february = _document(snapshot, FEBRUARY)
    renamed_id = february["GLTransactions"][0]["GLAccount_Id"]

    _set_amounts(wow_sandbox, march, [900, -900])  # an edit in March
    assert wow_sandbox.control("DELETE", f"folders/DEMO_BV/objects/GLTransHeader/{may['Id']}").ok  # May
    added = {  # a document in July, after the lock: no alert for it
        key: july[key] for key in ("BookPeriod_Id", "Journal_Id", "BookDate")
    } | {
        "DocNumber": "777",
        "GLTransactions": [
            {"GLAccount_Id": line["GLAccount_Id"], "Amount": float(line["Amount"]) * 2, "BookPeriod_Id": JULY}
            for line in july["GLTransactions"]
        ],
    }
    answer = wow_sandbox.control("POST", "folders/DEMO_BV/objects/GLTransHeader", added)
    assert answer.status_code == 201, answer.text
    answer = wow_sandbox.control(
        "PATCH", f"folders/DEMO_BV/objects/GLAccount/{renamed_id}", {"Label": "Hernoemd"}
    )
    assert answer.status_code == 200, answer.text

    run = run_sync(link)
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot())  # the ledger equals WoW
    a, b = (_account_number(link, line["GLAccount_Id"]) for line in march["GLTransactions"])
    may_accounts = [_account_number(link, line["GLAccount_Id"]) for line in may["GLTransactions"]]
    expected = {
        ("2024-03", a): (Decimal("800"), Decimal("900")),
        ("2024-03", b): (Decimal("-800"), Decimal("-900")),
        **{
            ("2024-05", number): (Decimal(str(line["Amount"])), Decimal("0"))
            for number, line in zip(may_accounts, may["GLTransactions"], strict=True)
        },
    }
    assert _alert_lines(link) == expected  # nothing for July
    alert = ChangeAlert.objects.get(client_file=link.client_file, status=ChangeAlert.Status.OPEN)
    items = {(item.kind, item.label) for item in alert.items.all()}
    assert items == {
        (ChangeAlertItem.Kind.CHANGED, str(march["DocNumber"])),
        (ChangeAlertItem.Kind.REMOVED, str(may["DocNumber"])),
        (ChangeAlertItem.Kind.RENAMED, _account_number(link, renamed_id)),
    }
    changed = alert.items.get(kind=ChangeAlertItem.Kind.CHANGED)
    assert [line["amount"] for line in changed.before] == ["800.0000", "-800.0000"]
    assert [line["amount"] for line in changed.after] == ["900.0000", "-900.0000"]
    assert list(alert.runs.all()) == [run]
    # The overview knows it, whatever the file's sync state.
    overview = Client()
    overview.force_login(world.staff)
    listed = overview.get(reverse("firm_overview", args=[world.firm.slug]) + "?status=closed_changes")
    assert link.client_file.name in listed.content.decode()
    assert world.other_file.name not in listed.content.decode()

    # The edit is undone in WoW: its lines leave the alert, May's stay; still one alert.
    _set_amounts(wow_sandbox, march, [800, -800])
    second = run_sync(link)
    assert {pair for pair in _alert_lines(link)} == {pair for pair in expected if pair[0] == "2024-05"}
    assert ChangeAlert.objects.filter(client_file=link.client_file).count() == 1
    assert set(alert.runs.all()) == {run, second}

    # Accepted: closed, readable, audited; the next sync compares with the accepted figures.
    change_alert_accept(alert=alert, actor=world.staff, note="VAT return corrected")
    alert.refresh_from_db()
    assert (alert.status, alert.accepted_by, alert.note) == (
        ChangeAlert.Status.ACCEPTED,
        world.staff,
        "VAT return corrected",
    )
    run_sync(link)
    assert not ChangeAlert.objects.filter(
        client_file=link.client_file, status=ChangeAlert.Status.OPEN
    ).exists()
    actions = set(AuditEvent.objects.filter(client_file=link.client_file).values_list("action", flat=True))
    assert {AuditEvent.Action.BOOKS_LOCKED, AuditEvent.Action.ALERT_ACCEPTED} <= actions


def test_a_file_without_a_lock_opens_no_alert(link: ClientLink, wow_sandbox: Any) -> None:
    run_sync(link)
    _set_amounts(wow_sandbox, _document(wow_sandbox.snapshot(), MARCH), [900, -900])
    run_sync(link)
    assert not ChangeAlert.objects.exists()


def test_who_may_lock_unlock_and_accept(world: FirmWorld, link: ClientLink, wow_sandbox: Any) -> None:
    run_sync(link)
    url = reverse("books_lock", args=[world.firm.slug, link.client_file_id])
    staff, external, admin = Client(), Client(), Client()
    staff.force_login(world.staff)
    external.force_login(world.external)
    admin.force_login(world.admin)
    assert staff.post(url, {"until": "2024-06-30"}).status_code == 302  # forward: staff may
    link.client_file.refresh_from_db()
    assert link.client_file.books_locked_until == dt.date(2024, 6, 30)
    assert staff.post(url, {"until": "2024-03-31"}).status_code == 403  # back: admins only
    assert staff.post(url, {"until": ""}).status_code == 403
    assert external.post(url, {"until": "2024-12-31"}).status_code == 403
    assert staff.post(url, {"until": "2024-07-15"}).status_code == 302  # not a period end: refused
    link.client_file.refresh_from_db()
    assert link.client_file.books_locked_until == dt.date(2024, 6, 30)

    _set_amounts(wow_sandbox, _document(wow_sandbox.snapshot(), MARCH), [900, -900])
    run_sync(link)
    alert = ChangeAlert.objects.get(client_file=link.client_file)
    alerts_page = reverse("change_alerts", args=[world.firm.slug, link.client_file_id])
    page = external.get(alerts_page)
    assert page.status_code == 200 and "2024-03" in page.content.decode()
    assert "Accept these changes" not in page.content.decode()
    accept = reverse("change_alert_accept", args=[world.firm.slug, link.client_file_id, alert.pk])
    assert external.post(accept).status_code == 403
    alert.refresh_from_db()
    assert alert.status == ChangeAlert.Status.OPEN
    assert admin.post(url, {"until": "2024-03-31"}).status_code == 302  # an admin reopens April-June
    link.client_file.refresh_from_db()
    assert link.client_file.books_locked_until == dt.date(2024, 3, 31)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.BOOKS_LOCKED).count() == 2
    assert Period.objects.filter(client_file=link.client_file, end_date=dt.date(2024, 3, 31)).exists()


def _download(client: Client, world: FirmWorld, kind: str, query: str) -> Any:
    return client.get(reverse(kind, args=[world.firm.slug, world.given_file.pk]) + query)


def test_a_closed_periods_downloads_say_whether_they_are_current_or_as_locked(
    world: FirmWorld, link: ClientLink, wow_sandbox: Any
) -> None:
    run_sync(link)
    books_lock_set(client_file=link.client_file, until=dt.date(2024, 6, 30), actor=world.staff)
    march = _document(wow_sandbox.snapshot(), MARCH)
    _set_amounts(wow_sandbox, march, [900, -900])
    run_sync(link)
    a = _account_number(link, march["GLTransactions"][0]["GLAccount_Id"])
    client = Client()
    client.force_login(world.staff)

    current = _download(client, world, "trial_balance_csv", "?period=2024-03")
    assert current["Content-Disposition"].endswith('-trial-balance-2024-03-current.csv"')
    header, *rows = csv.reader(io.StringIO(current.content.decode("utf-8-sig"), newline=""))
    assert header == ["Account", "Name", "Opening", "Debit", "Credit", "Closing"]

    as_locked = _download(client, world, "trial_balance_csv", "?period=2024-03&as_locked=1")
    assert as_locked["Content-Disposition"].endswith('-trial-balance-2024-03-as-locked.csv"')
    assert as_locked["Content-Type"] == current["Content-Type"] == CSV_CONTENT_TYPE
    header, *rows = csv.reader(io.StringIO(as_locked.content.decode("utf-8-sig"), newline=""))
    assert header == [
        "Account",
        "Name",
        "Opening as locked",
        "Debit as locked",
        "Credit as locked",
        "Closing as locked",
        "Closing now",
        "Difference",
    ]
    by_account = {row[0]: [Decimal(cell) for cell in row[2:]] for row in rows[:-1]}
    opening, debit, credit, closing, now, difference = by_account[a]
    assert opening + debit - credit == closing  # the columns as locked are one trial balance
    assert (debit - credit, now - closing, difference) == (Decimal("800"), Decimal("100"), Decimal("100"))
    changed = {number for number, figures in by_account.items() if figures[5]}
    assert changed == {a, _account_number(link, march["GLTransactions"][1]["GLAccount_Id"])}
    total = rows[-1]
    assert total[0] == "Total" and Decimal(total[7]) == sum(figures[5] for figures in by_account.values())

    workbook = _download(client, world, "trial_balance_xlsx", "?period=2024-03&as_locked=1")
    assert workbook["Content-Disposition"].endswith('-trial-balance-2024-03-as-locked.xlsx"')
    assert workbook["Content-Type"] == XLSX_CONTENT_TYPE
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    file = link.client_file
    assert sheet["A1"].value == f"{file.name} ({file.file_code}): trial balance as locked, 2024-03"
    assert str(sheet["A2"].value).startswith("The books are closed up to ")
    current_book = openpyxl.load_workbook(
        io.BytesIO(_download(client, world, "trial_balance_xlsx", "?period=2024-03").content)
    ).active
    assert current_book is not None
    assert "These are the current balances" in str(current_book["A2"].value)

    # An open period has one trial balance: its download has no suffix and no "as locked" to give.
    july = _download(client, world, "trial_balance_csv", "?period=2024-07")
    assert july["Content-Disposition"].endswith('-trial-balance-2024-07.csv"')
    refused = _download(client, world, "trial_balance_csv", "?period=2024-07&as_locked=1")
    assert refused.status_code == 404
    assert "This period is not closed: it has no balances as locked." in refused.content.decode()


def test_those_who_opted_in_are_mailed_once_in_their_language_when_changes_reach_closed_periods(
    world: FirmWorld,
    link: ClientLink,
    wow_sandbox: Any,
    smtp_mail: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    admin, staff, external = (
        Membership.objects.get(firm=world.firm, user=user)
        for user in (world.admin, world.staff, world.external)
    )
    Profile.objects.create(user=world.admin, language="nl")
    for membership in (admin, staff, external):  # the external contributor may not ask for it
        notification_settings_set(
            membership=membership, daily_digest=False, reconnect_alerts=False, closed_period_alerts=True
        )
    second_admin = UserFactory.create(username="quiet-admin@alpha.test")  # did not opt in
    MembershipFactory.create(firm=world.firm, user=second_admin, role=Role.ADMIN)
    run_sync(link)
    books_lock_set(client_file=link.client_file, until=dt.date(2024, 6, 30), actor=world.staff)
    march = _document(wow_sandbox.snapshot(), MARCH)
    _set_amounts(wow_sandbox, march, [900, -900])
    with django_capture_on_commit_callbacks(execute=True):
        run_sync(link)

    mails = smtp_mail.wait_for(2)
    by_recipient = {str(m["To"]): m for m in mails}
    assert set(by_recipient) == {world.admin.email, world.staff.email}
    dutch, english = by_recipient[world.admin.email], by_recipient[world.staff.email]
    assert (
        "syncs changed closed periods" in english["Subject"] and link.client_file.name in english["Subject"]
    )
    dutch_text = dutch.get_body(preferencelist=("plain",)).get_content()
    assert "2024-03: 2 rekeningen gewijzigd, netto 0,00" in dutch_text
    english_text = english.get_body(preferencelist=("plain",)).get_content()
    assert "2024-03: 2 accounts moved, net 0.00" in english_text
    alerts = reverse("change_alerts", args=[world.firm.slug, link.client_file_id])
    assert alerts in english_text and alerts in dutch_text

    # A later sync that adds to the same open alert does not mail again.
    _set_amounts(wow_sandbox, march, [950, -950])
    with django_capture_on_commit_callbacks(execute=True):
        run_sync(link)
    assert len(smtp_mail.messages()) == 2
    assert SentNotification.objects.filter(kind=SentNotification.Kind.CLOSED_PERIOD_CHANGES).count() == 1


def test_only_those_who_may_accept_changes_see_the_closed_period_choice(
    client: Client, world: FirmWorld
) -> None:
    settings_page = reverse("notification_settings", args=[world.firm.slug])
    for user, offered in ((world.admin, True), (world.staff, True), (world.external, False)):
        client.force_login(user)
        html = client.get(settings_page).content.decode()
        assert ('name="closed_period_alerts"' in html) is offered, user
