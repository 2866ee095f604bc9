"""The schedule: which links are due, nightly per connection, and recovery of lost or orphaned runs."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from . import runs
from .models import ClientLink, Connection, SyncRun

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock's key for the dispatcher's tick (any constant no other lock of the project uses).
DISPATCHER_LOCK_KEY = 0x5C_D15_9A7C
# While "on" in a transaction, the latest-run trigger (migration 0011) leaves the links to the caller.
LATEST_RUN_SET_BY_CALLER = "syncs.latest_run_set_by_caller"


def next_nightly(*, after: dt.datetime, at: dt.time) -> dt.datetime:
    """The first moment after ``after`` when the firm's clock shows ``at``."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = after.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


def sync_dispatch_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue one run per due link, send again runs nobody started, and hand runs whose worker stopped
    sending heartbeats to another worker. Safe to run concurrently: ticks take turns (an advisory lock on
    PostgreSQL, the write lock on SQLite), runs are unique per link and claims are compare-and-set.

    A fixed number of queries whatever the number of due links (``SYNC_DISPATCH_BATCH`` at most per tick):
    one read of the due links, one insert of their runs, one update of their next sync, and the broker
    messages sent in pipelined batches. Runs are sent firm by firm in turn (each firm's first due link, then
    each firm's second, ...), so a firm with thousands of files due does not stand in the queue before the
    others' few (the per-firm cap then keeps it to its share of the workers)."""
    now = now or timezone.now()
    with transaction.atomic():
        _one_dispatcher_at_a_time()
        queued = _queue_due_links(now)
        _schedule_unscheduled_links(now)
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
    again = [*forgotten, *stale]
    runs.sync_runs_enqueue(again)
    resent = len(again)
    if queued or resent:
        logger.info("Dispatcher: %s runs queued, %s sent again", queued, resent)
    return {"queued": queued, "resent": resent}


def _one_dispatcher_at_a_time() -> None:
    """Two ticks at once (beat running twice, a slow tick overlapping the next) take turns: the second
    reads the links only after the first has moved their next sync. SQLite takes its write lock at the start
    of every transaction already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DISPATCHER_LOCK_KEY])


def _queue_due_links(now: dt.datetime) -> int:
    """One scheduled run for each due link that has no active run, sent firm by firm in turn once the
    transaction commits; every due link's next sync moves to its connection's next nightly time."""
    due = list(
        ClientLink.objects.filter(unlinked_at__isnull=True, connection__status=Connection.Status.CONNECTED)
        .filter(next_sync_at__lte=now, client_file__archived_at__isnull=True)
        .annotate(
            turn=Window(RowNumber(), partition_by=[F("firm_id")], order_by=[F("next_sync_at"), F("pk")]),
        )
        .order_by("turn", "next_sync_at", "pk")
        .values_list("pk", "client_file_id", "connection__nightly_sync_time")[: settings.SYNC_DISPATCH_BATCH]
    )
    if not due:
        return 0
    created = _create_scheduled_runs([(link_id, client_file_id) for link_id, client_file_id, _ in due])
    _move_next_sync([(link_id, at) for link_id, _, at in due], now, latest_runs=dict(created))
    sent: list[tuple[int, str]] = [(run_id, SyncRun.Trigger.SCHEDULE) for run_id, _ in created]
    transaction.on_commit(lambda: runs.sync_runs_enqueue(sent))
    return len(created)


def _create_scheduled_runs(links: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A queued scheduled run for each (link, client file) without an active run, created in this order;
    the new runs (id, link id) in the same order. On PostgreSQL the links' ``latest_run`` is left to
    ``_move_next_sync`` (one update of each link instead of two), which must follow in the transaction."""
    schedule = SyncRun.Trigger.SCHEDULE
    if connection.vendor != "postgresql":
        busy = set(
            SyncRun.objects.filter(
                link_id__in=[link_id for link_id, _ in links], status__in=SyncRun.ACTIVE_STATUSES
            ).values_list("link_id", flat=True)
        )
        created = []
        for link_id, client_file_id in links:
            if link_id not in busy:
                link = ClientLink(pk=link_id, client_file_id=client_file_id)
                run, is_new = runs.sync_run_request(link=link, trigger=schedule)
                created += [(run.pk, link_id)] if is_new else []
        return created
    # PostgreSQL: one statement for all, the lists passed as two arrays. A link with an active run (or one a
    # person's "Sync now" creates meanwhile) is left out by the partial unique index one_active_run_per_link.
    # Every other column gets its model default, so a field added to SyncRun needs nothing here.
    columns, values, params = [], [], []
    for field in SyncRun._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(str(field.column)))
        if field.attname in {"link_id", "client_file_id"}:
            values.append(f"due.{field.attname}")
            continue
        if field.attname == "trigger":
            value: object = schedule
        elif getattr(field, "auto_now_add", False):
            value = timezone.now()
        else:
            value = field.get_default()
        values.append(f"%s::{field.db_type(connection)}")
        params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        # The latest-run trigger (migrations 0009, 0011) leaves these links to the update that follows.
        cursor.execute("SELECT set_config(%s, 'on', true)", [LATEST_RUN_SET_BY_CALLER])
        cursor.execute(
            f"INSERT INTO {SyncRun._meta.db_table} ({', '.join(columns)}) "  # noqa: S608 (names from the model)
            f"SELECT {', '.join(values)} "
            "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS due(link_id, client_file_id, turn) "
            "ORDER BY due.turn ON CONFLICT DO NOTHING RETURNING id, link_id",
            [*params, [link_id for link_id, _ in links], [file_id for _, file_id in links]],
        )
        return [(run_id, link_id) for run_id, link_id in sorted(cursor.fetchall())]


