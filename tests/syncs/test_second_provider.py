"""A second package is a new provider folder and a registry line: the engine syncs a test-only package
(tests/syncs/fake_provider.py) end to end, first sync, edits, additions and deletions, without a line of
WinbooksOnWeb in between."""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from clients.ledger.rows import (
    AccountRow,
    EntryRow,
    FiscalYearRow,
    JournalRow,
    LineRow,
    PeriodRow,
    RelationRow,
)
from clients.ledger.streams import ACCOUNTS, CUSTOMERS, ENTRIES, FISCAL_YEARS, JOURNALS, PERIODS
from clients.models import Account, AccountBalance, ClientFile, Entry, EntryLine, Relation
from syncs import providers
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, SyncRun
from syncs.runs import sync_run_request
from syncs.services import client_link_set, connection_connect
from tests.fixtures import FirmWorld

from .fake_provider import FakeCompany, FakeProvider

pytestmark = pytest.mark.django_db


def ids(count: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(count)]


def make_company() -> tuple[FakeCompany, dict[str, list[uuid.UUID]]]:
    """One fiscal year of three months, a journal, four accounts, a customer and seven balanced documents."""
    company = FakeCompany()
    year, journal, customer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    periods, accounts = ids(3), ids(4)
    company.put(
        FISCAL_YEARS, FiscalYearRow(year, 1, "2026", "Year 2026", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    )
    for month, period in enumerate(periods, start=1):
        company.put(PERIODS, PeriodRow(period, 1, year, month, 2026, month, label=f"2026-{month:02d}"))
    company.put(JOURNALS, JournalRow(journal, 1, "SAL", "Sales", "SAL"))
    for account_number, account in zip(("400000", "700000", "451000", "550000"), accounts, strict=True):
        company.put(ACCOUNTS, AccountRow(account, 1, account_number, f"Account {account_number}"))
    company.put(CUSTOMERS, RelationRow(customer, 1, "customer", "C1", "Customer one", "BE0123456789"))
    documents = ids(7)
    for number, document in enumerate(documents, start=1):
        amount = Decimal(100 * number) + Decimal("0.25")
        period = periods[number % 3]
        company.put(
            ENTRIES,
            EntryRow(
                wow_id=document,
                version=1,
                journal_wow_id=journal,
                period_wow_id=period,
                doc_number=str(number),
                book_date=dt.date(2026, 1 + number % 3, number),
                due_date=None,
                modified=None,
                lines=(
                    LineRow(uuid.uuid4(), 1, period, accounts[0], amount, 0, customer),
                    LineRow(uuid.uuid4(), 1, period, accounts[1], -amount, 1),
                ),
                reference=f"SAL {number}",
            ),
        )
    return company, {"periods": periods, "accounts": accounts, "documents": documents}


def assert_ledger_equals(client_file: ClientFile, company: FakeCompany) -> None:
    entries = {e.wow_id: (e.version, e.doc_number, e.book_date) for e in company.documents()}
    assert {
        e.wow_id: (e.wow_version, e.doc_number, e.book_date)
        for e in Entry.objects.filter(client_file=client_file)
    } == entries
    lines = {
        line.wow_id: (line.amount, line.account_wow_id, entry.wow_id) for entry, line, _ in company.lines()
    }
    assert {
        line.wow_id: (line.amount, line.account.wow_id, line.entry.wow_id)
        for line in EntryLine.objects.filter(client_file=client_file).select_related("account", "entry")
    } == lines
    accounts = {row.wow_id: (row.number, row.version) for row in company.objects[ACCOUNTS.key].values()}
    assert {
        a.wow_id: (a.number, a.wow_version) for a in Account.objects.filter(client_file=client_file)
    } == accounts
    assert Relation.objects.get(client_file=client_file).name == "Customer one"
    # Every period's balances close at zero: the documents balance, and the balances were rebuilt.
    closings = AccountBalance.objects.filter(client_file=client_file).values_list("period_id", "closing")
    assert closings and all(sum(c for p, c in closings if p == period) == 0 for period, _ in closings)


@pytest.fixture
def company_and_link(
    world: FirmWorld, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeCompany, dict[str, list[uuid.UUID]], ClientLink]:
    company, keys = make_company()
    monkeypatch.setitem(providers._PROVIDERS, FakeProvider.key, FakeProvider({"ACME": company}))
    connection = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="Fake books",
        email="owner@books.example",
        exchange_token="let-me-in",
        provider_key=FakeProvider.key,
    )
    assert connection.provider == "fake" and connection.api_url == FakeProvider.default_api_url
    link = client_link_set(
        client_file=world.given_file, connection=connection, company_code="ACME", actor=world.staff
    )
    return company, keys, link


def sync(link: ClientLink) -> SyncRun:
    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    return sync_run_execute(run_id=run.pk)


def test_the_engine_syncs_a_second_package_end_to_end(
    company_and_link: tuple[FakeCompany, dict[str, list[uuid.UUID]], ClientLink],
) -> None:
    company, keys, link = company_and_link
    run = sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)  # the first sync, queued by linking
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    assert run.reconciled is True
    assert run.counts["entries"]["created"] == 7 and run.counts["lines"]["created"] == 14
    assert_ledger_equals(link.client_file, company)

    # In the package: a document edited, another deleted, a new one, an unused account gone.
    first, second = keys["documents"][:2]
    edited = company.objects[ENTRIES.key][first]
    doubled = tuple(
        LineRow(line.wow_id, line.version + 1, line.period_wow_id, line.account_wow_id, line.amount * 2)
        for line in edited.lines
    )
    company.edit(ENTRIES, first, lines=doubled)
    company.delete(ENTRIES, second)
    company.put(
        ENTRIES,
        EntryRow(
            uuid.uuid4(),
            1,
            None,
            keys["periods"][0],
            "99",
            dt.date(2026, 3, 30),
            None,
            None,
            (
                LineRow(uuid.uuid4(), 1, None, keys["accounts"][2], Decimal("12.34")),
                LineRow(uuid.uuid4(), 1, None, keys["accounts"][1], Decimal("-12.34")),
            ),
        ),
    )
    company.delete(ACCOUNTS, keys["accounts"][3])

    run = sync(link)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_message, list(run.issues.values()))
    assert run.reconciled is True
    entries = run.counts["entries"]
    assert (entries["created"], entries["updated"], entries["deleted"]) == (1, 1, 1)
    # "Unchanged": the documents the ledger kept as they were.
    assert entries["unchanged"] == Entry.objects.filter(client_file=link.client_file).count() - 2
    assert run.counts["accounts"]["deleted"] == 1
    assert_ledger_equals(link.client_file, company)

    run = sync(link)  # nothing changed since
    assert run.status == SyncRun.Status.SUCCEEDED
    assert all(not (c["created"] or c["updated"] or c["deleted"]) for c in run.counts.values()), run.counts


def test_the_engine_imports_only_the_provider_interface() -> None:
    tree = ast.parse((Path(__file__).parents[2] / "syncs" / "engine.py").read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert "providers" in imported  # from .providers import ... get_provider
    assert not [name for name in imported if "winbooks" in name], imported
