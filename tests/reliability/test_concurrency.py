"""Requests at the same instant: one run, never two (transactional database, real threads)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from syncs import runs
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, SyncRun
from syncs.runs import RunNotClaimed, sync_run_claim
from syncs.schedule import sync_dispatch_due
from tests.fixtures import FirmWorld

from .helpers import connect_and_link, past

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def idle_link(world: FirmWorld, wow_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> ClientLink:
    """A linked client file with no active run; runs sent to a worker are recorded, not sent."""
    link = connect_and_link(world, wow_sandbox)
    SyncRun.objects.filter(link=link).update(status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now())
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        runs, "sync_run_enqueue", lambda *, run_id, trigger: sent.append((run_id, runs.queue_for(trigger)))
    )
    link.sent = sent  # type: ignore[attr-defined]
    return link


def test_two_sync_now_at_the_same_instant_give_one_run(world: FirmWorld, idle_link: ClientLink) -> None:
    url = reverse("client_sync_now", args=[world.firm.slug, world.given_file.pk])
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def press(user: Any) -> None:
        client = Client()
        client.force_login(user)
        barrier.wait()
        try:
            statuses.append(client.post(url).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(u,)) for u in (world.staff, world.admin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [302, 302]
    manual = SyncRun.objects.filter(link=idle_link, trigger=SyncRun.Trigger.MANUAL)
    assert manual.count() == 1
    assert SyncRun.objects.filter(link=idle_link, status__in=SyncRun.ACTIVE_STATUSES).count() == 1
    assert idle_link.sent == [(manual.get().pk, runs.QUEUE_NOW)]  # type: ignore[attr-defined]


def test_many_requests_racing_past_the_first_check_still_give_one_run(idle_link: ClientLink) -> None:
    """The check-then-insert window forced open: every thread sees no active run, the constraint decides."""
    barrier = threading.Barrier(6)
    results: list[tuple[int, bool]] = []
    real_filter = SyncRun.objects.filter

    def request() -> None:
        try:
            barrier.wait()
            run, created = runs.sync_run_request(link=idle_link, trigger=SyncRun.Trigger.MANUAL)
            results.append((run.pk, created))
        finally:
            connection.close()

    class NoActive:
        def first(self) -> None:
            return None

    def filter_(*args: Any, **kwargs: Any) -> Any:
        if "status__in" in kwargs and "link" in kwargs and threading.current_thread() is not main:
            barrier_after.wait()
            return NoActive()
        return real_filter(*args, **kwargs)

    main = threading.current_thread()
    barrier_after = threading.Barrier(6)
    try:
        SyncRun.objects.filter = filter_  # type: ignore[method-assign]
        threads = [threading.Thread(target=request) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        del SyncRun.objects.filter
    assert len(results) == 6
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(idle_link.sent) == 1  # type: ignore[attr-defined]


def test_the_schedule_firing_while_a_manual_run_is_active_adds_no_run(idle_link: ClientLink) -> None:
    manual, _ = runs.sync_run_request(link=idle_link, trigger=SyncRun.Trigger.MANUAL)
    sync_run_claim(run_id=manual.pk)  # a worker is on it
    ClientLink.objects.filter(pk=idle_link.pk).update(next_sync_at=past(60))
    result = sync_dispatch_due()
    assert result == {"queued": 0, "resent": 0}
    active = SyncRun.objects.filter(link=idle_link, status__in=SyncRun.ACTIVE_STATUSES)
    assert list(active.values_list("pk", flat=True)) == [manual.pk]
    next_sync_at = ClientLink.objects.get(pk=idle_link.pk).next_sync_at
    assert next_sync_at is not None and next_sync_at > timezone.now()  # due again tomorrow
    assert len(idle_link.sent) == 1  # type: ignore[attr-defined]  # only the manual request


def test_a_run_claimed_twice_is_carried_out_once(idle_link: ClientLink) -> None:
    run, _ = runs.sync_run_request(link=idle_link, trigger=SyncRun.Trigger.MANUAL)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim() -> None:
        try:
            barrier.wait()
            sync_run_claim(run_id=run.pk)
            outcomes.append("claimed")
        except RunNotClaimed:
            outcomes.append("not claimed")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["claimed", "not claimed"]
    # A later delivery of the same task finds it taken and changes nothing.
    before = SyncRun.objects.get(pk=run.pk)
    after = sync_run_execute(run_id=run.pk)
    assert (after.status, after.attempt, after.heartbeat_at) == (before.status, 1, before.heartbeat_at)
