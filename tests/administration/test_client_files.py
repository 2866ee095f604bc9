"""Client files in the browser's forms: add (and link), edit, archive and unarchive; who may."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clients.models import ClientFile
from syncs.models import AuditEvent, ClientLink, Connection, SyncRun
from syncs.schedule import sync_dispatch_due
from syncs.services import client_link_set
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_adds_a_client_file_and_links_it_in_one_go(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    admin = _client(world.admin)
    url = reverse("client_file_add", args=[world.firm.slug])
    refused = admin.post(url, {"name": "Bakkerij", "file_code": "B-1", "company_code": "NO_SUCH"})
    assert "knows no company with this code" in refused.content.decode()
    assert not ClientFile.objects.filter(file_code="B-1").exists()  # nothing half-made

    response = admin.post(
        url, {"name": "  Bakkerij   Janssens ", "file_code": "B-1", "company_code": "SECOND_BV"}
    )
    assert response.status_code == 302
    client_file = ClientFile.objects.get(firm=world.firm, file_code="B-1")
    assert client_file.name == "Bakkerij Janssens"
    link = ClientLink.objects.get(client_file=client_file)
    assert link.company_code == "SECOND_BV"
    assert SyncRun.objects.filter(link=link, trigger=SyncRun.Trigger.FIRST_LINK).count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.FILE_ADDED, client_file=client_file).exists()

    duplicate = admin.post(url, {"name": "Other", "file_code": "b-1"})
    assert "already used" in duplicate.content.decode()


def test_editing_changes_name_and_code_and_refuses_another_files_code(world: FirmWorld) -> None:
    admin = _client(world.admin)
    url = reverse("client_file_edit", args=[world.firm.slug, world.given_file.pk])
    clash = admin.post(url, {"name": "X", "file_code": world.other_file.file_code.lower()})
    assert "already used" in clash.content.decode()
    assert admin.post(url, {"name": "Renamed BV", "file_code": "NEW-1"}).status_code == 302
    world.given_file.refresh_from_db()
    assert (world.given_file.name, world.given_file.file_code) == ("Renamed BV", "NEW-1")
    event = AuditEvent.objects.get(action=AuditEvent.Action.FILE_EDITED)
    assert event.client_file == world.given_file


def test_an_archived_file_does_not_sync_and_keeps_its_ledger(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    link = client_link_set(
        client_file=world.given_file, connection=connection, company_code=wow_sandbox.DEMO, actor=world.admin
    )
    queued = SyncRun.objects.get(link=link)
    admin = _client(world.admin)
    admin.post(reverse("client_file_archive", args=[world.firm.slug, world.given_file.pk]))
    world.given_file.refresh_from_db()
    assert world.given_file.is_archived
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.FAILED  # cancelled before it started
    # Neither the schedule nor "Sync now" start a run.
    ClientLink.objects.filter(pk=link.pk).update(next_sync_at=timezone.now() - dt.timedelta(minutes=1))
    sync_dispatch_due()
    admin.post(reverse("client_sync_now", args=[world.firm.slug, world.given_file.pk]))
    assert not SyncRun.objects.filter(link=link, status__in=SyncRun.ACTIVE_STATUSES).exists()
    # Its pages stay readable.
    for name in ("client_file_detail", "trial_balance", "sync_history"):
        assert admin.get(reverse(name, args=[world.firm.slug, world.given_file.pk])).status_code == 200
    admin.post(reverse("client_file_unarchive", args=[world.firm.slug, world.given_file.pk]))
    world.given_file.refresh_from_db()
    assert not world.given_file.is_archived
    admin.post(reverse("client_sync_now", args=[world.firm.slug, world.given_file.pk]))
    assert SyncRun.objects.filter(link=link, status=SyncRun.Status.QUEUED).count() == 1
    actions = list(AuditEvent.objects.filter(client_file=world.given_file).values_list("action", flat=True))
    assert actions[:2] == [AuditEvent.Action.FILE_UNARCHIVED, AuditEvent.Action.FILE_ARCHIVED]


def test_staff_manage_client_files_only_when_the_firm_allows_it(world: FirmWorld) -> None:
    staff = _client(world.staff)
    url = reverse("client_file_add", args=[world.firm.slug])
    assert staff.get(url).status_code == 403
    admin = _client(world.admin)
    admin.post(reverse("people", args=[world.firm.slug]), {"staff_manage_client_files": "on"})
    assert staff.get(url).status_code == 200
    assert staff.post(url, {"name": "By staff", "file_code": "S-1"}).status_code == 302
    assert _client(world.external).get(url).status_code == 403
    assert AuditEvent.objects.filter(action=AuditEvent.Action.FILE_RIGHTS).exists()
