"""E-mails: one to the admins when a sync starts needing reconnecting, a daily digest per opted-in person,
never a storm (at most one mail per firm, cause and day, whatever fails how often), plain text and HTML,
no secret and no raw error text."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clients.models import ClientFile
from notifications.models import NotificationSetting, SentNotification
from notifications.services import notify_connection_needs_reconnect, send_daily_digests
from silverfin_sync.notices import Notice
from syncs.connections import connection_mark_needs_reconnect
from syncs.models import ClientLink, Connection, SyncRun
from tests.fixtures import FirmWorld
from tests.ledger.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "refresh-token-that-must-never-leave-the-server"
RAW_ERROR = "Traceback (most recent call last): KeyError: 'access_token'"


def make_failing_files(world: FirmWorld, how_many: int, *, error_class: str = "access") -> Connection:
    """``how_many`` linked files whose last run just failed (the error text as raw as it gets)."""
    connection = ConnectionFactory.create(
        firm=world.firm, name="WinbooksOnWeb", refresh_token=SECRET_TOKEN, email="wow-login@firm.test"
    )
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=world.firm, name=f"Failing {n:03d} BV", file_code=f"FAIL-{n:03d}")
        for n in range(how_many)
    )
    links = ClientLink.objects.bulk_create(
        ClientLink(firm=world.firm, client_file=f, connection=connection, company_code=f"C{n}")
        for n, f in enumerate(files)
    )
    now = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(
            link=link,
            client_file_id=link.client_file_id,
            trigger=SyncRun.Trigger.SCHEDULE,
            status=SyncRun.Status.FAILED,
            error_class=error_class,
            error_code="legacy",
            error_params={"text": RAW_ERROR},
            finished_at=now,
        )
        for link in links
    )
    return connection


def assert_clean(message: Any) -> None:
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    for text in (message.subject, message.body, html):
        assert SECRET_TOKEN not in text and "wow-login@firm.test" not in text
        assert "Traceback" not in text and "KeyError" not in text


def test_300_files_refused_access_make_one_mail_to_the_admins(
    world: FirmWorld, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    connection = make_failing_files(world, 300)
    # Every run of the 300 files is refused: the connection is marked once, the admins get one mail.
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(300):
            connection_mark_needs_reconnect(connection_id=connection.pk, reason=Notice.legacy(RAW_ERROR))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [world.admin.email]
    assert message.subject == "Alpha Accountants: the sync “WinbooksOnWeb” needs reconnecting"
    assert "300 client files do not sync until an admin reconnects it" in message.body
    assert "- Failing 000 BV (FAIL-000): http://127.0.0.1:8000/firms/alpha/clients/" in message.body
    assert "… and 250 more: http://127.0.0.1:8000/firms/alpha/?connection=" in message.body
    reconnect = f"http://127.0.0.1:8000/firms/alpha/syncs/{connection.pk}/reconnect/"
    assert reconnect in message.body and f'href="{reconnect}"' in message.alternatives[0][0]  # type: ignore[attr-defined]
    assert_clean(message)

    # Reconnected, refused again the same day: no second mail (the Syncs tab and the overview say it).
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.CONNECTED)
    with django_capture_on_commit_callbacks(execute=True):
        connection_mark_needs_reconnect(connection_id=connection.pk, reason=Notice.legacy(RAW_ERROR))
    assert len(mail.outbox) == 1
    assert SentNotification.objects.get().files == 300


def test_admins_who_turned_it_off_and_staff_get_no_reconnect_mail(world: FirmWorld) -> None:
    connection = make_failing_files(world, 3)
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.NEEDS_RECONNECT)
    NotificationSetting.objects.create(user=world.admin, firm=world.firm, reconnect_alerts=False)
    assert notify_connection_needs_reconnect(connection_id=connection.pk) is False
    assert mail.outbox == []


def test_one_digest_for_300_failing_files_grouped_by_cause_and_none_twice(world: FirmWorld) -> None:
    make_failing_files(world, 300, error_class="config")
    runs = SyncRun.objects.filter(client_file__firm=world.firm).order_by("pk")
    SyncRun.objects.filter(pk__in=list(runs.values_list("pk", flat=True)[:10])).update(
        status=SyncRun.Status.SUCCEEDED_WITH_ISSUES, error_class=""
    )
    assert send_daily_digests() == 1  # the admin only: the digest is off by default for others
    message = mail.outbox[0]
    assert message.to == [world.admin.email]
    assert message.subject == "Alpha Accountants: 300 client files need attention"
    body = message.body
    assert "Settings to fix (290)" in body and "Synced with issues (10)" in body
    assert body.index("Settings to fix (290)") < body.index("Synced with issues (10)")
    assert body.count("- Failing") == 50 + 10 and "… and 240 more" in body
    assert "http://127.0.0.1:8000/firms/alpha/?status=attention" in body
    assert_clean(message)
    # The same day again (a second beat, a retry): nothing.
    assert send_daily_digests() == 0
    # The next day, with nothing new since the last digest: nothing either.
    SentNotification.objects.update(day=timezone.localdate() - dt.timedelta(days=1))
    assert send_daily_digests() == 0
    assert len(mail.outbox) == 1


def test_no_digest_when_all_is_in_step_and_opted_in_people_get_only_what_they_may_see(
    world: FirmWorld,
) -> None:
    make_failing_files(world, 2)
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED, error_class="")
    assert send_daily_digests() == 0
    assert mail.outbox == []

    SyncRun.objects.update(status=SyncRun.Status.FAILED, error_class="transient")
    link = ClientLink.objects.create(
        firm=world.firm,
        client_file=world.given_file,
        connection=Connection.objects.get(),
        company_code="GIVEN",
    )
    SyncRun.objects.create(
        link=link,
        client_file=world.given_file,
        trigger="schedule",
        status="failed",
        error_class="config",
        finished_at=timezone.now(),
    )
    for user in (world.staff, world.external):
        NotificationSetting.objects.create(user=user, firm=world.firm, daily_digest=True)
    NotificationSetting.objects.create(user=world.admin, firm=world.firm, daily_digest=False)
    assert send_daily_digests() == 2
    by_person = {message.to[0]: message for message in mail.outbox}
    assert set(by_person) == {world.staff.email, world.external.email}
    assert "WinbooksOnWeb could not be reached (2)" in by_person[world.staff.email].body
    external = by_person[world.external.email].body
    assert "Alpha Given BV" in external and "Failing" not in external


def test_the_settings_page_keeps_each_persons_choice(client: Client, world: FirmWorld) -> None:
    url = reverse("notification_settings", args=[world.firm.slug])
    client.force_login(world.admin)
    page = client.get(url).content.decode()
    assert re.search(r'<input type="checkbox" name="daily_digest"[^>]* checked>', page)  # on for admins
    assert 'name="reconnect_alerts"' in page
    response = client.post(url, {"reconnect_alerts": "on"})
    assert response.status_code == 302
    setting = NotificationSetting.objects.get(user=world.admin)
    assert (setting.daily_digest, setting.reconnect_alerts) == (False, True)

    client.force_login(world.staff)
    page = client.get(url).content.decode()
    assert 'name="reconnect_alerts"' not in page and " checked>" not in page
    client.post(url, {"daily_digest": "on", "reconnect_alerts": "on"})
    setting = NotificationSetting.objects.get(user=world.staff)
    assert (setting.daily_digest, setting.reconnect_alerts) == (True, None)
    assert NotificationSetting.objects.count() == 2  # nothing else touched


def test_a_mail_the_server_refuses_is_sent_at_the_next_try_not_lost(
    world: FirmWorld, smtp_mail: Any, settings: Any
) -> None:
    connection = make_failing_files(world, 2)
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.NEEDS_RECONNECT)
    working_port = settings.EMAIL_PORT
    with socket.socket() as closed:  # a port nothing listens on: the server is away
        closed.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = closed.getsockname()[1]
    assert notify_connection_needs_reconnect(connection_id=connection.pk) is False
    assert not SentNotification.objects.exists()  # the day's row is freed
    settings.EMAIL_PORT = working_port
    assert notify_connection_needs_reconnect(connection_id=connection.pk) is True
    assert [str(m["To"]) for m in smtp_mail.wait_for(1)] == [world.admin.email]
    assert SentNotification.objects.get().recipients == 1
