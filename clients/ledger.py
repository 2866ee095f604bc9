"""Writing the client file's ledger: idempotent bulk upserts keyed on the package's ids, deletes, balances.

The sync engine hands in plain rows (the dataclasses below; this module knows nothing of any package's
API) and gets back what changed. Every function is safe to call twice with the same rows: a row whose
version is already stored is counted "unchanged" and not written, unless ``force`` is set (used when a
period is fetched again whole to heal a mismatch, in case the package changed data without a new version).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from .models import Account, AccountBalance, Entry, EntryLine, FiscalYear, Journal, Period, Relation


@dataclass(frozen=True)
class FiscalYearRow:
    wow_id: uuid.UUID
    version: int
    code: str
    label: str = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    closed: bool = False


@dataclass(frozen=True)
class PeriodRow:
    wow_id: uuid.UUID
    version: int
    fiscal_year_wow_id: uuid.UUID | None
    number: int
    year: int
    month: int
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    label: str = ""


@dataclass(frozen=True)
class AccountRow:
    wow_id: uuid.UUID
    version: int
    number: str
    name: str = ""
    name_alt: str = ""
    central_type: str = ""
    locked: bool = False


@dataclass(frozen=True)
class JournalRow:
    wow_id: uuid.UUID
    version: int
    code: str
    name: str = ""
    kind: str = ""


@dataclass(frozen=True)
class RelationRow:
    wow_id: uuid.UUID
    version: int
    kind: str
    code: str
    name: str = ""
    vat_number: str = ""


@dataclass(frozen=True)
class LineRow:
    wow_id: uuid.UUID
    version: int
    period_wow_id: uuid.UUID | None
    account_wow_id: uuid.UUID | None
    amount: Decimal
    line_order: int = 0
    relation_wow_id: uuid.UUID | None = None
    vat_code: str = ""
    vat_base: Decimal | None = None
    vat_amount: Decimal | None = None
    description: str = ""
    value_date: dt.date | None = None


@dataclass(frozen=True)
class EntryRow:
    wow_id: uuid.UUID
    version: int
    journal_wow_id: uuid.UUID | None
    period_wow_id: uuid.UUID | None
    doc_number: str
    book_date: dt.date | None
    due_date: dt.date | None
    modified: dt.datetime | None
    lines: tuple[LineRow, ...]
    reference: str = ""  # what a user recognises, e.g. "VERK 12", for issues


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted

    @property
    def written(self) -> int:
        return self.created + self.updated + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class Rejected:
    """A record the ledger could not take in as it is; it becomes an issue on the run."""

    entity: str
    wow_id: str
    reference: str
    problem: str
    hint: str


@dataclass
class EntryUpsertResult:
    entries: UpsertCounts = field(default_factory=UpsertCounts)
    lines: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)
    touched_period_ids: set[int] = field(default_factory=set)
    # (period, account) pairs whose lines changed: what the run's proof must compare account by account.
    touched_accounts: set[tuple[int, int | None]] = field(default_factory=set)


class RefMaps:
    """The ledger's ``wow_id → pk`` for what lines and entries refer to, loaded once per run."""

    def __init__(self, client_file_id: int) -> None:
        self.client_file_id = client_file_id
        self.periods = _id_map(Period, client_file_id)
        self.accounts = _id_map(Account, client_file_id)
        self.journals = _id_map(Journal, client_file_id)
        self.relations = _id_map(Relation, client_file_id)
        self.fiscal_years = _id_map(FiscalYear, client_file_id)


def _id_map(model: type[models.Model], client_file_id: int) -> dict[uuid.UUID, int]:
    return dict(model.objects.filter(client_file_id=client_file_id).values_list("wow_id", "pk"))  # type: ignore[attr-defined]


