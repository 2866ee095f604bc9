"""Read-side queries of the firm's administration."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from clients.models import ClientFile, Firm, Membership
from silverfin_sync import notices

from .models import ClientFileImport, Invitation


@dataclass(frozen=True)
class ImportSummary:
    create: int
    rename: int
    link: int
    unchanged: int
    problems: int


def people_list(*, firm: Firm) -> QuerySet[Membership]:
    """Everyone in the firm with their role, last log-in and the files given (two queries)."""
    return (
        Membership.objects.filter(firm=firm)
        .select_related("user")
        .prefetch_related(Prefetch("client_files", queryset=ClientFile.objects.order_by("name", "pk")))
        .order_by("role", "user__username")
    )


def invitation_list_open(*, firm: Firm) -> QuerySet[Invitation]:
    """Invitations not yet accepted or revoked (expired ones too: they can be re-sent)."""
    return (
        Invitation.objects.filter(firm=firm, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .prefetch_related(Prefetch("client_files", queryset=ClientFile.objects.order_by("name", "pk")))
        .order_by("email")
    )


def import_summary(*, upload: ClientFileImport) -> ImportSummary:
    problems = sum(bool(r.get("problem")) for r in upload.rows)
    rows = [r for r in upload.rows if not r.get("problem")]  # a line with a problem does nothing
    return ImportSummary(
        create=sum("create" in r.get("actions", []) for r in rows),
        rename=sum("rename" in r.get("actions", []) for r in rows),
        link=sum("link" in r.get("actions", []) for r in rows),
        unchanged=sum(r.get("actions") == ["unchanged"] for r in rows),
        problems=problems,
    )


def import_is_stale(*, upload: ClientFileImport) -> bool:
    from .services import IMPORT_PREVIEW_VALID_FOR

    return upload.checked_at is not None and timezone.now() - upload.checked_at > IMPORT_PREVIEW_VALID_FOR


def _detail_text(detail: Any) -> str:
    """A row's detail in the reader's language: a stored notice is worded now, dates as the language writes
    them; rows checked before notices were stored kept their words."""
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        return notices.render(detail["code"], detail.get("params"))
    if isinstance(detail, list):
        return ", ".join(date_format(dt.date.fromisoformat(str(day)), "SHORT_DATE_FORMAT") for day in detail)
    return str(detail)


def import_rows_display(*, upload: ClientFileImport) -> list[dict[str, object]]:
    """Each row with what it will do, or why not, worded in the reader's language."""
    from .problems import IMPORT_ACTIONS, IMPORT_PROBLEMS

    shown = []
    for row in upload.rows:
        problem = row.get("problem", "")
        shown.append(
            {
                **row,
                "actions_text": [
                    str(IMPORT_ACTIONS[a]) for a in row.get("actions", []) if a in IMPORT_ACTIONS
                ],
                "problem_text": str(IMPORT_PROBLEMS[problem])
                % {"detail": _detail_text(row.get("detail", ""))}
                if problem in IMPORT_PROBLEMS
                else problem,
            }
        )
    return shown
