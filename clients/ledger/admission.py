"""What the ledger admits of a package's rows: every number within what its column holds, every text clean.

A package's data is the client's own, so it can hold anything: a VAT base of ``1e400`` (PostgreSQL refuses
it, and the whole run failed with it, every time; SQLite stored ``Inf``), a version past a 32-bit integer, a
NUL character in a label (PostgreSQL refuses it in text). Rows are checked here against the columns they are
written to, read from the models, so the limits stay those of the schema:

- a number that does not fit its column (out of range, or with more decimals than the column keeps, which
  would be rounded) makes the row unreadable: it becomes one issue and the rest of the run goes on;
- text loses its control characters (NUL and the other C0 controls but tab, newline and carriage return,
  and DEL) and is cut to its column's length, as master data always was.

``row_admitted`` raises ``ValueError`` naming the field and why; it returns the row itself when nothing
needed cleaning (the usual case costs one check per field), else a cleaned copy.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from ..models import Account, Entry, EntryLine, FiscalYear, Journal, Period, Relation
from .rows import AccountRow, EntryRow, FiscalYearRow, JournalRow, LineRow, PeriodRow, RelationRow

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
INTEGER_RANGE = (-(2**31), 2**31 - 1)  # models.IntegerField, on every database Django supports
RowT = TypeVar("RowT")

_MODEL_OF_ROW: dict[type, type[models.Model]] = {
    FiscalYearRow: FiscalYear,
    PeriodRow: Period,
    JournalRow: Journal,
    AccountRow: Account,
    RelationRow: Relation,
    EntryRow: Entry,
    LineRow: EntryLine,
}


@dataclasses.dataclass(frozen=True)
class _Check:
    attribute: str  # the row's field
    label: str  # how the problem names it
    kind: str  # "text", "integer" or "decimal"
    max_length: int | None = None
    limit: Decimal | None = None  # a decimal's magnitude must stay below it
    step: Decimal | None = None  # and be a whole multiple of it


def clean_text(value: str) -> str:
    return CONTROL_CHARACTERS.sub("", value)


@functools.cache
def _checks(row_type: type) -> tuple[_Check, ...]:
    model = _MODEL_OF_ROW[row_type]
    checks = []
    for row_field in dataclasses.fields(row_type):
        name = "wow_version" if row_field.name == "version" else row_field.name
        label = row_field.name.replace("_", " ")
        try:
            field: Any = model._meta.get_field(name)
        except FieldDoesNotExist:  # a row field with no column of its own (a reference text)
            field = None
        if field is None or field.is_relation or row_field.name.endswith("_wow_id") or name == "wow_id":
            if row_field.type in ("str", str):
                checks.append(_Check(row_field.name, label, "text"))
            continue
        if isinstance(field, models.CharField):
            checks.append(_Check(row_field.name, label, "text", max_length=field.max_length))
        elif isinstance(field, models.DecimalField):
            assert field.max_digits is not None and field.decimal_places is not None
            checks.append(
                _Check(
                    row_field.name,
                    label,
                    "decimal",
                    limit=Decimal(10) ** (field.max_digits - field.decimal_places),
                    step=Decimal(1).scaleb(-field.decimal_places),
                )
            )
        elif isinstance(field, models.IntegerField):
            checks.append(_Check(row_field.name, label, "integer"))
    return tuple(checks)


def row_admitted(row: RowT) -> RowT:
    """The row as the ledger can hold it; ``ValueError`` naming the field when it cannot be."""
    if isinstance(row, EntryRow):
        return _entry_admitted(row)  # type: ignore[return-value]
    return _admitted(row)


def _admitted(row: RowT) -> RowT:
    changes: dict[str, Any] = {}
    row_type: Any = type(row)
    for check in _checks(row_type):
        value = getattr(row, check.attribute)
        if value is None:
            continue
        if check.kind == "text":
            cleaned = value if value.isprintable() else clean_text(value)
            if check.max_length is not None and len(cleaned) > check.max_length:
                cleaned = cleaned[: check.max_length]
            if cleaned is not value:
                changes[check.attribute] = cleaned
        elif check.kind == "integer":
            if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
                raise ValueError(f"its {check.label} {value} is out of range")
        else:
            assert check.limit is not None and check.step is not None
            if not (value.is_finite() and -check.limit < value < check.limit):
                raise ValueError(f"its {check.label} {value} is out of range")
            if value != value.quantize(check.step):
                raise ValueError(f"its {check.label} {value} has more decimals than the ledger keeps")
    return dataclasses.replace(row, **changes) if changes else row  # type: ignore[type-var]


@functools.cache
def _line_limits() -> tuple[Decimal, Decimal, Decimal, int, int]:
    (amount,) = [check for check in _checks(LineRow) if check.attribute == "amount"]
    lengths = {check.attribute: check.max_length for check in _checks(LineRow) if check.kind == "text"}
    assert amount.limit is not None and amount.step is not None
    return -amount.limit, amount.limit, amount.step, lengths["vat_code"] or 0, lengths["description"] or 0


def _entry_admitted(row: EntryRow) -> EntryRow:
    admitted = _admitted(row)
    # The usual line needs nothing: a few comparisons a field, inline (a call per line cost more than the
    # checks themselves on a first sync's 480,000 lines, profiled). Any doubt sends the line to the careful
    # path, which cleans it or names what is wrong.
    below, limit, step, vat_code_length, description_length = _line_limits()
    low, high = INTEGER_RANGE
    lines: list[LineRow] | None = None
    for index, line in enumerate(row.lines):
        amount, base, vat = line.amount, line.vat_base, line.vat_amount
        try:
            plain = (
                (amount is None or (below < amount < limit and amount == amount.quantize(step)))
                and (base is None or (below < base < limit and base == base.quantize(step)))
                and (vat is None or (below < vat < limit and vat == vat.quantize(step)))
            )
        except ArithmeticError:
            plain = False
        if (
            plain
            and low <= line.version <= high
            and low <= line.line_order <= high
            and line.description.isprintable()
            and len(line.description) <= description_length
            and line.vat_code.isprintable()
            and len(line.vat_code) <= vat_code_length
        ):
            if lines is not None:
                lines.append(line)
            continue
        try:
            cleaned = _admitted(line)
        except ValueError as error:
            raise ValueError(f"line {line.line_order + 1}: {error}") from None
        if lines is None and cleaned is not line:
            lines = list(row.lines[:index])
        if lines is not None:
            lines.append(cleaned)
    if lines is not None:
        return dataclasses.replace(admitted, lines=tuple(lines))
    return admitted
