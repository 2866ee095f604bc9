"""Real worker processes killed, the database and the broker restarted, tasks delivered twice: no run is lost
or doubled, and the ledger ends exactly equal to the sandbox. Each test starts a Celery worker
(``--pool solo``) on the test database; each takes a few seconds."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from syncs.models import ClientLink, SyncRun
from syncs.runs import sync_run_enqueue
from syncs.schedule import sync_dispatch_due
from tests.fixtures import FirmWorld

from .helpers import connect_and_link, fault, past
from .test_faults import ENTRIES_PATH, assert_exact
from .workers import broker_messages, purge_broker, reconnect_database, restart_redis, wait_for, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DONE = {SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES, SyncRun.Status.FAILED}


@pytest.fixture(autouse=True)
def _clean_broker(settings: Any) -> None:
    purge_broker()
    settings.SYNC_STALE_AFTER_SECONDS = 2
    settings.SYNC_REQUEUE_AFTER_SECONDS = 1


def run_of(link: ClientLink) -> SyncRun:
    return SyncRun.objects.get(link=link)


def finished(run_id: int, *, dispatch: bool = False) -> SyncRun | None:
    """The run once it ended; with ``dispatch``, run the beat's dispatcher meanwhile (recovery)."""
    if dispatch:
        sync_dispatch_due()
    run = SyncRun.objects.get(pk=run_id)
    return run if run.status in DONE else None


def mid_run(run_id: int, sandbox: Any) -> bool:
    """The run is running and its worker is waiting for the slow answer (master data written, documents not)."""
    fired = any(f["fired"] for f in sandbox.control("GET", "faults").json())
    return fired and SyncRun.objects.get(pk=run_id).status == SyncRun.Status.RUNNING


def test_a_worker_killed_mid_run_is_recovered_and_the_result_is_exact(
    world: FirmWorld, wow_sandbox: Any, tmp_path: Path
) -> None:
    link = connect_and_link(world, wow_sandbox)  # the first sync is queued (sent to the broker on commit)
    run = run_of(link)
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="slow", delay=4, count=1)
    with worker(tmp_path / "worker1.log") as first:
        wait_for(lambda: mid_run(run.pk, wow_sandbox), what="the run to reach its documents")
        first.kill()  # SIGKILL: no clean-up, no acknowledgement
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.RUNNING  # orphaned
    wow_sandbox.control("DELETE", "faults")
    with worker(tmp_path / "worker2.log") as second:
        done = wait_for(lambda: finished(run.pk, dispatch=True), what="the run to be recovered")
        assert done.status == SyncRun.Status.SUCCEEDED, (done.error_message, second.output())
    assert done.attempt == 2
    assert SyncRun.objects.filter(link=link).count() == 1
    assert_exact(link, wow_sandbox)


def test_the_same_task_delivered_twice_has_one_effect(
    world: FirmWorld, wow_sandbox: Any, tmp_path: Path
) -> None:
    link = connect_and_link(world, wow_sandbox)
    run = run_of(link)
    wow_sandbox.control("DELETE", "stats")
    sync_run_enqueue(
        run_id=run.pk, trigger=run.trigger
    )  # a second delivery of the same task, on top of the one linking sent
    sync_run_enqueue(run_id=run.pk, trigger=run.trigger)
    with worker(tmp_path / "worker.log") as one:
        done = wait_for(lambda: finished(run.pk), what="the run to end")
        # The two other deliveries reach the worker and are turned away by the claim, asking WoW nothing.
        wait_for(lambda: one.count(f"Run {run.pk} not claimed") == 2, what="the other two deliveries")
        assert (one.count("] received"), one.count("] succeeded")) == (3, 3), one.output()
    assert done.status == SyncRun.Status.SUCCEEDED, done.error_message
    again = SyncRun.objects.get(pk=run.pk)
    assert (again.attempt, again.finished_at, again.api_calls) == (1, done.finished_at, done.api_calls)
    # Every request WoW saw belongs to the one run: the other deliveries asked nothing.
    assert wow_sandbox.control("GET", "stats").json()["requests"]["total"] == done.api_calls
    assert_exact(link, wow_sandbox)


