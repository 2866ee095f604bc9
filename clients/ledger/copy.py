"""The ledger's PostgreSQL bulk toolkit: staged upserts through COPY, straight COPY of new rows, and COPY's
text format written by hand for the two tables a first sync fills.

Nothing here decides *what* to write: the writer hands in tuples in the column order declared below.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction

from ..models import AccountBalance, Entry, EntryLine

# Column order of the rows the writer builds (attnames); after the key (client file, wow id), everything is
# updated by an upsert.
ENTRY_COLUMNS = (
    "client_file_id",
    "wow_id",
    "wow_version",
    "synced_at",
    "journal_id",
    "period_id",
    "doc_number",
    "book_date",
    "due_date",
    "wow_modified",
)
LINE_COLUMNS = (
    "client_file_id",
    "wow_id",
    "wow_version",
    "synced_at",
    "entry_id",
    "period_id",
    "line_order",
    "account_id",
    "relation_id",
    "amount",
    "vat_code",
    "vat_base",
    "vat_amount",
    "description",
    "value_date",
)
BALANCE_COLUMNS = (
    "client_file_id",
    "period_id",
    "account_id",
    "opening",
    "debit",
    "credit",
    "closing",
    "line_count",
)

# Rows per slice of COPY text: PostgreSQL takes in one slice while the next is formatted, instead of all of
# it after the last row (the run's thread waits for the COPY to finish).
COPY_SLICE_ROWS = 250


def wow_id_pks(
    model: type[models.Model], client_file_id: int, wow_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, int]:
    """``wow_id → pk`` of the client file's rows of ``model`` (only ``wow_ids`` when given)."""
    rows = model._default_manager.filter(client_file_id=client_file_id)
    if wow_ids is not None:
        wanted = list(wow_ids)
        if not wanted:
            return {}
        rows = rows.filter(wow_id__in=wanted)
    return dict(rows.values_list("wow_id", "pk"))


def write_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    update: Sequence[str] | None,
    returning: bool = False,
) -> dict[uuid.UUID, int]:
    """Insert ``rows`` (tuples in ``columns`` order, attnames) into ``model``'s table; with ``update``, rows
    whose ``(client_file, wow_id)`` exists update those columns instead. With ``returning``, answers the
    ``wow_id → pk`` of every row written.

    Why not ``bulk_create``: building a model instance and an INSERT parameter per field costs far more
    than the database's own work (profiled: three quarters of a first sync's write time). On PostgreSQL
    the rows are COPY-ed into a session-local staging table and moved with one INSERT … ON CONFLICT,
    all inside the caller's transaction; other databases (the demo's SQLite) keep ``bulk_create``.
    """
    if not rows:
        return {}
    if connection.vendor != "postgresql":
        return _write_rows_with_orm(model, columns, rows, update=update, returning=returning)
    if update is None and not returning:  # plain inserts: straight in
        return copy_new_rows(model, columns, rows, returning=False)
    table = model._meta.db_table
    stage = f"stage_{table}"
    names = ", ".join(columns)
    with transaction.atomic(), connection.cursor() as cursor:
        # A temporary table lives as long as the connection; created once, emptied after each use. Table and
        # column names below come from model metadata and this module's constants, never from input.
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT * FROM {table} WITH NO DATA")  # noqa: S608
        with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}"  # noqa: S608
        if update is not None:
            assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in update)
            sql += f" ON CONFLICT (client_file_id, wow_id) DO UPDATE SET {assignments}"
        if returning:
            sql += " RETURNING wow_id, id"
        cursor.execute(sql)
        written = dict(cursor.fetchall()) if returning else {}
        cursor.execute(f"TRUNCATE {stage}")
    return written


def _write_rows_with_orm(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    update: Sequence[str] | None,
    returning: bool,
) -> dict[uuid.UUID, int]:
    """``write_rows``'s slow twin, for databases other than PostgreSQL (the demo's SQLite)."""
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    if update is None:
        model._default_manager.bulk_create(objects, batch_size=2000)
    else:
        model._default_manager.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["client_file", "wow_id"],
            update_fields=list(update),
            batch_size=2000,
        )
    if not returning:
        return {}
    client_file_id = rows[0][columns.index("client_file_id")]
    return wow_id_pks(model, client_file_id, [row[columns.index("wow_id")] for row in rows])


def copy_new_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    returning: bool,
    as_text: Callable[[Sequence[tuple[Any, ...]]], str] | None = None,
) -> dict[uuid.UUID, int]:
    """COPY rows known to be new straight into the table (PostgreSQL), their pks drawn from its sequence
    beforehand when ``returning``: half the database's work of the staged upsert. A row that exists after
    all makes the unique constraint refuse the COPY (psycopg's IntegrityError): the caller's savepoint.

    ``as_text`` writes rows (each with its pk first when ``returning``) as lines of COPY's text format;
    without it, psycopg adapts value by value."""
    table = model._meta.db_table
    written: dict[uuid.UUID, int] = {}
    with connection.cursor() as cursor:
        if returning:
            pks = reserve_pks(model, len(rows))
            key = columns.index("wow_id")
            written = {row[key]: pk for row, pk in zip(rows, pks, strict=True)}
            rows = [(pk, *row) for pk, row in zip(pks, rows, strict=True)]
            columns = ("id", *columns)
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            if as_text is not None:
                for start in range(0, len(rows), COPY_SLICE_ROWS):
                    copy.write(as_text(rows[start : start + COPY_SLICE_ROWS]))
            else:
                for row in rows:
                    copy.write_row(row)
    return written


def reserve_pks(model: type[models.Model], count: int) -> list[int]:
    """``count`` primary keys of ``model`` drawn from its sequence (on this thread's connection)."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def copy_text(model: type[models.Model], columns: Sequence[str], text: str) -> None:
    """COPY rows already written as COPY's text format (``columns`` in their order) into the table."""
    if not text:
        return
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        copy.write(text)


