"""Fair sharing between firms: a per-firm cap on running syncs, WoW's long waits kept on the run (not in a
worker or a broker message), and retries counted on the run across re-sends."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.utils import timezone

from syncs.models import ClientLink, Connection, SyncRun
from syncs.providers.winbooks.tokens import client_for_connection
from syncs.runs import FirmAtCapacity, RunNotClaimed, sync_run_claim
from syncs.schedule import sync_dispatch_due
from syncs.tasks import run_sync
from tests.factories import ClientFileFactory
from tests.fixtures import FirmWorld
from tests.hostile_wow import hostile_server

from .helpers import connect_and_link, fault

pytestmark = pytest.mark.django_db


def linked_files(world: FirmWorld, sandbox: Any, count: int) -> list[ClientLink]:
    links = []
    for n in range(count):
        code = sandbox.DEMO if n == 0 else f"EXTRA_{n}"
        if n:
            sandbox.control("POST", "folders", {"code": code, "kind": "demo", "grant": [sandbox.TESTER]})
        client_file = ClientFileFactory.create(firm=world.firm, name=f"File {n}")
        links.append(connect_and_link(world, sandbox, client_file=client_file, code=code))
    return links


def test_a_firm_runs_no_more_syncs_at_once_than_its_cap(
    world: FirmWorld, other_world: FirmWorld, wow_sandbox: Any, settings: Any
) -> None:
    settings.SYNC_MAX_RUNNING_PER_FIRM = 2
    first, second, third = (SyncRun.objects.get(link=link) for link in linked_files(world, wow_sandbox, 3))
    # Nightly runs: a run a person asked for may use a slot more (tests/reliability/test_sync_now_priority.py).
    SyncRun.objects.filter(pk__in=[first.pk, second.pk, third.pk]).update(trigger=SyncRun.Trigger.SCHEDULE)
    sync_run_claim(run_id=first.pk)
    sync_run_claim(run_id=second.pk)
    with pytest.raises(FirmAtCapacity):
        sync_run_claim(run_id=third.pk)
    assert SyncRun.objects.get(pk=third.pk).status == SyncRun.Status.QUEUED  # it waits, untouched
    assert SyncRun.objects.get(pk=third.pk).attempt == 0
    # Another firm is not held back by this one.
    theirs = SyncRun.objects.get(link=connect_and_link(other_world, wow_sandbox))
    assert sync_run_claim(run_id=theirs.pk).status == SyncRun.Status.RUNNING
    # A run whose worker is gone (lease expired) no longer counts: the waiting run may go.
    SyncRun.objects.filter(pk=first.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert sync_run_claim(run_id=third.pk).status == SyncRun.Status.RUNNING


def test_a_long_retry_after_becomes_a_not_before_that_the_claim_and_the_dispatcher_respect(
    world: FirmWorld, wow_sandbox: Any, settings: Any
) -> None:
    settings.SYNC_REQUEUE_AFTER_SECONDS = 900
    link = connect_and_link(world, wow_sandbox)
    run = SyncRun.objects.get(link=link)
    fault(
        wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429, retry_after="1e308", count=1
    )
    before = timezone.now()
    run_sync.apply(args=[run.pk])  # the task returns: no worker sleeps, no broker message waits for hours
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED and run.error_class == "transient"
    assert run.not_before is not None
    # Clamped (6 hours), not 1e308 seconds: a date the scheduler can hold.
    assert dt.timedelta(hours=5) < run.not_before - before <= dt.timedelta(hours=6, seconds=5)
    with pytest.raises(RunNotClaimed):
        sync_run_claim(run_id=run.pk)  # a stray delivery does not start it early
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=before - dt.timedelta(hours=1))
    assert sync_dispatch_due()["resent"] == 0  # not sent while the wait lasts
    SyncRun.objects.filter(pk=run.pk).update(not_before=timezone.now() - dt.timedelta(seconds=1))
    assert sync_dispatch_due()["resent"] == 1  # sent once it has passed
    assert sync_run_claim(run_id=run.pk).status == SyncRun.Status.RUNNING


def test_retries_are_counted_on_the_run_across_re_sends(
    world: FirmWorld, wow_sandbox: Any, settings: Any
) -> None:
    """A run the dispatcher sent again (a new broker message, at 0 retries) still gives up in the end."""
    settings.SYNC_MAX_RETRIES = 3
    link = connect_and_link(world, wow_sandbox)
    run = SyncRun.objects.get(link=link)
    SyncRun.objects.filter(pk=run.pk).update(attempt=3)  # three earlier claims, by earlier messages
    fault(
        wow_sandbox, path_contains="ExecuteCriteria", kind="status", status=429, retry_after="7200", count=1
    )
    run_sync.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "Gave up after 3 retries" in run.error_message


def test_a_licence_gets_no_more_requests_at_once_than_its_cap_whatever_the_workers(
    world: FirmWorld, other_world: FirmWorld, wow_sandbox: Any, settings: Any
) -> None:
    """Four readers of one connection (as four workers would be) against a slow host: never more than the
    cap in flight at once; another firm's connection has slots of its own."""
    settings.WOW_MAX_CONCURRENT_REQUESTS = 1
    ours = connect_and_link(world, wow_sandbox).connection_id
    theirs = connect_and_link(other_world, wow_sandbox).connection_id
    with hostile_server("slow", interval=0.3) as server:
        Connection.objects.filter(pk__in=[ours, theirs]).update(api_url=server.url)
        clients = [client_for_connection(ours) for _ in range(4)]

        def read(client: Any) -> None:
            for _ in range(3):
                list(client.iter_all("Journal", "DEMO"))

        threads = [threading.Thread(target=read, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.requests == 12 and server.most_in_flight == 1

        server.most_in_flight = 0
        both = [client_for_connection(ours), client_for_connection(theirs)]
        threads = [threading.Thread(target=read, args=(client,)) for client in both]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.most_in_flight == 2  # one licence's cap does not hold another back
