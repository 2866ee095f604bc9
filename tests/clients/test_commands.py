from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from clients.models import ClientFile, Firm, Membership, Role

pytestmark = pytest.mark.django_db


def test_create_firm_creates_the_firm_and_its_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-password")
    out = io.StringIO()
    call_command(
        "create_firm",
        "--name",
        "Acco",
        "--slug",
        "acco",
        "--admin-email",
        "boss@acco.test",
        "--password-env",
        "ADMIN_PASSWORD",
        stdout=out,
    )
    assert "Created firm 'Acco' (slug acco) with admin boss@acco.test." in out.getvalue()
    membership = Membership.objects.get(firm__slug="acco")
    assert membership.role == Role.ADMIN and membership.user.check_password("a-long-password")
    assert "a-long-password" not in out.getvalue()


def test_create_firm_fails_clearly_on_a_taken_slug(monkeypatch: pytest.MonkeyPatch) -> None:
    Firm.objects.create(name="Existing", slug="acco")
    with pytest.raises(CommandError, match=r"slug: A firm with the slug “acco” already exists\."):
        call_command(
            "create_firm", "--name", "Acco", "--slug", "acco", "--admin-email", "b@a.test", "--no-password"
        )
    assert Firm.objects.count() == 1


def test_create_firm_refuses_an_empty_password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(CommandError, match="NOPE is empty or unset"):
        call_command(
            "create_firm", "--name", "A", "--slug", "a", "--admin-email", "b@a.test", "--password-env", "NOPE"
        )
    assert not Firm.objects.exists()


def test_seed_demo_is_idempotent_and_prints_the_log_ins() -> None:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=io.StringIO())
    assert Firm.objects.filter(slug="demo").count() == 1
    assert ClientFile.objects.filter(firm__slug="demo").count() == 3
    assert {m.role for m in Membership.objects.filter(firm__slug="demo")} == set(Role.values)
    for email in ["admin@demo.test", "staff@demo.test", "external@demo.test", "pulse@demo.test"]:
        assert email in out.getvalue()
