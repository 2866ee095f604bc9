"""Comparing a client file's ledger with the sandbox's own data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from clients.models import ClientFile, Entry, EntryLine


def ledger_state(client_file: ClientFile) -> dict[str, Any]:
    sums = {
        (str(row["period__wow_id"]), str(row["account__wow_id"])): (row["lines"], row["total"].normalize())
        for row in EntryLine.objects.filter(client_file=client_file)
        .values("period__wow_id", "account__wow_id")
        .annotate(lines=Count("pk"), total=Sum("amount"))
    }
    return {
        "sums": sums,
        "entries": {
            str(i) for i in Entry.objects.filter(client_file=client_file).values_list("wow_id", flat=True)
        },
        "lines": {
            str(i) for i in EntryLine.objects.filter(client_file=client_file).values_list("wow_id", flat=True)
        },
    }


def sandbox_state(snapshot: dict[str, Any]) -> dict[str, Any]:
    sums = {
        (row["BookPeriod_Id"], row["GLAccount_Id"]): (row["Count"], Decimal(row["Sum"]).normalize())
        for row in snapshot["sums"]
    }
    return {
        "sums": sums,
        "entries": {doc["Id"] for doc in snapshot["documents"]},
        "lines": {line["Id"] for doc in snapshot["documents"] for line in doc["GLTransactions"]},
    }


def assert_ledger_equals_sandbox(client_file: ClientFile, snapshot: dict[str, Any]) -> None:
    ours, theirs = ledger_state(client_file), sandbox_state(snapshot)
    assert ours["entries"] == theirs["entries"]
    assert ours["lines"] == theirs["lines"]
    assert ours["sums"] == theirs["sums"]
