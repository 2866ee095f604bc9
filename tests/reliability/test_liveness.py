"""One run, one worker, even while a WoW call hangs: real Celery workers, the dispatcher run meanwhile.

The heartbeat is kept fresh by a thread while the run waits on a slow answer, so the dispatcher does not
hand the run to a second worker; a second delivery of its task is turned away by the claim; and a worker
that lost its claim after all writes nothing more."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from syncs.liveness import RunLost, held
from syncs.models import SyncRun
from syncs.runs import sync_run_claim, sync_run_enqueue
from syncs.schedule import sync_dispatch_due
from tests.fixtures import FirmWorld

from .helpers import connect_and_link, fault
from .test_faults import ENTRIES_PATH, assert_exact
from .workers import purge_broker, wait_for, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DONE = {SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES, SyncRun.Status.FAILED}


@pytest.fixture(autouse=True)
def _clean_broker(settings: Any) -> None:
    purge_broker()
    settings.SYNC_STALE_AFTER_SECONDS = 2
    settings.SYNC_REQUEUE_AFTER_SECONDS = 1


def test_a_run_waiting_on_a_hung_call_is_never_taken_by_a_second_worker(
    world: FirmWorld, wow_sandbox: Any, tmp_path: Path
) -> None:
    link = connect_and_link(world, wow_sandbox)
    run = SyncRun.objects.get(link=link)
    # The documents' answer hangs three times as long as a heartbeat may be missed.
    fault(wow_sandbox, path_contains=ENTRIES_PATH, kind="slow", delay=6, count=1)
    with worker(tmp_path / "one.log") as one, worker(tmp_path / "two.log") as two:

        def hanging() -> bool:
            fired = any(f["fired"] for f in wow_sandbox.control("GET", "faults").json())
            return fired and SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.RUNNING

        wait_for(hanging, what="the run to wait on the slow answer")
        sync_run_enqueue(run_id=run.pk, trigger=SyncRun.Trigger.MANUAL)  # a second delivery while it hangs
        resent = 0
        while SyncRun.objects.get(pk=run.pk).status not in DONE:
            resent += sync_dispatch_due()["resent"]  # beat, every few hundred milliseconds
            time.sleep(0.3)
        done = SyncRun.objects.get(pk=run.pk)
        wait_for(lambda: one.count(f"Run {run.pk} not claimed") + two.count(f"Run {run.pk} not claimed") >= 1)
        logs = one.output() + two.output()
    assert done.status == SyncRun.Status.SUCCEEDED, (done.error_message, logs)
    assert done.attempt == 1, logs  # claimed once: never taken over
    assert resent == 0  # the dispatcher saw a live run, not an orphan
    assert "claim lost" not in logs
    assert_exact(link, wow_sandbox)


def test_a_worker_that_lost_its_claim_writes_nothing(world: FirmWorld, wow_sandbox: Any) -> None:
    """Taken over after all (its worker was presumed gone): the first worker's next write finds the run
    held by another claim and stops, rolled back."""
    link = connect_and_link(world, wow_sandbox)
    run = sync_run_claim(run_id=SyncRun.objects.get(link=link).pk)
    SyncRun.objects.filter(pk=run.pk).update(claimed_by="another-worker", lease_until=timezone.now())
    assert not held(run.pk, run.claimed_by).exists()
    from syncs.engine import RunState, _save_progress
    from syncs.providers import get_provider

    reader = get_provider("winbooks").reader(connection_id=link.connection_id, company_code=link.company_code)
    state = RunState.resume(run, run.link, reader)
    with pytest.raises(RunLost):
        _save_progress(state)
    reader.close()
    assert SyncRun.objects.get(pk=run.pk).claimed_by == "another-worker"
