"""Operator commands answer in the shell's language, and the 403/404 pages give the product's reason in the
reader's language (never the internals of an address that matched nothing)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from clients.models import Firm, Profile
from silverfin_sync.commands import operator_language
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "nl_BE.UTF-8"}, "nl"),
        ({"LANG": "fr_BE.UTF-8"}, "fr"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),  # a locale the portal does not speak: the site's default
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANGUAGE": "de_DE:fr_BE", "LANG": "nl_BE.UTF-8"}, "fr"),  # GNU's list: the first one spoken
        ({"LC_ALL": "fr_BE.UTF-8", "LANG": "nl_BE.UTF-8"}, "fr"),  # LC_ALL overrides LANG
        ({"LC_ALL": "C", "LANG": "nl_BE.UTF-8"}, "en"),  # ... also when it says C
        ({"LC_MESSAGES": "nl_BE@euro", "LANG": "fr_BE.UTF-8"}, "nl"),
    ],
)
def test_the_operators_language_comes_from_the_locale_variables(
    environ: dict[str, str], language: str
) -> None:
    assert operator_language(environ) == language


def refusal(monkeypatch: pytest.MonkeyPatch, lang: str, *args: str) -> str:
    monkeypatch.setenv("LANG", lang)
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(CommandError) as refused:
        call_command(*args)
    return str(refused.value)


def test_a_command_refuses_in_the_operators_language(
    monkeypatch: pytest.MonkeyPatch, world: FirmWorld
) -> None:
    command = ("trial_balance", "--firm", "nowhere", "--client", "X", "--period", "2024-03")
    assert refusal(monkeypatch, "C.UTF-8", *command) == "No firm with the slug 'nowhere'."
    assert refusal(monkeypatch, "nl_BE.UTF-8", *command) == "Geen kantoor met de slug 'nowhere'."
    assert refusal(monkeypatch, "fr_BE.UTF-8", *command) == "Aucun cabinet avec le slug 'nowhere'."
    bad_period = ("trial_balance", "--firm", world.firm.slug, "--client", "X", "--period", "2024-14")
    assert refusal(monkeypatch, "nl_BE.UTF-8", *bad_period) == (
        "--period moet eruitzien als 2024-03 (of 2024-00 / 2024-13), niet '2024-14'."
    )
    unknown_file = ("link_client", "--firm", world.firm.slug, "--client", "NOPE", "--company-code", "DEMO_BV")
    assert refusal(monkeypatch, "fr_BE.UTF-8", *unknown_file) == (
        f"Le cabinet '{world.firm.slug}' n’a pas de dossier client avec le code dossier 'NOPE'."
    )


def test_a_command_reports_success_in_the_operators_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "nl_BE.UTF-8")
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", "a-long-enough-password-1")
    out = io.StringIO()
    call_command(
        "create_firm",
        "--name=Boekhouding Peeters",
        "--slug=peeters",
        "--admin-email=an@peeters.test",
        "--password-env=FIRST_ADMIN_PASSWORD",
        "--language=fr",  # the firm's language, not the operator's
        stdout=out,
    )
    assert out.getvalue().strip() == (
        "Kantoor 'Boekhouding Peeters' (slug peeters) aangemaakt met beheerder an@peeters.test."
    )
    assert Firm.objects.get(slug="peeters").default_language == "fr"


def in_dutch(client: Client, world: FirmWorld, role: str) -> None:
    user = getattr(world, role)
    Profile.objects.update_or_create(user=user, defaults={"language": "nl"})
    client.force_login(user)


def test_a_refused_page_says_why_in_the_readers_language(client: Client, world: FirmWorld) -> None:
    in_dutch(client, world, "staff")
    refused = client.get(reverse("people", args=[world.firm.slug]))
    assert refused.status_code == 403
    assert "Uw rol (Medewerker) laat dit niet toe." in refused.content.decode()


def test_a_missing_object_says_what_is_missing_in_the_readers_language(
    client: Client, world: FirmWorld
) -> None:
    in_dutch(client, world, "admin")
    missing = client.get(reverse("account_lines", args=[world.firm.slug, world.given_file.pk, 999999]))
    assert missing.status_code == 404
    assert "Deze grootboekrekening bestaat niet in dit klantendossier." in missing.content.decode()
    invitation = client.post(reverse("invitation_revoke", args=[world.firm.slug, 999999]))
    assert invitation.status_code == 404
    assert "Deze uitnodiging bestaat niet in dit kantoor." in invitation.content.decode()


def test_an_address_that_matches_nothing_shows_only_the_general_page(
    client: Client, world: FirmWorld
) -> None:
    client.force_login(world.admin)
    nowhere = client.get("/firms/no/such/page/")
    html = nowhere.content.decode()
    assert nowhere.status_code == 404
    assert "This page does not exist" in html
    assert 'class="error-reason"' not in html
    assert "Resolver404" not in html and "tried" not in html
