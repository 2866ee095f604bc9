"""Writing the client file's ledger: idempotent upserts keyed on the package's ids, and deletes.

The engine hands in plain rows (rows.py) and gets back what changed. Every function is safe to call twice
with the same rows: a row whose version is already stored is counted "unchanged" and not written, unless
``force`` is set (used when a period is fetched again whole to heal a mismatch, in case the package changed
data without a new version).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from ..models import Account, Entry, EntryLine, FiscalYear, Journal, Period, Relation
from ..models.ledger import SyncedRow
from .admission import row_admitted
from .copy import (
    ENTRY_COLUMNS,
    LINE_COLUMNS,
    copy_new_rows,
    copy_text,
    entry_copy_text,
    line_copy_text,
    reserve_pks,
    wow_id_pks,
    write_rows,
)
from .reads import master_rows
from .rows import EntryRow, EntryUpsertResult, MasterRow, Rejected, UpsertCounts
from .streams import ENTRIES, Stream


class RefMaps:
    """The ledger's ``wow_id → pk`` for what lines, entries and periods refer to, loaded once per run and
    kept up to date by the upserts (through ``add``; the maps are read, never written, elsewhere).

    Each map has a twin keyed by the id's 128-bit integer, which the document writer looks up: a UUID key
    costs two Python-level calls per lookup (``__hash__``, then ``__eq__`` against the stored key, another
    object), an integer none, and a first sync makes a few lookups per line (profiled: 1.3 million hashes
    for 480,000 lines)."""

    def __init__(self, client_file_id: int) -> None:
        self.client_file_id = client_file_id
        self.fiscal_years = wow_id_pks(FiscalYear, client_file_id)
        self.periods = wow_id_pks(Period, client_file_id)
        self.accounts = wow_id_pks(Account, client_file_id)
        self.journals = wow_id_pks(Journal, client_file_id)
        self.relations = wow_id_pks(Relation, client_file_id)
        self._by_int: dict[type[models.Model], dict[int, int]] = {
            model: {wow_id.int: pk for wow_id, pk in self.of(model).items()} for model in _REFERRED_TO
        }

    def of(self, model: type[models.Model]) -> dict[uuid.UUID, int]:
        """The map of one model's rows."""
        maps: dict[type[models.Model], dict[uuid.UUID, int]] = {
            FiscalYear: self.fiscal_years,
            Period: self.periods,
            Account: self.accounts,
            Journal: self.journals,
            Relation: self.relations,
        }
        return maps[model]

    def by_int(self, model: type[models.Model]) -> dict[int, int]:
        """The map of one model's rows, keyed by ``wow_id.int``."""
        return self._by_int[model]

    def add(self, model: type[models.Model], pks: dict[uuid.UUID, int]) -> None:
        self.of(model).update(pks)
        self._by_int[model].update((wow_id.int, pk) for wow_id, pk in pks.items())


_REFERRED_TO: tuple[type[models.Model], ...] = (FiscalYear, Period, Account, Journal, Relation)


@dataclasses.dataclass(frozen=True)
class _Column:
    name: str  # the model field's name (what bulk_create updates)
    attname: str  # and its attribute ("fiscal_year_id" for a reference)
    row_attribute: str  # the row's field it comes from
    max_length: int | None  # text is cut to what the column holds
    refers_to: type[models.Model] | None  # a ``<name>_wow_id`` reference, turned into the row's pk


@functools.cache
def _master_columns(model: type[models.Model], row_type: type) -> tuple[_Column, ...]:
    """How a master-data row is written: its fields after ``wow_id`` and ``version`` are named like the
    model's fields; a ``<name>_wow_id`` field refers to the ``<name>`` relation."""
    columns = []
    for row_field in dataclasses.fields(row_type):
        if row_field.name in {"wow_id", "version"}:
            continue
        name = row_field.name.removesuffix("_wow_id")
        model_field = model._meta.get_field(name)
        assert isinstance(model_field, models.Field), name  # a concrete column, not a reverse relation
        refers_to = model_field.related_model if model_field.is_relation else None
        columns.append(
            _Column(
                name=model_field.name,
                attname=model_field.attname,
                row_attribute=row_field.name,
                max_length=model_field.max_length if isinstance(model_field, models.CharField) else None,
                refers_to=refers_to if isinstance(refers_to, type) else None,
            )
        )
    return tuple(columns)


