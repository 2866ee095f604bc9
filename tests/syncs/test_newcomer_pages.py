"""What a new user tripped over on the pages (#13): technical words, error pages, the connect and log-in
forms, a disconnected sync, and smaller things. Each test failed on the code before the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clients.models import Entry, EntryLine
from syncs.engine import sync_run_execute
from syncs.models import AuditEvent, ClientLink, Connection, SyncIssue, SyncRun
from syncs.providers.winbooks.conversion import convert
from syncs.services import connection_disconnect
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def synced(link: ClientLink) -> SyncRun:
    return sync_run_execute(run_id=SyncRun.objects.get(link=link).pk)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- 6. technical words ----------------------------------------------------------------------------------


def test_run_pages_speak_to_users_not_to_programmers(world: FirmWorld, link: ClientLink) -> None:
    run = synced(link)
    raw = {
        "Id": "6f1e1f3e-0000-4000-8000-000000000001",
        "DocNumber": 7,
        "JournalCode": "VERK",
        "BookDate": "/Date(99999999999999999999)/",
    }
    _, rejected = convert("entries", raw)
    assert rejected is not None
    SyncIssue.objects.create(
        run=run,
        entity=rejected.entity,
        wow_id=rejected.wow_id,
        reference=rejected.reference,
        code=rejected.code,
        params=rejected.params,
    )
    SyncRun.objects.filter(pk=run.pk).update(error_class="transient", error_code="wow.temporary")
    client = client_for(world.staff)
    cf = world.given_file.pk
    pages = [
        reverse("client_file_detail", args=[world.firm.slug, cf]),
        reverse("sync_history", args=[world.firm.slug, cf]),
        reverse("sync_run_detail", args=[world.firm.slug, cf, run.pk]),
    ]
    for url in pages:
        shown = text_of(client.get(url).content.decode())
        for word in (
            "API call",
            "Kind of error",
            "transient",
            "internal",
            "Python",
            "C int",
            "Winbooks" + "BadPayload",
        ):
            assert word not in shown, (url, word)
    assert "with a number or date out of range" in text_of(client.get(pages[2]).content.decode())


def test_an_unusable_answer_is_not_named_by_its_exception_class() -> None:
    import winbooks
    from syncs.providers.winbooks.errors import user_error

    error = user_error(winbooks.WinbooksBadPayload("GLTrans.Amount: expected a number"), during="sync")
    assert "BadPayload" not in error.user_message and "(" not in error.user_message


# --- 7. error pages --------------------------------------------------------------------------------------


def test_error_pages_are_the_products_with_a_way_back(world: FirmWorld, link: ClientLink) -> None:
    synced(link)
    staff, slug, cf = client_for(world.staff), world.firm.slug, world.given_file.pk
    other_year = 10**6
    bad = [
        f"/firms/{slug}/clients/{cf}/trial-balance/?period=nonsense",
        f"/firms/{slug}/clients/{cf}/trial-balance/?period=fy-{other_year}",
        f"/firms/{slug}/clients/{cf}/entries/{10**25}/",
        f"/firms/{slug}/clients/{cf}/accounts/{10**25}/",
        f"/firms/{slug}/clients/{cf}/history/{10**25}/",
        f"/firms/{slug}/clients/{10**25}/",
    ]
    entry = Entry.objects.filter(client_file=world.given_file).first()
    assert entry is not None
    gone = f"/firms/{slug}/clients/{cf}/entries/{entry.pk}/"
    EntryLine.objects.filter(entry=entry).delete()
    entry.delete()  # a document deleted in WoW, synced since
    for url in [*bad, gone]:
        response = staff.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert "This page does not exist" in html and 'class="topbar"' in html and reverse("home") in html
    forbidden = client_for(world.external).get(f"/firms/{slug}/syncs/")
    assert forbidden.status_code == 403
    assert "You may not open this page" in forbidden.content.decode()


def test_a_pulse_user_gets_the_same_answer_on_every_client_file_url(world: FirmWorld) -> None:
    pulse, slug = client_for(world.pulse), world.firm.slug
    answers = {
        client_file: pulse.get(f"/firms/{slug}/clients/{client_file}/").status_code
        for client_file in (world.given_file.pk, world.other_file.pk, 10**6)
    }
    assert set(answers.values()) == {403}, answers


# --- 8. connect and log-in forms --------------------------------------------------------------------------


def test_the_connect_form_opens_advanced_and_names_the_address_it_could_not_reach(world: FirmWorld) -> None:
    url = reverse("sync_connect_winbooks", args=[world.firm.slug])
    nowhere = "http://127.0.0.1:9"  # the discard port: nothing answers there
    response = client_for(world.admin).post(
        url, {"name": "WoW", "email": "a@b.test", "exchange_token": "token", "api_url": nowhere}
    )
    html = response.content.decode()
    assert f"could not be reached at {nowhere}" in html
    details = html[html.index("<details") : html.index("</details>")]
    assert details.startswith("<details open") and "could not be reached" in details
    assert not Connection.objects.exists()


def test_log_in_takes_the_e_mail_in_any_capitals_and_speaks_of_an_e_mail(world: FirmWorld) -> None:
    client = Client()
    response = client.post(reverse("login"), {"username": world.admin.username.upper(), "password": "x"})
    assert response.status_code == 200
    shown = text_of(response.content.decode())
    assert "username" not in shown.lower() and "e-mail" in shown
    world.admin.set_password("demo-password")
    world.admin.save()
    response = client.post(
        reverse("login"), {"username": world.admin.username.upper(), "password": "demo-password"}
    )
    assert response.status_code == 302


def test_help_texts_are_announced_with_their_fields(world: FirmWorld) -> None:
    html = (
        client_for(world.admin).get(reverse("sync_connect_winbooks", args=[world.firm.slug])).content.decode()
    )
    described = set(re.findall(r'aria-describedby="([^"]+)"', html))
    assert described and all(f'id="{target}"' in html for target in described), described


# --- 9. a disconnected sync --------------------------------------------------------------------------------


def test_a_client_file_of_a_disconnected_sync_says_so_and_offers_what_works(
    world: FirmWorld, link: ClientLink, connection: Connection
) -> None:
    synced(link)
    connection_disconnect(connection=connection, actor=world.admin)
    admin, slug, cf = client_for(world.admin), world.firm.slug, world.given_file.pk
    html = admin.get(reverse("client_file_detail", args=[slug, cf])).content.decode()
    shown = text_of(html)
    assert "Sync now" not in shown
    assert "This client file does not sync: “WinbooksOnWeb” is disconnected." in shown
    assert reverse("syncs_tab", args=[slug]) in html  # the admin is led to reconnect it
    assert "Change link" not in shown and 'name="connection"' not in html  # no form that can only fail
    # Removing the link asks first, then does it; the page no longer speaks of a next sync.
    unlink = reverse("client_unlink", args=[slug, cf])
    confirm = admin.get(unlink)
    assert confirm.status_code == 200 and "Remove the link of" in confirm.content.decode()
    assert ClientLink.objects.filter(pk=link.pk, unlinked_at__isnull=True).exists()
    admin.post(unlink)
    assert not ClientLink.objects.filter(pk=link.pk, unlinked_at__isnull=True).exists()
    after = text_of(admin.get(reverse("client_file_detail", args=[slug, cf])).content.decode())
    assert "next sync" not in after


# --- 12. smaller things ------------------------------------------------------------------------------------


def test_smaller_things(world: FirmWorld, link: ClientLink, wow_sandbox: Any) -> None:
    synced(link)
    admin, slug, cf = client_for(world.admin), world.firm.slug, world.given_file.pk
    # "Administration sync — not available yet" is not offered.
    assert "Administration sync" not in admin.get(reverse("sync_add", args=[slug])).content.decode()
    # The VAT column shows a rate as a rate.
    line = EntryLine.objects.filter(client_file=world.given_file, vat_code="21").first()
    assert line is not None
    url = reverse("entry_detail", args=[slug, cf, line.entry_id])
    html = admin.get(f"{url}?account={line.account_id}&period=2024-01").content.decode()
    assert ">21 %<" in html
    # The document's breadcrumb leads back to the account it was opened from.
    account_url = reverse("account_lines", args=[slug, cf, line.account_id])
    assert f'href="{account_url}?period=2024-01"' in html
    # Company codes: the form says capitals matter.
    assert (
        "capitals matter"
        in admin.get(reverse("client_file_detail", args=[slug, world.other_file.pk])).content.decode()
    )


def test_the_demo_keeps_kombus_control_folder_under_var_and_forgets_sandbox_tokens(
    tmp_path: Path, world: FirmWorld, connection: Connection
) -> None:
    assert not (ROOT / "control").exists()
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_FILESYSTEM_FOLDER": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    script = (
        "import django; django.setup(); from kombu import Exchange, Queue; from silverfin_sync.celery import app\n"
        "with app.connection_for_write() as connection:\n"
        "    Queue('syncs', Exchange('syncs'), 'syncs')(connection.default_channel).declare()"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "control").glob("*.exchange")) and not (ROOT / "control").exists()

    from silverfin_sync.management.commands.rundemo import forget_sandbox_connections

    assert forget_sandbox_connections(connection.api_url) == 1
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert AuditEvent.objects.filter(action=AuditEvent.Action.NEEDS_RECONNECT).exists()


def test_the_link_form_shows_and_keeps_the_start_date_and_says_what_changing_it_did(
    world: FirmWorld, connection: Connection, wow_sandbox: Any
) -> None:
    staff, slug, cf = client_for(world.staff), world.firm.slug, world.given_file.pk
    link_url = reverse("client_link", args=[slug, cf])
    form = {"connection": connection.pk, "company_code": wow_sandbox.DEMO, "start_date": "2025-01-01"}
    first = staff.post(link_url, form, follow=True)
    assert "The first sync has started." in first.content.decode()
    page = staff.get(reverse("client_file_detail", args=[slug, cf])).content.decode()
    assert 'value="2025-01-01"' in page  # shown again, as a date input reads it: "Change link" keeps it
    runs = SyncRun.objects.filter(link__client_file=world.given_file)
    runs.update(status=SyncRun.Status.SUCCEEDED)  # the first sync is done
    changed = staff.post(link_url, {**form, "start_date": "2024-01-01"}, follow=True)
    shown = text_of(changed.content.decode())
    assert "“Do not sync before” is changed." in shown and "first sync has started" not in shown
    assert AuditEvent.objects.filter(action=AuditEvent.Action.START_DATE_CHANGED).exists()
    assert runs.filter(status=SyncRun.Status.QUEUED).count() == 1  # and a sync is queued to apply it
