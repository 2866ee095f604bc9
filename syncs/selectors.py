"""Read-side queries for syncs: every page's data in a fixed number of queries, scoped to one firm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from clients.models import ClientFile, Firm

from .models import CONNECTION_SECRETS_VIA_LINK, AuditEvent, ClientLink, Connection, SyncRun


def connection_list_for_tab(*, firm: Firm) -> list[Any]:
    """The firm's syncs with their number of linked client files, last successful sync, how many of their
    files are in each state (``state_counts``, by the overview's rule) and when the next nightly run is due
    (``next_run_at``, None while it cannot run): one query, whatever the number of files."""
    from .overview_selectors import FileStatus
    from .schedule import next_nightly

    active_links = Q(links__unlinked_at__isnull=True)

    def latest(*statuses: str) -> Q:  # files still worked on (not archived) whose latest run is in ...
        return active_links & Q(
            links__client_file__archived_at__isnull=True, links__latest_run__status__in=statuses
        )

    connections = list(
        Connection.objects.filter(firm=firm)
        .select_related("connected_by")
        .annotate(
            linked_count=Count("links", filter=active_links),
            last_success_at=Max("links__last_success_at", filter=active_links),
            succeeded_count=Count("links", filter=latest(SyncRun.Status.SUCCEEDED)),
            issues_count=Count("links", filter=latest(SyncRun.Status.SUCCEEDED_WITH_ISSUES)),
            failed_count=Count("links", filter=latest(SyncRun.Status.FAILED)),
            active_count=Count("links", filter=latest(*SyncRun.ACTIVE_STATUSES)),
        )
        .order_by("status", "name", "pk")
    )
    now = timezone.now()
    for connection in connections:
        if connection.is_usable:
            counts = {
                FileStatus.IN_STEP.value: connection.succeeded_count,
                FileStatus.ISSUES.value: connection.issues_count,
                FileStatus.FAILED.value: connection.failed_count,
            }
        else:  # every file not syncing right now waits for the reconnect, as on the overview
            counts = {FileStatus.NEEDS_RECONNECT.value: connection.linked_count - connection.active_count}
        connection.state_counts = counts  # type: ignore[attr-defined]
        connection.next_run_at = (  # type: ignore[attr-defined]
            next_nightly(after=now, at=connection.nightly_sync_time) if connection.is_usable else None
        )
    return connections


def connection_get_for_firm(*, firm: Firm, connection_id: int) -> Connection:
    connection = Connection.objects.filter(firm=firm, pk=connection_id).first()
    if connection is None:
        raise Http404(gettext("No such sync."))
    return connection


def connection_choices_for_linking(*, firm: Firm) -> QuerySet[Connection]:
    return Connection.objects.filter(firm=firm, status=Connection.Status.CONNECTED).order_by("name", "pk")


@dataclass(frozen=True)
class ReconnectAlert:
    connection: Connection
    client_files: list[ClientFile]
    more: int


def reconnect_alerts(*, firm: Firm, show: int = 10) -> list[ReconnectAlert]:
    """One alert per connection that needs reconnecting, with the client files it leaves unsynced."""
    alerts = []
    for connection in Connection.objects.filter(firm=firm, status=Connection.Status.NEEDS_RECONNECT).order_by(
        "name"
    ):
        links = ClientLink.objects.filter(connection=connection, unlinked_at__isnull=True).select_related(
            "client_file"
        )
        files = [link.client_file for link in links.order_by("client_file__name")[:show]]
        alerts.append(
            ReconnectAlert(connection=connection, client_files=files, more=max(0, links.count() - show))
        )
    return alerts


def audit_event_list(*, firm: Firm, limit: int = 50) -> QuerySet[AuditEvent]:
    return (
        AuditEvent.objects.filter(firm=firm)
        .select_related("actor", "client_file")
        .order_by("-created_at", "-pk")[:limit]
    )


def client_link_active(*, client_file: ClientFile) -> ClientLink | None:
    return (
        ClientLink.objects.filter(client_file=client_file, unlinked_at__isnull=True)
        .select_related("connection")
        .defer(*CONNECTION_SECRETS_VIA_LINK)
        .first()
    )


def sync_run_latest(*, client_file: ClientFile) -> SyncRun | None:
    return SyncRun.objects.filter(client_file=client_file).order_by("-queued_at", "-pk").first()
