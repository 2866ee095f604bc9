"""Read-side queries of a client file's ledger for its pages: the trial balance, an account's lines, a
document.

Every function takes the client file and looks everything up within it, so the id of another client
file's period, account or document finds nothing (the views answer 404) instead of that file's data. Each
page's data comes in a fixed number of queries, however many accounts or lines the ledger holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import (
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.expressions import RowRange
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .models import Account, AccountBalance, ClientFile, Entry, EntryLine, FiscalYear, Period

ZERO = Decimal(0)
# The value of the period picker that stands for a whole fiscal year: "fy-<FiscalYear pk>".
FISCAL_YEAR_PREFIX = "fy-"
LINES_PER_PAGE = 100
AMOUNT = DecimalField(max_digits=19, decimal_places=4)


@dataclass(frozen=True)
class LedgerScope:
    """What a trial balance or an account's lines cover: one period, or one whole fiscal year.

    A fiscal year reads as accountants expect: the opening period's bookings are the opening balance, the
    periods 1 to 13 are the year's movement.
    """

    period: Period | None = None
    fiscal_year: FiscalYear | None = None

    @property
    def value(self) -> str:
        """The scope as the period picker and the URLs name it."""
        if self.fiscal_year is not None:
            return f"{FISCAL_YEAR_PREFIX}{self.fiscal_year.pk}"
        assert self.period is not None
        return self.period.key

    @property
    def label(self) -> str:
        if self.fiscal_year is not None:
            return _("Fiscal year %(year)s") % {"year": self.fiscal_year.display_name}
        assert self.period is not None
        return self.period.display_name

    @property
    def file_label(self) -> str:
        """The scope in a download's file name."""
        if self.fiscal_year is not None:
            return f"FY-{self.fiscal_year.code or self.fiscal_year.pk}"
        assert self.period is not None
        return self.period.key


@dataclass(frozen=True)
class PeriodGroup:
    """The periods of one fiscal year, as one group of the period picker."""

    fiscal_year: FiscalYear | None
    periods: list[Period]

    @property
    def label(self) -> str:
        if self.fiscal_year is None:
            return _("Periods without a fiscal year")
        return _("Fiscal year %(year)s") % {"year": self.fiscal_year.display_name}

    @property
    def whole_year_value(self) -> str:
        return f"{FISCAL_YEAR_PREFIX}{self.fiscal_year.pk}" if self.fiscal_year else ""


def period_groups_for_picker(*, client_file: ClientFile) -> list[PeriodGroup]:
    """The client file's periods ordered by year and number, grouped by fiscal year (oldest first)."""
    groups: dict[int | None, PeriodGroup] = {}
    periods = (
        Period.objects.filter(client_file=client_file)
        .select_related("fiscal_year")
        .order_by("year", "number", "pk")
    )
    for period in periods:
        group = groups.get(period.fiscal_year_id)
        if group is None:
            group = groups[period.fiscal_year_id] = PeriodGroup(fiscal_year=period.fiscal_year, periods=[])
        group.periods.append(period)
    # Fiscal years in the order of their first period; loose periods (their year was removed) last.
    return sorted(
        groups.values(), key=lambda g: (g.fiscal_year is None, g.periods[0].year, g.periods[0].number)
    )


