"""An account's lines in a period or fiscal year (paginated, with the running balance) and a document."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from clients.ledger import ledger_rebuild_balances
from clients.models import Entry, EntryLine
from tests.fixtures import FirmWorld

from .factories import JournalFactory, SmallLedger, build_small_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(world: FirmWorld) -> SmallLedger:
    return build_small_ledger(world.given_file)


def lines_url(world: FirmWorld, account_id: int, period: str, page: int | None = None) -> str:
    url = (
        reverse("account_lines", args=[world.firm.slug, world.given_file.pk, account_id])
        + f"?period={period}"
    )
    return f"{url}&page={page}" if page else url


def body_rows(html: str) -> list[list[str]]:
    tbody = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", tbody, re.S)
    ]


def test_an_accounts_lines_in_a_period_with_the_running_balance(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.staff)
    response = client.get(lines_url(world, ledger.accounts["400000"].pk, "2024-02"))
    assert response.status_code == 200
    html = response.content.decode()
    assert body_rows(html) == [
        ["Opening balance", "1,210.00"],
        ["05/02/2024", "BNK", "1", "C001 Acme NV", "Payment invoice 1", "", "1,210.00", "0.00"],
        ["10/02/2024", "VEN", "2", "C001 Acme NV", "Invoice 2", "1,234.57", "", "1,234.57"],
    ]
    figures = re.findall(r"<dd>([^<]*)</dd>", html)
    assert figures == ["1,210.00", "1,234.57", "1,210.00", "1,234.57"]
    tfoot = html.split("<tfoot>", 1)[1].split("</tfoot>", 1)[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', tfoot) == ["1,234.57", "1,210.00", "1,234.57"]
    # Each line opens its whole document.
    entry_ids = set(
        Entry.objects.filter(lines__account=ledger.accounts["400000"], period=ledger.february).values_list(
            "pk", flat=True
        )
    )
    for entry_id in entry_ids:
        assert reverse("entry_detail", args=[world.firm.slug, world.given_file.pk, entry_id]) in html


def test_the_fiscal_year_lists_periods_1_to_13_on_top_of_the_opening(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.staff)
    html = client.get(
        lines_url(world, ledger.accounts["550000"].pk, f"fy-{ledger.fiscal_year.pk}")
    ).content.decode()
    assert body_rows(html) == [
        ["Opening balance", "10,000.00"],
        ["05/02/2024", "BNK", "1", "", "Payment invoice 1", "1,210.00", "", "11,210.00"],
    ]


def test_an_account_without_lines_in_the_period_says_so(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.staff)
    html = client.get(lines_url(world, ledger.accounts["604000"].pk, "2024-02")).content.decode()
    assert "Nothing was booked on 604000 in 2024-02" in html
    assert re.findall(r"<dd>([^<]*)</dd>", html) == ["500.00", "0.00", "0.00", "500.00"]


def test_the_lines_are_paginated_100_a_page_and_the_balance_runs_across_pages(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    bank, sales = ledger.accounts["550000"], ledger.accounts["700000"]
    journal = JournalFactory.create(client_file=world.given_file, code="KAS", name="Cash")
    entries = Entry.objects.bulk_create(
        Entry(
            client_file=world.given_file,
            wow_id=uuid.uuid4(),
            journal=journal,
            period=ledger.march,
            doc_number=str(n),
            book_date=dt.date(2024, 3, 1) + dt.timedelta(days=n % 28),
        )
        for n in range(1, 251)
    )
    EntryLine.objects.bulk_create(
        EntryLine(
            client_file=world.given_file,
            wow_id=uuid.uuid4(),
            entry=entry,
            period=ledger.march,
            line_order=order,
            account=account,
            amount=amount,
            description=f"Cash sale {entry.doc_number}",
        )
        for entry in entries
        for order, (account, amount) in enumerate([(bank, Decimal("1.01")), (sales, Decimal("-1.01"))])
    )
    ledger_rebuild_balances(client_file_id=world.given_file.pk, period_ids=[ledger.march.pk])
    client.force_login(world.staff)

    first = client.get(lines_url(world, bank.pk, "2024-03")).content.decode()
    rows = body_rows(first)
    assert rows[0] == ["Opening balance", "11,210.00"]
    assert len(rows) == 101  # the opening line and 100 lines
    assert rows[-1][-1] == "11,311.00"  # 11,210.00 + 100 * 1.01
    assert "1–100 of 250 lines" in first
    assert "<tfoot>" not in first  # the totals come on the last page

    last = client.get(lines_url(world, bank.pk, "2024-03", page=3)).content.decode()
    rows = body_rows(last)
    assert len(rows) == 50
    assert rows[0][-1] == "11,413.01"  # 11,210.00 + 201 * 1.01: the balance runs on from page 2
    assert rows[-1][-1] == "11,462.50"  # 11,210.00 + 250 * 1.01: the closing balance
    assert "201–250 of 250 lines" in last
    assert "<tfoot>" in last
    # The pagination keeps the period.
    assert 'href="?period=2024-03&amp;page=2"' in last

    # Past the last page answers the last page, not an error.
    past_the_end = client.get(lines_url(world, bank.pk, "2024-03", page=99)).content.decode()
    assert "201–250 of 250 lines" in past_the_end


def test_the_document_page_shows_all_its_lines_and_that_it_balances(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.external)
    response = client.get(
        reverse("entry_detail", args=[world.firm.slug, world.given_file.pk, ledger.sale.pk])
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Document VEN 1" in html
    assert body_rows(html) == [
        ["1", "400000 Customers", "C001 Acme NV", "Invoice 1", "", "1,210.00", ""],
        ["2", "700000 Sales", "", "Consulting", "", "", "1,000.00"],
        ["3", "451000 VAT payable", "", "VAT 21%", "", "", "210.00"],
    ]
    tfoot = html.split("<tfoot>", 1)[1].split("</tfoot>", 1)[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', tfoot) == ["1,210.00", "1,210.00"]
    assert "✓ Balanced" in tfoot
    account_url = reverse(
        "account_lines", args=[world.firm.slug, world.given_file.pk, ledger.accounts["700000"].pk]
    )
    assert f"{account_url}?period=2024-01" in html


def test_a_document_out_of_balance_shows_the_difference(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    EntryLine.objects.filter(entry=ledger.sale, line_order=2).delete()
    client.force_login(world.staff)
    html = client.get(
        reverse("entry_detail", args=[world.firm.slug, world.given_file.pk, ledger.sale.pk])
    ).content.decode()
    assert "✗ Out of balance" in html
    assert "debit − credit = <strong>210.00</strong>" in html


def test_another_client_files_account_and_document_are_not_found(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    other = build_small_ledger(world.other_file)
    client.force_login(world.admin)
    slug, given = world.firm.slug, world.given_file.pk
    assert (
        client.get(
            reverse("account_lines", args=[slug, given, other.accounts["700000"].pk]) + "?period=2024-01"
        ).status_code
        == 404
    )
    assert client.get(reverse("entry_detail", args=[slug, given, other.sale.pk])).status_code == 404
    # Through its own client file both are there.
    assert (
        client.get(reverse("entry_detail", args=[slug, world.other_file.pk, other.sale.pk])).status_code
        == 200
    )