# COPY's text format, written for the two tables a first sync fills: psycopg adapts every value through its
# dumpers, which was nearly a fifth of the worker's CPU on a large first sync (profiled). Each function
# follows its columns tuple above, which the check at the end of this module holds it to;
# tests/ledger/test_writes.py reads what they wrote back through the ORM.
NULL = "\\N"
_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
)


def copy_str(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if "\\" in value or not value.isprintable() else value


def entry_copy_text(rows: Sequence[tuple[Any, ...]]) -> str:
    """Documents as COPY text: each its pk, then ``ENTRY_COLUMNS`` (the write time formatted once, as for
    lines)."""
    text = []
    synced_at: object = None
    synced_text = ""
    for (
        pk,
        client_file,
        wow_id,
        version,
        synced,
        journal,
        period,
        doc_number,
        book_date,
        due_date,
        modified,
    ) in rows:
        if synced is not synced_at:
            synced_at, synced_text = synced, synced.isoformat()
        text.append(
            f"{pk}\t{client_file}\t{wow_id.int:032x}\t{version}\t{synced_text}\t"
            f"{NULL if journal is None else journal}\t{NULL if period is None else period}\t"
            f"{copy_str(doc_number)}\t{NULL if book_date is None else book_date.isoformat()}\t"
            f"{NULL if due_date is None else due_date.isoformat()}\t"
            f"{NULL if modified is None else modified.isoformat()}\n"
        )
    return "".join(text)


def line_copy_text(rows: Sequence[tuple[Any, ...]]) -> str:
    """Lines as COPY text, each in ``LINE_COLUMNS`` order. Written for speed, as it runs for every line of a
    first sync: a slice of rows at a time, the write time formatted once for the rows that share it (an
    aware datetime's isoformat costs more than the rest of a line's numbers), ``wow_id.int`` formatted
    rather than the ``hex`` property, text escaped inline, amounts as ``str`` (PostgreSQL reads the
    exponent Decimal may write: no value is rounded either way)."""
    text = []
    synced_at: object = None
    synced_text = ""
    for (
        client_file,
        wow_id,
        version,
        synced,
        entry,
        period,
        order,
        account,
        relation,
        amount,
        vat_code,
        vat_base,
        vat_amount,
        description,
        value_date,
    ) in rows:
        if synced is not synced_at:
            synced_at, synced_text = synced, synced.isoformat()
        if "\\" in vat_code or not vat_code.isprintable():
            vat_code = vat_code.translate(_COPY_ESCAPES)
        if "\\" in description or not description.isprintable():
            description = description.translate(_COPY_ESCAPES)
        text.append(
            f"{client_file}\t{wow_id.int:032x}\t{version}\t{synced_text}\t{entry}\t"
            f"{NULL if period is None else period}\t{order}\t{NULL if account is None else account}\t"
            f"{NULL if relation is None else relation}\t{amount}\t{vat_code}\t"
            f"{NULL if vat_base is None else vat_base}\t{NULL if vat_amount is None else vat_amount}\t"
            f"{description}\t{NULL if value_date is None else value_date.isoformat()}\n"
        )
    return "".join(text)


def _plain_copy_value(value: object) -> str:
    """Any value as COPY text, the slow general way the hand-written functions must agree with."""
    if value is None:
        return NULL
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return copy_str(value)
    return str(value)


def _sample_row(model: type[models.Model], columns: Sequence[str], *, nulls: bool) -> tuple[Any, ...]:
    """A row for ``columns`` with a different value of each column's own type in every place (``None``
    wherever the column takes one, with ``nulls``)."""
    values: list[Any] = []
    for index, attname in enumerate(columns):
        model_field = model._meta.get_field(attname)
        if nulls and model_field.null:
            values.append(None)
        elif isinstance(model_field, models.UUIDField):
            values.append(uuid.UUID(int=index + 1))
        elif isinstance(model_field, models.DateTimeField):
            values.append(dt.datetime(2001, 2, 3, 4, 5, index, tzinfo=dt.UTC))
        elif isinstance(model_field, models.DateField):
            values.append(dt.date(2001, 1, 1) + dt.timedelta(days=index))
        elif isinstance(model_field, models.DecimalField):
            values.append(Decimal(index) + Decimal("0.0125"))
        elif isinstance(model_field, models.CharField):
            values.append(f"{attname}\t\\")
        else:  # keys and integers
            values.append(1000 + index)
    return tuple(values)


def _check_copy_text(
    model: type[models.Model], columns: Sequence[str], as_text: Callable[[Sequence[tuple[Any, ...]]], str]
) -> None:
    """At import: the hand-written COPY text must put each column's value, formatted for its type, in the
    column's place. A column moved, added or dropped on one side only fails here, not in a first sync."""
    for nulls in (False, True):
        sample = _sample_row(model, columns, nulls=nulls)
        expected = "\t".join(_plain_copy_value(value) for value in sample) + "\n"
        try:
            written = as_text([sample])
        except (TypeError, ValueError) as error:
            written = f"<{error}>"
        if written != expected:
            raise ImproperlyConfigured(
                f"{as_text.__name__} does not follow the columns {', '.join(columns)} of "
                f"{model._meta.db_table}: it wrote {written!r} where {expected!r} was due."
            )


_check_copy_text(Entry, ("id", *ENTRY_COLUMNS), entry_copy_text)
_check_copy_text(EntryLine, LINE_COLUMNS, line_copy_text)
for _attname in BALANCE_COLUMNS:  # its rows are COPY-ed by psycopg: the columns need only exist
    AccountBalance._meta.get_field(_attname)
