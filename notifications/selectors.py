"""Read side of notifications: who gets which mail, and what a digest lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clients.models import ClientFile, Firm, Membership, Role
from syncs.models import ClientLink, Connection
from syncs.overview_selectors import FileStatus, with_sync_state

from .models import NotificationSetting, SentNotification

# The causes a digest groups files by, worst first, with the words and the hint the mail shows.
CAUSES: dict[str, tuple[Any, Any]] = {
    "needs_reconnect": (
        _("Needs reconnecting"),
        _("WinbooksOnWeb refused the sync's credentials: an admin must reconnect it on the Syncs tab."),
    ),
    "config": (
        _("Settings to fix"),
        _("WinbooksOnWeb refused what the link asks for (a company code, a start date): open the file."),
    ),
    "transient": (
        _("WinbooksOnWeb could not be reached"),
        _("The sync gave up after several tries; the next nightly sync tries again."),
    ),
    "failed": (_("Failed"), _("Open the file's last sync to see what went wrong.")),
    "issues": (
        _("Synced with issues"),
        _("The sync finished but something did not come across or does not tie out: see the sync's issues."),
    ),
}


def _wants(setting: NotificationSetting | None, field: str, role: str) -> bool:
    chosen = getattr(setting, field) if setting is not None else None
    return chosen if chosen is not None else role == Role.ADMIN


def notification_setting_for(*, user_id: int, firm: Firm) -> NotificationSetting | None:
    return NotificationSetting.objects.filter(user_id=user_id, firm=firm).first()


def effective_choices(*, membership: Membership) -> dict[str, bool]:
    setting = notification_setting_for(user_id=membership.user_id, firm=membership.firm)
    return {
        "daily_digest": _wants(setting, "daily_digest", membership.role),
        "reconnect_alerts": membership.role == Role.ADMIN
        and _wants(setting, "reconnect_alerts", membership.role),
        "closed_period_alerts": membership.role in {Role.ADMIN, Role.STAFF}
        and bool(setting and setting.closed_period_alerts),
    }


def _recipients(firm: Firm, field: str, roles: set[str]) -> list[Membership]:
    memberships = list(
        Membership.objects.filter(firm=firm, role__in=roles)
        .exclude(user__email="")
        .filter(user__is_active=True)
        .select_related("user", "firm")
        .order_by("user__email", "pk")
    )
    settings_by_user = {
        s.user_id: s
        for s in NotificationSetting.objects.filter(firm=firm, user_id__in=[m.user_id for m in memberships])
    }
    return [m for m in memberships if _wants(settings_by_user.get(m.user_id), field, m.role)]


def reconnect_alert_recipients(*, firm: Firm) -> list[Membership]:
    return _recipients(firm, "reconnect_alerts", {Role.ADMIN})


def closed_period_alert_recipients(*, firm: Firm) -> list[Membership]:
    """Admins and staff (who may accept the changes) who opted in: nobody by default."""
    opted_in = NotificationSetting.objects.filter(firm=firm, closed_period_alerts=True).values("user_id")
    return list(
        Membership.objects.filter(firm=firm, role__in={Role.ADMIN, Role.STAFF}, user_id__in=opted_in)
        .exclude(user__email="")
        .filter(user__is_active=True)
        .select_related("user", "firm")
        .order_by("user__email", "pk")
    )


def digest_recipients(*, firm: Firm) -> list[Membership]:
    return _recipients(firm, "daily_digest", {Role.ADMIN, Role.STAFF, Role.EXTERNAL})


def files_of_connection(*, connection: Connection) -> list[ClientFile]:
    return [
        link.client_file
        for link in ClientLink.objects.filter(connection=connection, unlinked_at__isnull=True)
        .select_related("client_file")
        .order_by("client_file__name", "client_file__pk")
    ]


def last_digest_at(*, firm: Firm, user_id: int) -> dt.datetime | None:
    return (
        SentNotification.objects.filter(
            firm=firm, kind=SentNotification.Kind.DAILY_DIGEST, subject_id=user_id
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )


@dataclass
class DigestGroup:
    cause: str
    label: Any
    hint: Any
    files: list[ClientFile]


def digest_groups(*, membership: Membership, since: dt.datetime) -> list[DigestGroup]:
    """The files this person may see whose latest sync, finished since ``since``, failed or has issues,
    grouped by cause (one query)."""
    files = ClientFile.objects.filter(firm=membership.firm)
    if not membership.sees_all_client_files:
        files = files.filter(granted_memberships=membership)
    wanted = [FileStatus.FAILED.value, FileStatus.ISSUES.value, FileStatus.NEEDS_RECONNECT.value]
    rows = (
        with_sync_state(files)
        .filter(Q(status__in=wanted), Q(latest_finished_at__gte=since))
        .order_by("name", "pk")
    )
    grouped: dict[str, list[ClientFile]] = {cause: [] for cause in CAUSES}
    for client_file in rows:
        status, error = client_file.status, client_file.latest_error  # type: ignore[attr-defined]
        if status == FileStatus.ISSUES:
            cause = "issues"
        elif status == FileStatus.NEEDS_RECONNECT or error == "access":
            cause = "needs_reconnect"
        elif error in ("config", "transient"):
            cause = error
        else:
            cause = "failed"
        grouped[cause].append(client_file)
    return [
        DigestGroup(cause=cause, label=CAUSES[cause][0], hint=CAUSES[cause][1], files=found)
        for cause, found in grouped.items()
        if found
    ]
