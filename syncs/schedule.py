"""The schedule: which links are due, nightly per connection, and recovery of lost or orphaned runs."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import runs
from .models import CONNECTION_SECRETS_VIA_LINK, ClientLink, Connection, SyncRun

logger = logging.getLogger(__name__)


def next_nightly(*, after: dt.datetime, at: dt.time) -> dt.datetime:
    """The first moment after ``after`` when the firm's clock shows ``at``."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = after.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


def sync_dispatch_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue one run per due link (in batches), send again runs nobody started, and hand runs whose worker
    stopped sending heartbeats to another worker. Safe to run concurrently: runs are unique per link and
    claims are compare-and-set."""
    now = now or timezone.now()
    queued = 0
    due = (
        ClientLink.objects.filter(unlinked_at__isnull=True, connection__status=Connection.Status.CONNECTED)
        .filter(next_sync_at__lte=now, client_file__archived_at__isnull=True)
        .select_related("connection")
        .defer(*CONNECTION_SECRETS_VIA_LINK)
        .order_by("next_sync_at", "pk")[: settings.SYNC_DISPATCH_BATCH]
    )
    for link in due:
        with transaction.atomic():
            _, created = runs.sync_run_request(link=link, trigger=SyncRun.Trigger.SCHEDULE)
            queued += created
            ClientLink.objects.filter(pk=link.pk).update(
                next_sync_at=next_nightly(after=now, at=link.connection.nightly_sync_time)
            )
    # Links linked before they had a schedule.
    for link in (
        ClientLink.objects.filter(unlinked_at__isnull=True, next_sync_at__isnull=True)
        .select_related("connection")
        .defer(*CONNECTION_SECRETS_VIA_LINK)[: settings.SYNC_DISPATCH_BATCH]
    ):
        ClientLink.objects.filter(pk=link.pk).update(
            next_sync_at=next_nightly(after=now, at=link.connection.nightly_sync_time)
        )

    resent = 0
    requeue_before = now - dt.timedelta(seconds=settings.SYNC_REQUEUE_AFTER_SECONDS)
    # Queued runs whose message may be gone (a broker restart): never started and queued long ago, or sent
    # back to the queue by a transient error whose retry (a broker message too) is long overdue.
    forgotten = (
        SyncRun.objects.filter(status=SyncRun.Status.QUEUED)
        .filter(
            Q(started_at__isnull=True, queued_at__lt=requeue_before)
            | Q(started_at__isnull=False, heartbeat_at__lt=requeue_before)
        )
        .exclude(not_before__gt=now)  # WoW asked to wait: sent once that time has passed
        .values_list("pk", "trigger")
    )
    # Runs whose worker is gone: no heartbeat for a while and the claim's lease expired (a worker waiting on
    # a slow answer keeps both fresh, so its run is not handed to a second worker).
    stale = (
        SyncRun.objects.filter(
            status=SyncRun.Status.RUNNING,
            heartbeat_at__lt=now - dt.timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS),
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", "trigger")
    )
    for run_id, trigger in [*forgotten, *stale]:
        runs.sync_run_enqueue(run_id=run_id, trigger=trigger)
        resent += 1
    if queued or resent:
        logger.info("Dispatcher: %s runs queued, %s sent again", queued, resent)
    return {"queued": queued, "resent": resent}
