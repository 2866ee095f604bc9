"""The download writers themselves (syncs/exports.py): the workbook's layout as an accountant opens it (one
named sheet, a bold title line, a bold header and total, amounts right-aligned in the amount format, account
numbers as text, the header kept in view), exact CSV amounts and safe file names. The downloads over HTTP are
tested in tests/ledger/test_trial_balance.py and tests/i18n/test_exports_and_names.py; these tests pin what
mutation testing (make mutation) found no test looking at."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.utils import translation
from openpyxl.worksheet.worksheet import Worksheet

from clients import ledger_selectors
from clients.ledger_selectors import LedgerScope
from syncs.exports import (
    as_locked_csv,
    as_locked_xlsx,
    csv_text,
    exact_amount,
    trial_balance_filename,
    trial_balance_xlsx,
)
from syncs.locks import AsLockedRow
from tests.fixtures import FirmWorld

from .factories import SmallLedger, build_small_ledger

pytestmark = pytest.mark.django_db

AMOUNT_FORMAT = "#,##0.00;-#,##0.00"


@pytest.fixture
def ledger(world: FirmWorld) -> SmallLedger:
    return build_small_ledger(world.given_file)


def february(ledger: SmallLedger) -> ledger_selectors.TrialBalance:
    return ledger_selectors.trial_balance(
        client_file=ledger.client_file, scope=LedgerScope(period=ledger.february)
    )


def only_sheet(content: bytes, name: str) -> Worksheet:
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames == [name]
    active = book.active
    assert isinstance(active, Worksheet)
    return active


@pytest.fixture
def sheet(ledger: SmallLedger) -> Worksheet:
    with translation.override("en"):
        content = trial_balance_xlsx(february(ledger), client_file=ledger.client_file)
    return only_sheet(content, "Trial balance")


CLOSED_UNTIL = dt.date(2024, 6, 30)


def as_locked(ledger: SmallLedger) -> list[AsLockedRow]:
    """Two accounts of a closed period: one moved since it was locked, one not."""
    return [
        AsLockedRow(
            account=ledger.accounts["400000"],
            locked=Decimal("1234.5678"),
            now=Decimal("1334.5678"),
            locked_debit=Decimal("1234.5678"),
            locked_credit=Decimal("1210.00"),
        ),
        AsLockedRow(
            account=ledger.accounts["700000"], locked=Decimal("-2234.5678"), now=Decimal("-2234.5678")
        ),
    ]


def test_the_workbook_opens_on_its_sheet_with_a_bold_title_line_naming_the_file_and_the_period(
    sheet: Worksheet,
) -> None:
    assert sheet.title == "Trial balance"
    assert sheet["A1"].value == "Alpha Given BV (ALPHA-G): trial balance, 2024-02"
    assert sheet["A1"].font.b is True


def test_the_header_and_the_totals_are_bold_and_the_accounts_are_not(sheet: Worksheet) -> None:
    header, *accounts, total = list(sheet.iter_rows(min_row=2, max_col=6))
    assert [cell.value for cell in header] == ["Account", "Name", "Opening", "Debit", "Credit", "Closing"]
    assert [cell.font.b for cell in header] == [True] * 6
    assert [cell.font.b for cell in total] == [True] * 6 and total[0].value == "Total"
    assert len(accounts) == 7
    assert not [cell.coordinate for row in accounts for cell in row if cell.font.b]


def test_the_amount_columns_are_headed_right_aligned_like_their_numbers(sheet: Worksheet) -> None:
    header = next(sheet.iter_rows(min_row=2, max_row=2, max_col=6))
    assert [cell.alignment.horizontal for cell in header] == [None, None, "right", "right", "right", "right"]


def test_amounts_are_numbers_in_the_amount_format_and_account_numbers_are_text(sheet: Worksheet) -> None:
    title, header, *body = list(sheet.iter_rows(max_col=6))
    assert [cell.number_format for cell in header] == ["General"] * 6  # the header's words are left alone
    for row in body:
        assert row[0].number_format == "@", row[0].coordinate
        assert row[1].number_format == "General", row[1].coordinate
        assert [cell.number_format for cell in row[2:]] == [AMOUNT_FORMAT] * 4, row[0].value
        assert all(isinstance(cell.value, int | float) for cell in row[2:]), row[0].value
    assert title[0].number_format == "General"


def test_the_title_and_header_stay_in_view_and_the_columns_fit_their_content(sheet: Worksheet) -> None:
    assert sheet.freeze_panes == "A3"
    widths = [sheet.column_dimensions[letter].width for letter in "ABCDEF"]
    assert widths == [14, 42, 16, 16, 16, 16]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("1234.5", "1234.50"),
        ("-1234.56", "-1234.56"),
        ("0", "0.00"),
        ("1E+2", "100.00"),
        ("-0.1235", "-0.1235"),
        ("0.1230", "0.123"),
        ("12345678901.0001", "12345678901.0001"),
    ],
)
def test_a_csv_amount_is_exact_with_two_decimals_or_as_many_as_it_needs(amount: str, text: str) -> None:
    assert exact_amount(Decimal(amount)) == text


@pytest.mark.parametrize(
    ("label", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+32 2 123", "'+32 2 123"),
        ("-5", "'-5"),
        ("@import", "'@import"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Omzet = 5", "Omzet = 5"),
        ("", ""),
    ],
)
def test_a_csv_text_cell_that_a_spreadsheet_would_compute_is_made_text(label: str, cell: str) -> None:
    assert csv_text(label) == cell


def test_a_file_name_keeps_letters_digits_dots_dashes_and_underscores_only(ledger: SmallLedger) -> None:
    ledger.client_file.file_code = "Ça va/01 ÉÉ"
    name = trial_balance_filename(ledger.client_file, february(ledger), "csv")
    assert name == "_a_va_01_-trial-balance-2024-02.csv"


def test_a_closed_periods_current_workbook_says_so_on_a_second_title_line_not_in_bold(
    ledger: SmallLedger,
) -> None:
    with translation.override("en"):
        content = trial_balance_xlsx(
            february(ledger), client_file=ledger.client_file, closed_until=CLOSED_UNTIL
        )
    sheet = only_sheet(content, "Trial balance")
    assert sheet["A2"].value == (
        "The books are closed up to 30/06/2024. "
        "These are the current balances; the balances as locked are a separate download."
    )
    assert (sheet["A1"].font.b, sheet["A2"].font.b) == (True, False)
    assert [cell.value for cell in sheet[3]][:2] == ["Account", "Name"] and sheet["A3"].font.b is True
    assert sheet.freeze_panes == "A4"
    assert sheet["A4"].number_format == "@" and sheet["C4"].number_format == AMOUNT_FORMAT
    assert sheet["C3"].number_format == "General"


def test_the_as_locked_workbook_puts_the_balances_as_locked_next_to_the_closing_now(
    ledger: SmallLedger,
) -> None:
    with translation.override("en"):
        content = as_locked_xlsx(
            as_locked(ledger),
            client_file=ledger.client_file,
            scope_label="2024-02",
            closed_until=CLOSED_UNTIL,
        )
    sheet = only_sheet(content, "As locked")
    assert sheet["A1"].value == "Alpha Given BV (ALPHA-G): trial balance as locked, 2024-02"
    assert sheet["A2"].value == (
        "The books are closed up to 30/06/2024. "
        "The balances as they were when the period was closed, next to the closing balances now."
    )
    assert (sheet["A1"].font.b, sheet["A2"].font.b) == (True, False)
    header, *accounts, total = list(sheet.iter_rows(min_row=3, max_col=8))
    assert [cell.value for cell in header] == [
        "Account",
        "Name",
        "Opening as locked",
        "Debit as locked",
        "Credit as locked",
        "Closing as locked",
        "Closing now",
        "Difference",
    ]
    assert [cell.alignment.horizontal for cell in header] == [None, None] + ["right"] * 6
    assert all(cell.font.b for cell in header + total)
    assert [[cell.value for cell in row] for row in accounts] == [
        ["400000", "Customers", 1210, 1234.5678, 1210, 1234.5678, 1334.5678, 100],
        ["700000", "Sales", -2234.5678, 0, 0, -2234.5678, -2234.5678, 0],
    ]
    assert total[0].value == "Total"
    assert [round(float(cell.value), 4) for cell in total[2:]] == [
        -1024.5678,
        1234.5678,
        1210,
        -1000,
        -900,
        100,
    ]
    for row in [*accounts, total]:
        assert [cell.number_format for cell in row[2:]] == [AMOUNT_FORMAT] * 6
    assert sheet.freeze_panes == "A4"
    assert [sheet.column_dimensions[letter].width for letter in "ABCDEFGH"] == [
        14,
        42,
        16,
        16,
        16,
        16,
        16,
        16,
    ]


def test_the_as_locked_csv_is_exact_with_its_totals(ledger: SmallLedger) -> None:
    with translation.override("en"):
        text = as_locked_csv(as_locked(ledger)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        [
            "Account",
            "Name",
            "Opening as locked",
            "Debit as locked",
            "Credit as locked",
            "Closing as locked",
            "Closing now",
            "Difference",
        ],
        ["400000", "Customers", "1210.00", "1234.5678", "1210.00", "1234.5678", "1334.5678", "100.00"],
        ["700000", "Sales", "-2234.5678", "0.00", "0.00", "-2234.5678", "-2234.5678", "0.00"],
        ["Total", "", "-1024.5678", "1234.5678", "1210.00", "-1000.00", "-900.00", "100.00"],
    ]


def test_a_closed_periods_file_names_say_which_balances_they_hold(ledger: SmallLedger) -> None:
    balance = february(ledger)
    assert trial_balance_filename(ledger.client_file, balance, "csv") == "ALPHA-G-trial-balance-2024-02.csv"
    for variant in ("current", "as-locked"):
        name = trial_balance_filename(ledger.client_file, balance, "xlsx", variant=variant)
        assert name == f"ALPHA-G-trial-balance-2024-02-{variant}.xlsx"


def test_a_closed_period_with_no_account_has_an_as_locked_csv_of_zero_totals() -> None:
    with translation.override("en"):
        text = as_locked_csv([]).decode("utf-8-sig")
    assert text.splitlines()[1:] == ["Total,,0.00,0.00,0.00,0.00,0.00,0.00"]
