"""Reading a spreadsheet of client files (CSV or XLSX) into plain rows, or a clear reason why not.

Nothing here touches the database: the rows are judged by ``services.client_file_import_*``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

# Accepted names of each column, compared lower-cased with single spaces: English, Dutch, French.
COLUMNS: dict[str, frozenset[str]] = {
    "file_code": frozenset(
        {"file code", "file_code", "dossiercode", "dossier code", "code dossier", "code du dossier"}
    ),
    "name": frozenset({"name", "client", "naam", "klant", "nom"}),
    "company_code": frozenset(
        {
            "company code",
            "company_code",
            "winbooks company code",
            "bedrijfscode",
            "code société",
            "code societe",
            "code de la société",
        }
    ),
    "sync_from": frozenset(
        {
            "sync from",
            "sync_from",
            "do not sync before",
            "synchroniseren vanaf",
            "sync vanaf",
            "synchroniser depuis",
            "synchroniser à partir de",
        }
    ),
}
REQUIRED_COLUMNS = ("file_code", "name")
MAX_COLUMNS = 30


class SpreadsheetError(Exception):
    """The upload cannot be read as a whole; ``message`` says why, in the reader's language."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass
class RawRow:
    line: int  # the spreadsheet's own line number, header = 1
    values: dict[str, str] = field(default_factory=dict)
    # A date cell of a workbook is already a date; text is parsed by the services.
    sync_from_date: dt.date | None = None
    has_formula: bool = False


def _normalise_header(value: object) -> str:
    return " ".join(str(value or "").replace("\ufeff", "").strip().strip("\"'").lower().split())


def _columns(header: list[object]) -> dict[int, str]:
    """Column index → column key; refuses unknown and missing columns by name."""
    known = {name: key for key, names in COLUMNS.items() for name in names}
    found: dict[int, str] = {}
    unknown = []
    for index, cell in enumerate(header):
        name = _normalise_header(cell)
        if not name:
            continue
        key = known.get(name)
        if key is None:
            unknown.append(str(cell).strip())
        elif key in found.values():
            raise SpreadsheetError(
                _("The column “%(column)s” appears twice.") % {"column": str(cell).strip()}
            )
        else:
            found[index] = key
    expected = _("Expected columns: file code, name, and optionally company code and sync from.")
    if unknown:
        raise SpreadsheetError(
            _("Unknown column(s): %(columns)s. %(expected)s")
            % {"columns": ", ".join(f"“{name}”" for name in unknown), "expected": expected}
        )
    missing = [key for key in REQUIRED_COLUMNS if key not in found.values()]
    if missing:
        raise SpreadsheetError(
            _("The first line must name the columns; “file code” and “name” are missing. %(expected)s")
            % {"expected": expected}
            if len(missing) == 2
            else _("The column “%(column)s” is missing. %(expected)s")
            % {"column": _("file code") if missing[0] == "file_code" else _("name"), "expected": expected}
        )
    return found


def _blank(cells: list[object]) -> bool:
    return all(cell in (None, "") or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _rows_from_table(table: list[tuple[list[object], bool]], *, max_rows: int) -> list[RawRow]:
    header_at = next((index for index, (cells, _formula) in enumerate(table) if not _blank(cells)), None)
    if header_at is None:
        raise SpreadsheetError(_("The file is empty."))
    columns = _columns(table[header_at][0])
    rows: list[RawRow] = []
    for line, (cells, has_formula) in enumerate(table[header_at + 1 :], start=header_at + 2):
        if _blank(cells) and not has_formula:
            continue  # blank lines, typically at the end of a sheet
        if len(rows) == max_rows:
            raise SpreadsheetError(
                _("The file has more than %(count)s client files; split it into several imports.")
                % {"count": max_rows}
            )
        row = RawRow(line=line, has_formula=has_formula)
        for index, key in columns.items():
            cell = cells[index] if index < len(cells) else None
            if key == "sync_from" and isinstance(cell, dt.datetime | dt.date):
                row.sync_from_date = cell.date() if isinstance(cell, dt.datetime) else cell
                row.values[key] = row.sync_from_date.isoformat()
            elif isinstance(cell, float) and cell.is_integer():
                row.values[key] = str(int(cell))  # a file code typed as a number in Excel
            else:
                row.values[key] = "" if cell is None else str(cell)
        rows.append(row)
    if not rows:
        raise SpreadsheetError(_("The file has column names but no client files."))
    return rows


def _read_csv(data: bytes, *, max_rows: int) -> list[RawRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SpreadsheetError(
            _(
                "The file is not in UTF-8 (line %(line)s). In Excel choose “CSV UTF-8” when saving, or upload "
                "the workbook (.xlsx) itself."
            )
            % {"line": data[: error.start].count(b"\n") + 1}
        ) from error
    if "\x00" in text:
        raise SpreadsheetError(_("The file is not a text (CSV) file."))
    first_line = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first_line.count)
    try:
        table: list[tuple[list[object], bool]] = []
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(table) > max_rows + 1000:  # far more lines than rows allowed; blank ones included
                break
            table.append(([cell for cell in cells[:MAX_COLUMNS]], False))
    except csv.Error as error:
        raise SpreadsheetError(_("The file is not a readable CSV file.")) from error
    return _rows_from_table(table, max_rows=max_rows)


def _read_xlsx(data: bytes, *, max_rows: int) -> list[RawRow]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise SpreadsheetError(_("The file is not a readable Excel workbook (.xlsx).")) from error
    try:
        sheet = workbook.worksheets[0]
        table: list[tuple[list[object], bool]] = []
        for cells in sheet.iter_rows(max_col=MAX_COLUMNS):
            if len(table) > max_rows + 1000:
                break
            values: list[object] = []
            has_formula = False
            for cell in cells:
                if getattr(cell, "data_type", None) == "f":
                    has_formula = True
                    values.append(None)
                else:
                    values.append(getattr(cell, "value", None))
            table.append((values, has_formula))
    finally:
        workbook.close()
    return _rows_from_table(table, max_rows=max_rows)


def spreadsheet_rows(*, filename: str, data: bytes, size: int, max_bytes: int, max_rows: int) -> list[RawRow]:
    """The data rows of an uploaded CSV or XLSX file (``size`` bytes; ``data`` may stop past the limit), or
    a ``SpreadsheetError`` saying what is wrong."""
    if size > max_bytes or len(data) > max_bytes:
        raise SpreadsheetError(
            _("The file is %(size)s MB; at most %(limit)s MB can be imported at once.")
            % {"size": round(max(size, len(data)) / 1_000_000, 1), "limit": round(max_bytes / 1_000_000, 1)}
        )
    name = filename.lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return _read_xlsx(data, max_rows=max_rows)
    if name.endswith((".csv", ".txt")):
        return _read_csv(data, max_rows=max_rows)
    raise SpreadsheetError(_("Upload a CSV file (.csv) or an Excel workbook (.xlsx)."))
