"""Read-side queries of a client file's sync runs: its history, one run with its issues and period checks,
and the latest reconciliation of the periods a trial balance shows.

Runs, issues and checks are always looked up through the client file, so the id of another client file's
run finds nothing (404) instead of that run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from clients.ledger.streams import COUNT_LABELS, STREAMS
from clients.models import Account, ClientFile, Period

from .models import CONNECTION_SECRETS_VIA_LINK, PeriodCheck, SyncIssue, SyncRun

RUNS_PER_PAGE = 25
ISSUES_PER_PAGE = 100

# What the engine is doing, by what it writes in ``progress["stream"]``: a stream's key (its ``reading``
# label), or one of the phases after the streams.
PHASE_LABELS: dict[str, str | Promise] = {
    "deletes": _("Looking for what was deleted in WinbooksOnWeb"),
    "proof": _("Checking the trial balance against WinbooksOnWeb"),
    "heal": _("Reading a period again that did not tie out"),
    "done": _("Finishing"),
}
STREAM_LABELS: dict[str, str | Promise] = {
    **{stream.key: stream.reading for stream in STREAMS},
    **PHASE_LABELS,
}


@dataclass(frozen=True)
class EntityCounts:
    entity: str
    label: str | Promise
    created: int
    updated: int
    deleted: int
    unchanged: int

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    @property
    def change_summary(self) -> str:
        """E.g. "12 new, 3 changed, 1 removed" (what stayed the same left out)."""
        words = (
            (self.created, ngettext("%(count)s new", "%(count)s new", self.created)),
            (self.updated, ngettext("%(count)s changed", "%(count)s changed", self.updated)),
            (self.deleted, ngettext("%(count)s removed", "%(count)s removed", self.deleted)),
        )
        parts = [
            word % {"count": number_format(count, force_grouping=True)} for count, word in words if count
        ]
        return ", ".join(parts) or gettext("no changes")


def entity_counts(counts: dict[str, dict[str, int]] | None) -> list[EntityCounts]:
    """A run's ``counts`` JSON as rows in reading order (PostgreSQL's jsonb keeps no key order); entities
    the engine may add later come last, under their own name."""
    counts = counts or {}
    ordered = [name for name in COUNT_LABELS if name in counts]
    ordered += sorted(name for name in counts if name not in COUNT_LABELS)
    return [
        EntityCounts(
            entity=name,
            label=COUNT_LABELS.get(name, name.replace("_", " ").capitalize()),
            created=int(counts[name].get("created", 0)),
            updated=int(counts[name].get("updated", 0)),
            deleted=int(counts[name].get("deleted", 0)),
            unchanged=int(counts[name].get("unchanged", 0)),
        )
        for name in ordered
        if isinstance(counts[name], dict)
    ]


def sync_run_page(*, client_file: ClientFile, page_number: str | int | None) -> Page[SyncRun]:
    """The client file's runs, newest first, one page at a time (two queries: count and page)."""
    runs = (
        SyncRun.objects.filter(client_file=client_file)
        .select_related("requested_by")
        .order_by("-queued_at", "-pk")
    )
    return Paginator(runs, RUNS_PER_PAGE).get_page(page_number)


def sync_run_get(*, client_file: ClientFile, run_id: int) -> SyncRun:
    run = (
        SyncRun.objects.filter(client_file=client_file, pk=run_id)
        .select_related("requested_by", "link", "link__connection")
        .defer(*(f"link__{name}" for name in CONNECTION_SECRETS_VIA_LINK))
        .first()
    )
    if run is None:
        raise Http404(gettext("No such sync run."))
    return run


@dataclass(frozen=True)
class ChangedItem:
    label: str
    date: dt.date | None = None
    url: str = ""


@dataclass(frozen=True)
class ChangeList:
    """What a run added, changed or removed of one kind of object, by name, and how many more it did."""

    label: str
    kind: str
    items: list[ChangedItem]
    more: int


CHANGE_KINDS = {"created": _("Added"), "updated": _("Changed"), "deleted": _("Removed")}


def run_changes(*, run: SyncRun, firm_slug: str) -> list[ChangeList]:
    """The run's changes by name (documents and accounts link to their pages): one query per kind of object
    that changed, the lists capped by the engine (syncs/engine.py, CHANGES_LISTED)."""
    changes = (run.progress or {}).get("changes") or {}
    result: list[ChangeList] = []
    for stream in STREAMS:
        lists = changes.get(stream.key) or {}
        counted = (run.counts or {}).get(stream.key) or {}
        ids = {wow_id for kind in ("created", "updated") for wow_id in lists.get(kind, [])}
        found = _changed_objects(run, stream, ids, firm_slug) if ids else {}
        for kind, kind_label in CHANGE_KINDS.items():
            listed = lists.get(kind) or []
            if kind == "deleted":
                items = [
                    ChangedItem(
                        label=str(item.get("label", "")),
                        date=dt.date.fromisoformat(item["date"]) if item.get("date") else None,
                    )
                    for item in listed
                    if isinstance(item, dict)
                ]
            else:
                items = [found[wow_id] for wow_id in listed if wow_id in found]
            total = int(counted.get(kind, 0) or 0)
            if items or total:
                result.append(
                    ChangeList(
                        label=f"{COUNT_LABELS.get(stream.key, stream.key)} · {kind_label}",
                        kind=kind,
                        items=items,
                        more=max(0, total - len(items)),
                    )
                )
    return result


