"""The firm's WoW secrets (exchange token, access and refresh tokens, e-mail) never appear in plaintext: not
in the database, pages, logs, exception reports or the admin; a wrong or missing key fails loudly.

Key rotation without loss is proven in tests/test_crypto.py (test_rotation_reencrypts_under_the_new_key_…).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import got_request_exception
from django.db import connection as db
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter

from silverfin_sync.crypto import SecretUnreadable
from syncs.models import ClientLink, Connection, SyncRun
from syncs.services import connection_connect
from tests.fixtures import FirmWorld

from .helpers import connect_and_link, execute

pytestmark = pytest.mark.django_db


class Secrets(set[str]):
    def collect(self, connection_id: int) -> None:
        """The connection's tokens and the e-mail address they were issued to, as they are now."""
        connection = Connection.objects.get(pk=connection_id)
        self.update(s for s in (connection.access_token, connection.refresh_token, connection.email) if s)

    def assert_absent(self, text: str, where: str) -> None:
        leaked = [s[:6] + "…" for s in self if s in text]
        assert not leaked, f"secret(s) {leaked} found in {where}"


def formatted(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.fixture
def synced(
    world: FirmWorld, wow_sandbox: Any, caplog: pytest.LogCaptureFixture
) -> tuple[ClientLink, Secrets]:
    """A connected, linked and synced client file whose tokens were rotated once and then refused, with every
    secret it ever had collected (the exchange token, every access and refresh token, the e-mail address),
    and every log line of all that captured (DEBUG and up)."""
    caplog.set_level(logging.DEBUG)
    exchange_token = wow_sandbox.exchange_token()
    secrets = Secrets({exchange_token})
    connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=exchange_token,
        api_url=wow_sandbox.url,
    )
    link = connect_and_link(world, wow_sandbox)  # links with the connection just made
    secrets.collect(link.connection_id)
    assert {exchange_token, wow_sandbox.TESTER} <= secrets
    wow_sandbox.control("POST", "tokens/expire-access", {})
    assert execute(link).status == SyncRun.Status.SUCCEEDED  # refreshes (rotates) the tokens
    secrets.collect(link.connection_id)
    wow_sandbox.control("POST", "tokens/expire-access", {})
    wow_sandbox.control("POST", "tokens/revoke-refresh", {})
    refused = execute(link)  # a refused refresh
    assert refused.error_class == "access"
    assert len(secrets) == 6  # the exchange token, two access and two refresh tokens, the e-mail
    return link, secrets


def test_no_secret_in_plaintext_in_the_database(synced: tuple[ClientLink, Secrets], wow_sandbox: Any) -> None:
    _, secrets = synced
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'syncs_connection' "
            "AND data_type IN ('text', 'character varying')"
        )
        columns = [row[0] for row in cursor.fetchall()]
        assert {"email", "access_token", "refresh_token"} <= set(columns)
        for column in columns:
            cursor.execute(f'SELECT "{column}" FROM syncs_connection')
            for (value,) in cursor.fetchall():
                secrets.assert_absent(value or "", f"syncs_connection.{column}")
                assert wow_sandbox.TESTER not in (value or ""), column
        cursor.execute("SELECT access_token, refresh_token, email FROM syncs_connection")
        for row in cursor.fetchall():
            assert all(value.startswith("gAAAAA") for value in row if value)  # Fernet ciphertext
        # Every table, every row, as text (what a dump would hold).
        for table in db.introspection.table_names():
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            dump = "\n".join(row[0] for row in cursor.fetchall())
            secrets.assert_absent(dump, f"table {table}")


def test_no_secret_in_any_log_line_of_a_whole_sync_and_a_refused_refresh(
    synced: tuple[ClientLink, Secrets], caplog: pytest.LogCaptureFixture
) -> None:
    _, secrets = synced
    records = caplog.get_records("setup")  # the fixture connected, synced and was refused
    assert records and any(r.name.startswith(("syncs", "winbooks")) for r in records)
    secrets.assert_absent(formatted(records), "the logs")


