"""The sync status under the client file's name: live progress while a run is active (htmx polling every
second), the run's summary once it ends (no more polling), and "Sync now" showing it straight away."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from syncs.models import ClientLink, SyncRun
from tests.fixtures import FirmWorld

from .factories import ClientLinkFactory, make_run

pytestmark = pytest.mark.django_db


def status_url(world: FirmWorld) -> str:
    return reverse("client_sync_status", args=[world.firm.slug, world.given_file.pk])


def detail_url(world: FirmWorld) -> str:
    return reverse("client_file_detail", args=[world.firm.slug, world.given_file.pk])


def fragment(client: Client, world: FirmWorld) -> str:
    response = client.get(status_url(world), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_a_queued_run_polls_and_says_it_waits(client: Client, world: FirmWorld) -> None:
    make_run(world.given_file, status=SyncRun.Status.QUEUED)
    client.force_login(world.staff)
    html = fragment(client, world)
    assert f'hx-get="{status_url(world)}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert "Waiting for a worker to start the sync" in html
    assert "<progress " in html


def test_a_running_run_shows_its_stream_pages_and_records(client: Client, world: FirmWorld) -> None:
    run = make_run(
        world.given_file,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        progress={"stream": "entries", "pages": 12, "records": 5400, "stream_pages": 3},
    )
    client.force_login(world.external)  # read-only users follow the progress too
    html = fragment(client, world)
    assert 'hx-trigger="every 1s"' in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Running Reading documents · 12 pages · 5,400 records read" in text
    # Without "streams_done" the bar is indeterminate (no value).
    assert re.search(r'<progress aria-label="Sync progress">', html)

    run.progress = {**run.progress, "streams_done": 3}
    run.save(update_fields=["progress"])
    html = fragment(client, world)
    assert '<progress max="7" value="3" aria-label="Sync progress">' in html


def test_a_run_put_back_after_a_temporary_error_says_it_will_try_again(
    client: Client, world: FirmWorld
) -> None:
    make_run(
        world.given_file,
        status=SyncRun.Status.QUEUED,
        error_class="transient",
        error_code="wow.rate_limited",
    )
    client.force_login(world.staff)
    assert "Waiting to try again: WinbooksOnWeb asks us to slow down" in fragment(client, world)


def test_a_finished_run_shows_its_summary_and_stops_polling(client: Client, world: FirmWorld) -> None:
    run = make_run(
        world.given_file,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        progress={"stream": "proof", "pages": 20, "records": 9000},
    )
    client.force_login(world.staff)
    assert "hx-trigger" in fragment(client, world)

    assert run.started_at is not None
    finished_at = run.started_at + dt.timedelta(minutes=2, seconds=5)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED,
        finished_at=finished_at,
        reconciled=True,
        api_calls=31,
        progress={"stream": "done", "pages": 20, "records": 9000},
        counts={
            "entries": {"created": 120, "updated": 4, "deleted": 1, "unchanged": 0},
            "accounts": {"created": 80, "updated": 0, "deleted": 0, "unchanged": 0},
        },
    )
    ClientLink.objects.filter(pk=run.link_id).update(last_success_at=finished_at)
    html = fragment(client, world)
    assert "hx-trigger" not in html
    assert "hx-get" not in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert (
        f"Last sync {finished_at.astimezone(timezone.get_current_timezone()):%d/%m/%Y %H:%M} : Succeeded"
        in text
    )
    assert "took 2 min 5 s" in text
    assert "API call" not in text  # for operators, not for users
    assert "✓ Ties out with WinbooksOnWeb" in text
    # What changed, per entity in reading order.
    assert "Changes: Accounts: 80 new · Documents: 120 new, 4 changed, 1 removed" in text
    assert reverse("sync_run_detail", args=[world.firm.slug, world.given_file.pk, run.pk]) in html


def test_a_failed_run_shows_the_error_in_the_summary(client: Client, world: FirmWorld) -> None:
    make_run(world.given_file, status=SyncRun.Status.FAILED, error_code="wow.company_unknown")
    client.force_login(world.staff)
    html = fragment(client, world)
    assert "The last sync failed." in html and "WinbooksOnWeb knows no company with this code." in html
    assert "hx-trigger" not in html


def test_sync_now_lands_on_the_page_polling_the_new_run(client: Client, world: FirmWorld) -> None:
    ClientLinkFactory.create(client_file=world.given_file)
    client.force_login(world.staff)
    response = client.post(
        reverse("client_sync_now", args=[world.firm.slug, world.given_file.pk]), follow=True
    )
    assert response.redirect_chain == [(detail_url(world), 302)]
    html = response.content.decode()
    assert SyncRun.objects.filter(client_file=world.given_file, status=SyncRun.Status.QUEUED).count() == 1
    assert f'hx-get="{status_url(world)}" hx-trigger="every 1s"' in html
    assert "Waiting for a worker to start the sync" in html
    assert "Sync started." in html


def test_the_page_of_a_file_at_rest_does_not_poll(client: Client, world: FirmWorld) -> None:
    make_run(world.given_file, status=SyncRun.Status.SUCCEEDED)
    client.force_login(world.staff)
    html = client.get(detail_url(world)).content.decode()
    assert 'id="sync-status"' in html and "hx-trigger" not in html
    assert "Last sync" in html and "Changes:" in html


def test_external_contributors_read_but_cannot_sync_or_link(client: Client, world: FirmWorld) -> None:
    make_run(world.given_file, status=SyncRun.Status.RUNNING, started_at=timezone.now())
    client.force_login(world.external)
    html = client.get(detail_url(world)).content.decode()
    assert 'hx-trigger="every 1s"' in html  # the progress, yes
    assert "Sync now" not in html
    assert reverse("client_link", args=[world.firm.slug, world.given_file.pk]) not in html
    assert reverse("trial_balance", args=[world.firm.slug, world.given_file.pk]) in html
    assert reverse("sync_history", args=[world.firm.slug, world.given_file.pk]) in html


def test_staff_see_sync_now_and_the_link_form(client: Client, world: FirmWorld) -> None:
    ClientLinkFactory.create(client_file=world.given_file)
    client.force_login(world.staff)
    html = client.get(detail_url(world)).content.decode()
    assert "Sync now" in html
    assert reverse("client_link", args=[world.firm.slug, world.given_file.pk]) in html


def test_a_page_polling_after_its_session_ended_is_sent_to_log_in_whole(
    client: Client, world: FirmWorld
) -> None:
    make_run(world.given_file, status=SyncRun.Status.RUNNING, started_at=timezone.now())
    response = client.get(status_url(world), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={detail_url(world)}"
    assert response.content == b""
