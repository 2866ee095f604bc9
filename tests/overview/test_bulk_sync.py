"""'Sync now' from the overview: one row's arrows, the rows ticked, or every file a filter matches. One run
per file, never a second while one is queued or running, nothing for files that cannot sync."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from syncs.models import SyncRun
from tests.fixtures import FirmWorld

from .helpers import make_every_state

pytestmark = pytest.mark.django_db


def active_runs(world: FirmWorld) -> dict[str, int]:
    runs = SyncRun.objects.filter(client_file__firm=world.firm, status__in=SyncRun.ACTIVE_STATUSES)
    return {
        code: runs.filter(client_file__file_code=code).count()
        for code in runs.values_list("client_file__file_code", flat=True)
    }


def test_one_rows_arrows_queue_one_run_and_come_back_to_the_same_filter(
    client: Client, world: FirmWorld, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.staff)
    url = reverse("firm_overview_sync_now", args=[world.firm.slug]) + "?status=failed&page=1"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"ids": [state.files["failed"].pk]})
    assert response.status_code == 302
    assert response["Location"] == reverse("firm_overview", args=[world.firm.slug]) + "?status=failed"
    run = SyncRun.objects.get(client_file=state.files["failed"], status=SyncRun.Status.QUEUED)
    assert run.trigger == SyncRun.Trigger.MANUAL and run.requested_by == world.staff
    assert len(callbacks) == 1  # sent to a worker once committed
    page = client.get(response["Location"]).content.decode()
    assert "1 sync queued." in page


def test_selected_rows_queue_one_run_each_and_pressing_again_queues_nothing(
    client: Client, world: FirmWorld
) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.admin)
    url = reverse("firm_overview_sync_now", args=[world.firm.slug])
    chosen = [state.files[s].pk for s in ("in_step", "issues", "running", "needs_reconnect", "not_linked")]
    before = SyncRun.objects.count()
    client.post(url, {"ids": chosen, "scope": "selected"})
    assert SyncRun.objects.count() == before + 2  # in step and with issues; the running one keeps its run
    page = client.get(reverse("firm_overview", args=[world.firm.slug])).content.decode()
    assert "2 syncs queued. 1 client file was already syncing." in page
    assert "1 client file waits for its sync to be reconnected by an admin." in page
    assert "1 client file is not linked to a bookkeeping package." in page
    client.post(url, {"ids": chosen, "scope": "selected"})
    assert SyncRun.objects.count() == before + 2
    assert set(active_runs(world).values()) == {1}


def test_sync_all_matching_a_filter_queues_one_run_per_file_on_every_page(
    client: Client, world: FirmWorld
) -> None:
    make_every_state(world.firm)
    make_every_state(world.firm, prefix="Z")
    client.force_login(world.staff)
    url = reverse("firm_overview_sync_now", args=[world.firm.slug])
    client.post(url, {"scope": "matching", "status": "attention"})
    queued = SyncRun.objects.filter(
        client_file__firm=world.firm, status=SyncRun.Status.QUEUED, trigger="manual"
    )
    # Failed and with issues, twice over; "needs reconnecting" cannot sync until an admin reconnects.
    assert sorted(queued.values_list("client_file__file_code", flat=True)) == [
        "F-failed",
        "F-issues",
        "ZF-failed",
        "ZF-issues",
    ]
    client.post(url, {"scope": "matching", "q": "zf-"})
    assert set(active_runs(world).values()) == {1}
    assert queued.filter(client_file__file_code__startswith="ZF-").count() == 5  # + in step ×2, never synced


def test_nothing_chosen_says_so_and_changes_nothing(client: Client, world: FirmWorld) -> None:
    make_every_state(world.firm)
    client.force_login(world.staff)
    before = SyncRun.objects.count()
    response = client.post(
        reverse("firm_overview_sync_now", args=[world.firm.slug]), {"ids": ["x", "-1", ""], "q": "abc"}
    )
    assert response["Location"].endswith("?q=abc")
    assert SyncRun.objects.count() == before
    assert "Tick the client files to sync first" in client.get(response["Location"]).content.decode()


def test_ids_of_another_firm_queue_nothing(client: Client, world: FirmWorld, other_world: FirmWorld) -> None:
    theirs = make_every_state(other_world.firm)
    client.force_login(world.admin)
    before = SyncRun.objects.count()
    client.post(
        reverse("firm_overview_sync_now", args=[world.firm.slug]), {"ids": [theirs.files["failed"].pk]}
    )
    assert SyncRun.objects.count() == before