def test_postgresql_restarted_mid_run_is_recovered_and_the_result_is_exact(
    world: FirmWorld, wow_sandbox: Any, tmp_path: Path, settings: Any
) -> None:
    from tests.services import restart_postgres

    # Recovery must not wait for the stale-heartbeat takeover (minutes in production): the worker puts the
    # run back in the queue itself.
    settings.SYNC_STALE_AFTER_SECONDS = 600
    link = connect_and_link(world, wow_sandbox)
    run = run_of(link)
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="slow", delay=2, count=1)
    with worker(tmp_path / "worker.log", SYNC_STALE_AFTER_SECONDS="600") as one:
        wait_for(lambda: mid_run(run.pk, wow_sandbox), what="the run to reach its documents")
        reconnect_database()
        restart_postgres()
        reconnect_database()
        done = wait_for(lambda: finished(run.pk, dispatch=True), what="the run to be recovered")
        assert done.status == SyncRun.Status.SUCCEEDED, (done.error_message, one.output())
        # Interrupted by the restart and put back in the queue by its worker, then taken again: not finished
        # before the restart, and not recovered by the (600 s) stale-heartbeat takeover.
        assert one.count(f"Run {run.pk}: database connection lost; retrying") == 1, one.output()
    assert done.attempt == 2
    assert SyncRun.objects.filter(link=link).count() == 1
    assert_exact(link, wow_sandbox)


def test_redis_restarted_while_runs_are_queued_loses_none_and_doubles_none(
    world: FirmWorld, wow_sandbox: Any, tmp_path: Path
) -> None:
    wow_sandbox.control(
        "POST", "folders", {"code": "SECOND_BV", "kind": "demo", "grant": [wow_sandbox.TESTER]}
    )
    first = connect_and_link(world, wow_sandbox)
    waiting = run_of(first)
    # A worker starts the first run; WoW asks it to come back in five minutes, so the run goes back to the
    # queue and the task's retry waits in the broker.
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="status", status=429, retry_after=300, count=1)
    with worker(tmp_path / "worker1.log") as one:
        wait_for(
            lambda: one.count(f"Run {waiting.pk}: transient error, retry 1 in 300 s"),
            what="the first run to wait for its retry",
        )
    assert SyncRun.objects.get(pk=waiting.pk).status == SyncRun.Status.QUEUED
    # The second run is queued and never started.
    second = connect_and_link(world, wow_sandbox, client_file=world.other_file, code="SECOND_BV")
    never_started = run_of(second)
    assert broker_messages() >= 2  # the retry and the second run's message
    restart_redis()
    assert broker_messages() == 0  # every message is gone
    # Both are older than SYNC_REQUEUE_AFTER_SECONDS: the dispatcher sends them again.
    SyncRun.objects.filter(pk__in=[waiting.pk, never_started.pk]).update(
        queued_at=past(5), heartbeat_at=past(5)
    )
    with worker(tmp_path / "worker2.log") as two:
        for run in (waiting, never_started):
            done = wait_for(partial(finished, run.pk, dispatch=True), what="the queued runs to be re-sent")
            assert done.status == SyncRun.Status.SUCCEEDED, (done.error_message, two.output())
    assert SyncRun.objects.get(pk=waiting.pk).attempt == 2  # the interrupted attempt, then the recovery
    assert SyncRun.objects.get(pk=never_started.pk).attempt == 1
    for link in (first, second):
        assert SyncRun.objects.filter(link=link).count() == 1
    assert_exact(first, wow_sandbox)
    assert_ledger_equals_second(second, wow_sandbox)


def assert_ledger_equals_second(link: ClientLink, sandbox: Any) -> None:
    from tests.syncs.helpers import assert_ledger_equals_sandbox

    assert_ledger_equals_sandbox(link.client_file, sandbox.snapshot("SECOND_BV"))
