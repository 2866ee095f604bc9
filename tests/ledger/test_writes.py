"""Writing documents and lines: the straight COPY of a first sync, its fallback, and integrity without
database-level foreign keys on the two fact tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection, models, transaction

from clients.ledger import (
    EntryRow,
    LineRow,
    PreparedEntries,
    PreparedEntriesStale,
    RefMaps,
    ledger_prepare_new_entries,
    ledger_upsert_entries,
    ledger_write_prepared_entries,
)
from clients.models import Account, ClientFile, Entry, EntryLine
from silverfin_sync.notices import Notice
from tests.factories import ClientFileFactory
from tests.ledger.factories import AccountFactory, JournalFactory, PeriodFactory, RelationFactory

pytestmark = pytest.mark.django_db


def _world() -> tuple[ClientFile, RefMaps, list[Account]]:
    client_file = ClientFileFactory.create()
    PeriodFactory.create(client_file=client_file)
    JournalFactory.create(client_file=client_file)
    accounts = [AccountFactory.create(client_file=client_file) for _ in range(2)]
    return client_file, RefMaps(client_file.pk), accounts


def _document(
    refs: RefMaps, accounts: list[Account], amount: str, *, line_ids: list[uuid.UUID] | None = None
) -> EntryRow:
    period = next(iter(refs.periods))
    ids = line_ids or [uuid.uuid4(), uuid.uuid4()]
    return EntryRow(
        wow_id=uuid.uuid4(),
        version=1,
        journal_wow_id=next(iter(refs.journals)),
        period_wow_id=period,
        doc_number="1",
        book_date=None,
        due_date=None,
        modified=None,
        lines=(
            LineRow(ids[0], 1, period, accounts[0].wow_id, Decimal(amount)),
            LineRow(ids[1], 1, period, accounts[1].wow_id, -Decimal(amount), line_order=1),
        ),
    )


def test_a_page_of_new_documents_is_written_with_every_line_under_its_own_document() -> None:
    client_file, refs, accounts = _world()
    rows = [_document(refs, accounts, f"{n}.25") for n in range(1, 51)]

    with transaction.atomic():
        result = ledger_upsert_entries(client_file_id=client_file.pk, rows=rows, refs=refs)

    assert (result.entries.created, result.lines.created) == (50, 100)
    for row in rows:
        entry = Entry.objects.get(client_file=client_file, wow_id=row.wow_id)
        assert sorted(entry.lines.values_list("wow_id", flat=True)) == sorted(
            line.wow_id for line in row.lines
        )
    assert (
        EntryLine.objects.filter(client_file=client_file).aggregate(total=models.Sum("amount"))["total"] == 0
    )


@pytest.mark.parametrize("amount", ["1E+3", "12.5E-2", "-4.0000", "999999999999999.9999", "0E-8"])
def test_amounts_written_as_decimal_writes_them_exponents_included_come_back_exact(amount: str) -> None:
    client_file, refs, accounts = _world()
    row = _document(refs, accounts, amount)
    row = dataclasses.replace(
        row,
        lines=tuple(
            dataclasses.replace(line, vat_base=Decimal(amount), vat_amount=-Decimal(amount))
            for line in row.lines
        ),
    )

    ledger_upsert_entries(client_file_id=client_file.pk, rows=[row], refs=refs, assume_new=True)

    stored = EntryLine.objects.get(wow_id=row.lines[0].wow_id)
    assert (stored.amount, stored.vat_base, stored.vat_amount) == (
        Decimal(amount),
        Decimal(amount),
        -Decimal(amount),
    )


def test_a_document_assumed_new_that_exists_after_all_is_updated_not_duplicated() -> None:
    client_file, refs, accounts = _world()
    first = _document(refs, accounts, "10.00")
    ledger_upsert_entries(client_file_id=client_file.pk, rows=[first], refs=refs)
    stored = Entry.objects.get(wow_id=first.wow_id)
    edited = dataclasses.replace(
        first,
        version=2,
        doc_number="2",
        lines=(
            *first.lines[:1],
            dataclasses.replace(first.lines[1], version=2, account_wow_id=accounts[0].wow_id),
        ),
    )
    fresh = _document(refs, accounts, "3.00")

    with transaction.atomic():
        result = ledger_upsert_entries(
            client_file_id=client_file.pk, rows=[fresh, edited], refs=refs, assume_new=True
        )
        # the refused COPY left the transaction usable
        assert Entry.objects.filter(client_file=client_file).count() == 2

    assert (result.entries.created, result.entries.updated) == (1, 1)
    stored.refresh_from_db()
    assert (stored.wow_version, stored.doc_number) == (2, "2")
    assert EntryLine.objects.filter(client_file=client_file).count() == 4
    assert set(stored.lines.values_list("account_id", flat=True)) == {accounts[0].pk}


def test_a_line_that_moved_to_a_new_document_is_moved_not_duplicated() -> None:
    client_file, refs, accounts = _world()
    first = _document(refs, accounts, "10.00")
    ledger_upsert_entries(client_file_id=client_file.pk, rows=[first], refs=refs)
    moved = [line.wow_id for line in first.lines]
    second = _document(refs, accounts, "10.00", line_ids=moved)  # a new document, with the same line ids

    with transaction.atomic():
        result = ledger_upsert_entries(client_file_id=client_file.pk, rows=[second], refs=refs)

    assert result.entries.created == 1
    assert EntryLine.objects.filter(client_file=client_file).count() == 2
    assert set(EntryLine.objects.values_list("entry__wow_id", flat=True)) == {second.wow_id}


def test_lines_carry_no_database_foreign_key_but_django_still_cascades_and_protects() -> None:
    client_file, refs, accounts = _world()
    ledger_upsert_entries(client_file_id=client_file.pk, rows=[_document(refs, accounts, "5.00")], refs=refs)

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, EntryLine._meta.db_table)
    assert not [name for name, c in constraints.items() if c["foreign_key"]]

    with pytest.raises(models.ProtectedError):
        accounts[0].delete()
    Entry.objects.get(client_file=client_file).delete()
    assert not EntryLine.objects.filter(client_file_id=client_file.pk).exists()


@pytest.mark.parametrize(
    ("amount", "taken"),
    [("0.0001", True), ("999999999999999.9999", True), ("0.00001", False), ("1000000000000000", False)],
)
def test_an_amount_the_ledger_cannot_hold_exactly_rejects_its_document(amount: str, taken: bool) -> None:
    client_file, refs, accounts = _world()
    row = _document(refs, accounts, amount)

    result = ledger_upsert_entries(client_file_id=client_file.pk, rows=[row], refs=refs)

    assert result.entries.created == int(taken)
    assert [(r.code, r.params) for r in result.rejected] == (
        [] if taken else [("issue.line_amount_not_exact", {"line": 1, "amount": str(Decimal(amount))})]
    )
    if not taken:
        assert str(Notice(result.rejected[0].code, result.rejected[0].params)) == (
            f"Line 1 has an amount the ledger cannot hold exactly ({Decimal(amount)})."
        )
    assert Entry.objects.filter(client_file=client_file).count() == int(taken)


def test_planner_statistics_are_refreshed_after_a_bulk_load() -> None:
    from clients.ledger import ledger_refresh_statistics

    client_file, refs, accounts = _world()
    ledger_upsert_entries(
        client_file_id=client_file.pk, rows=[_document(refs, accounts, "1.00") for _ in range(50)], refs=refs
    )

    ledger_refresh_statistics()

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [EntryLine._meta.db_table])
        assert cursor.fetchone()[0] == 100  # a small table is analysed whole: exact


def test_the_copy_text_of_documents_and_lines_reads_back_exactly() -> None:
    """The COPY text written by hand (not psycopg's dumpers) for a first sync's documents and lines: every
    column, nulls, characters COPY must escape, and amounts in exponent form read back as they were."""
    client_file, refs, accounts = _world()
    odd_text = "tab\there\nnew line\\back slash\rreturn\x0bvertical\x08back\x0cfeed ünïcode"
    relation = RelationFactory.create(client_file=client_file)
    refs = RefMaps(client_file.pk)
    base = _document(refs, accounts, "12.5")
    lines = (
        dataclasses.replace(
            base.lines[0],
            amount=Decimal("1.25E+3"),
            relation_wow_id=relation.wow_id,
            vat_code="21\t%",
            vat_base=Decimal("1000.00"),
            vat_amount=Decimal("0E-4"),
            description=odd_text,
            value_date=dt.date(2024, 2, 29),
        ),
        dataclasses.replace(base.lines[1], amount=Decimal("-1250")),
    )
    modified = dt.datetime(2024, 3, 1, 8, 30, 15, 123000, tzinfo=dt.UTC)
    document = dataclasses.replace(
        base,
        doc_number="A\\1\t2",
        book_date=dt.date(2024, 2, 28),
        due_date=None,
        modified=modified,
        journal_wow_id=None,
        lines=lines,
    )

    with transaction.atomic():
        result = ledger_upsert_entries(
            client_file_id=client_file.pk, rows=[document], refs=refs, assume_new=True
        )

    assert (result.entries.created, result.lines.created) == (1, 2)
    entry = Entry.objects.get(client_file=client_file, wow_id=document.wow_id)
    assert (entry.doc_number, entry.book_date, entry.due_date, entry.wow_modified, entry.journal_id) == (
        "A\\1\t2",
        dt.date(2024, 2, 28),
        None,
        modified,
        None,
    )
    first, second = entry.lines.order_by("line_order")
    assert (first.wow_id, first.amount, first.relation_id, first.vat_code) == (
        lines[0].wow_id,
        Decimal("1250"),
        relation.pk,
        "21\t%",
    )
    assert (first.vat_base, first.vat_amount, first.description, first.value_date) == (
        Decimal("1000"),
        Decimal("0"),
        # Control characters other than tab, newline and carriage return are cleaned on the way in
        # (clients/ledger/admission.py); the ones COPY must escape read back as they were.
        "tab\there\nnew line\\back slash\rreturnverticalbackfeed ünïcode",
        dt.date(2024, 2, 29),
    )
    assert (first.account_id, first.period_id, first.entry_id) == (accounts[0].pk, entry.period_id, entry.pk)
    assert entry.period_id is not None
    assert (second.amount, second.relation_id, second.vat_base, second.value_date, second.description) == (
        Decimal("-1250"),
        None,
        None,
        None,
        "",
    )


# --- documents prepared away from the writing thread (a first sync's pages) -------------------------


def _prepare(client_file: ClientFile, refs: RefMaps, rows: list[EntryRow]) -> PreparedEntries:
    prepared = ledger_prepare_new_entries(client_file_id=client_file.pk, rows=rows, refs=refs)
    assert prepared is not None
    return prepared


def test_prepared_pages_written_together_give_what_writing_them_one_by_one_gives() -> None:
    client_file, refs, accounts = _world()
    pages = [[_document(refs, accounts, f"{page}.{n}") for n in range(1, 6)] for page in range(1, 4)]
    refused = dataclasses.replace(_document(refs, accounts, "1.00"), period_wow_id=uuid.uuid4())

    prepared = PreparedEntries.joined([_prepare(client_file, refs, rows) for rows in [*pages[:2], [refused]]])
    with transaction.atomic():
        result = ledger_write_prepared_entries(prepared=prepared)

    written = [row for rows in pages[:2] for row in rows]
    assert (result.entries.created, result.lines.created) == (10, 20)
    assert [(r.wow_id, r.code) for r in result.rejected] == [(str(refused.wow_id), "issue.unknown_period")]
    stored = {
        e.wow_id: (e.doc_number, sorted(e.lines.values_list("wow_id", "amount")))
        for e in Entry.objects.filter(client_file=client_file)
    }
    assert stored == {
        row.wow_id: (row.doc_number, sorted((line.wow_id, line.amount) for line in row.lines))
        for row in written
    }
    assert written[0].period_wow_id is not None
    period_id = refs.periods[written[0].period_wow_id]
    assert result.touched_period_ids == {period_id}
    assert result.touched_accounts == {(period_id, account.pk) for account in accounts}


def test_a_prepared_document_that_exists_by_the_time_it_is_written_is_refused_and_leaves_nothing() -> None:
    client_file, refs, accounts = _world()
    first = _document(refs, accounts, "10.00")
    prepared = _prepare(client_file, refs, [first, _document(refs, accounts, "3.00")])
    ledger_upsert_entries(client_file_id=client_file.pk, rows=[first], refs=refs)  # meanwhile

    with pytest.raises(PreparedEntriesStale), transaction.atomic():
        ledger_write_prepared_entries(prepared=prepared)

    # The caller's transaction rolled back: the document stored meanwhile, and nothing of the COPY.
    assert list(Entry.objects.filter(client_file=client_file).values_list("wow_id", flat=True)) == [
        first.wow_id
    ]
    assert EntryLine.objects.filter(client_file=client_file).count() == 2


def test_a_page_holding_a_document_twice_is_not_prepared_but_written_the_usual_way() -> None:
    client_file, refs, accounts = _world()
    twice = _document(refs, accounts, "7.00")
    assert ledger_prepare_new_entries(client_file_id=client_file.pk, rows=[twice, twice], refs=refs) is None
