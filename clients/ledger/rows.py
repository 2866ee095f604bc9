"""The ledger's plain rows: what a provider's reader hands the engine, and what the writer reports back.

A row carries the package's own id (``wow_id``) and version; references to other rows are the package's ids
too (``*_wow_id``), which the writer turns into the ledger's keys. Nothing here knows any package's API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


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


# The master-data rows: after ``wow_id`` and ``version``, each field is named like its model's field, and a
# ``<name>_wow_id`` field is a reference to the ``<name>`` relation (see writer.ledger_upsert_master).
MasterRow = FiscalYearRow | PeriodRow | AccountRow | JournalRow | RelationRow


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
    """A record the ledger could not take in as it is; it becomes an issue on the run. ``entity`` is a
    stream's ``entity`` (streams.py), so every issue names what it is about the same way."""

    entity: str
    wow_id: str
    reference: str
    # What is wrong, as a notice code and its parameters (silverfin_sync/notices.py), worded when read.
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class EntryUpsertResult:
    entries: UpsertCounts = field(default_factory=UpsertCounts)
    lines: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)
    touched_period_ids: set[int] = field(default_factory=set)
    # (period, account) pairs whose lines changed: what the run's proof must compare account by account.
    touched_accounts: set[tuple[int, int | None]] = field(default_factory=set)

    def add(self, other: EntryUpsertResult) -> None:
        self.entries.add(other.entries)
        self.lines.add(other.lines)
        self.rejected.extend(other.rejected)
        self.touched_period_ids |= other.touched_period_ids
        self.touched_accounts |= other.touched_accounts
