"""Operator tools in production (issue #17, point 5): ``create_firm`` applies the password validators, and the
demo's commands refuse to run with ``DJANGO_ENV=production``.

The demo commands run as an operator would run them on the production stack: ``manage.py`` in a process of
its own, with the production settings, against the suite's PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from clients.models import Firm
from tests.factories import PASSWORD, UserFactory
from tests.test_deployment import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.django_db(transaction=True)


def production_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**PRODUCTION_ENV, "DATABASE_URL": url}


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("1234", "This password is too short"),
        ("12345678901", "This password is entirely numeric"),
        ("password123", "This password is too common"),
        ("boss@acco.test", "The password is too similar to the"),
    ],
)
def test_create_firm_applies_the_password_validators(
    monkeypatch: pytest.MonkeyPatch, password: str, reason: str
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", password)
    with pytest.raises(CommandError, match=f"password: {reason}"):
        call_command(
            "create_firm", "--name", "Acco", "--slug", "acco", "--admin-email", "boss@acco.test",
            "--password-env", "ADMIN_PASSWORD",
        )  # fmt: skip
    assert not Firm.objects.exists() and not User.objects.exists()
    # A password the validators accept goes through (the refusals above are the validators').
    monkeypatch.setenv("ADMIN_PASSWORD", "plum-orchard-lantern-42")
    call_command(
        "create_firm", "--name", "Acco", "--slug", "acco", "--admin-email", "boss@acco.test",
        "--password-env", "ADMIN_PASSWORD",
    )  # fmt: skip
    assert User.objects.get(username="boss@acco.test").check_password("plum-orchard-lantern-42")


def test_seed_demo_refuses_to_run_in_production(world: Any) -> None:
    # A production user who happens to have a demo log-in keeps their own password.
    UserFactory.create(username="admin@demo.test")
    result = run_manage(production_env(), "seed_demo")
    assert result.returncode != 0
    assert "seed_demo is for the demo only and refuses to run with DJANGO_ENV=production" in result.stderr
    assert "demo-password" not in result.stdout
    assert User.objects.get(username="admin@demo.test").check_password(PASSWORD)
    assert not User.objects.filter(username="staff@demo.test").exists()
    assert not Firm.objects.filter(slug="demo").exists()


def test_rundemo_refuses_to_run_in_production() -> None:
    result = run_manage(production_env(), "rundemo", "--port", "1", "--sandbox-port", "1")
    assert result.returncode != 0
    assert "rundemo is for the demo only and refuses to run with DJANGO_ENV=production" in result.stderr
