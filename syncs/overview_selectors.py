"""The firm overview's reads: every client file the user may see with its sync state, counted per state,
searched, filtered, sorted and paged, in a fixed number of queries whatever the number of files.

A file's state is worked out by the database (``file_status`` below), so the chips count, the filters
narrow and the sort orders with the same rule the rows show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clients.access import FirmAccess
from clients.models import ClientFile
from clients.selectors import client_file_list_visible

from .models import ChangeAlert, Connection, SyncRun

FILES_PER_PAGE = 50


class FileStatus(StrEnum):
    """Where a client file stands, from the user's point of view (the words of the overview)."""

    RUNNING = "running"
    QUEUED = "queued"
    NEEDS_RECONNECT = "needs_reconnect"
    FAILED = "failed"
    ISSUES = "issues"
    NEVER_SYNCED = "never_synced"
    NOT_LINKED = "not_linked"
    IN_STEP = "in_step"
    ARCHIVED = "archived"  # no syncs; out of every chip but its own


STATUS_LABELS = {
    FileStatus.IN_STEP: _("In step"),
    FileStatus.ISSUES: _("Synced with issues"),
    FileStatus.FAILED: _("Failed"),
    FileStatus.RUNNING: _("Running"),
    FileStatus.QUEUED: _("Queued"),
    FileStatus.NEEDS_RECONNECT: _("Needs reconnecting"),
    FileStatus.NOT_LINKED: _("Not linked"),
    FileStatus.NEVER_SYNCED: _("Never synced"),
    FileStatus.ARCHIVED: _("Archived"),
}
# A sign next to the words (never instead of them): the words carry the meaning, the sign the glance.
STATUS_ICONS = {
    FileStatus.IN_STEP: "✓",
    FileStatus.ISSUES: "!",
    FileStatus.FAILED: "✗",
    FileStatus.RUNNING: "⟳",
    FileStatus.QUEUED: "◷",
    FileStatus.NEEDS_RECONNECT: "⚠",
    FileStatus.NOT_LINKED: "–",
    FileStatus.NEVER_SYNCED: "○",
    FileStatus.ARCHIVED: "▫",
}
# The CSS tone of each state (the badge colours of the rest of the portal).
STATUS_TONES = {
    FileStatus.IN_STEP: "ok",
    FileStatus.ISSUES: "warn",
    FileStatus.FAILED: "bad",
    FileStatus.RUNNING: "info",
    FileStatus.QUEUED: "info",
    FileStatus.NEEDS_RECONNECT: "bad",
    FileStatus.NOT_LINKED: "neutral",
    FileStatus.NEVER_SYNCED: "neutral",
    FileStatus.ARCHIVED: "neutral",
}
ACTIVE_STATUSES = frozenset({FileStatus.RUNNING, FileStatus.QUEUED})


@dataclass(frozen=True)
class Chip:
    """A filter at the top of the overview: its key in the URL, its words and the states it gathers."""

    key: str
    label: Any
    statuses: frozenset[FileStatus] | None  # None: every file
    # Or, instead of states, a yes/no the database works out per file (an annotation of with_sync_state).
    flag: str = ""


CHIPS = (
    # "All" is every file still worked on: archived ones have a chip of their own.
    Chip("all", pgettext_lazy("client files", "All"), frozenset(FileStatus) - {FileStatus.ARCHIVED}),
    Chip(
        "attention",
        _("Needs attention"),
        frozenset({FileStatus.FAILED, FileStatus.ISSUES, FileStatus.NEEDS_RECONNECT}),
    ),
    Chip("failed", _("Failed"), frozenset({FileStatus.FAILED})),
    Chip("issues", _("With issues"), frozenset({FileStatus.ISSUES})),
    Chip("needs_reconnect", _("Needs reconnecting"), frozenset({FileStatus.NEEDS_RECONNECT})),
    Chip("running", _("Running or queued"), frozenset({FileStatus.RUNNING, FileStatus.QUEUED})),
    Chip("in_step", _("In step"), frozenset({FileStatus.IN_STEP})),
    Chip("never_synced", _("Never synced"), frozenset({FileStatus.NEVER_SYNCED})),
    Chip("not_linked", _("Not linked"), frozenset({FileStatus.NOT_LINKED})),
    Chip("archived", _("Archived"), frozenset({FileStatus.ARCHIVED})),
    # Whatever its sync state: a file whose syncs changed closed periods and nobody accepted it yet.
    Chip("closed_changes", _("Changes in closed periods"), None, flag="closed_changes"),
)
CHIPS_BY_KEY = {chip.key: chip for chip in CHIPS}

