"""Celery tasks: thin, take ids, call services. Idempotent: a task delivered twice finds its run taken."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections

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
    from .runs import retry_delay, sync_run_give_up

    try:
        sync_run_execute(run_id=run_id)
    except (OperationalError, InterfaceError):
        # The database went away mid-run (a restart, a fail-over): the run could not even be recorded as
        # failed. Put it back in the queue on a fresh connection and retry; the pages already written stay.
        logger.warning("Run %s: database connection lost; retrying", run_id)
        _requeue_after_database_loss(run_id)
        raise self.retry(countdown=retry_delay(self.request.retries)) from None
    except ProviderError as error:  # only transient errors come back here; the run is queued again
        if self.request.retries >= settings.SYNC_MAX_RETRIES:
            sync_run_give_up(run_id=run_id, reason=error.notice)
            return
        countdown = error.retry_after if error.retry_after else retry_delay(self.request.retries)
        logger.info(
            "Run %s: transient error, retry %s in %.0f s", run_id, self.request.retries + 1, countdown
        )
        raise self.retry(countdown=countdown) from None


@shared_task(name="syncs.dispatch_due_syncs", acks_late=True, time_limit=300)
def dispatch_due_syncs() -> dict[str, int]:
    """Every minute (beat): queue the links that are due, and recover runs whose worker vanished."""
    from .schedule import sync_dispatch_due

    return sync_dispatch_due()