def _schedule_unscheduled_links(now: dt.datetime) -> None:
    """Links linked before they had a schedule get their next nightly time."""
    _move_next_sync(
        list(
            ClientLink.objects.filter(unlinked_at__isnull=True, next_sync_at__isnull=True).values_list(
                "pk", "connection__nightly_sync_time"
            )[: settings.SYNC_DISPATCH_BATCH]
        ),
        now,
        latest_runs={},
    )


def _move_next_sync(
    links: list[tuple[int, dt.time]], now: dt.datetime, *, latest_runs: dict[int, int]
) -> None:
    """Each link's next sync at its connection's next nightly time, in one update; on PostgreSQL with the
    link's new run (``latest_runs``: run id by link id) as its latest, as the trigger would have set it."""
    if not links:
        return
    nightly = {at: next_nightly(after=now, at=at) for at in {at for _, at in links}}
    if connection.vendor == "postgresql":
        run_of = {link_id: run_id for run_id, link_id in latest_runs.items()}
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ClientLink._meta.db_table} AS link SET next_sync_at = moved.at, "  # noqa: S608
                "latest_run_id = CASE WHEN moved.run_id > coalesce(link.latest_run_id, 0) THEN moved.run_id "
                "ELSE link.latest_run_id END "
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[]) AS moved(id, at, run_id) "
                "WHERE link.id = moved.id",
                [
                    [link_id for link_id, _ in links],
                    [nightly[at] for _, at in links],
                    [run_of.get(link_id) for link_id, _ in links],
                ],
            )
            cursor.execute("SELECT set_config(%s, 'off', true)", [LATEST_RUN_SET_BY_CALLER])
        return
    by_time: dict[dt.time, list[int]] = defaultdict(list)
    for link_id, at in links:
        by_time[at].append(link_id)
    ClientLink.objects.filter(pk__in=[link_id for link_id, _ in links]).update(
        next_sync_at=Case(
            *(When(pk__in=ids, then=Value(nightly[at])) for at, ids in by_time.items()),
            output_field=DateTimeField(),
        )
    )
