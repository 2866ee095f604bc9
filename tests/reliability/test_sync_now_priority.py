"""A firm's "Sync now" keeps priority over its own nightly runs (issue #16): nightly runs fill at most
``SYNC_MAX_RUNNING_PER_FIRM`` slots, and a run a person asked for may take one more, so it never waits for one
of them to end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from syncs.models import ClientLink, Connection, SyncRun
from syncs.runs import FirmAtCapacity, client_file_sync_now, sync_run_claim
from syncs.schedule import sync_dispatch_due
from syncs.services import client_link_set, connection_connect
from tests.factories import ClientFileFactory
from tests.fixtures import FirmWorld
from tests.hostile_wow import hostile_server

from .helpers import connect_and_link
from .workers import purge_broker, wait_for, worker

DONE = {SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES, SyncRun.Status.FAILED}


def nightly_links(world: FirmWorld, sandbox: Any, connection: Connection, count: int) -> list[ClientLink]:
    """``count`` more files of the firm linked on ``connection``, their first syncs already done."""
    links = []
    for n in range(count):
        code = f"NIGHTLY_{n}"
        sandbox.control("POST", "folders", {"code": code, "kind": "demo", "grant": [sandbox.TESTER]})
        client_file = ClientFileFactory.create(firm=world.firm, name=f"Nightly {n}")
        links.append(
            client_link_set(
                client_file=client_file, connection=connection, company_code=code, actor=world.staff
            )
        )
    SyncRun.objects.filter(link__in=links).update(status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now())
    return links


@pytest.mark.django_db
def test_a_requested_run_has_a_slot_above_the_nightly_cap(
    world: FirmWorld, wow_sandbox: Any, settings: Any
) -> None:
    settings.SYNC_MAX_RUNNING_PER_FIRM = 2
    settings.SYNC_RESERVED_FOR_REQUESTED_PER_FIRM = 1
    connection = connect_and_link(world, wow_sandbox).connection
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED)
    links = nightly_links(world, wow_sandbox, connection, 3)
    ClientLink.objects.filter(pk__in=[link.pk for link in links]).update(
        next_sync_at=timezone.now() - dt.timedelta(minutes=1)
    )
    sync_dispatch_due()
    first, second, third = (SyncRun.objects.get(link=link, trigger="schedule") for link in links)
    sync_run_claim(run_id=first.pk)
    sync_run_claim(run_id=second.pk)
    with pytest.raises(FirmAtCapacity) as nightly_waits:
        sync_run_claim(run_id=third.pk)  # the nightly cap is full
    assert not nightly_waits.value.requested
    mine, _ = client_file_sync_now(client_file=world.given_file, requested_by=world.staff)
    assert sync_run_claim(run_id=mine.pk).status == SyncRun.Status.RUNNING  # the reserved slot
    # Only one slot is reserved: a second "Sync now" of the firm waits, and looks again soon.
    SyncRun.objects.filter(pk=third.pk).update(trigger=SyncRun.Trigger.MANUAL)
    with pytest.raises(FirmAtCapacity) as requested_waits:
        sync_run_claim(run_id=third.pk)
    assert requested_waits.value.requested
    # While people's runs hold slots, nightly runs start only below the nightly cap.
    SyncRun.objects.filter(pk=first.pk).update(status=SyncRun.Status.SUCCEEDED)
    SyncRun.objects.filter(pk=third.pk).update(trigger=SyncRun.Trigger.SCHEDULE)
    with pytest.raises(FirmAtCapacity):
        sync_run_claim(run_id=third.pk)  # one nightly and one requested run: the cap of 2 is reached


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_sync_now_does_not_wait_for_the_firms_own_nightly_runs(
    world: FirmWorld, wow_sandbox: Any, tmp_path: Path
) -> None:
    """Three real workers. The firm's two nightly runs are stuck on a slow WoW host (a minute per answer)
    and hold its nightly cap; its "Sync now" of another file starts on the free worker and ends while both
    nightly runs still go (before this change it waited for one of them to end)."""
    purge_broker()
    given = connect_and_link(world, wow_sandbox)
    SyncRun.objects.filter(link=given).update(status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now())
    slow = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="Slow WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    links = nightly_links(world, wow_sandbox, slow, 2)
    env = {"SYNC_MAX_RUNNING_PER_FIRM": "2", "SYNC_RESERVED_FOR_REQUESTED_PER_FIRM": "1"}
    with hostile_server("slow", interval=60.0) as host:
        Connection.objects.filter(pk=slow.pk).update(api_url=host.url)
        ClientLink.objects.filter(pk__in=[link.pk for link in links]).update(
            next_sync_at=timezone.now() - dt.timedelta(minutes=1)
        )
        with (
            worker(tmp_path / "one.log", **env) as one,
            worker(tmp_path / "two.log", **env) as two,
            worker(tmp_path / "three.log", **env) as three,
        ):
            assert sync_dispatch_due()["queued"] == 2
            nightly = SyncRun.objects.filter(link__in=links, trigger=SyncRun.Trigger.SCHEDULE)
            wait_for(
                lambda: nightly.filter(status=SyncRun.Status.RUNNING).count() == 2 and host.requests >= 2,
                timeout=60,
                what="both nightly runs to wait on the slow host",
            )
            mine, _ = client_file_sync_now(client_file=world.given_file, requested_by=world.staff)
            logs = lambda: one.output() + two.output() + three.output()  # noqa: E731
            done = wait_for(
                lambda: SyncRun.objects.filter(pk=mine.pk, status__in=DONE).first(),
                timeout=45,
                what=f"the firm's Sync now to end while its nightly runs hold the cap\n{logs()}",
            )
            still_running = nightly.filter(status=SyncRun.Status.RUNNING).count()
    assert done.status == SyncRun.Status.SUCCEEDED, done.error_message
    assert still_running == 2  # it did not wait for either of them
