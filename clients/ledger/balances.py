"""Per-period account balances: rebuilt from the lines after a run's writes, in SQL on PostgreSQL and in
Python elsewhere (the two twins below compute the same rows; tests hold them to it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from ..models import AccountBalance, EntryLine, Period
from .copy import BALANCE_COLUMNS, write_rows


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
    write_rows(AccountBalance, BALANCE_COLUMNS, balances, update=None)
    return len(balances)