# Worst first: the order of "sort by status".
_STATUS_RANK = [
    FileStatus.NEEDS_RECONNECT,
    FileStatus.FAILED,
    FileStatus.ISSUES,
    FileStatus.RUNNING,
    FileStatus.QUEUED,
    FileStatus.NEVER_SYNCED,
    FileStatus.NOT_LINKED,
    FileStatus.IN_STEP,
    FileStatus.ARCHIVED,
]

SORTS: dict[str, tuple[Any, list[Any]]] = {
    "name": (_("Name"), ["name", "pk"]),
    "last_sync": (
        _("Last sync"),
        [F("last_success_at").desc(nulls_last=True), "name", "pk"],
    ),
    "status": (_("Status"), ["status_rank", "name", "pk"]),
}
DEFAULT_SORT = "name"


def with_sync_state(files: QuerySet[ClientFile]) -> QuerySet[ClientFile]:
    """Client files with their active link (company code, connection, last success, next sync), the link's
    latest run (id, status, error class, end) and their state (``status``, ``status_rank``), all in the one
    query: joins only (the link's ``latest_run`` is kept by the database), so counting, filtering and
    sorting 5,000 files by state costs a scan, not a subquery per file and per use."""
    return (
        files.annotate(active_link=FilteredRelation("links", condition=Q(links__unlinked_at__isnull=True)))
        .annotate(
            link_id=F("active_link__pk"),
            company_code=F("active_link__company_code"),
            connection_id=F("active_link__connection_id"),
            connection_name=F("active_link__connection__name"),
            connection_status=F("active_link__connection__status"),
            last_success_at=F("active_link__last_success_at"),
            next_sync_at=F("active_link__next_sync_at"),
            latest_run_id=F("active_link__latest_run_id"),
            latest_run_status=F("active_link__latest_run__status"),
            latest_error=F("active_link__latest_run__error_class"),
            latest_finished_at=F("active_link__latest_run__finished_at"),
            closed_changes=Exists(
                ChangeAlert.objects.filter(client_file=OuterRef("pk"), status=ChangeAlert.Status.OPEN)
            ),
        )
        .annotate(status=_status_expression())
        .annotate(
            status_rank=Case(
                *(When(status=status.value, then=Value(rank)) for rank, status in enumerate(_STATUS_RANK)),
                output_field=IntegerField(),
            )
        )
    )


def _status_expression() -> Case:
    run = "latest_run_status"
    return Case(
        When(archived_at__isnull=False, then=Value(FileStatus.ARCHIVED.value)),
        When(link_id__isnull=True, then=Value(FileStatus.NOT_LINKED.value)),
        When(**{run: SyncRun.Status.RUNNING}, then=Value(FileStatus.RUNNING.value)),
        When(**{run: SyncRun.Status.QUEUED}, then=Value(FileStatus.QUEUED.value)),
        When(~Q(connection_status=Connection.Status.CONNECTED), then=Value(FileStatus.NEEDS_RECONNECT.value)),
        When(**{f"{run}__isnull": True}, then=Value(FileStatus.NEVER_SYNCED.value)),
        When(**{run: SyncRun.Status.FAILED}, then=Value(FileStatus.FAILED.value)),
        When(**{run: SyncRun.Status.SUCCEEDED_WITH_ISSUES}, then=Value(FileStatus.ISSUES.value)),
        default=Value(FileStatus.IN_STEP.value),
        output_field=CharField(),
    )


