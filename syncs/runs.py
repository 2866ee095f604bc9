"""A sync run's life, written in one place: requested (one active run per link), enqueued once the request
is committed, claimed by one worker, put back in the queue, finished, given up, or cancelled before it
started. The engine, the schedule, the services and the tasks call these; none of them writes a run's
status itself.

Every change of status is a compare-and-set ``UPDATE … WHERE status = …``: a worker, the dispatcher and a
person may act on the same run at once, and only one of them changes it (healthchecks' claim).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from clients.models import ClientFile, Firm
from silverfin_sync.notices import Notice
from winbooks.backoff import backoff_delay

from .liveness import held, lease_end, new_claim_token
from .models import CONNECTION_SECRETS_VIA_LINK, ClientLink, ErrorKind, SyncRun, notice_fields

QUEUE_SCHEDULED = "syncs"
QUEUE_NOW = "syncs-now"  # "Sync now" and first syncs: a person is waiting


class RunNotClaimed(Exception):
    """Another worker holds the run, or it already ended."""


class FirmAtCapacity(RunNotClaimed):
    """The run's firm already runs as many syncs as it may at once; the run stays queued for a while.
    ``requested``: a person asked for it (it looks again sooner)."""

    def __init__(self, message: str, *, requested: bool = False) -> None:
        super().__init__(message)
        self.requested = requested


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
    transaction.on_commit(lambda: sync_run_enqueue(run_id=run.pk, trigger=trigger))
    return run, True


def client_file_sync_now(*, client_file: ClientFile, requested_by: User | None) -> tuple[SyncRun, bool]:
    """ "Sync now" for one client file (the page's button and ``manage.py sync_client``): its active run, or
    a new one, and whether it was created. A file that is not linked, or whose connection must be
    reconnected first, or that is archived, is refused with a ValidationError saying so."""
    if client_file.archived_at is not None:
        raise ValidationError(
            gettext("This client file is archived: unarchive it to sync it again."), code="archived"
        )
    link = (
        ClientLink.objects.filter(client_file=client_file, unlinked_at__isnull=True)
        .select_related("connection")
        .defer(*CONNECTION_SECRETS_VIA_LINK)
        .first()
    )
    if link is None:
        raise ValidationError(
            gettext(
                "This client file is not linked to a bookkeeping package yet; link it to a WinbooksOnWeb "
                "company first."
            ),
            code="not_linked",
        )
    if not link.connection.is_usable:
        raise ValidationError(
            gettext("“%(name)s” needs reconnecting by an admin before it can sync.")
            % {"name": link.connection.name},
            code="needs_reconnect",
        )
    return sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL, requested_by=requested_by)


def sync_run_enqueue(*, run_id: int, trigger: str) -> None:
    """Send the run to a worker: "Sync now" and first syncs on the queue a person waits on, the nightly
    fleet on its own. Sending a run twice is harmless: the claim lets one worker have it."""
    from .tasks import run_sync

    run_sync.apply_async(args=[run_id], queue=queue_for(trigger))


def sync_runs_enqueue(runs: list[tuple[int, str]]) -> None:
    """Send many runs (id, trigger) in their order, pipelined (syncs/broker.py): the dispatcher's nightly
    fleet of thousands in a second, where one message at a time took several."""
    from .broker import send_runs

    send_runs((run_id, queue_for(trigger)) for run_id, trigger in runs)


def queue_for(trigger: str) -> str:
    """The queue a run of this trigger goes to."""
    return QUEUE_SCHEDULED if trigger == SyncRun.Trigger.SCHEDULE else QUEUE_NOW


def sync_run_claim(*, run_id: int) -> SyncRun:
    """Take a queued run (or one whose worker is gone: heartbeat stale and lease expired) for this worker,
    with a claim token of its own (``run.claimed_by``, see syncs/liveness.py), or raise RunNotClaimed.

    No firm runs more than ``SYNC_MAX_RUNNING_PER_FIRM`` scheduled syncs at once, across all workers, and a
    run a person asked for ("Sync now", a first sync) may take ``SYNC_RESERVED_FOR_REQUESTED_PER_FIRM``
    slots more: the firm's own nightly runs never stand between its people and a worker. Claims of one
    firm are made one at a time (under a lock on the firm's row), counting its runs whose lease holds; a
    run over its cap raises ``FirmAtCapacity`` and stays queued. A run WoW asked to wait (``not_before``)
    is not taken before then.
    """
    now = timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)
    owner = new_claim_token()
    with transaction.atomic():
        found = SyncRun.objects.filter(pk=run_id).values_list("client_file__firm_id", "trigger").first()
        if found is None:
            raise RunNotClaimed(f"Run {run_id} does not exist.")
        firm_id, trigger = found
        cap = settings.SYNC_MAX_RUNNING_PER_FIRM
        if trigger != SyncRun.Trigger.SCHEDULE:
            cap += settings.SYNC_RESERVED_FOR_REQUESTED_PER_FIRM
        Firm.objects.select_for_update().filter(pk=firm_id).first()
        running = (
            SyncRun.objects.filter(
                client_file__firm_id=firm_id, status=SyncRun.Status.RUNNING, lease_until__gt=now
            )
            .exclude(pk=run_id)
            .count()
        )
        claimable = SyncRun.objects.filter(pk=run_id)
        if (
            running >= cap
            and claimable.filter(
                Q(status=SyncRun.Status.QUEUED)
                | Q(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale_before, lease_until__lt=now)
            ).exists()
        ):
            raise FirmAtCapacity(
                f"Run {run_id} waits: its firm already runs {running} syncs.",
                requested=trigger != SyncRun.Trigger.SCHEDULE,
            )
        claim = {"claimed_by": owner, "lease_until": lease_end(now), "attempt": F("attempt") + 1}
        claimed = claimable.filter(status=SyncRun.Status.QUEUED).filter(
            Q(not_before__isnull=True) | Q(not_before__lte=now)
        ).update(
            status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now, not_before=None, **claim
        ) or (
            # Taken over only when its worker is known gone: no heartbeat for a while and the lease expired.
            claimable.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale_before)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(heartbeat_at=now, **claim)
        )
    if not claimed:
        raise RunNotClaimed(f"Run {run_id} is taken or finished.")
    return (
        SyncRun.objects.select_related("link", "link__connection")
        .defer(*(f"link__{name}" for name in CONNECTION_SECRETS_VIA_LINK))
        .get(pk=run_id)
    )


def sync_run_requeue(*, run_id: int, notice: Notice, owner: str | None = None) -> bool:
    """Put a running run back in the queue after a transient failure (its task retries it), saying why
    on its page; True when it was running (and, with ``owner``, still held by that claim). What it wrote
    so far stays: the retry goes on from there."""
    running = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.RUNNING)
    if owner is not None:
        running = running.filter(claimed_by=owner)
    return bool(
        running.update(
            status=SyncRun.Status.QUEUED, error_class=ErrorKind.TRANSIENT, **notice_fields("error", notice)
        )
    )


def sync_run_finish(
    *,
    run: SyncRun,
    status: SyncRun.Status,
    error_class: ErrorKind | None = None,
    notice: Notice | None = None,
    reconciled: bool | None = None,
) -> None:
    """Record a run's end, if the worker still holds its claim (``run.claimed_by``); a successful one moves
    its link's "last synced"."""
    now = timezone.now()
    with transaction.atomic():
        held(run.pk, run.claimed_by).update(
            status=status,
            finished_at=now,
            error_class=error_class or "",
            **notice_fields("error", notice),
            reconciled=reconciled,
        )
        if status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES}:
            ClientLink.objects.filter(pk=run.link_id).update(last_success_at=now)


def sync_run_wait_until(*, run_id: int, not_before: dt.datetime) -> None:
    """A queued run waits until ``not_before`` (WoW asked for a long wait): no worker takes it before then,
    and the dispatcher sends it again once it has passed (syncs/schedule.py)."""
    SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED).update(not_before=not_before)


def sync_run_give_up(*, run_id: int, reason: Notice) -> None:
    """A run whose retries are spent fails, saying what went wrong last; the next scheduled sync tries
    again."""
    gave_up = Notice("run.gave_up", {"reason": reason.as_json(), "retries": settings.SYNC_MAX_RETRIES})
    SyncRun.objects.filter(pk=run_id, status__in=SyncRun.ACTIVE_STATUSES).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_class=ErrorKind.TRANSIENT,
        **notice_fields("error", gave_up),
    )


def sync_runs_cancel_queued(runs: QuerySet[SyncRun], *, error_class: ErrorKind, notice: Notice) -> int:
    """Runs not started yet will not be: they end as failed, saying why (a worker finds them taken)."""
    return runs.filter(status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_class=error_class,
        **notice_fields("error", notice),
    )


def retry_delay(retries: int, *, base: float = 30.0, cap: float = 600.0) -> float:
    """How long to wait before retry number ``retries + 1`` of a run: doubling from ``base``, capped, with
    jitter so a firm's runs do not retry in step (30 s, 60 s, 120 s, … 10 minutes for a worker); the same
    formula as the WoW client's own retries."""
    return backoff_delay(retries, base=base, cap=cap)