def _changed_objects(run: SyncRun, stream: Any, ids: set[str], firm_slug: str) -> dict[str, ChangedItem]:
    objects = stream.model.objects.filter(client_file_id=run.client_file_id, wow_id__in=list(ids))
    found: dict[str, ChangedItem] = {}
    if stream.key == "entries":
        for pk, wow_id, journal, number, day in objects.values_list(
            "pk", "wow_id", "journal__code", "doc_number", "book_date"
        ):
            url = reverse("entry_detail", args=[firm_slug, run.client_file_id, pk])
            found[str(wow_id)] = ChangedItem(label=f"{journal or ''} {number}".strip(), date=day, url=url)
    elif stream.key == "accounts":
        for pk, wow_id, number, name in objects.values_list("pk", "wow_id", "number", "name"):
            url = reverse("account_lines", args=[firm_slug, run.client_file_id, pk])
            found[str(wow_id)] = ChangedItem(label=f"{number} {name}".strip(), url=url)
    else:
        for obj in objects:
            found[str(obj.wow_id)] = ChangedItem(label=str(obj))
    return found


def sync_issue_page(*, run: SyncRun, page_number: str | int | None) -> Page[SyncIssue]:
    return Paginator(SyncIssue.objects.filter(run=run).order_by("pk"), ISSUES_PER_PAGE).get_page(page_number)


@dataclass(frozen=True)
class CheckDifference:
    """One account where the ledger and WinbooksOnWeb disagree in a period (amounts as the run wrote them)."""

    account: str
    account_name: str
    ledger: str
    wow: str
    difference: str


@dataclass(frozen=True)
class PeriodMark:
    """A period's reconciliation: its check (None when no run has checked it yet) and the differences."""

    period: Period | None
    period_key: str
    check: PeriodCheck | None
    differences: list[CheckDifference]


def _marks(
    client_file_id: int, pairs: list[tuple[Period | None, str, PeriodCheck | None]]
) -> list[PeriodMark]:
    """Attach to each check its differences with the account names of the ledger (one query, none when
    everything ties out)."""
    numbers = {
        str(d.get("account", "")) for _, _, c in pairs if c for d in c.differences if isinstance(d, dict)
    }
    language = get_language() or ""
    names = (
        {
            number: Account.name_for(language, name, name_alt)
            for number, name, name_alt in Account.objects.filter(
                client_file_id=client_file_id, number__in=numbers
            ).values_list("number", "name", "name_alt")
        }
        if numbers
        else {}
    )
    return [
        PeriodMark(
            period=period,
            period_key=key,
            check=check,
            differences=[
                CheckDifference(
                    account=str(d.get("account", "")),
                    account_name=names.get(str(d.get("account", "")), ""),
                    ledger=str(d.get("ledger", "")),
                    wow=str(d.get("wow", "")),
                    difference=str(d.get("difference", "")),
                )
                for d in (check.differences if check else [])
                if isinstance(d, dict)
            ],
        )
        for period, key, check in pairs
    ]


def period_marks_of_run(*, run: SyncRun) -> list[PeriodMark]:
    """The run's reconciliation, period by period (a run checks only the periods it touched)."""
    checks = PeriodCheck.objects.filter(run=run).select_related("period").order_by("period_key", "pk")
    return _marks(run.client_file_id, [(c.period, c.period_key, c) for c in checks])


def period_marks(*, client_file: ClientFile, periods: Iterable[Period]) -> list[PeriodMark]:
    """Each period with its most recent check (by the run that made it): two queries whatever the number
    of runs, three when something does not tie out."""
    periods = list(periods)
    if not periods:
        return []
    latest = (
        PeriodCheck.objects.filter(run__client_file=client_file, period=OuterRef("pk"))
        .order_by("-run__queued_at", "-run_id", "-pk")
        .values("pk")[:1]
    )
    check_ids = (
        Period.objects.filter(client_file=client_file, pk__in=[p.pk for p in periods])
        .annotate(latest_check_id=Subquery(latest))
        .exclude(latest_check_id=None)
        .values("latest_check_id")
    )
    checks = {
        check.period_id: check for check in PeriodCheck.objects.filter(pk__in=check_ids).select_related("run")
    }
    return _marks(client_file.pk, [(p, p.key, checks.get(p.pk)) for p in periods])