def ledger_upsert_master(
    *, stream: Stream, client_file_id: int, rows: Iterable[MasterRow], refs: RefMaps, force: bool = False
) -> UpsertCounts:
    """Write the master-data rows of one stream whose version differs from the stored one (all with
    ``force``), and add the written ones to ``refs``."""
    model = stream.model
    columns = _master_columns(model, stream.row_type)
    values_by_row: list[dict[str, Any]] = []
    for row in rows:
        values: dict[str, Any] = {
            "client_file_id": client_file_id,
            "wow_id": row.wow_id,
            "wow_version": row.version,
        }
        for column in columns:
            value = getattr(row, column.row_attribute)
            if column.refers_to is not None:
                value = refs.of(column.refers_to).get(value) if value else None
            elif column.max_length is not None:
                value = value[: column.max_length]
            values[column.attname] = value
        values_by_row.append(values)
    counts = UpsertCounts()
    if not values_by_row:
        return counts
    stored = dict(
        model._default_manager.filter(
            client_file_id=client_file_id, wow_id__in=[values["wow_id"] for values in values_by_row]
        ).values_list("wow_id", "wow_version")
    )
    to_write: dict[uuid.UUID, dict[str, Any]] = {}
    for values in values_by_row:
        previous = stored.get(values["wow_id"])
        if previous is None:
            counts.created += 1
        elif previous != values["wow_version"] or force:
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        to_write[values["wow_id"]] = values
    if to_write:
        model._default_manager.bulk_create(
            [model(**values) for values in to_write.values()],
            update_conflicts=True,
            unique_fields=["client_file", "wow_id"],
            update_fields=[*(column.name for column in columns), "wow_version", "synced_at"],
            batch_size=2000,
        )
        refs.add(model, wow_id_pks(model, client_file_id, list(to_write)))
    return counts


def ledger_delete_master(
    *, client_file_id: int, stream: Stream, wow_ids: Iterable[uuid.UUID]
) -> tuple[int, list[SyncedRow]]:
    """Delete master data the package no longer has. What lines or entries still use is kept and returned,
    so the caller reports it instead of silently dropping bookings."""
    deleted, kept = 0, list[SyncedRow]()
    for obj in master_rows(client_file_id=client_file_id, stream=stream).filter(wow_id__in=list(wow_ids)):
        try:
            with transaction.atomic():
                obj.delete()
            deleted += 1
        except models.ProtectedError:
            kept.append(obj)
    return deleted, kept


# What an amount column (19 digits, 4 decimals) holds exactly.


_AMOUNT_LIMIT = Decimal("1e15")
_AMOUNT_STEP = Decimal("0.0001")


def _rejected(row: EntryRow, code: str, **params: Any) -> Rejected:
    return Rejected(ENTRIES.entity, str(row.wow_id), row.reference, code, params)


def _check_entry(
    row: EntryRow,
    periods: dict[int, int],
    journals: dict[int, int],
    accounts: dict[int, int],
    relations: dict[int, int],
) -> Rejected | None:
    """Why the ledger cannot take the document as it is (what it refers to, an amount the column cannot
    hold exactly), or None. The maps are ``RefMaps.by_int``'s."""
    period = row.period_wow_id
    if period is None or period.int not in periods:
        return _rejected(row, "issue.unknown_period")
    journal = row.journal_wow_id
    if journal is not None and journal.int not in journals:
        return _rejected(row, "issue.unknown_journal")
    below, limit, step = -_AMOUNT_LIMIT, _AMOUNT_LIMIT, _AMOUNT_STEP
    for line in row.lines:
        account, line_period, relation = line.account_wow_id, line.period_wow_id, line.relation_wow_id
        if account is None or account.int not in accounts:
            return _rejected(row, "issue.line_unknown_account", line=line.line_order + 1)
        if line_period is not None and line_period.int not in periods:
            return _rejected(row, "issue.line_unknown_period", line=line.line_order + 1)
        if relation is not None and relation.int not in relations:
            return _rejected(row, "issue.line_unknown_relation", line=line.line_order + 1)
        amount = line.amount
        if not below < amount < limit or amount != amount.quantize(step):
            return _rejected(
                row, "issue.line_amount_not_exact", line=line.line_order + 1, amount=str(line.amount)
            )
    return None


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