def ledger_scope_resolve(
    *, client_file: ClientFile, value: str, groups: Iterable[PeriodGroup]
) -> LedgerScope | None:
    """The scope the picker's ``value`` names, among the client file's own periods and fiscal years.

    An empty value means the most recent period with bookings (balances are carried forward into every
    later period of the year, so "has balances" would pick the empty closing period), else the last
    period; a value the client file does not have answers None.
    """
    periods = [period for group in groups for period in group.periods]
    if not value:
        # Period by period from the newest, each a probe of the (client file, period) index that stops at
        # its first booked balance: not a sort of every balance of the file (140,000 at 2,000 accounts).
        booked = AccountBalance.objects.filter(
            client_file=client_file, period=OuterRef("pk"), line_count__gt=0
        )
        latest = (
            Period.objects.filter(Exists(booked), client_file=client_file)
            .order_by("-year", "-number", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
        chosen = next((p for p in periods if p.pk == latest), periods[-1] if periods else None)
        return LedgerScope(period=chosen) if chosen else None
    if value.startswith(FISCAL_YEAR_PREFIX):
        wanted = value.removeprefix(FISCAL_YEAR_PREFIX)
        for period in periods:
            if period.fiscal_year is not None and str(period.fiscal_year.pk) == wanted:
                return LedgerScope(fiscal_year=period.fiscal_year)
        return None
    return next((LedgerScope(period=p) for p in periods if p.key == value), None)


def periods_in_scope(*, scope: LedgerScope, groups: Iterable[PeriodGroup]) -> list[Period]:
    """The periods a scope shows: the one period, or every period of the fiscal year (opening included)."""
    if scope.fiscal_year is None:
        return [scope.period] if scope.period is not None else []
    return [p for g in groups if g.fiscal_year == scope.fiscal_year for p in g.periods]


def _scope_periods(scope: LedgerScope) -> Q:
    """The periods whose movement the scope shows (a fiscal year's opening period is its opening)."""
    if scope.fiscal_year is not None:
        return Q(period__fiscal_year=scope.fiscal_year, period__number__gte=1)
    return Q(period=scope.period)


@dataclass(frozen=True)
class TrialBalanceRow:
    account_id: int
    number: str
    name: str
    opening: Decimal
    debit: Decimal
    credit: Decimal
    closing: Decimal


@dataclass
class TrialBalance:
    scope: LedgerScope
    rows: list[TrialBalanceRow] = field(default_factory=list)
    opening: Decimal = ZERO
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    closing: Decimal = ZERO

    @property
    def movement_difference(self) -> Decimal:
        """Debit total - credit total: zero when every document booked in the scope balances."""
        return self.debit - self.credit

    @property
    def ties_out(self) -> bool:
        """Debits equal credits and the closing balances add up to zero."""
        return self.movement_difference == ZERO and self.closing == ZERO


def trial_balance(
    *, client_file: ClientFile, scope: LedgerScope, account_id: int | None = None
) -> TrialBalance:
    """The scope's trial balance from the stored balances, ordered by account number (one query).

    For a period the balance rows are read as they are; for a fiscal year they are summed per account:
    opening = the opening period's movement, debit and credit = the sums of periods 1 to 13,
    closing = opening + debit - credit.
    """
    language = get_language() or ""  # once: per row, looking it up cost more than the row (2,000 rows)
    balances = AccountBalance.objects.filter(client_file=client_file)
    if account_id is not None:
        balances = balances.filter(account_id=account_id)
    if scope.fiscal_year is not None:
        in_year = balances.filter(period__fiscal_year=scope.fiscal_year)
        opening_period = Q(period__number=0)
        movement_periods = Q(period__number__gte=1)
        raw = (
            in_year.values("account_id", "account__number", "account__name", "account__name_alt")
            .annotate(
                opening_sum=Sum(F("debit") - F("credit"), filter=opening_period, default=ZERO),
                debit_sum=Sum("debit", filter=movement_periods, default=ZERO),
                credit_sum=Sum("credit", filter=movement_periods, default=ZERO),
            )
            .order_by("account__number", "account_id")
        )
        rows = [
            TrialBalanceRow(
                account_id=r["account_id"],
                number=r["account__number"],
                name=Account.name_for(language, r["account__name"], r["account__name_alt"]),
                opening=r["opening_sum"],
                debit=r["debit_sum"],
                credit=r["credit_sum"],
                closing=r["opening_sum"] + r["debit_sum"] - r["credit_sum"],
            )
            for r in raw
        ]
    else:
        rows = [
            TrialBalanceRow(
                account_id=account_pk,
                number=number,
                name=Account.name_for(language, name, name_alt),
                opening=opening,
                debit=debit,
                credit=credit,
                closing=closing,
            )
            for account_pk, number, name, name_alt, opening, debit, credit, closing in balances.filter(
                period=scope.period
            )
            .order_by("account__number", "account_id")
            .values_list(
                "account_id",
                "account__number",
                "account__name",
                "account__name_alt",
                "opening",
                "debit",
                "credit",
                "closing",
            )
        ]
    result = TrialBalance(scope=scope, rows=rows)
    for row in rows:
        result.opening += row.opening
        result.debit += row.debit
        result.credit += row.credit
        result.closing += row.closing
    return result


def account_get(*, client_file: ClientFile, account_id: int) -> Account | None:
    return Account.objects.filter(client_file=client_file, pk=account_id).first()


def account_totals(*, client_file: ClientFile, account: Account, scope: LedgerScope) -> TrialBalanceRow:
    """The account's line of the scope's trial balance; zeros when nothing moved it and nothing was
    brought forward."""
    rows = trial_balance(client_file=client_file, scope=scope, account_id=account.pk).rows
    if rows:
        return rows[0]
    return TrialBalanceRow(
        account_id=account.pk,
        number=account.number,
        name=account.localized_name,
        opening=ZERO,
        debit=ZERO,
        credit=ZERO,
        closing=ZERO,
    )


def account_lines_page(
    *,
    client_file: ClientFile,
    account: Account,
    scope: LedgerScope,
    opening: Decimal,
    page_number: str | int | None,
) -> Page[EntryLine]:
    """One page of the account's lines in the scope, in booking order, each annotated with
    ``running_balance``: the opening balance plus every line of the scope up to and including it.

    The running sum is a window over all the scope's lines, computed before the page is cut, so it is
    right on every page without reading the earlier ones (one query for the count, one for the page).
    """
    booking_order = [
        F("entry__book_date").asc(nulls_last=True),
        F("entry_id").asc(),
        F("line_order").asc(),
        F("pk").asc(),
    ]
    running_sum = Window(Sum("amount"), order_by=booking_order, frame=RowRange(start=None, end=0))
    lines: QuerySet[EntryLine] = (
        EntryLine.objects.filter(client_file=client_file, account=account)
        .filter(_scope_periods(scope))
        .select_related("entry", "entry__journal", "relation")
        .annotate(
            running_balance=ExpressionWrapper(
                Value(opening, output_field=AMOUNT) + running_sum, output_field=AMOUNT
            )
        )
        .order_by(*booking_order)
    )
    return Paginator(lines, LINES_PER_PAGE).get_page(page_number)


@dataclass(frozen=True)
class EntryWithLines:
    entry: Entry
    lines: list[EntryLine]
    debit: Decimal
    credit: Decimal

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit

    @property
    def difference(self) -> Decimal:
        return self.debit - self.credit


def entry_get_with_lines(*, client_file: ClientFile, entry_id: int) -> EntryWithLines | None:
    """A document of the client file with all its lines and their debit and credit totals (two queries)."""
    entry = (
        Entry.objects.filter(client_file=client_file, pk=entry_id)
        .select_related("journal", "period", "period__fiscal_year")
        .first()
    )
    if entry is None:
        return None
    lines = list(
        EntryLine.objects.filter(client_file=client_file, entry=entry)
        .select_related("account", "relation", "period")
        .order_by("line_order", "pk")
    )
    debit = sum((line.debit for line in lines), ZERO)
    credit = sum((line.credit for line in lines), ZERO)
    return EntryWithLines(entry=entry, lines=lines, debit=debit, credit=credit)
