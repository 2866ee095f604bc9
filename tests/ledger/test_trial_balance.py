"""The trial balance: numbers and totals of a hand-made ledger, the fiscal-year view, the reconciliation
mark, and the CSV and Excel downloads."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from clients import ledger_selectors
from clients.ledger_selectors import LedgerScope
from clients.models import AccountBalance, EntryLine
from tests.fixtures import FirmWorld

from .factories import (
    ACCOUNT_NAMES,
    EXPECTED_FEBRUARY,
    EXPECTED_JANUARY,
    EXPECTED_YEAR,
    PeriodCheckFactory,
    SmallLedger,
    build_small_ledger,
    make_run,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(world: FirmWorld) -> SmallLedger:
    return build_small_ledger(world.given_file)


def tb_url(world: FirmWorld, name: str = "trial_balance", period: str | None = None) -> str:
    url = reverse(name, args=[world.firm.slug, world.given_file.pk])
    return f"{url}?period={period}" if period is not None else url


def rows_of(balance: ledger_selectors.TrialBalance) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    return {row.number: (row.opening, row.debit, row.credit, row.closing) for row in balance.rows}


def table_rows(html: str) -> list[list[str]]:
    """The trial balance table's body rows as cell texts (tags stripped)."""
    body = html.split('<table class="data ledger trial-balance">', 1)[1].split("</table>", 1)[0]
    tbody = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", tbody, re.S)
    ]


def test_a_periods_trial_balance_reads_the_balances_account_by_account(ledger: SmallLedger) -> None:
    for period, expected in [(ledger.january, EXPECTED_JANUARY), (ledger.february, EXPECTED_FEBRUARY)]:
        balance = ledger_selectors.trial_balance(
            client_file=ledger.client_file, scope=LedgerScope(period=period)
        )
        assert rows_of(balance) == expected
        assert [row.number for row in balance.rows] == sorted(expected)
        assert balance.opening == 0 and balance.closing == 0
        assert balance.debit == balance.credit
        assert balance.ties_out


def test_the_fiscal_year_view_opens_with_the_opening_period_and_sums_periods_1_to_13(
    ledger: SmallLedger,
) -> None:
    balance = ledger_selectors.trial_balance(
        client_file=ledger.client_file, scope=LedgerScope(fiscal_year=ledger.fiscal_year)
    )
    assert rows_of(balance) == EXPECTED_YEAR
    assert (balance.opening, balance.debit, balance.credit, balance.closing) == (
        Decimal("0"),
        Decimal("4154.5678"),
        Decimal("4154.5678"),
        Decimal("0"),
    )
    assert balance.ties_out