def _accepted(rows: Iterable[EntryRow], refs: RefMaps, rejected: list[Rejected]) -> list[EntryRow]:
    """The documents the ledger can take (admitted: cleaned where they needed it); the others become
    ``rejected`` issues."""
    accepted: list[EntryRow] = []
    periods, accounts = refs.by_int(Period), refs.by_int(Account)
    journals, relations = refs.by_int(Journal), refs.by_int(Relation)
    for row in rows:
        problem = _check_entry(row, periods, journals, accounts, relations)
        if problem is None:
            try:
                row = row_admitted(row)  # every other number in range, text clean (admission.py)
            except ValueError as error:
                problem = _rejected(row, "issue.unreadable", entity=ENTRIES.entity, detail=str(error)[:400])
        if problem is not None:
            rejected.append(problem)
        else:
            accepted.append(row)
    return accepted


def _entry_rows(
    client_file_id: int, rows: Iterable[EntryRow], refs: RefMaps, now: dt.datetime
) -> list[tuple[Any, ...]]:
    """Documents as tuples in ``ENTRY_COLUMNS`` order."""
    journals, periods = refs.by_int(Journal), refs.by_int(Period)
    return [
        (
            client_file_id,
            r.wow_id,
            r.version,
            now,
            journals.get(r.journal_wow_id.int) if r.journal_wow_id else None,
            periods[r.period_wow_id.int] if r.period_wow_id else None,
            r.doc_number[:40],
            r.book_date,
            r.due_date,
            r.modified,
        )
        for r in rows
    ]


def _line_rows(
    client_file_id: int,
    rows: Iterable[EntryRow],
    entry_pks: dict[uuid.UUID, int],
    refs: RefMaps,
    now: dt.datetime,
    result: EntryUpsertResult,
    *,
    existing: dict[uuid.UUID, tuple[int, int | None, int | None]],
    force: bool,
) -> list[tuple[Any, ...]]:
    """The lines of ``rows`` to write, as tuples in ``LINE_COLUMNS`` order: new ones, and (against what
    the ledger holds, ``existing``) those whose version moved, all with ``force``. Counts them and the
    (period, account) pairs they touch into ``result``."""
    periods, accounts, relations = refs.by_int(Period), refs.by_int(Account), refs.by_int(Relation)
    line_rows: list[tuple[Any, ...]] = []
    for r in rows:
        entry_pk = entry_pks[r.wow_id]
        for line in r.lines:
            period_wow_id = line.period_wow_id or r.period_wow_id
            line_period_id = periods.get(period_wow_id.int) if period_wow_id else None
            before = existing.get(line.wow_id) if existing else None  # no hashing at all in a first sync
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
            line_account_id = accounts[line.account_wow_id.int] if line.account_wow_id else None
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
                    relations.get(line.relation_wow_id.int) if line.relation_wow_id else None,
                    line.amount,
                    line.vat_code[:20],
                    line.vat_base,
                    line.vat_amount,
                    line.description[:500],
                    line.value_date,
                )
            )
    return line_rows


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
    accepted = _accepted(rows, refs, result.rejected)
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
    entry_rows = _entry_rows(client_file_id, to_write.values(), refs, now)
    entry_pks = (
        copy_new_rows(Entry, ENTRY_COLUMNS, entry_rows, returning=True, as_text=entry_copy_text)
        if all_new
        else write_rows(Entry, ENTRY_COLUMNS, entry_rows, update=ENTRY_COLUMNS[2:], returning=True)
    )
    written_ids = set(to_write)
    changed_rows = [r for r in accepted if r.wow_id in written_ids]

    # What the ledger held for these documents: to count, to delete vanished lines, and to know which
    # periods a moved or deleted line leaves.
    existing: dict[uuid.UUID, tuple[int, int | None, int | None]] = {}
    if not all_new:
        for wow_id, version, period_id, account_id in EntryLine.objects.filter(
            entry_id__in=entry_pks.values()
        ).values_list("wow_id", "wow_version", "period_id", "account_id"):
            existing[wow_id] = (version, period_id, account_id)

    new_line_ids = {line.wow_id for r in changed_rows for line in r.lines} if existing else set()
    vanished = [wow_id for wow_id in existing if wow_id not in new_line_ids]
    if vanished:
        result.touched_period_ids.update(p for wid in vanished if (p := existing[wid][1]) is not None)
        result.touched_accounts.update((p, existing[wid][2]) for wid in vanished if (p := existing[wid][1]))
        result.lines.deleted += EntryLine.objects.filter(
            client_file_id=client_file_id, wow_id__in=vanished
        ).delete()[0]

    line_rows = _line_rows(
        client_file_id, changed_rows, entry_pks, refs, now, result, existing=existing, force=force
    )
    if all_new:
        copy_new_rows(EntryLine, LINE_COLUMNS, line_rows, returning=False, as_text=line_copy_text)
    else:
        write_rows(EntryLine, LINE_COLUMNS, line_rows, update=LINE_COLUMNS[2:])
    return result


