"""The Syncs tab as part of the control room: per sync, how many files are in step, with issues or failed
(each a link to the overview filtered to them), the nightly schedule and the next run, an admin moving the
nightly time (audited), and reconnecting queueing a sync for every file that was refused access."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from syncs.models import AuditEvent, ClientLink, Connection, SyncRun
from syncs.services import connection_connect, connection_reconnect
from tests.fixtures import FirmWorld
from tests.ledger.factories import ClientLinkFactory, SyncRunFactory

from .helpers import make_every_state

pytestmark = pytest.mark.django_db


def test_each_sync_counts_its_files_by_state_with_links_to_the_overview(
    client: Client, world: FirmWorld
) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.staff)
    html = client.get(reverse("syncs_tab", args=[world.firm.slug])).content.decode()
    overview = reverse("firm_overview", args=[world.firm.slug])
    main = state.connection.pk
    for query, words in [
        (f"?status=in_step&amp;connection={main}", "2 in step"),
        (f"?status=issues&amp;connection={main}", "1 with issues"),
        (f"?status=failed&amp;connection={main}", "1 failed"),
        (f"?status=needs_reconnect&amp;connection={state.refused.pk}", "1 waiting for a reconnect"),
    ]:
        assert f'href="{overview}{query}">{words}</a>' in html, words
    # Each link shows exactly what it counted.
    failed = client.get(f"{overview}?status=failed&connection={main}").content.decode()
    assert re.findall(r'class="muted file-code">([^<]+)<', failed) == ["F-failed"]
    # The schedule: nightly at the connection's time, in the firm's time zone, and the next run.
    assert "Nightly at 02:00 (Europe/Brussels)" in html
    assert "Next run" in html and "Paused until it is reconnected" in html
    assert 'name="nightly_sync_time"' not in html  # staff see the schedule, only admins change it


def test_an_admin_moves_the_nightly_sync_and_every_link_follows(client: Client, world: FirmWorld) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.admin)
    url = reverse("sync_schedule", args=[world.firm.slug, state.connection.pk])
    response = client.post(url, {"nightly_sync_time": "23:45"})
    assert response.status_code == 302
    state.connection.refresh_from_db()
    assert state.connection.nightly_sync_time == dt.time(23, 45)
    zone = timezone.get_default_timezone()
    for next_sync in ClientLink.objects.filter(connection=state.connection).values_list(
        "next_sync_at", flat=True
    ):
        assert next_sync is not None and next_sync.astimezone(zone).time() == dt.time(23, 45)
        assert next_sync > timezone.now()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCHEDULE_CHANGED)
    assert event.actor == world.admin
    assert event.summary == "Moved the nightly sync of “WinbooksOnWeb” from 02:00 to 23:45."
    page = client.get(reverse("syncs_tab", args=[world.firm.slug])).content.decode()
    assert "now syncs every night at 23:45" in page and "Nightly at 23:45 (Europe/Brussels)" in page


@pytest.mark.parametrize("bad", ["", "25:00", "noon", "02:30; DROP TABLE"])
def test_a_bad_time_is_refused_and_changes_nothing(client: Client, world: FirmWorld, bad: str) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.admin)
    before = list(ClientLink.objects.order_by("pk").values_list("next_sync_at", flat=True))
    response = client.post(
        reverse("sync_schedule", args=[world.firm.slug, state.connection.pk]), {"nightly_sync_time": bad}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Enter the time of the nightly sync" in page
    state.connection.refresh_from_db()
    assert state.connection.nightly_sync_time == dt.time(2, 0)
    assert list(ClientLink.objects.order_by("pk").values_list("next_sync_at", flat=True)) == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SCHEDULE_CHANGED).exists()


def test_staff_cannot_move_the_schedule_nor_another_firm_reach_it(
    client: Client, world: FirmWorld, other_world: FirmWorld
) -> None:
    state = make_every_state(world.firm)
    url = reverse("sync_schedule", args=[world.firm.slug, state.connection.pk])
    client.force_login(world.staff)
    assert client.post(url, {"nightly_sync_time": "04:00"}).status_code == 403
    client.force_login(other_world.admin)
    assert client.post(url, {"nightly_sync_time": "04:00"}).status_code == 404
    other_url = reverse("sync_schedule", args=[other_world.firm.slug, state.connection.pk])
    assert client.post(other_url, {"nightly_sync_time": "04:00"}).status_code == 404
    state.connection.refresh_from_db()
    assert state.connection.nightly_sync_time == dt.time(2, 0)


def test_reconnecting_queues_the_files_refused_access_and_their_pages_say_so(
    client: Client, world: FirmWorld, wow_sandbox: Any
) -> None:
    connection = connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    files = {}
    for name, status, error in [
        ("refused", SyncRun.Status.FAILED, "access"),
        ("refused too", SyncRun.Status.FAILED, "access"),
        ("wrong code", SyncRun.Status.FAILED, "config"),
        ("fine", SyncRun.Status.SUCCEEDED, ""),
    ]:
        link = ClientLinkFactory.create(
            client_file__firm=world.firm, client_file__name=name, connection=connection
        )
        SyncRunFactory.create(link=link, status=status, error_class=error, error_code="wow.access_revoked")
        files[name] = link.client_file
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.NEEDS_RECONNECT)
    client.force_login(world.staff)
    page = client.get(
        reverse("client_file_detail", args=[world.firm.slug, files["refused"].pk])
    ).content.decode()
    assert "The last sync failed." in page

    connection_reconnect(
        connection=connection,
        actor=world.admin,
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
    )
    queued = SyncRun.objects.filter(status=SyncRun.Status.QUEUED)
    assert sorted(queued.values_list("client_file__name", flat=True)) == ["refused", "refused too"]
    assert {run.requested_by for run in queued} == {world.admin}
    page = client.get(
        reverse("client_file_detail", args=[world.firm.slug, files["refused"].pk])
    ).content.decode()
    assert "The last sync failed." not in page and "Needs reconnecting" not in page
    assert "Waiting for a worker to start the sync" in page
    overview = client.get(
        reverse("firm_overview", args=[world.firm.slug]) + "?status=running"
    ).content.decode()
    assert sorted(re.findall(r'<a href="[^"]+">(refused[^<]*)</a>', overview)) == ["refused", "refused too"]
