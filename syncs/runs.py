"""Requesting sync runs: one active run per link, enqueued only once the request is committed."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from .models import ClientLink, SyncRun

QUEUE_SCHEDULED = "syncs"
QUEUE_NOW = "syncs-now"  # "Sync now" and first syncs: a person is waiting


def sync_run_request(
    *, link: ClientLink, trigger: SyncRun.Trigger, requested_by: User | None = None
) -> tuple[SyncRun, bool]:
    """The link's active run if there is one, else a new queued run (sent to a worker after commit), and
    whether it was created.

    The partial unique constraint ``one_active_run_per_link`` makes this safe against two requests at the
    same instant: the second insert fails and the request returns the run the first one created.
    """
    active = SyncRun.objects.filter(link=link, status__in=SyncRun.ACTIVE_STATUSES).first()
    if active is not None:
        return active, False
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                link=link, client_file_id=link.client_file_id, trigger=trigger, requested_by=requested_by
            )
    except IntegrityError:
        return SyncRun.objects.get(link=link, status__in=SyncRun.ACTIVE_STATUSES), False
    queue = QUEUE_SCHEDULED if trigger == SyncRun.Trigger.SCHEDULE else QUEUE_NOW
    transaction.on_commit(lambda: _enqueue(run.pk, queue))
    return run, True


def _enqueue(run_id: int, queue: str) -> None:
    from .tasks import run_sync

    run_sync.apply_async(args=[run_id], queue=queue)
