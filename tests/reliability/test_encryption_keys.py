"""Encryption keys (issue #17, point 4): a key that is no key stops start-up and ``check --deploy``; with a
wrong but valid key every page that needs no secret still answers, and an admin can reconnect.

The pages are fetched as the firm's admin would, over the test client, after a real sync from the sandbox.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.test import Client
from django.urls import reverse

from syncs.models import ClientLink, Connection, SyncRun
from tests.fixtures import FirmWorld
from tests.test_deployment import PRODUCTION_ENV, ROOT, run_manage

from .helpers import execute

pytestmark = pytest.mark.django_db(transaction=True)

NOT_A_KEY = "build-only"


@pytest.mark.parametrize("keys", [NOT_A_KEY, f"{Fernet.generate_key().decode()},{NOT_A_KEY}"])
def test_check_deploy_refuses_keys_that_are_not_fernet_keys(keys: str) -> None:
    result = run_manage({**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": keys}, "check", "--deploy")
    assert result.returncode != 0
    assert (
        "silverfin_sync.E002" in result.stderr
        and "FIELD_ENCRYPTION_KEYS is not a Fernet key" in result.stderr
    )
    assert NOT_A_KEY not in result.stderr + result.stdout  # named, never shown


def test_the_web_process_refuses_to_start_with_a_key_that_is_no_key() -> None:
    # gunicorn runs no system checks: loading the WSGI application must refuse by itself.
    env = {**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": NOT_A_KEY}
    result = subprocess.run(
        [sys.executable, "-c", "import silverfin_sync.wsgi"],
        cwd=ROOT,
        env={**{k: v for k, v in __import__("os").environ.items() if k not in env}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not a Fernet key" in result.stderr
    good = {**PRODUCTION_ENV}
    result = subprocess.run(
        [sys.executable, "-c", "import silverfin_sync.wsgi"],
        cwd=ROOT,
        env={**{k: v for k, v in __import__("os").environ.items() if k not in good}, **good},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_with_a_wrong_key_pages_answer_and_the_admin_reconnects(
    world: FirmWorld, wow_sandbox: Any, link: ClientLink, settings: Any
) -> None:
    run = execute(link)
    assert run.status == SyncRun.Status.SUCCEEDED
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # valid, but not the one used
    warnings = [m for m in checks.run_checks(databases=["default"]) if m.id == "silverfin_sync.W001"]
    assert [w.msg for w in warnings] == [
        "1 connection(s) hold secrets that no key in FIELD_ENCRYPTION_KEYS can decrypt."
    ]
    admin = Client()
    admin.force_login(world.admin)
    firm, file_id, connection_id = world.firm.slug, world.given_file.pk, link.connection_id
    pages = [
        reverse("syncs_tab", args=[firm]),
        reverse("firm_overview", args=[firm]),
        reverse("client_file_detail", args=[firm, file_id]),
        reverse("sync_reconnect", args=[firm, connection_id]),
        reverse("sync_disconnect", args=[firm, connection_id]),
        reverse("trial_balance", args=[firm, file_id]),
        reverse("sync_history", args=[firm, file_id]),
        reverse("sync_run_detail", args=[firm, file_id, run.pk]),
    ]
    for url in pages:
        assert admin.get(url).status_code == 200, url
    # The admin reconnects: the unreadable secrets are overwritten, never read.
    response = admin.post(
        reverse("sync_reconnect", args=[firm, connection_id]),
        {"email": wow_sandbox.TESTER, "exchange_token": wow_sandbox.exchange_token()},
    )
    assert response.status_code == 302
    connection = Connection.objects.with_secrets().get(
        pk=connection_id
    )  # every secret readable with the new key
    assert connection.email == wow_sandbox.TESTER and connection.refresh_token
    assert not [m for m in checks.run_checks(databases=["default"]) if m.id == "silverfin_sync.W001"]
    assert execute(link).status == SyncRun.Status.SUCCEEDED