@dataclass(frozen=True)
class OverviewFilter:
    """What the URL asks for: a chip, a search, one connection, an order and a page. Anything unknown in
    the URL falls back to the default (a shared link with a stale value still opens the overview)."""

    chip: str = "all"
    search: str = ""
    connection_id: int | None = None
    sort: str = DEFAULT_SORT
    page: str = "1"

    @classmethod
    def from_query(cls, query: Any) -> OverviewFilter:
        chip = query.get("status", "all")
        sort = query.get("sort", DEFAULT_SORT)
        connection = query.get("connection", "")
        return cls(
            chip=chip if chip in CHIPS_BY_KEY else "all",
            search=" ".join(str(query.get("q", "")).split())[:100],
            connection_id=int(connection) if str(connection).isdigit() and len(connection) < 19 else None,
            sort=sort if sort in SORTS else DEFAULT_SORT,
            page=str(query.get("page", "1"))[:10],
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-default parameters of this filter (with ``changes``), for links that keep the rest."""
        values = {
            "status": self.chip,
            "q": self.search,
            "connection": self.connection_id,
            "sort": self.sort,
            **changes,
        }
        defaults = {"status": "all", "q": "", "connection": None, "sort": DEFAULT_SORT}
        return {key: str(value) for key, value in values.items() if value != defaults.get(key)}


def _searched(files: QuerySet[ClientFile], flt: OverviewFilter) -> QuerySet[ClientFile]:
    if flt.connection_id is not None:
        files = files.filter(Q(connection_id=flt.connection_id))
    if flt.search:
        files = files.filter(
            Q(name__icontains=flt.search)
            | Q(file_code__icontains=flt.search)
            | Q(company_code__icontains=flt.search)
        )
    return files


def overview_files_matching(*, access: FirmAccess, flt: OverviewFilter) -> QuerySet[ClientFile]:
    """Every visible file the filter selects (all pages): what "Sync all N matching" acts on."""
    files = _searched(with_sync_state(client_file_list_visible(access=access)), flt)
    chip = CHIPS_BY_KEY[flt.chip]
    if chip.flag:
        return files.filter(Q(**{chip.flag: True}))
    statuses = chip.statuses
    if statuses is not None:
        files = files.filter(Q(status__in=[s.value for s in statuses]))
    return files


@dataclass
class OverviewRow:
    client_file: ClientFile
    status: FileStatus
    run: SyncRun | None

    @property
    def label(self) -> Any:
        return STATUS_LABELS[self.status]

    @property
    def icon(self) -> str:
        return STATUS_ICONS[self.status]

    @property
    def tone(self) -> str:
        return STATUS_TONES[self.status]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_linked(self) -> bool:
        """Linked and syncing: an archived file's link rests, so it offers no "Sync now" either."""
        return self.status not in {FileStatus.NOT_LINKED, FileStatus.ARCHIVED}


@dataclass
class ChipCount:
    chip: Chip
    count: int
    selected: bool
    query: str = ""


@dataclass
class Overview:
    rows: list[OverviewRow]
    page: Page[ClientFile]
    chips: list[ChipCount]
    matching: int


def _rows(files: Iterable[ClientFile]) -> list[OverviewRow]:
    files = list(files)
    run_ids = [f.latest_run_id for f in files if f.latest_run_id is not None]  # type: ignore[attr-defined]
    runs = SyncRun.objects.in_bulk(run_ids) if run_ids else {}
    return [
        OverviewRow(
            client_file=f,
            status=FileStatus(f.status),  # type: ignore[attr-defined]
            run=runs.get(f.latest_run_id),  # type: ignore[attr-defined]
        )
        for f in files
    ]


def overview_chips(*, access: FirmAccess, flt: OverviewFilter) -> list[ChipCount]:
    """Every chip with its count within the search and connection filter (one query)."""
    searched = _searched(with_sync_state(client_file_list_visible(access=access)), flt)
    totals = searched.aggregate(
        **{
            chip.key: Count("pk", filter=Q(status__in=[s.value for s in chip.statuses]))
            if chip.statuses is not None
            else Count("pk")
            for chip in CHIPS
            if not chip.flag
        }
    )
    # A yes/no chip counts in a query of its own (PostgreSQL cannot see an EXISTS annotation inside the
    # aggregate above).
    totals.update({chip.key: searched.filter(Q(**{chip.flag: True})).count() for chip in CHIPS if chip.flag})
    return [
        ChipCount(
            chip=chip,
            count=totals[chip.key],
            selected=chip.key == flt.chip,
            query=urlencode(flt.params(status=chip.key)),
        )
        for chip in CHIPS
    ]


def overview_page(*, access: FirmAccess, flt: OverviewFilter) -> Overview:
    """The page of rows the filter asks for, and the chips' counts (within the search and connection
    filter): three queries, whatever the number of files."""
    chips = overview_chips(access=access, flt=flt)
    matching = next(c.count for c in chips if c.selected)
    files = overview_files_matching(access=access, flt=flt).order_by(*SORTS[flt.sort][1])
    paginator = Paginator(files, FILES_PER_PAGE)
    # The chip's count is the paginator's count: no second COUNT(*) over the same rows.
    paginator.count = matching
    page = paginator.get_page(flt.page)
    return Overview(rows=_rows(page.object_list), page=page, chips=chips, matching=matching)


def overview_rows_by_id(*, access: FirmAccess, client_file_ids: Iterable[int]) -> list[OverviewRow]:
    """Some visible rows, freshly read (the live refresh of running rows): two queries."""
    ids = [i for i in client_file_ids][:FILES_PER_PAGE]
    files = with_sync_state(client_file_list_visible(access=access).filter(pk__in=ids)).order_by("name", "pk")
    return _rows(files)
