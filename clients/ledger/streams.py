"""The sync's vocabulary, declared once: the streams a run reads, in the order it reads them.

Each stream names one kind of ledger row. The provider's reader knows where its package keeps it, the
engine reads the streams in this order and writes master data through one generic upsert (documents
through their own), the run pages take their labels from here, and an issue names its entity with a
stream's ``entity``. Master data come first: documents refer to all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ..models import Account, Entry, FiscalYear, Journal, Period, Relation
from .rows import AccountRow, EntryRow, FiscalYearRow, JournalRow, PeriodRow, RelationRow


@dataclass(frozen=True)
class Stream:
    key: str  # in cursors, a run's counts and progress, and the readers' plans: never changes
    entity: str  # what an issue about one of its rows names (SyncIssue.entity)
    label: str | Promise  # "Fiscal years": a run's counts
    entity_label: str | Promise  # "Fiscal year": an issue's entity, on the run page
    reading: str | Promise  # "Reading fiscal years": the live status
    model: type[models.Model]
    row_type: type
    is_master: bool  # master data (one generic upsert, fingerprinted per stream) or documents (facts)
    relation_kind: str = ""  # customers and suppliers share one table, told apart by Relation.kind

    def __str__(self) -> str:
        return self.key


FISCAL_YEARS = Stream(
    key="fiscal_years",
    entity="fiscal year",
    label=_("Fiscal years"),
    entity_label=_("Fiscal year"),
    reading=_("Reading fiscal years"),
    model=FiscalYear,
    row_type=FiscalYearRow,
    is_master=True,
)

PERIODS = Stream(
    key="periods",
    entity="period",
    label=_("Periods"),
    entity_label=_("Period"),
    reading=_("Reading periods"),
    model=Period,
    row_type=PeriodRow,
    is_master=True,
)

JOURNALS = Stream(
    key="journals",
    entity="journal",
    label=_("Journals"),
    entity_label=_("Journal"),
    reading=_("Reading journals"),
    model=Journal,
    row_type=JournalRow,
    is_master=True,
)

ACCOUNTS = Stream(
    key="accounts",
    entity="account",
    label=_("Accounts"),
    entity_label=_("Account"),
    reading=_("Reading accounts"),
    model=Account,
    row_type=AccountRow,
    is_master=True,
)

CUSTOMERS = Stream(
    key="customers",
    entity="customer",
    label=_("Customers"),
    entity_label=_("Customer"),
    reading=_("Reading customers"),
    model=Relation,
    row_type=RelationRow,
    is_master=True,
    relation_kind=Relation.Kind.CUSTOMER,
)

SUPPLIERS = Stream(
    key="suppliers",
    entity="supplier",
    label=_("Suppliers"),
    entity_label=_("Supplier"),
    reading=_("Reading suppliers"),
    model=Relation,
    row_type=RelationRow,
    is_master=True,
    relation_kind=Relation.Kind.SUPPLIER,
)

ENTRIES = Stream(
    key="entries",
    entity="document",
    label=_("Documents"),
    entity_label=_("Document"),
    reading=_("Reading documents"),
    model=Entry,
    row_type=EntryRow,
    is_master=False,
)

STREAMS: tuple[Stream, ...] = (FISCAL_YEARS, PERIODS, JOURNALS, ACCOUNTS, CUSTOMERS, SUPPLIERS, ENTRIES)
MASTER_STREAMS: tuple[Stream, ...] = tuple(stream for stream in STREAMS if stream.is_master)
STREAM_BY_KEY: dict[str, Stream] = {stream.key: stream for stream in STREAMS}

# A run counts documents' lines too (written with their documents, not a stream of their own).
LINES_KEY = "lines"
LINES_LABEL = _("Document lines")

# What a run counts, in reading order, with the names accountants use.
COUNT_LABELS: dict[str, str | Promise] = {
    **{stream.key: stream.label for stream in STREAMS},
    LINES_KEY: LINES_LABEL,
}
# An issue's entity, as the run page names it.
ENTITY_LABELS: dict[str, str | Promise] = {stream.entity: stream.entity_label for stream in STREAMS}


def stream(key: str) -> Stream:
    """The stream of this key (KeyError for one that does not exist)."""
    return STREAM_BY_KEY[key]