def _write_rows(
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
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        if update is None:
            model.objects.bulk_create(objects, batch_size=2000)  # type: ignore[attr-defined]
        else:
            model.objects.bulk_create(  # type: ignore[attr-defined]
                objects,
                update_conflicts=True,
                unique_fields=["client_file", "wow_id"],
                update_fields=list(update),
                batch_size=2000,
            )
        if not returning:
            return {}
        return _id_map_for(
            model, rows[0][columns.index("client_file_id")], [row[columns.index("wow_id")] for row in rows]
        )
    if update is None and not returning:  # plain inserts: straight in
        return _copy_new_rows(model, columns, rows, returning=False)
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


def _copy_new_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    returning: bool,
    as_text: Callable[[tuple[Any, ...]], str] | None = None,
) -> dict[uuid.UUID, int]:
    """COPY rows known to be new straight into the table (PostgreSQL), their pks drawn from its sequence
    beforehand when ``returning``: half the database's work of the staged upsert. A row that exists after
    all makes the unique constraint refuse the COPY (psycopg's IntegrityError): the caller's savepoint.

    ``as_text`` writes a row (with its pk first when ``returning``) as a line of COPY's text format; without
    it, psycopg adapts value by value."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            pks = [pk for (pk,) in cursor.fetchall()]
            key = columns.index("wow_id")
            written = {row[key]: pk for row, pk in zip(rows, pks, strict=True)}
            rows = [(pk, *row) for pk, row in zip(pks, rows, strict=True)]
            columns = ("id", *columns)
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            if as_text is not None:
                # In slices: PostgreSQL takes in one slice while the next is formatted, instead of all of it
                # after the last row (the run's thread waits for the COPY to finish).
                for start in range(0, len(rows), COPY_SLICE_ROWS):
                    copy.write("".join([as_text(row) for row in rows[start : start + COPY_SLICE_ROWS]]))
            else:
                for row in rows:
                    copy.write_row(row)
    return written if returning else {}


COPY_SLICE_ROWS = 250

# COPY's text format, written for the two tables a first sync fills: psycopg adapts every value through
# its dumpers, which was nearly a fifth of the worker's CPU on a large first sync (profiled). Each function follows
# its columns tuple below; tests/ledger/test_writes.py reads what they wrote back through the ORM.
_NULL = "\\N"
_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
)


def _copy_str(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if "\\" in value or not value.isprintable() else value


def _entry_copy_text(row: tuple[Any, ...]) -> str:
    pk, client_file, wow_id, version, synced, journal, period, doc_number, book_date, due_date, modified = row
    return (
        f"{pk}\t{client_file}\t{wow_id.hex}\t{version}\t{synced.isoformat()}\t"
        f"{_NULL if journal is None else journal}\t{_NULL if period is None else period}\t"
        f"{_copy_str(doc_number)}\t{_NULL if book_date is None else book_date.isoformat()}\t"
        f"{_NULL if due_date is None else due_date.isoformat()}\t"
        f"{_NULL if modified is None else modified.isoformat()}\n"
    )


def _line_copy_text(row: tuple[Any, ...]) -> str:
    (
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
    ) = row
    return (
        f"{client_file}\t{wow_id.hex}\t{version}\t{synced.isoformat()}\t{entry}\t"
        f"{_NULL if period is None else period}\t{order}\t{_NULL if account is None else account}\t"
        f"{_NULL if relation is None else relation}\t{amount:f}\t{_copy_str(vat_code)}\t"
        f"{_NULL if vat_base is None else format(vat_base, 'f')}\t"
        f"{_NULL if vat_amount is None else format(vat_amount, 'f')}\t{_copy_str(description)}\t"
        f"{_NULL if value_date is None else value_date.isoformat()}\n"
    )


M = TypeVar("M", bound=models.Model)


def _upsert(
    model: type[M],
    client_file_id: int,
    objects: Sequence[M],
    fields: list[str],
    *,
    force: bool,
) -> tuple[UpsertCounts, list[M]]:
    """Write the objects whose version differs from the stored one (all with ``force``)."""
    counts = UpsertCounts()
    if not objects:
        return counts, []
    stored = dict(
        model.objects.filter(  # type: ignore[attr-defined]
            client_file_id=client_file_id,
            wow_id__in=[o.wow_id for o in objects],  # type: ignore[attr-defined]
        ).values_list("wow_id", "wow_version")
    )
    to_write: dict[uuid.UUID, M] = {}
    for obj in objects:
        previous = stored.get(obj.wow_id)  # type: ignore[attr-defined]
        if previous is None:
            counts.created += 1
        elif previous != obj.wow_version or force:  # type: ignore[attr-defined]
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        to_write[obj.wow_id] = obj  # type: ignore[attr-defined]
    if to_write:
        model.objects.bulk_create(  # type: ignore[attr-defined]
            list(to_write.values()),
            update_conflicts=True,
            unique_fields=["client_file", "wow_id"],
            update_fields=[*fields, "wow_version", "synced_at"],
            batch_size=2000,
        )
    return counts, list(to_write.values())


def ledger_upsert_fiscal_years(
    *, client_file_id: int, rows: Iterable[FiscalYearRow], force: bool = False
) -> UpsertCounts:
    objects = [
        FiscalYear(
            client_file_id=client_file_id,
            wow_id=r.wow_id,
            wow_version=r.version,
            code=r.code[:40],
            label=r.label[:200],
            start_date=r.start_date,
            end_date=r.end_date,
            closed=r.closed,
        )
        for r in rows
    ]
    return _upsert(
        FiscalYear,
        client_file_id,
        objects,
        ["code", "label", "start_date", "end_date", "closed"],
        force=force,
    )[0]


def ledger_upsert_periods(
    *, client_file_id: int, rows: Iterable[PeriodRow], refs: RefMaps, force: bool = False
) -> UpsertCounts:
    objects = [
        Period(
            client_file_id=client_file_id,
            wow_id=r.wow_id,
            wow_version=r.version,
            fiscal_year_id=refs.fiscal_years.get(r.fiscal_year_wow_id) if r.fiscal_year_wow_id else None,
            number=r.number,
            year=r.year,
            month=r.month,
            start_date=r.start_date,
            end_date=r.end_date,
            label=r.label[:100],
        )
        for r in rows
    ]
    counts, written = _upsert(
        Period,
        client_file_id,
        objects,
        ["fiscal_year", "number", "year", "month", "start_date", "end_date", "label"],
        force=force,
    )
    refs.periods.update(_id_map_for(Period, client_file_id, [o.wow_id for o in written]))
    return counts


def ledger_upsert_accounts(
    *, client_file_id: int, rows: Iterable[AccountRow], refs: RefMaps, force: bool = False
) -> UpsertCounts:
    objects = [
        Account(
            client_file_id=client_file_id,
            wow_id=r.wow_id,
            wow_version=r.version,
            number=r.number[:40],
            name=r.name[:300],
            name_alt=r.name_alt[:300],
            central_type=r.central_type[:40],
            locked=r.locked,
        )
        for r in rows
    ]
    counts, written = _upsert(
        Account,
        client_file_id,
        objects,
        ["number", "name", "name_alt", "central_type", "locked"],
        force=force,
    )
    refs.accounts.update(_id_map_for(Account, client_file_id, [o.wow_id for o in written]))
    return counts


def ledger_upsert_journals(
    *, client_file_id: int, rows: Iterable[JournalRow], refs: RefMaps, force: bool = False
) -> UpsertCounts:
    objects = [
        Journal(
            client_file_id=client_file_id,
            wow_id=r.wow_id,
            wow_version=r.version,
            code=r.code[:40],
            name=r.name[:300],
            kind=r.kind[:10],
        )
        for r in rows
    ]
    counts, written = _upsert(Journal, client_file_id, objects, ["code", "name", "kind"], force=force)
    refs.journals.update(_id_map_for(Journal, client_file_id, [o.wow_id for o in written]))
    return counts


def ledger_upsert_relations(
    *, client_file_id: int, rows: Iterable[RelationRow], refs: RefMaps, force: bool = False
) -> UpsertCounts:
    objects = [
        Relation(
            client_file_id=client_file_id,
            wow_id=r.wow_id,
            wow_version=r.version,
            kind=r.kind,
            code=r.code[:60],
            name=r.name[:300],
            vat_number=r.vat_number[:40],
        )
        for r in rows
    ]
    counts, written = _upsert(
        Relation, client_file_id, objects, ["kind", "code", "name", "vat_number"], force=force
    )
    refs.relations.update(_id_map_for(Relation, client_file_id, [o.wow_id for o in written]))
    return counts


def _id_map_for(
    model: type[models.Model], client_file_id: int, wow_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not wow_ids:
        return {}
    return dict(
        model.objects.filter(client_file_id=client_file_id, wow_id__in=wow_ids).values_list("wow_id", "pk")  # type: ignore[attr-defined]
    )


# What an amount column (19 digits, 4 decimals) holds exactly.
_AMOUNT_LIMIT = Decimal("1e15")
_AMOUNT_STEP = Decimal("0.0001")


def _check_entry(row: EntryRow, refs: RefMaps) -> Rejected | None:
    def reject(problem: str, hint: str) -> Rejected:
        return Rejected("entry", str(row.wow_id), row.reference, problem, hint)

    if row.period_wow_id is None or row.period_wow_id not in refs.periods:
        return reject(
            "The document is booked in a period the ledger does not know.",
            "Check the document's period in WinbooksOnWeb.",
        )
    if row.journal_wow_id is not None and row.journal_wow_id not in refs.journals:
        return reject(
            "The document's journal is unknown to the ledger.", "Check the journal in WinbooksOnWeb."
        )
    for line in row.lines:
        if line.account_wow_id is None or line.account_wow_id not in refs.accounts:
            return reject(
                f"Line {line.line_order + 1} is booked on an account the ledger does not know.",
                "Check the line's account in WinbooksOnWeb; the document is left out until it is fixed.",
            )
        if line.period_wow_id is not None and line.period_wow_id not in refs.periods:
            return reject(
                f"Line {line.line_order + 1} is booked in an unknown period.",
                "Check the line in WinbooksOnWeb.",
            )
        if line.relation_wow_id is not None and line.relation_wow_id not in refs.relations:
            return reject(
                f"Line {line.line_order + 1} names a customer or supplier the ledger does not know.",
                "Check the line's customer or supplier in WinbooksOnWeb.",
            )
        if not -_AMOUNT_LIMIT < line.amount < _AMOUNT_LIMIT or line.amount != line.amount.quantize(
            _AMOUNT_STEP
        ):
            return reject(
                f"Line {line.line_order + 1} has an amount the ledger cannot hold exactly ({line.amount}).",
                "Check the amount in WinbooksOnWeb.",
            )
    return None


# Column order of the rows ``ledger_upsert_entries`` writes (attnames); after the key, everything is updated.
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


def ledger_upsert_entries(
    *,
    client_file_id: int,
    rows: Sequence[EntryRow],
    refs: RefMaps,
    force: bool = False,
    assume_new: bool = False,
) -> EntryUpsertResult:
    """Upsert documents with their lines; a changed document's lines are replaced by exactly the new ones.

    Documents that are all new (a first sync's pages) are COPY-ed straight in, lines included. With
    ``assume_new`` (the caller knows the ledger had none of the package's documents when it started
    reading), the ledger is not even asked which of them it holds. Either way, should one exist after all,
    the unique constraint refuses the COPY, the page's savepoint rolls back, and the page is upserted.
    """
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                return _upsert_entries(
                    client_file_id,
                    rows,
                    refs,
                    force=force,
                    copy_new=True,
                    assume_new=assume_new and not force,
                )
        except (IntegrityError, psycopg.IntegrityError):  # COPY runs on psycopg's own cursor
            pass  # rolled back to the savepoint: nothing of the attempt stays
    return _upsert_entries(client_file_id, rows, refs, force=force, copy_new=False, assume_new=False)


def _upsert_entries(
    client_file_id: int,
    rows: Sequence[EntryRow],
    refs: RefMaps,
    *,
    force: bool,
    copy_new: bool,
    assume_new: bool,
) -> EntryUpsertResult:
    result = EntryUpsertResult()
    accepted: list[EntryRow] = []
    for row in rows:
        problem = _check_entry(row, refs)
        if problem is not None:
            result.rejected.append(problem)
        else:
            accepted.append(row)
    if not accepted:
        return result

    # Which documents to write: new ones, and those whose version moved (all with ``force``).
    stored: dict[uuid.UUID, int] = (
        {}
        if assume_new
        else dict(
            Entry.objects.filter(
                client_file_id=client_file_id, wow_id__in=[r.wow_id for r in accepted]
            ).values_list("wow_id", "wow_version")
        )
    )
    to_write: dict[uuid.UUID, EntryRow] = {}
    for r in accepted:
        previous = stored.get(r.wow_id)
        if previous is None:
            result.entries.created += 1
        elif previous != r.version or force:
            result.entries.updated += 1
        else:
            result.entries.unchanged += 1
            continue
        to_write[r.wow_id] = r
    if not to_write:
        return result

    # A first sync's pages: every document new, so no line of theirs can be stored yet.
    all_new = copy_new and result.entries.created == len(to_write)
    now = timezone.now()
    entry_rows = [
        (
            client_file_id,
            r.wow_id,
            r.version,
            now,
            refs.journals.get(r.journal_wow_id) if r.journal_wow_id else None,
            refs.periods[r.period_wow_id] if r.period_wow_id else None,
            r.doc_number[:40],
            r.book_date,
            r.due_date,
            r.modified,
        )
        for r in to_write.values()
    ]
    entry_pks = (
        _copy_new_rows(Entry, ENTRY_COLUMNS, entry_rows, returning=True, as_text=_entry_copy_text)
        if all_new
        else _write_rows(Entry, ENTRY_COLUMNS, entry_rows, update=ENTRY_COLUMNS[2:], returning=True)
    )
    written_ids = set(to_write)
    changed_rows = [r for r in accepted if r.wow_id in written_ids]

    # What the ledger held for these documents: to count, to delete vanished lines, and to know which
    # periods a moved or deleted line leaves.
    existing: dict[uuid.UUID, tuple[int, int | None, int | None]] = {}
    lines_of_documents = EntryLine.objects.filter(entry_id__in=entry_pks.values())
    for wow_id, version, period_id, account_id in (
        [] if all_new else lines_of_documents.values_list("wow_id", "wow_version", "period_id", "account_id")
    ):
        existing[wow_id] = (version, period_id, account_id)

    new_line_ids = {line.wow_id for r in changed_rows for line in r.lines} if existing else set()
    vanished = [wow_id for wow_id in existing if wow_id not in new_line_ids]
    if vanished:
        result.touched_period_ids.update(p for wid in vanished if (p := existing[wid][1]) is not None)
        result.touched_accounts.update((p, existing[wid][2]) for wid in vanished if (p := existing[wid][1]))
        result.lines.deleted += EntryLine.objects.filter(
            client_file_id=client_file_id, wow_id__in=vanished
        ).delete()[0]

    line_rows: list[tuple[Any, ...]] = []
    accounts, relations, periods = refs.accounts, refs.relations, refs.periods
    for r in changed_rows:
        entry_pk = entry_pks[r.wow_id]
        for line in r.lines:
            period_wow_id = line.period_wow_id or r.period_wow_id
            line_period_id = periods.get(period_wow_id) if period_wow_id else None
            before = existing.get(line.wow_id)
            if before is None:
                result.lines.created += 1
            elif before[0] != line.version or force:
                result.lines.updated += 1
                if before[1] is not None:
                    result.touched_period_ids.add(before[1])
                    result.touched_accounts.add((before[1], before[2]))
            else:
                result.lines.unchanged += 1
                continue
            line_account_id = accounts[line.account_wow_id] if line.account_wow_id else None
            if line_period_id is not None:
                result.touched_period_ids.add(line_period_id)
                result.touched_accounts.add((line_period_id, line_account_id))
            line_rows.append(
                (
                    client_file_id,
                    line.wow_id,
                    line.version,
                    now,
                    entry_pk,
                    line_period_id,
                    line.line_order,
                    line_account_id,
                    relations.get(line.relation_wow_id) if line.relation_wow_id else None,
                    line.amount,
                    line.vat_code[:20],
                    line.vat_base,
                    line.vat_amount,
                    line.description[:500],
                    line.value_date,
                )
            )
    if all_new:
        _copy_new_rows(EntryLine, LINE_COLUMNS, line_rows, returning=False, as_text=_line_copy_text)
    else:
        _write_rows(EntryLine, LINE_COLUMNS, line_rows, update=LINE_COLUMNS[2:])
    return result


def ledger_refresh_statistics() -> None:
    """After a bulk load (a first sync), bring PostgreSQL's planner statistics of documents and lines up to
    date. Until autovacuum gets to the tables (a minute or more later) the planner still sees them as small
    as before the load and picks plans made for a few rows: a sync right after a first sync spent 4 s of
    database CPU in its gap detection (measured), against a few hundred milliseconds with statistics.
    ANALYZE reads a fixed sample, so this costs well under a second whatever the tables' size."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Entry._meta.db_table}, {EntryLine._meta.db_table}")


def ledger_delete_entries(
    *, client_file_id: int, wow_ids: Iterable[uuid.UUID]
) -> tuple[UpsertCounts, UpsertCounts, set[tuple[int, int | None]]]:
    """Remove documents (with their lines) the package no longer has. Returns entry and line counts and
    the (period, account) pairs their lines leave."""
    ids = list(wow_ids)
    entries, lines = UpsertCounts(), UpsertCounts()
    if not ids:
        return entries, lines, set()
    with transaction.atomic():
        # By the documents' pks: a join on their WoW ids made PostgreSQL hash the lines (14 ms a query).
        entry_pks = list(
            Entry.objects.filter(client_file_id=client_file_id, wow_id__in=ids).values_list("pk", flat=True)
        )
        doomed = EntryLine.objects.filter(client_file_id=client_file_id, entry_id__in=entry_pks)
        pairs: set[tuple[int, int | None]] = set(
            doomed.filter(period_id__isnull=False)
            .values_list("period_id", "account_id")
            .order_by()
            .distinct()
        )
        lines.deleted = doomed.delete()[0]
        entries.deleted = Entry.objects.filter(pk__in=entry_pks).delete()[0]
    return entries, lines, pairs


def ledger_delete_lines(
    *, client_file_id: int, wow_ids: Iterable[uuid.UUID]
) -> tuple[int, set[tuple[int, int | None]]]:
    """Remove lines the package no longer has; returns how many, and the (period, account) pairs they leave."""
    ids = list(wow_ids)
    if not ids:
        return 0, set()
    doomed = EntryLine.objects.filter(client_file_id=client_file_id, wow_id__in=ids)
    pairs: set[tuple[int, int | None]] = set(
        doomed.filter(period_id__isnull=False).values_list("period_id", "account_id").order_by().distinct()
    )
    return doomed.delete()[0], pairs


MASTER_MODELS: dict[str, type[models.Model]] = {
    "fiscal_years": FiscalYear,
    "periods": Period,
    "accounts": Account,
    "journals": Journal,
    "customers": Relation,
    "suppliers": Relation,
}


def _master_rows(client_file_id: int, stream: str) -> models.QuerySet[Any]:
    queryset = MASTER_MODELS[stream].objects.filter(client_file_id=client_file_id)  # type: ignore[attr-defined]
    if stream in {"customers", "suppliers"}:
        queryset = queryset.filter(kind=stream[:-1])
    return queryset


def ledger_master_versions(*, client_file_id: int, stream: str) -> dict[uuid.UUID, int]:
    """``wow_id → version`` of one kind of master data, to diff with the package's list."""
    return dict(_master_rows(client_file_id, stream).values_list("wow_id", "wow_version"))


def ledger_master_fingerprint(*, client_file_id: int, stream: str) -> tuple[int, int]:
    """(number of rows, sum of their versions): what the package's own count and version sum should equal."""
    totals = _master_rows(client_file_id, stream).aggregate(rows=Count("pk"), versions=Sum("wow_version"))
    return (int(totals["rows"] or 0), int(totals["versions"] or 0))


def ledger_delete_master(
    *, client_file_id: int, stream: str, wow_ids: Iterable[uuid.UUID]
) -> tuple[int, list[Any]]:
    """Delete master data the package no longer has. What lines or entries still use is kept and returned,
    so the caller reports it instead of silently dropping bookings."""
    model = MASTER_MODELS[stream]
    deleted, kept = 0, []
    for obj in model.objects.filter(client_file_id=client_file_id, wow_id__in=list(wow_ids)):  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                obj.delete()
            deleted += 1
        except models.ProtectedError:
            kept.append(obj)
    return deleted, kept


def ledger_rebuild_balances(
    *,
    client_file_id: int,
    period_ids: Iterable[int],
    account_ids: Iterable[int] | None = None,
    in_python: bool = False,
) -> int:
    """Recompute the per-period account balances from the first touched period of each fiscal year on;
    with ``account_ids``, only those accounts' (the others' lines did not change in these periods, so
    none of their balances moves: an incremental sync rewrites a few hundred rows, not the rest of the
    year's 20,000).

    A change in one period moves the opening balance of every later period of its year, so those are
    rebuilt, cumulated from the closing balances of the period before (which did not change); earlier
    periods are left as they are. On PostgreSQL one statement per year does it all (aggregate, running
    sum, insert), so no balance row travels to Python and back; elsewhere (the demo's SQLite, or
    ``in_python``) the same is computed in Python from one aggregate query per year.
    """
    wanted = set(period_ids)
    accounts = sorted(set(account_ids)) if account_ids is not None else None
    touched = Period.objects.filter(client_file_id=client_file_id, pk__in=list(wanted))
    years = {(p.fiscal_year_id, p.year if p.fiscal_year_id is None else None) for p in touched}
    written = 0
    with transaction.atomic():
        for fiscal_year_id, loose_year in years:
            periods = Period.objects.filter(client_file_id=client_file_id)
            periods = (
                periods.filter(fiscal_year_id=fiscal_year_id)
                if fiscal_year_id is not None
                else periods.filter(fiscal_year__isnull=True, year=loose_year or 0)
            )
            in_year = list(periods.order_by("number", "pk").values_list("pk", flat=True))
            first = min(index for index, pk in enumerate(in_year) if pk in wanted)
            ordered, previous = in_year[first:], (in_year[first - 1] if first else None)
            replaced = AccountBalance.objects.filter(period_id__in=ordered)
            if accounts is not None:
                replaced = replaced.filter(account_id__in=accounts)
            replaced.delete()
            rebuild = (
                _rebuild_year_in_sql
                if connection.vendor == "postgresql" and not in_python
                else _rebuild_year_in_python
            )
            written += rebuild(client_file_id, ordered, previous, accounts)
    return written


# Per account, the running sum over the year's periods (in order) of each period's movement, brought forward
# from the previous period's closing balance; a row wherever the account has a balance or a movement.
_REBUILD_YEAR_SQL = """
INSERT INTO clients_accountbalance
    (client_file_id, period_id, account_id, opening, debit, credit, closing, line_count)
WITH periods AS (
    SELECT period_id, ordinal FROM unnest(%(ordered)s::bigint[]) WITH ORDINALITY AS p (period_id, ordinal)
), moves AS (
    SELECT period_id, account_id,
           COALESCE(SUM(amount) FILTER (WHERE amount > 0), 0) AS debit,
           COALESCE(-SUM(amount) FILTER (WHERE amount < 0), 0) AS credit,
           COUNT(*) AS lines
    FROM clients_entryline
    WHERE client_file_id = %(client_file)s AND period_id = ANY(%(ordered)s) AND account_id IS NOT NULL
      AND (%(every_account)s OR account_id = ANY(%(accounts)s))
    GROUP BY period_id, account_id
), brought AS (
    SELECT account_id, closing FROM clients_accountbalance
    WHERE period_id = %(previous)s AND (%(every_account)s OR account_id = ANY(%(accounts)s))
), accounts AS (
    SELECT account_id FROM moves UNION SELECT account_id FROM brought
), grid AS (
    SELECT p.period_id, a.account_id,
           COALESCE(m.debit, 0) AS debit, COALESCE(m.credit, 0) AS credit, COALESCE(m.lines, 0) AS lines,
           COALESCE(b.closing, 0) + SUM(COALESCE(m.debit, 0) - COALESCE(m.credit, 0))
               OVER (PARTITION BY a.account_id ORDER BY p.ordinal) AS closing
    FROM periods p
    CROSS JOIN accounts a
    LEFT JOIN moves m ON m.period_id = p.period_id AND m.account_id = a.account_id
    LEFT JOIN brought b ON b.account_id = a.account_id
)
SELECT %(client_file)s, period_id, account_id, closing - debit + credit, debit, credit, closing, lines
FROM grid
WHERE closing - debit + credit <> 0 OR debit <> 0 OR credit <> 0 OR lines > 0
"""


def _rebuild_year_in_sql(
    client_file_id: int, ordered: list[int], previous: int | None, accounts: list[int] | None
) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            _REBUILD_YEAR_SQL,
            {
                "client_file": client_file_id,
                "ordered": ordered,
                "previous": previous,
                "every_account": accounts is None,
                "accounts": accounts or [],
            },
        )
        return int(cursor.rowcount)


