"""The client file's ledger as the sync writes and checks it, one module per job:

- ``streams``: the sync's vocabulary, the streams a run reads (declared once, read by everyone);
- ``rows``: the plain rows a provider's reader hands in, and the counts and rejections that come back;
- ``writer``: idempotent upserts (one generic one for master data, one for documents with their lines)
  and deletes;
- ``copy``: the PostgreSQL bulk toolkit (staged upserts, COPY, COPY text written by hand);
- ``balances``: per-period account balances, rebuilt in SQL or in Python;
- ``reads``: what the engine compares with the package (fingerprints, version and id lists, sums).

The models are in ``clients.models.ledger``; the pages' reads in ``clients.ledger_selectors``. Nothing
here knows any package's API: ``clients`` never imports ``syncs`` or ``winbooks``.
"""

from __future__ import annotations

from .balances import ledger_rebuild_balances
from .reads import (
    ledger_balance_sums,
    ledger_has_documents,
    ledger_ids_in_period,
    ledger_line_counts,
    ledger_master_fingerprint,
    ledger_master_versions,
    ledger_period_days,
    ledger_period_fingerprints,
)
from .rows import (
    AccountRow,
    EntryRow,
    EntryUpsertResult,
    FiscalYearRow,
    JournalRow,
    LineRow,
    MasterRow,
    PeriodRow,
    Rejected,
    RelationRow,
    UpsertCounts,
)
from .writer import (
    PreparedEntries,
    PreparedEntriesStale,
    RefMaps,
    ledger_delete_entries,
    ledger_delete_lines,
    ledger_delete_master,
    ledger_prepare_new_entries,
    ledger_refresh_statistics,
    ledger_upsert_entries,
    ledger_upsert_master,
    ledger_write_prepared_entries,
)

__all__ = [
    "AccountRow",
    "EntryRow",
    "EntryUpsertResult",
    "FiscalYearRow",
    "JournalRow",
    "LineRow",
    "MasterRow",
    "PeriodRow",
    "PreparedEntries",
    "PreparedEntriesStale",
    "RefMaps",
    "Rejected",
    "RelationRow",
    "UpsertCounts",
    "ledger_balance_sums",
    "ledger_delete_entries",
    "ledger_delete_lines",
    "ledger_delete_master",
    "ledger_has_documents",
    "ledger_ids_in_period",
    "ledger_line_counts",
    "ledger_master_fingerprint",
    "ledger_master_versions",
    "ledger_period_days",
    "ledger_period_fingerprints",
    "ledger_prepare_new_entries",
    "ledger_rebuild_balances",
    "ledger_refresh_statistics",
    "ledger_upsert_entries",
    "ledger_upsert_master",
    "ledger_write_prepared_entries",
]
