"""Hostile values from WoW (issue #17, point 3): a client's own WoW company can hold a VAT base of 1e400 or
10^20, more decimals than the ledger keeps, a version past a 32-bit integer, or a NUL character in a label or a
line comment. Each bad document becomes one issue and the rest syncs; text is cleaned of control characters;
nothing fails the file, now or on the next sync.

Driven through the sandbox: numbers the sandbox cannot store itself are put into its answers by a fault that
sets a line's field to the hostile value on every answer (as WoW would answer for such a document); the NUL
characters are stored in the sandbox for real (a label changed with the control API, a document booked with
WoW's own API). The file is synced over HTTP.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clients.models import Account, Entry, EntryLine
from syncs.models import ClientLink, SyncIssue, SyncRun
from tests.fixtures import FirmWorld

from .helpers import execute, fault

pytestmark = pytest.mark.django_db(transaction=True)

ENTRIES_PATH = "GLTransHeaders/Folder/DEMO_BV/ExecuteCriteria?maxLevel=2"
NUL_COMMENT = "Betaling\x00 VERK\x07 1"


def ledger_ids(link: ClientLink) -> set[str]:
    return {
        str(i) for i in Entry.objects.filter(client_file=link.client_file).values_list("wow_id", flat=True)
    }


@pytest.mark.parametrize(
    ("field", "value_json", "named"),
    [
        ("VatBaseAmount", "1e400", "its vat base "),
        ("VatBaseAmount", "100000000000000000000", "its vat base "),
        ("VatTaxAmount", "0.00001", "its vat amount "),
        ("Amount", "-1E16", "has an amount the ledger cannot hold exactly"),
        ("Version", "1099511627776", "its version "),
        ("LineOrder", "2147483648", "its line order "),
    ],
)
def test_a_hostile_number_is_one_issue_and_the_rest_syncs(
    link: ClientLink, wow_sandbox: Any, field: str, value_json: str, named: str
) -> None:
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="malformed", target="value", field=field,
          value_json=value_json, count=1000)  # fmt: skip
    for attempt in range(2):  # the next sync meets the same document and fails no more than the first
        run = execute(link)
        assert run.status == SyncRun.Status.SUCCEEDED_WITH_ISSUES, (attempt, run.error_message)
        issues = list(SyncIssue.objects.filter(run=run))
        assert len(issues) == 1, [i.problem for i in issues]
        (issue,) = issues
        assert named in issue.problem and issue.reference and issue.hint, issue.problem
        theirs = {d["Id"] for d in wow_sandbox.snapshot()["documents"]}
        assert theirs - ledger_ids(link) == {issue.wow_id}  # only the hostile document is left out
        assert ledger_ids(link) <= theirs


def test_control_characters_are_cleaned_from_labels_and_comments(
    world: FirmWorld, wow_sandbox: Any, link: ClientLink
) -> None:
    periods = wow_sandbox.read_list("GET", f"/app/BookPeriods/Folder/{wow_sandbox.DEMO}")
    may = next(p for p in periods if p["Code"] == "202405")
    booked = wow_sandbox.api(
        "POST",
        f"/app/GLTransHeader/Folder/{wow_sandbox.DEMO}",
        json={
            "$type": "Winbooks.TORM.OM.Accounting.GLTransHeader, Winbooks.TORM.OM",
            "BookPeriod_Id": may["Id"],
            "JournalCode": "DIV",
            "BookDate": "/Date(1715558400000)/",
            "GLTransactions": [
                {"GLAccountCode": "550000", "Amount": Decimal("10.00"), "CommentBooking": NUL_COMMENT},
                {"GLAccountCode": "700000", "Amount": Decimal("-10.00")},
            ],
        },
    )
    assert booked.status_code == 200, booked.text
    document = booked.json()["Href"].split("/app/GLTransHeader/")[1].split("/")[0]
    label = wow_sandbox.control(
        "PATCH", f"folders/{wow_sandbox.DEMO}/objects/GLAccount/700000", {"Label": "Verkopen\x00 brood\x1b"}
    )
    assert label.status_code == 200, label.text
    run = execute(link)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, [i.problem for i in run.issues.all()])
    line = EntryLine.objects.get(entry__wow_id=document, account__number="550000")
    assert line.description == "Betaling VERK 1"
    account = Account.objects.get(client_file=link.client_file, number="700000")
    assert account.name == "Verkopen brood"
    client = Client()
    client.force_login(world.staff)
    args = [world.firm.slug, link.client_file_id]
    assert client.get(reverse("trial_balance", args=args)).status_code == 200
    assert client.get(reverse("account_lines", args=[*args, account.pk])).status_code == 200
    assert client.get(reverse("entry_detail", args=[*args, line.entry_id])).status_code == 200
