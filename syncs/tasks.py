"""Celery tasks: thin, take ids, call services. Idempotent: a task delivered twice finds its run taken."""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone

from silverfin_sync.notices import Notice

from .providers import ProviderError

logger = logging.getLogger(__name__)


def _requeue_after_database_loss(run_id: int, *, attempts: int = 30) -> None:
    """Put a run whose worker lost the database back in the queue, waiting (about 30 s at most) for the
    database to accept connections again. If it never does, the stale-heartbeat takeover recovers the run."""
    from .runs import sync_run_requeue

    for _ in range(attempts):
        close_old_connections()
        for connection in connections.all():
            connection.close()
        try:
            sync_run_requeue(run_id=run_id, notice=Notice("run.database_unavailable"))
            return
        except (OperationalError, InterfaceError):
            time.sleep(1)
    logger.error("Run %s: the database is still unavailable; the run is left to the dispatcher", run_id)


@shared_task(
    name="syncs.run_sync",
    bind=True,
    acks_late=True,
    max_retries=None,  # counted against settings.SYNC_MAX_RETRIES below, so tests can lower it
    soft_time_limit=settings.SYNC_TIME_LIMIT_SECONDS,
    time_limit=settings.SYNC_TIME_LIMIT_SECONDS + 300,
)
def run_sync(self: Any, run_id: int) -> None:
    from .engine import sync_run_execute
    from .models import SyncRun
    from .runs import FirmAtCapacity, retry_delay, sync_run_give_up, sync_run_wait_until

    try:
        sync_run_execute(run_id=run_id)
    except FirmAtCapacity as waiting:
        # The firm already runs its share of syncs: this one waits in the queue and the worker takes other
        # work meanwhile. Not an attempt (nothing was claimed), so it counts against no retry limit. A run a
        # person waits for looks again sooner than the nightly fleet does.
        wait = 1 + 2 * random.random() if waiting.requested else 5 + 10 * random.random()  # noqa: S311
        raise self.retry(countdown=wait) from None
    except (OperationalError, InterfaceError):
        # The database went away mid-run (a restart, a fail-over): the run could not even be recorded as
        # failed. Put it back in the queue on a fresh connection and retry; the pages already written stay.
        logger.warning("Run %s: database connection lost; retrying", run_id)
        _requeue_after_database_loss(run_id)
        raise self.retry(countdown=retry_delay(self.request.retries)) from None
    except ProviderError as error:  # only transient errors come back here; the run is queued again
        # Retries are counted on the run (its claims), not on this message: a run the dispatcher sent again
        # starts a new message at 0 retries, and would otherwise retry for ever.
        claims = SyncRun.objects.filter(pk=run_id).values_list("attempt", flat=True).first() or 1
        retries = max(0, claims - 1)
        if retries >= settings.SYNC_MAX_RETRIES:
            sync_run_give_up(run_id=run_id, reason=error.notice)
            return
        countdown = error.retry_after if error.retry_after else retry_delay(retries)
        if countdown > settings.SYNC_REQUEUE_AFTER_SECONDS:
            # A long wait (WoW's Retry-After, clamped by the client) is kept on the run, not in a broker
            # message: the dispatcher sends the run again once it has passed, and no worker holds it.
            not_before = timezone.now() + dt.timedelta(seconds=countdown)
            sync_run_wait_until(run_id=run_id, not_before=not_before)
            logger.info("Run %s: transient error, not before %s", run_id, not_before.isoformat())
            return
        logger.info("Run %s: transient error, retry %s in %.0f s", run_id, retries + 1, countdown)
        raise self.retry(countdown=countdown) from None


@shared_task(name="syncs.dispatch_due_syncs", acks_late=True, time_limit=300)
def dispatch_due_syncs() -> dict[str, int]:
    """Every minute (beat): queue the links that are due, and recover runs whose worker vanished."""
    from .schedule import sync_dispatch_due

    return sync_dispatch_due()
