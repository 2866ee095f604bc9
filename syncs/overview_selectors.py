"""The firm overview's reads: every client file the user may see with its sync state, counted per state,
searched, filtered, sorted and paged, in a fixed number of queries whatever the number of files.

A file's state is worked out by the database (``file_status`` below), so the chips count, the filters
narrow and the sort orders with the same rule the rows show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    Field,
    FilteredRelation,
    IntegerField,
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
    latest run (id, status, error class, end, progress) and their state (``status``, ``status_rank``), all
    in the one query: joins only (the link's ``latest_run`` is kept by the database), so counting, filtering
    and sorting 5,000 files by state costs a scan, not a subquery per file and per use."""
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
            latest_progress=F("active_link__latest_run__progress"),
            # An IN over the open alerts, hashed once per query, not an EXISTS probed for every file.
            closed_changes=ExpressionWrapper(Q(pk__in=_open_alert_files()), output_field=BooleanField()),
        )
        .annotate(status=_state_case(lambda status: status.value, CharField()))
        .annotate(status_rank=_state_case(_STATUS_RANK.index, IntegerField()))
    )


def _open_alert_files() -> QuerySet[ChangeAlert, Any]:
    """The files with an open change alert (a subquery)."""
    return ChangeAlert.objects.filter(status=ChangeAlert.Status.OPEN).values("client_file_id")


def _state_rules() -> list[tuple[Q, FileStatus]]:
    """The rule of a file's state: the first condition that holds names it (``in step`` otherwise)."""
    run = "latest_run_status"
    return [
        (Q(archived_at__isnull=False), FileStatus.ARCHIVED),
        (Q(link_id__isnull=True), FileStatus.NOT_LINKED),
        (Q(**{run: SyncRun.Status.RUNNING}), FileStatus.RUNNING),
        (Q(**{run: SyncRun.Status.QUEUED}), FileStatus.QUEUED),
        (~Q(connection_status=Connection.Status.CONNECTED), FileStatus.NEEDS_RECONNECT),
        (Q(**{f"{run}__isnull": True}), FileStatus.NEVER_SYNCED),
        (Q(**{run: SyncRun.Status.FAILED}), FileStatus.FAILED),
        (Q(**{run: SyncRun.Status.SUCCEEDED_WITH_ISSUES}), FileStatus.ISSUES),
    ]


def _state_case(value: Callable[[FileStatus], Any], output_field: Field[Any, Any]) -> Case:
    """The state rule as one CASE whose result is ``value(state)``: the state's name, or its rank in "sort
    by status". The rank is a CASE of its own over the same conditions, not a CASE over the state's CASE:
    nested, every WHEN of the rank repeated the whole rule (SQL of 10 kB to build, send and parse)."""
    return Case(
        *(When(condition, then=Value(value(status))) for condition, status in _state_rules()),
        default=Value(value(FileStatus.IN_STEP)),
        output_field=output_field,
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
    return _chip_files(_searched(with_sync_state(client_file_list_visible(access=access)), flt), flt)


def _chip_files(files: QuerySet[ClientFile], flt: OverviewFilter) -> QuerySet[ClientFile]:
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
    run_id: int | None  # the link's latest run
    progress: dict[str, Any]  # that run's progress (stream, records, streams done) while it runs

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
    return [
        OverviewRow(
            client_file=f,
            status=FileStatus(f.status),  # type: ignore[attr-defined]
            run_id=f.latest_run_id,  # type: ignore[attr-defined]
            progress=f.latest_progress or {},  # type: ignore[attr-defined]
        )
        for f in files
    ]


def overview_chips(*, access: FirmAccess, flt: OverviewFilter) -> list[ChipCount]:
    """Every chip with its count within the search and connection filter: one query, grouped by state (the
    state's CASE runs once per file, not once per chip), the files with open change alerts counted in the
    same pass (a hashed ``IN``, not an EXISTS per file)."""
    return _chips_of(_searched(with_sync_state(client_file_list_visible(access=access)), flt), flt)


def _chips_of(searched: QuerySet[ClientFile], flt: OverviewFilter) -> list[ChipCount]:
    by_status: dict[FileStatus, int] = {}
    flagged = {"closed_changes": 0}
    for status, files, with_open_alert in (
        searched.order_by()
        .values_list(F("status"))
        .annotate(files=Count("pk"), with_open_alert=Count("pk", filter=Q(pk__in=_open_alert_files())))
    ):
        by_status[FileStatus(status)] = files
        flagged["closed_changes"] += with_open_alert
    totals = {
        chip.key: flagged[chip.flag]
        if chip.flag
        else sum(
            count for status, count in by_status.items() if chip.statuses is None or status in chip.statuses
        )
        for chip in CHIPS
    }
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
    filter): two queries, whatever the number of files."""
    # Both queries from one queryset: the state's joins and annotations are put together once.
    searched = _searched(with_sync_state(client_file_list_visible(access=access)), flt)
    chips = _chips_of(searched, flt)
    matching = next(c.count for c in chips if c.selected)
    files = _chip_files(searched, flt).order_by(*SORTS[flt.sort][1])
    paginator = Paginator(files, FILES_PER_PAGE)
    # The chip's count is the paginator's count: no second COUNT(*) over the same rows.
    paginator.count = matching
    page = paginator.get_page(flt.page)
    return Overview(rows=_rows(page.object_list), page=page, chips=chips, matching=matching)


def overview_rows_by_id(*, access: FirmAccess, client_file_ids: Iterable[int]) -> list[OverviewRow]:
    """Some visible rows, freshly read (the live refresh of running rows): one query."""
    ids = [i for i in client_file_ids][:FILES_PER_PAGE]
    files = with_sync_state(client_file_list_visible(access=access).filter(pk__in=ids)).order_by("name", "pk")
    return _rows(files)