def _rebuild_year_in_python(
    client_file_id: int, ordered: list[int], previous: int | None, accounts: list[int] | None
) -> int:
    brought = AccountBalance.objects.filter(period_id=previous or 0)  # no period before: none brought
    moving = EntryLine.objects.filter(
        client_file_id=client_file_id, period_id__in=ordered, account_id__isnull=False
    )
    if accounts is not None:
        brought, moving = brought.filter(account_id__in=accounts), moving.filter(account_id__in=accounts)
    running: dict[int, Decimal] = (
        dict(brought.values_list("account_id", "closing")) if previous is not None else {}
    )
    movements: dict[int, dict[int, tuple[Decimal, Decimal, int]]] = defaultdict(dict)
    for row in moving.values("period_id", "account_id").annotate(
        debit_total=Sum("amount", filter=Q(amount__gt=0), default=Decimal(0)),
        credit_total=Sum("amount", filter=Q(amount__lt=0), default=Decimal(0)),
        lines=Count("pk"),
    ):
        movements[row["period_id"]][row["account_id"]] = (
            row["debit_total"],
            -row["credit_total"],
            row["lines"],
        )
    balances: list[tuple[Any, ...]] = []
    zero = Decimal(0)
    for period_id in ordered:
        moved = movements.get(period_id, {})
        for account_id in sorted(set(running) | set(moved)):
            debit, credit, lines = moved.get(account_id, (zero, zero, 0))
            opening = running.get(account_id, zero)
            closing = opening + debit - credit
            if opening or debit or credit or lines:
                balances.append(
                    (client_file_id, period_id, account_id, opening, debit, credit, closing, lines)
                )
            running[account_id] = closing
    _write_rows(AccountBalance, BALANCE_COLUMNS, balances, update=None)
    return len(balances)