def test_the_page_shows_the_numbers_right_aligned_with_two_decimals_and_separators(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.staff)
    response = client.get(tb_url(world, period="2024-02"))
    assert response.status_code == 200
    html = response.content.decode()
    assert table_rows(html) == [
        ["100000", "Capital", "-10,000.00", "0.00", "0.00", "-10,000.00"],
        ["400000", "Customers", "1,210.00", "1,234.57", "1,210.00", "1,234.57"],
        ["440000", "Suppliers", "-500.00", "0.00", "0.00", "-500.00"],
        ["451000", "VAT payable", "-210.00", "0.00", "0.00", "-210.00"],
        ["550000", "Bank", "10,000.00", "1,210.00", "0.00", "11,210.00"],
        ["604000", "Purchases of goods", "500.00", "0.00", "0.00", "500.00"],
        ["700000", "Sales", "-1,000.00", "0.00", "1,234.57", "-2,234.57"],
    ]
    assert html.count('<td class="num">') >= 7 * 4  # every amount cell is right-aligned
    tfoot = html.split("<tfoot>", 1)[1].split("</tfoot>", 1)[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', tfoot) == ["0.00", "2,444.57", "2,444.57", "0.00"]
    assert "✓ Ties out" in tfoot
    # Each account links to its lines in the same period.
    account_url = reverse(
        "account_lines", args=[world.firm.slug, world.given_file.pk, ledger.accounts["700000"].pk]
    )
    assert f"{account_url}?period=2024-02" in html


def test_a_ledger_that_does_not_balance_shows_the_difference(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    # A one-sided line (as a half-synced document would leave) unbalances January.
    line = EntryLine.objects.filter(entry=ledger.sale, account=ledger.accounts["451000"]).get()
    EntryLine.objects.filter(pk=line.pk).update(amount=Decimal("-200.00"))
    from clients.ledger import ledger_rebuild_balances

    ledger_rebuild_balances(client_file_id=ledger.client_file.pk, period_ids=[ledger.january.pk])
    client.force_login(world.staff)
    tfoot = client.get(tb_url(world, period="2024-01")).content.decode().split("<tfoot>", 1)[1]
    assert "✗ Does not tie out" in tfoot
    assert "debit − credit = <strong>10.00</strong>" in tfoot
    assert "the closing balances add up to <strong>10.00</strong> instead of zero" in tfoot


def test_the_period_picker_lists_the_files_periods_by_year_and_number_and_the_whole_year(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.staff)
    html = client.get(tb_url(world)).content.decode()
    picker = html.split('<select id="period-picker"', 1)[1].split("</select>", 1)[0]
    values = re.findall(r'<option value="([^"]+)"', picker)
    assert values == [f"fy-{ledger.fiscal_year.pk}", "2024-00", "2024-01", "2024-02", "2024-03", "2024-13"]
    # Without a choice, the most recent period with bookings is shown, not the closing period that only
    # has balances brought forward.
    assert AccountBalance.objects.filter(period=ledger.closing).exists()
    assert re.findall(r'<option value="([^"]+)" selected>', picker) == ["2024-02"]


def test_the_fiscal_year_page_uses_the_fiscal_year_numbers(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    client.force_login(world.staff)
    html = client.get(tb_url(world, period=f"fy-{ledger.fiscal_year.pk}")).content.decode()
    rows = {cells[0]: cells[2:] for cells in table_rows(html)}
    assert rows["400000"] == ["0.00", "2,444.57", "1,210.00", "1,234.57"]
    assert rows["100000"] == ["-10,000.00", "0.00", "0.00", "-10,000.00"]
    assert "Fiscal year 2024" in html


@pytest.mark.parametrize("period", ["2023-01", "fy-999999", "nonsense"])
def test_a_period_the_file_does_not_have_is_not_found(
    client: Client, world: FirmWorld, ledger: SmallLedger, period: str
) -> None:
    client.force_login(world.staff)
    assert client.get(tb_url(world, period=period)).status_code == 404
    assert client.get(tb_url(world, "trial_balance_csv", period=period)).status_code == 404


def test_another_client_files_fiscal_year_is_not_found(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    other = build_small_ledger(world.other_file)
    client.force_login(world.staff)
    assert client.get(tb_url(world, period=f"fy-{other.fiscal_year.pk}")).status_code == 404


def test_a_file_without_a_ledger_says_so(client: Client, world: FirmWorld) -> None:
    client.force_login(world.staff)
    response = client.get(tb_url(world))
    assert response.status_code == 200
    assert "There is no ledger yet" in response.content.decode()
    assert client.get(tb_url(world, "trial_balance_csv")).status_code == 404


def test_an_empty_period_says_nothing_was_booked(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    AccountBalance.objects.filter(period=ledger.march).delete()
    client.force_login(world.staff)
    html = client.get(tb_url(world, period="2024-03")).content.decode()
    assert "No balances in 2024-03" in html


class TestReconciliationMark:
    def test_not_checked_yet(self, client: Client, world: FirmWorld, ledger: SmallLedger) -> None:
        client.force_login(world.staff)
        html = client.get(tb_url(world, period="2024-01")).content.decode()
        assert "Not checked against WinbooksOnWeb yet" in html

    def test_the_latest_check_of_the_period_counts(
        self, client: Client, world: FirmWorld, ledger: SmallLedger
    ) -> None:
        older = make_run(ledger.client_file, minutes_ago=60)
        newer = make_run(ledger.client_file, minutes_ago=5)
        PeriodCheckFactory.create(run=older, period=ledger.january, ties_out=True)
        PeriodCheckFactory.create(
            run=newer,
            period=ledger.january,
            ties_out=False,
            differences=[
                {"account": "700000", "ledger": "-1000.0000", "wow": "-1100.0000", "difference": "-100.0000"}
            ],
        )
        client.force_login(world.staff)
        html = client.get(tb_url(world, period="2024-01")).content.decode()
        assert "✗ Does not tie out with WinbooksOnWeb" in html
        assert f"sync #{newer.pk}" in html
        differences = html.split('<table class="data compact differences">', 1)[1].split("</table>", 1)[0]
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", differences)]
        assert cells == ["700000", "Sales", "-1,000.00", "-1,100.00", "-100.00"]

    def test_a_period_that_ties_out(self, client: Client, world: FirmWorld, ledger: SmallLedger) -> None:
        run = make_run(ledger.client_file)
        PeriodCheckFactory.create(run=run, period=ledger.january, ties_out=True, line_count=4)
        client.force_login(world.staff)
        html = client.get(tb_url(world, period="2024-01")).content.decode()
        assert "✓ Ties out with WinbooksOnWeb" in html
        # A check of another client file's run never shows here.
        other_run = make_run(world.other_file)
        PeriodCheckFactory.create(run=other_run, period=ledger.february, ties_out=False)
        assert (
            "Not checked against WinbooksOnWeb yet"
            in client.get(tb_url(world, period="2024-02")).content.decode()
        )

    def test_the_fiscal_year_shows_every_periods_mark(
        self, client: Client, world: FirmWorld, ledger: SmallLedger
    ) -> None:
        run = make_run(ledger.client_file)
        PeriodCheckFactory.create(run=run, period=ledger.january, ties_out=True)
        PeriodCheckFactory.create(
            run=run,
            period=ledger.february,
            ties_out=False,
            differences=[{"account": "400000", "ledger": "1", "wow": "2", "difference": "1"}],
        )
        client.force_login(world.staff)
        html = client.get(tb_url(world, period=f"fy-{ledger.fiscal_year.pk}")).content.decode()
        assert "2024-01 ✓" in html
        assert "2024-02 ✗" in html
        assert "2024 opening –" in html
        assert "✗ 2024-02 does not tie out with WinbooksOnWeb" in html


def test_the_csv_carries_exact_amounts(client: Client, world: FirmWorld, ledger: SmallLedger) -> None:
    client.force_login(world.external)  # read-only users may download too
    response = client.get(tb_url(world, "trial_balance_csv", period="2024-02"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ALPHA-G-trial-balance-2024-02.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads the accents right
    text = response.content.decode("utf-8-sig")
    assert text == (
        "Account,Name,Opening,Debit,Credit,Closing\r\n"
        "100000,Capital,-10000.00,0.00,0.00,-10000.00\r\n"
        "400000,Customers,1210.00,1234.5678,1210.00,1234.5678\r\n"
        "440000,Suppliers,-500.00,0.00,0.00,-500.00\r\n"
        "451000,VAT payable,-210.00,0.00,0.00,-210.00\r\n"
        "550000,Bank,10000.00,1210.00,0.00,11210.00\r\n"
        "604000,Purchases of goods,500.00,0.00,0.00,500.00\r\n"
        "700000,Sales,-1000.00,0.00,1234.5678,-2234.5678\r\n"
        "Total,,0.00,2444.5678,2444.5678,0.00\r\n"
    )


def test_the_csv_of_the_fiscal_year(client: Client, world: FirmWorld, ledger: SmallLedger) -> None:
    client.force_login(world.staff)
    response = client.get(tb_url(world, "trial_balance_csv", period=f"fy-{ledger.fiscal_year.pk}"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_account = {row[0]: tuple(Decimal(v) for v in row[2:]) for row in rows[1:-1]}
    assert by_account == EXPECTED_YEAR
    assert response["Content-Disposition"] == 'attachment; filename="ALPHA-G-trial-balance-FY-2024.csv"'


def test_the_excel_file_has_the_same_numbers(client: Client, world: FirmWorld, ledger: SmallLedger) -> None:
    client.force_login(world.staff)
    response = client.get(tb_url(world, "trial_balance_xlsx", period="2024-02"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == 'attachment; filename="ALPHA-G-trial-balance-2024-02.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert "trial balance, 2024-02" in str(values[0][0])
    assert values[1] == ("Account", "Name", "Opening", "Debit", "Credit", "Closing")
    body = values[2:-1]
    assert {row[0]: row[1] for row in body} == ACCOUNT_NAMES
    assert {
        row[0]: tuple(Decimal(str(v)).quantize(Decimal("0.0001")) for v in row[2:]) for row in body
    } == EXPECTED_FEBRUARY
    total = values[-1]
    assert total[0] == "Total"
    assert Decimal(str(total[3])).quantize(Decimal("0.0001")) == Decimal("2444.5678")
    assert Decimal(str(total[4])).quantize(Decimal("0.0001")) == Decimal("2444.5678")
    assert sheet.cell(row=3, column=3).number_format == "#,##0.00;-#,##0.00"
