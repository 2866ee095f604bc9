"""The run claim itself (syncs.runs.sync_run_claim), on the database alone: which run a worker may take, what
taking it writes, when a run whose worker is gone is taken over, and the per-firm cap. The claim under real
workers and threads is tested in tests/reliability (test_concurrency, test_liveness, test_fair_sharing); these
tests pin each condition of the claim, which mutation testing (make mutation) found loosely held."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from clients.models import ClientFile, Firm
from syncs.models import SyncRun
from syncs.runs import FirmAtCapacity, RunNotClaimed, sync_run_claim
from tests.factories import ClientFileFactory
from tests.fixtures import FirmWorld
from tests.ledger.factories import make_run

pytestmark = pytest.mark.django_db

STALE_AFTER = 600


@pytest.fixture(autouse=True)
def _claim_settings(settings: Any) -> None:
    settings.SYNC_STALE_AFTER_SECONDS = STALE_AFTER
    settings.SYNC_MAX_RUNNING_PER_FIRM = 2
    settings.SYNC_RESERVED_FOR_REQUESTED_PER_FIRM = 1


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def queued(client_file: ClientFile, **fields: Any) -> SyncRun:
    return make_run(client_file, status=SyncRun.Status.QUEUED, **fields)


def running(client_file: ClientFile, *, heartbeat: float, lease: float | None, **fields: Any) -> SyncRun:
    """A running run whose worker last beat ``heartbeat`` seconds ago and whose lease ends in ``lease``
    seconds (negative: it ended; None: no lease)."""
    return make_run(
        client_file,
        status=SyncRun.Status.RUNNING,
        claimed_by="the-first-worker",
        attempt=1,
        started_at=ago(heartbeat + 60),
        heartbeat_at=ago(heartbeat),
        lease_until=None if lease is None else ago(-lease),
        **fields,
    )


def files_of(world: FirmWorld, count: int) -> list[ClientFile]:
    return [ClientFileFactory.create(firm=world.firm, name=f"Client {n}") for n in range(count)]


def refused(run: SyncRun) -> type[Exception]:
    """The exception the claim of ``run`` raises (it must raise, saying why), after checking it changed
    nothing."""
    before = SyncRun.objects.filter(pk=run.pk).values().get()
    with pytest.raises(RunNotClaimed) as raised:
        sync_run_claim(run_id=run.pk)
    assert SyncRun.objects.filter(pk=run.pk).values().get() == before
    if isinstance(raised.value, FirmAtCapacity):
        assert re.fullmatch(rf"Run {run.pk} waits: its firm already runs \d+ syncs\.", str(raised.value))
        assert raised.value.requested is (run.trigger != SyncRun.Trigger.SCHEDULE)
    else:
        assert str(raised.value) == f"Run {run.pk} is taken or finished."
    return type(raised.value)


def test_a_queued_run_is_taken_with_a_token_a_lease_and_its_first_attempt(world: FirmWorld) -> None:
    run = queued(world.given_file)
    claimed = sync_run_claim(run_id=run.pk)
    stored = SyncRun.objects.get(pk=run.pk)
    assert claimed.pk == run.pk and claimed.claimed_by == stored.claimed_by != ""
    assert stored.status == SyncRun.Status.RUNNING
    assert stored.attempt == 1
    assert stored.started_at is not None and stored.started_at == stored.heartbeat_at
    assert stored.lease_until == stored.heartbeat_at + dt.timedelta(seconds=STALE_AFTER)
    assert claimed.link.pk == run.link_id  # the run comes back with what the engine needs next


def test_each_claim_has_a_token_of_its_own(world: FirmWorld) -> None:
    first, second = (queued(client_file) for client_file in files_of(world, 2))
    assert sync_run_claim(run_id=first.pk).claimed_by != sync_run_claim(run_id=second.pk).claimed_by


def test_a_run_taken_by_a_live_worker_is_not_taken_again(world: FirmWorld) -> None:
    run = queued(world.given_file)
    sync_run_claim(run_id=run.pk)
    assert refused(SyncRun.objects.get(pk=run.pk)) is RunNotClaimed


def test_a_run_that_does_not_exist_is_refused_by_name(world: FirmWorld) -> None:
    with pytest.raises(RunNotClaimed, match="does not exist"):
        sync_run_claim(run_id=987654321)


@pytest.mark.parametrize(
    "status", [SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES, SyncRun.Status.FAILED]
)
def test_a_finished_run_is_never_taken(world: FirmWorld, status: str) -> None:
    assert refused(make_run(world.given_file, status=status)) is RunNotClaimed


def test_a_run_asked_to_wait_is_not_taken_before_its_time_and_then_is(world: FirmWorld) -> None:
    waiting = queued(world.given_file, not_before=ago(-60))
    assert refused(waiting) is RunNotClaimed
    SyncRun.objects.filter(pk=waiting.pk).update(not_before=ago(1))
    sync_run_claim(run_id=waiting.pk)
    stored = SyncRun.objects.get(pk=waiting.pk)
    assert stored.status == SyncRun.Status.RUNNING and stored.not_before is None


def test_a_run_whose_worker_is_gone_is_taken_over_as_its_next_attempt(world: FirmWorld) -> None:
    # No heartbeat for longer than the stale time, and its lease ended.
    run = running(world.given_file, heartbeat=STALE_AFTER + 60, lease=-1)
    claimed = sync_run_claim(run_id=run.pk)
    stored = SyncRun.objects.get(pk=run.pk)
    assert claimed.claimed_by == stored.claimed_by != "the-first-worker"
    assert stored.status == SyncRun.Status.RUNNING
    assert stored.attempt == 2
    assert stored.started_at == run.started_at  # the same run goes on, it does not start again
    assert stored.heartbeat_at is not None and run.heartbeat_at is not None
    assert stored.heartbeat_at > run.heartbeat_at
    assert stored.lease_until == stored.heartbeat_at + dt.timedelta(seconds=STALE_AFTER)


def test_a_run_with_a_stale_heartbeat_and_no_lease_is_taken_over(world: FirmWorld) -> None:
    run = running(world.given_file, heartbeat=STALE_AFTER + 60, lease=None)
    sync_run_claim(run_id=run.pk)
    assert SyncRun.objects.get(pk=run.pk).attempt == 2


def test_a_run_whose_worker_beat_recently_is_not_taken_over_even_after_its_lease(world: FirmWorld) -> None:
    assert refused(running(world.given_file, heartbeat=STALE_AFTER - 60, lease=-1)) is RunNotClaimed


def test_a_run_whose_lease_still_holds_is_not_taken_over_even_without_heartbeats(world: FirmWorld) -> None:
    assert refused(running(world.given_file, heartbeat=STALE_AFTER + 60, lease=60)) is RunNotClaimed


def test_a_firm_at_its_cap_keeps_the_next_run_queued(world: FirmWorld) -> None:
    first, second, third = files_of(world, 3)
    for client_file in (first, second):
        running(client_file, heartbeat=1, lease=60)
    waiting = queued(third)
    assert refused(waiting) is FirmAtCapacity


def test_a_run_taken_over_at_a_firm_at_its_cap_waits_too(world: FirmWorld) -> None:
    first, second, third = files_of(world, 3)
    for client_file in (first, second):
        running(client_file, heartbeat=1, lease=60)
    orphan = running(third, heartbeat=STALE_AFTER + 60, lease=-1)
    assert refused(orphan) is FirmAtCapacity


def test_one_run_under_the_cap_may_go(world: FirmWorld) -> None:
    first, second = files_of(world, 2)
    running(first, heartbeat=1, lease=60)
    run = queued(second)
    assert sync_run_claim(run_id=run.pk).status == SyncRun.Status.RUNNING


def test_runs_whose_lease_ended_or_of_another_firm_do_not_count_against_the_cap(
    world: FirmWorld, other_world: FirmWorld
) -> None:
    first, second, third = files_of(world, 3)
    running(first, heartbeat=1, lease=-1)  # its worker is presumed gone
    # A run that just finished keeps the lease it had: finished, it runs no more.
    make_run(first, status=SyncRun.Status.SUCCEEDED, heartbeat_at=ago(1), lease_until=ago(-60))
    running(second, heartbeat=1, lease=60)
    for client_file in (other_world.given_file, other_world.other_file):
        running(client_file, heartbeat=1, lease=60)
    run = queued(third)
    assert sync_run_claim(run_id=run.pk).status == SyncRun.Status.RUNNING


def test_a_firm_at_its_cap_refuses_a_finished_run_as_not_claimable_not_as_waiting(world: FirmWorld) -> None:
    # Only a run that could be taken waits for the cap; one that could not is simply not taken.
    first, second, third, fourth, fifth = files_of(world, 5)
    for client_file in (first, second):
        running(client_file, heartbeat=1, lease=60)
    assert refused(make_run(third, status=SyncRun.Status.SUCCEEDED)) is RunNotClaimed
    finished = make_run(
        third, status=SyncRun.Status.SUCCEEDED, heartbeat_at=ago(STALE_AFTER + 60), lease_until=ago(1)
    )
    assert refused(finished) is RunNotClaimed
    assert refused(running(fourth, heartbeat=1, lease=-1)) is RunNotClaimed  # its worker is alive
    assert refused(running(fifth, heartbeat=STALE_AFTER + 60, lease=60)) is RunNotClaimed  # its lease holds


def test_a_run_a_person_asked_for_may_take_the_slot_kept_for_them(world: FirmWorld) -> None:
    # Two scheduled syncs fill the firm's cap: the next scheduled one waits, a "Sync now" still goes, once.
    first, second, third, fourth, fifth = files_of(world, 5)
    for client_file in (first, second):
        running(client_file, heartbeat=1, lease=60)
    assert refused(queued(third)) is FirmAtCapacity
    asked = queued(fourth, trigger=SyncRun.Trigger.MANUAL)
    assert sync_run_claim(run_id=asked.pk).status == SyncRun.Status.RUNNING
    assert refused(queued(fifth, trigger=SyncRun.Trigger.MANUAL)) is FirmAtCapacity


def test_the_claimed_run_comes_with_its_link_and_connection_read(
    world: FirmWorld, django_assert_num_queries: Any
) -> None:
    run = sync_run_claim(run_id=queued(world.given_file).pk)
    with django_assert_num_queries(0):
        assert run.link.client_file_id == world.given_file.pk
        assert run.link.connection.firm_id == world.firm.pk


@pytest.mark.django_db(transaction=True)
def test_claims_of_one_firm_are_made_one_at_a_time(world: FirmWorld) -> None:
    """While another worker's claim holds the firm (its row locked), a claim for the same firm waits: here it
    gives up after a short lock timeout instead, and takes nothing. Without that lock two workers could both
    count the firm's running syncs under the cap and both claim."""
    run = queued(world.given_file)
    outcome: list[str] = []

    def claim_elsewhere() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
            sync_run_claim(run_id=run.pk)
            outcome.append("claimed")
        except OperationalError:
            outcome.append("waited")
        finally:
            connection.close()

    with transaction.atomic():
        Firm.objects.select_for_update().get(pk=world.firm.pk)  # another worker's claim, in progress
        worker = threading.Thread(target=claim_elsewhere)
        worker.start()
        worker.join()
    assert outcome == ["waited"]
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED
    assert sync_run_claim(run_id=run.pk).status == SyncRun.Status.RUNNING  # once the firm is free
