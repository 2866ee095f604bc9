"""Ledger and sync-run factories, and a small hand-made ledger whose trial balance is worked out by hand."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

import factory
from django.contrib.auth.models import User

from clients.ledger import ledger_rebuild_balances
from clients.models import Account, ClientFile, Entry, EntryLine, FiscalYear, Journal, Period, Relation
from syncs.models import ClientLink, Connection, PeriodCheck, SyncIssue, SyncRun
from tests.factories import ClientFileFactory


class FiscalYearFactory(factory.django.DjangoModelFactory[FiscalYear]):
    class Meta:
        model = FiscalYear

    client_file = factory.SubFactory(ClientFileFactory)
    wow_id = factory.LazyFunction(uuid.uuid4)
    code = "2024"
    label = ""
    start_date = dt.date(2024, 1, 1)
    end_date = dt.date(2024, 12, 31)


class PeriodFactory(factory.django.DjangoModelFactory[Period]):
    class Meta:
        model = Period

    client_file = factory.SubFactory(ClientFileFactory)
    wow_id = factory.LazyFunction(uuid.uuid4)
    number = 1
    year = 2024
    month = 1


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    class Meta:
        model = Account

    client_file = factory.SubFactory(ClientFileFactory)
    wow_id = factory.LazyFunction(uuid.uuid4)
    number = factory.Sequence(lambda n: f"{600000 + n}")
    name = factory.Sequence(lambda n: f"Account {n}")


class JournalFactory(factory.django.DjangoModelFactory[Journal]):
    class Meta:
        model = Journal

    client_file = factory.SubFactory(ClientFileFactory)
    wow_id = factory.LazyFunction(uuid.uuid4)
    code = "VEN"
    name = "Sales"


class RelationFactory(factory.django.DjangoModelFactory[Relation]):
    class Meta:
        model = Relation

    client_file = factory.SubFactory(ClientFileFactory)
    wow_id = factory.LazyFunction(uuid.uuid4)
    kind = Relation.Kind.CUSTOMER
    code = factory.Sequence(lambda n: f"C{n:03d}")
    name = factory.Sequence(lambda n: f"Customer {n}")


class ConnectionFactory(factory.django.DjangoModelFactory[Connection]):
    class Meta:
        model = Connection

    name = factory.Sequence(lambda n: f"WinbooksOnWeb {n}")
    status = Connection.Status.CONNECTED


class ClientLinkFactory(factory.django.DjangoModelFactory[ClientLink]):
    class Meta:
        model = ClientLink

    client_file = factory.SubFactory(ClientFileFactory)
    firm = factory.SelfAttribute("client_file.firm")
    connection = factory.SubFactory(ConnectionFactory, firm=factory.SelfAttribute("..firm"))
    company_code = factory.Sequence(lambda n: f"COMPANY{n}")


class SyncRunFactory(factory.django.DjangoModelFactory[SyncRun]):
    class Meta:
        model = SyncRun

    link = factory.SubFactory(ClientLinkFactory)
    client_file = factory.SelfAttribute("link.client_file")
    trigger = SyncRun.Trigger.SCHEDULE
    status = SyncRun.Status.SUCCEEDED


class PeriodCheckFactory(factory.django.DjangoModelFactory[PeriodCheck]):
    class Meta:
        model = PeriodCheck

    run = factory.SubFactory(SyncRunFactory)
    period_key = factory.SelfAttribute("period.key")
    ties_out = True


class SyncIssueFactory(factory.django.DjangoModelFactory[SyncIssue]):
    class Meta:
        model = SyncIssue

    run = factory.SubFactory(SyncRunFactory)
    entity = "document"
    code = "issue.line_unknown_account"
    params = factory.LazyFunction(lambda: {"line": 1})


def D(text: str) -> Decimal:  # reads like a literal in the expected tables
    return Decimal(text)


@dataclass
class SmallLedger:
    """Fiscal year 2024: an opening, a sale and a purchase in January, a payment and a second sale (with a
    sub-cent amount) in February, nothing in March or the closing period."""

    client_file: ClientFile
    fiscal_year: FiscalYear
    opening: Period
    january: Period
    february: Period
    march: Period
    closing: Period
    accounts: dict[str, Account]
    sale: Entry  # VEN 1: 400000 D 1,210.00 / 700000 C 1,000.00 / 451000 C 210.00
    customer: Relation

    @property
    def periods(self) -> list[Period]:
        return [self.opening, self.january, self.february, self.march, self.closing]


ACCOUNT_NAMES = {
    "100000": "Capital",
    "400000": "Customers",
    "440000": "Suppliers",
    "451000": "VAT payable",
    "550000": "Bank",
    "604000": "Purchases of goods",
    "700000": "Sales",
}

# The trial balances worked out by hand: (opening, debit, credit, closing) per account.
EXPECTED_JANUARY = {
    "100000": (D("-10000"), D("0"), D("0"), D("-10000")),
    "400000": (D("0"), D("1210"), D("0"), D("1210")),
    "440000": (D("0"), D("0"), D("500"), D("-500")),
    "451000": (D("0"), D("0"), D("210"), D("-210")),
    "550000": (D("10000"), D("0"), D("0"), D("10000")),
    "604000": (D("0"), D("500"), D("0"), D("500")),
    "700000": (D("0"), D("0"), D("1000"), D("-1000")),
}
EXPECTED_FEBRUARY = {
    "100000": (D("-10000"), D("0"), D("0"), D("-10000")),
    "400000": (D("1210"), D("1234.5678"), D("1210"), D("1234.5678")),
    "440000": (D("-500"), D("0"), D("0"), D("-500")),
    "451000": (D("-210"), D("0"), D("0"), D("-210")),
    "550000": (D("10000"), D("1210"), D("0"), D("11210")),
    "604000": (D("500"), D("0"), D("0"), D("500")),
    "700000": (D("-1000"), D("0"), D("1234.5678"), D("-2234.5678")),
}
EXPECTED_YEAR = {
    "100000": (D("-10000"), D("0"), D("0"), D("-10000")),
    "400000": (D("0"), D("2444.5678"), D("1210"), D("1234.5678")),
    "440000": (D("0"), D("0"), D("500"), D("-500")),
    "451000": (D("0"), D("0"), D("210"), D("-210")),
    "550000": (D("10000"), D("1210"), D("0"), D("11210")),
    "604000": (D("0"), D("500"), D("0"), D("500")),
    "700000": (D("0"), D("0"), D("2234.5678"), D("-2234.5678")),
}


def add_entry(
    client_file: ClientFile,
    period: Period,
    journal: Journal,
    doc_number: str,
    book_date: dt.date,
    lines: list[tuple[Account, str, str]],
    relation: Relation | None = None,
) -> Entry:
    """A document with its lines: (account, signed amount, description); + debit, - credit."""
    entry = Entry.objects.create(
        client_file=client_file,
        wow_id=uuid.uuid4(),
        journal=journal,
        period=period,
        doc_number=doc_number,
        book_date=book_date,
    )
    EntryLine.objects.bulk_create(
        EntryLine(
            client_file=client_file,
            wow_id=uuid.uuid4(),
            entry=entry,
            period=period,
            line_order=order,
            account=account,
            relation=relation if account.number.startswith(("400", "440")) else None,
            amount=Decimal(amount),
            description=description,
        )
        for order, (account, amount, description) in enumerate(lines)
    )
    return entry


def build_small_ledger(client_file: ClientFile) -> SmallLedger:
    fiscal_year = FiscalYearFactory.create(client_file=client_file, code="2024", label="2024")

    def period(number: int, month: int) -> Period:
        return PeriodFactory.create(
            client_file=client_file, fiscal_year=fiscal_year, number=number, year=2024, month=month
        )

    # Created out of order on purpose: the picker orders by year and number, not by id.
    closing, march, opening, february, january = (
        period(13, 12),
        period(3, 3),
        period(0, 1),
        period(2, 2),
        period(1, 1),
    )
    accounts = {
        number: AccountFactory.create(client_file=client_file, number=number, name=name)
        for number, name in ACCOUNT_NAMES.items()
    }
    a = accounts
    journals = {
        code: JournalFactory.create(client_file=client_file, code=code, name=name)
        for code, name in [("OD", "Miscellaneous"), ("VEN", "Sales"), ("ACH", "Purchases"), ("BNK", "Bank")]
    }
    customer = RelationFactory.create(client_file=client_file, code="C001", name="Acme NV")
    supplier = RelationFactory.create(
        client_file=client_file, kind=Relation.Kind.SUPPLIER, code="S001", name="Paper & Co"
    )
    add_entry(
        client_file,
        opening,
        journals["OD"],
        "1",
        dt.date(2024, 1, 1),
        [(a["550000"], "10000.00", "Opening: bank"), (a["100000"], "-10000.00", "Opening: capital")],
    )
    sale = add_entry(
        client_file,
        january,
        journals["VEN"],
        "1",
        dt.date(2024, 1, 15),
        [
            (a["400000"], "1210.00", "Invoice 1"),
            (a["700000"], "-1000.00", "Consulting"),
            (a["451000"], "-210.00", "VAT 21%"),
        ],
        relation=customer,
    )
    add_entry(
        client_file,
        january,
        journals["ACH"],
        "1",
        dt.date(2024, 1, 20),
        [(a["604000"], "500.00", "Paper"), (a["440000"], "-500.00", "Bill 77")],
        relation=supplier,
    )
    add_entry(
        client_file,
        february,
        journals["BNK"],
        "1",
        dt.date(2024, 2, 5),
        [(a["550000"], "1210.00", "Payment invoice 1"), (a["400000"], "-1210.00", "Payment invoice 1")],
        relation=customer,
    )
    add_entry(
        client_file,
        february,
        journals["VEN"],
        "2",
        dt.date(2024, 2, 10),
        [(a["400000"], "1234.5678", "Invoice 2"), (a["700000"], "-1234.5678", "Licences")],
        relation=customer,
    )
    ledger_rebuild_balances(
        client_file_id=client_file.pk, period_ids=[p.pk for p in (opening, january, february, march, closing)]
    )
    return SmallLedger(
        client_file=client_file,
        fiscal_year=fiscal_year,
        opening=opening,
        january=january,
        february=february,
        march=march,
        closing=closing,
        accounts=accounts,
        sale=sale,
        customer=customer,
    )


def make_run(
    client_file: ClientFile,
    *,
    status: str = SyncRun.Status.SUCCEEDED,
    requested_by: User | None = None,
    minutes_ago: int = 0,
    **fields: object,
) -> SyncRun:
    """A run of the client file's link (created when missing), queued ``minutes_ago`` minutes ago."""
    from django.utils import timezone

    link = ClientLink.objects.filter(client_file=client_file, unlinked_at__isnull=True).first()
    if link is None:
        link = ClientLinkFactory.create(client_file=client_file)
    run = SyncRunFactory.create(link=link, status=status, requested_by=requested_by, **fields)
    queued_at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    SyncRun.objects.filter(pk=run.pk).update(queued_at=queued_at)
    run.refresh_from_db()
    return run
