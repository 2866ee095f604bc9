"""What the sync engine reads of the ledger to compare it with the package: fingerprints, version lists,
id lists, and the balances' per-account sums. (The pages' reads are in clients/ledger_selectors.py.)"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.db.models import BigIntegerField, Count, Func, Q, Sum

from ..models import AccountBalance, Entry, EntryLine
from .streams import Stream

# Amounts are stored with four decimals (clients/models/ledger.py).
AMOUNT_DECIMALS = 4
AMOUNT_UNITS = 10**AMOUNT_DECIMALS


def master_rows(*, client_file_id: int, stream: Stream) -> models.QuerySet[Any]:
    """The client file's rows of one master-data stream (customers and suppliers share a table)."""
    rows = stream.model._default_manager.filter(client_file_id=client_file_id)
    return rows.filter(kind=stream.relation_kind) if stream.relation_kind else rows


def ledger_master_versions(*, client_file_id: int, stream: Stream) -> dict[uuid.UUID, int]:
    """``wow_id → version`` of one kind of master data, to diff with the package's list."""
    return dict(
        master_rows(client_file_id=client_file_id, stream=stream).values_list("wow_id", "wow_version")
    )


def ledger_master_fingerprint(*, client_file_id: int, stream: Stream) -> tuple[int, int]:
    """(number of rows, sum of their versions): what the package's own count and version sum should equal."""
    totals = master_rows(client_file_id=client_file_id, stream=stream).aggregate(
        rows=Count("pk"), versions=Sum("wow_version")
    )
    return (int(totals["rows"] or 0), int(totals["versions"] or 0))


def ledger_period_fingerprints(
    *, client_file_id: int, period_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, Decimal, int, int]]:
    """Per period: (number of debit lines, sum of debits, number of documents, sum of the documents'
    versions), to compare with the package's own aggregates and find the periods where something was
    deleted, is missing or changed without the changed-since read seeing it. With
    ``period_ids``, only those periods (a re-check after a repair need not aggregate the whole ledger)."""
    lines_qs = EntryLine.objects.filter(client_file_id=client_file_id, amount__gt=0)
    entries_qs = Entry.objects.filter(client_file_id=client_file_id)
    if period_ids is not None:
        wanted = list(period_ids)
        lines_qs, entries_qs = lines_qs.filter(period_id__in=wanted), entries_qs.filter(period_id__in=wanted)
    result: dict[int, tuple[int, Decimal, int, int]] = {}
    if connection.vendor == "sqlite":
        # SQLite sums decimals as floats (81746.6500000001 for WoW's 81746.65): every period would look
        # changed and be re-read on every sync. Summed as whole ten-thousandths (the amounts' four
        # decimals), the total is exact.
        units = Sum(
            Func(
                "amount",
                template=f"CAST(ROUND(%(expressions)s * {AMOUNT_UNITS}) AS INTEGER)",
                output_field=BigIntegerField(),
            )
        )
        for row in lines_qs.values("period_id").annotate(lines=Count("pk"), units=units):
            debit = Decimal(row["units"] or 0).scaleb(-AMOUNT_DECIMALS)
            result[row["period_id"]] = (row["lines"], debit, 0, 0)
    else:
        for period_id, lines, debit_total in (
            lines_qs.values("period_id")
            .annotate(lines=Count("pk"), debit_total=Sum("amount"))
            .values_list("period_id", "lines", "debit_total")
        ):
            result[period_id] = (lines, debit_total, 0, 0)
    for entry_row in entries_qs.values("period_id").annotate(
        entry_count=Count("pk"), version_total=Sum("wow_version")
    ):
        lines, debit, _, _ = result.get(entry_row["period_id"], (0, Decimal(0), 0, 0))
        result[entry_row["period_id"]] = (
            lines,
            debit,
            entry_row["entry_count"],
            entry_row["version_total"] or 0,
        )
    return result


def ledger_has_documents(*, client_file_id: int) -> bool:
    return Entry.objects.filter(client_file_id=client_file_id).exists()


def ledger_line_counts(*, client_file_id: int, period_ids: Iterable[int]) -> dict[int, int]:
    """Per period: the number of lines (one small aggregate, for the run's per-period checks)."""
    return dict(
        EntryLine.objects.filter(client_file_id=client_file_id, period_id__in=list(period_ids))
        .values("period_id")
        .annotate(lines=Count("pk"))
        .values_list("period_id", "lines")
    )


def ledger_balance_sums(
    *, client_file_id: int, period_ids: Iterable[int], account_ids: Iterable[int] | None = None
) -> dict[tuple[int, int], tuple[int, Decimal]]:
    """Per (period, account) with lines: their number and signed sum, as the trial balance shows them (the
    balance rows the sync rebuilt): what the lines sum to once balances are current, without aggregating
    the lines again."""
    balances = AccountBalance.objects.filter(
        client_file_id=client_file_id, period_id__in=list(period_ids), line_count__gt=0
    )
    if account_ids is not None:
        balances = balances.filter(account_id__in=list(account_ids))
    return {
        (period, account): (lines, debit - credit)
        for period, account, lines, debit, credit in balances.values_list(
            "period_id", "account_id", "line_count", "debit", "credit"
        )
    }


def ledger_period_days(*, client_file_id: int, period_id: int) -> dict[dt.date | None, tuple[int, int]]:
    """Per booking date in one period: (documents, sum of their versions), to compare with the package's."""
    return {
        row["book_date"]: (row["documents"], row["versions"] or 0)
        for row in Entry.objects.filter(client_file_id=client_file_id, period_id=period_id)
        .values("book_date")
        .annotate(documents=Count("pk"), versions=Sum("wow_version"))
    }


def ledger_ids_in_period(
    *,
    client_file_id: int,
    period_id: int,
    book_dates: Iterable[dt.date | None] | None = None,
    with_lines: bool = True,
) -> tuple[dict[uuid.UUID, int], set[uuid.UUID]]:
    """The documents (``wow_id → version``) and the line ids the ledger holds in one period (only the
    documents booked on ``book_dates`` when given; no line ids unless ``with_lines``: a large period has
    tens of thousands)."""
    documents = Entry.objects.filter(client_file_id=client_file_id, period_id=period_id)
    if book_dates is not None:
        days = list(book_dates)
        on_days = Q(book_date__in=[d for d in days if d is not None])
        if None in days:
            on_days |= Q(book_date__isnull=True)
        documents = documents.filter(on_days)
    entries = dict(documents.values_list("wow_id", "wow_version"))
    if not with_lines:
        return entries, set()
    lines = set(
        EntryLine.objects.filter(client_file_id=client_file_id, period_id=period_id).values_list(
            "wow_id", flat=True
        )
    )
    return entries, lines