@dataclasses.dataclass
class PreparedEntries:
    """New documents made ready to be COPY-ed, away from the thread that writes them (see
    ``ledger_prepare_new_entries``): what writing them will have done, and their COPY text."""

    result: EntryUpsertResult
    entries_text: str
    lines_text: str

    @classmethod
    def joined(cls, parts: Sequence[PreparedEntries]) -> PreparedEntries:
        """Pages prepared one by one, written together."""
        result = EntryUpsertResult()
        for part in parts:
            result.add(part.result)
        return cls(
            result=result,
            entries_text="".join(part.entries_text for part in parts),
            lines_text="".join(part.lines_text for part in parts),
        )


def ledger_prepare_new_entries(
    *, client_file_id: int, rows: Sequence[EntryRow], refs: RefMaps
) -> PreparedEntries | None:
    """Everything of writing documents the ledger has none of, but the writing: the checks, the counts,
    their primary keys (drawn from the sequence on this thread's own connection: a sequence is not
    transactional, so nothing needs undoing if they are never used) and their COPY text.

    A first sync's pages are prepared in the thread that reads them ahead, so the thread that writes
    waits on PostgreSQL while the next pages are prepared instead of preparing them between writes
    (``syncs/engine.py``). ``refs`` must not change meanwhile (it does not while documents are read).
    None where there is nothing to gain: not PostgreSQL, or a document twice (the usual path counts it once).
    """
    if connection.vendor != "postgresql":
        return None
    result = EntryUpsertResult()
    accepted = _accepted(rows, refs, result.rejected)
    if len({r.wow_id for r in accepted}) != len(accepted):
        return None
    result.entries.created = len(accepted)
    now = timezone.now()
    entry_pks = dict(zip((r.wow_id for r in accepted), reserve_pks(Entry, len(accepted)), strict=True))
    entry_rows = [(entry_pks[row[1]], *row) for row in _entry_rows(client_file_id, accepted, refs, now)]
    line_rows = _line_rows(client_file_id, accepted, entry_pks, refs, now, result, existing={}, force=False)
    return PreparedEntries(
        result=result,
        entries_text=entry_copy_text(entry_rows),
        lines_text=line_copy_text(line_rows),
    )


class PreparedEntriesStale(Exception):
    """A prepared document exists in the ledger after all: the caller's transaction must be rolled back
    and the rows upserted (``ledger_upsert_entries``) instead."""


def ledger_write_prepared_entries(*, prepared: PreparedEntries) -> EntryUpsertResult:
    """COPY documents prepared by ``ledger_prepare_new_entries``, in the caller's transaction.

    No savepoint of its own: on the writing thread of a first sync each round trip to PostgreSQL waits for
    a CPU busy with the reading, and a savepoint and its release were two of a page's ten. When a document
    exists after all (as it did not when the ledger was found empty), the unique constraint refuses the
    COPY and this raises ``PreparedEntriesStale``: the caller rolls its transaction back and upserts."""
    try:
        copy_text(Entry, ("id", *ENTRY_COLUMNS), prepared.entries_text)
        copy_text(EntryLine, LINE_COLUMNS, prepared.lines_text)
    except (IntegrityError, psycopg.IntegrityError) as error:
        raise PreparedEntriesStale from error
    return prepared.result


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