def test_no_secret_in_pages_or_the_admin(world: FirmWorld, synced: tuple[ClientLink, Secrets]) -> None:
    from django.contrib.auth.models import User

    link, secrets = synced
    run = SyncRun.objects.filter(link=link).latest("pk")
    client = Client()
    client.force_login(world.admin)
    slug, file_id = world.firm.slug, link.client_file_id
    pages = [
        reverse("syncs_tab", args=[slug]),
        reverse("sync_reconnect", args=[slug, link.connection_id]),
        reverse("sync_disconnect", args=[slug, link.connection_id]),
        reverse("client_file_detail", args=[slug, file_id]),
        reverse("client_sync_status", args=[slug, file_id]),
        reverse("sync_history", args=[slug, file_id]),
        reverse("sync_run_detail", args=[slug, file_id, run.pk]),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        secrets.assert_absent(response.content.decode(), page)
    root = Client()
    root.force_login(User.objects.create_superuser("root@ops.test", "root@ops.test", "x"))
    for page in [
        reverse("admin:syncs_connection_changelist"),
        reverse("admin:syncs_connection_change", args=[link.connection_id]),
        reverse("admin:syncs_syncrun_change", args=[run.pk]),
        reverse("admin:syncs_auditevent_changelist"),
    ]:
        response = root.get(page)
        assert response.status_code == 200, page
        secrets.assert_absent(response.content.decode(), page)


def test_an_exchange_token_is_never_sent_back_in_a_form(world: FirmWorld, wow_sandbox: Any) -> None:
    token = wow_sandbox.exchange_token()
    client = Client()
    client.force_login(world.admin)
    response = client.post(
        reverse("sync_connect_winbooks", args=[world.firm.slug]),
        {"name": "WoW", "email": "not-an-email", "exchange_token": token, "api_url": wow_sandbox.url},
    )
    assert response.status_code == 200 and "Enter the e-mail address" in response.content.decode()
    assert token not in response.content.decode()
    assert not Connection.objects.exists()


def test_no_secret_in_an_exception_report(
    world: FirmWorld,
    wow_sandbox: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A crash deep in the WoW client while connecting: the 500 page, the error log and the report mailed
    to the admins (Django's text report, with the request's POST data) hold no token."""
    import requests

    settings.DEBUG = False
    token = wow_sandbox.exchange_token()

    def crash(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        raise RuntimeError("simulated crash in the middle of a WoW call")

    monkeypatch.setattr(requests.Session, "request", crash)
    reports: list[str] = []

    def report(sender: Any, request: Any, **kwargs: Any) -> None:
        exc_type, exc_value, tb = sys.exc_info()
        reporter = ExceptionReporter(request, exc_type, exc_value, tb, is_email=True)
        reports.append(reporter.get_traceback_text())

    got_request_exception.connect(report)
    try:
        client = Client(raise_request_exception=False)
        client.force_login(world.admin)
        caplog.set_level(logging.DEBUG)
        response = client.post(
            reverse("sync_connect_winbooks", args=[world.firm.slug]),
            {"name": "WoW", "email": wow_sandbox.TESTER, "exchange_token": token, "api_url": wow_sandbox.url},
        )
    finally:
        got_request_exception.disconnect(report)
    assert response.status_code == 500
    assert reports and "simulated crash" in reports[0]
    secrets = Secrets({token})
    secrets.assert_absent(response.content.decode(), "the 500 page")
    secrets.assert_absent(reports[0], "the exception report")
    secrets.assert_absent(formatted(caplog.records), "the error log")


def test_a_crash_during_a_sync_logs_no_secret(
    link: ClientLink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from clients import ledger

    secrets = Secrets()
    secrets.collect(link.connection_id)

    def crash(**_: Any) -> Any:
        raise RuntimeError("simulated crash while writing")

    monkeypatch.setattr(ledger, "ledger_upsert_master", crash)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RuntimeError):
        execute(link)
    run = SyncRun.objects.get(link=link)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "internal"
    assert "simulated crash" in formatted(caplog.records)
    secrets.assert_absent(formatted(caplog.records), "the logs")
    secrets.assert_absent(run.error_message, "the run's error")


def test_a_wrong_or_missing_key_fails_loudly(link: ClientLink, settings: Any) -> None:
    """Never garbage, never an empty token sent to WoW (see also tests/test_crypto.py)."""
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable):
        Connection.objects.with_secrets().get(pk=link.connection_id)
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured):
        Connection.objects.with_secrets().get(pk=link.connection_id)
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured):
        Connection.objects.with_secrets().get(pk=link.connection_id)
