"""One run, one worker: the claim's owner and lease, and a heartbeat that stays fresh while a call is going.

A claim gives the run a token (``claimed_by``) and a lease (``lease_until``). While the run goes, a thread
renews the heartbeat and the lease every few seconds, whatever the run's own thread is waiting on (a slow
WoW answer included: those are bounded, see ``winbooks.Limits``). Another worker may take a run over only
when its heartbeat is stale *and* its lease has expired, that is when its worker is gone. Every write the
run makes (its progress with each page, its end) is conditioned on still holding the claim: a worker that
lost it (taken over after all, cancelled) finds nothing to write, rolls its page back and stops, so a run
is never carried out by two workers at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from types import TracebackType

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import QuerySet
from django.utils import timezone

from .models import SyncRun

logger = logging.getLogger(__name__)


class RunLost(Exception):
    """This worker no longer holds the run's claim (another worker took it over, or it ended elsewhere)."""


def new_claim_token() -> str:
    """Who claims: host, process and a random part (one token per claim, so a redelivery is another)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def lease_end(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)


def heartbeat_every() -> float:
    """Seconds between two renewals: several per lease, so one slow database round trip loses nothing."""
    return max(0.2, min(30.0, settings.SYNC_STALE_AFTER_SECONDS / 4))


def held(run_id: int, owner: str) -> QuerySet[SyncRun]:
    """The run, if this claim still holds it."""
    return SyncRun.objects.filter(pk=run_id, claimed_by=owner, status=SyncRun.Status.RUNNING)


class Heartbeat:
    """Renews the run's heartbeat and lease in a thread while the ``with`` block runs; ``check()`` raises
    ``RunLost`` once a renewal found the claim gone."""

    def __init__(self, run_id: int, owner: str) -> None:
        self.run_id = run_id
        self.owner = owner
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"sync-run-{run_id}-heartbeat", daemon=True)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(heartbeat_every()):
                now = timezone.now()
                try:
                    renewed = held(self.run_id, self.owner).update(
                        heartbeat_at=now, lease_until=lease_end(now)
                    )
                except DatabaseError:
                    logger.warning("Run %s: heartbeat not written (database); trying again", self.run_id)
                    connections.close_all()
                    continue
                if not renewed and SyncRun.objects.filter(pk=self.run_id).exists():
                    # Seen and not ours any more. (A row this thread cannot see at all, as in a test's
                    # uncommitted transaction, proves nothing: the run's own writes are fenced anyway.)
                    self.lost = True
                    return
        finally:
            connections.close_all()  # this thread's own connection

    def check(self) -> None:
        if self.lost:
            raise RunLost(f"Run {self.run_id} is no longer held by this worker.")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
