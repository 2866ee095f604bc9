"""Which language a page is in: the user's own, else the firm's default, else the browser's; the switcher,
the profile page, and the Belgian formats of numbers and dates."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from clients.models import Profile
from syncs.templatetags.ledger_format import format_count, format_money
from tests.fixtures import FirmWorld
from tests.ledger.factories import build_small_ledger

pytestmark = pytest.mark.django_db


def page_language(response: object) -> str:
    html = response.content.decode()  # type: ignore[attr-defined]
    match = re.search(r'<html lang="([a-z-]+)">', html)
    assert match, html[:300]
    assert response["Content-Language"] == match.group(1)  # type: ignore[index]
    return match.group(1)


def test_without_a_user_the_browser_decides(client: Client) -> None:
    login = reverse("login")
    assert page_language(client.get(login)) == "en"
    assert page_language(client.get(login, HTTP_ACCEPT_LANGUAGE="nl-BE,nl;q=0.9,en;q=0.5")) == "nl"
    french = client.get(login, HTTP_ACCEPT_LANGUAGE="fr-BE,fr;q=0.9")
    assert page_language(french) == "fr"
    assert "Aller au contenu" in french.content.decode()
    assert "Accept-Language" in french["Vary"]
    # A language the portal does not have falls back to English.
    assert page_language(client.get(login, HTTP_ACCEPT_LANGUAGE="de-DE")) == "en"


def test_the_users_own_language_comes_before_the_firms_and_the_browsers(
    client: Client, world: FirmWorld
) -> None:
    overview = reverse("firm_overview", args=[world.firm.slug])
    client.force_login(world.staff)
    assert page_language(client.get(overview, HTTP_ACCEPT_LANGUAGE="fr-BE")) == "fr"  # the browser's

    world.firm.default_language = "nl"
    world.firm.save()
    assert page_language(client.get(overview, HTTP_ACCEPT_LANGUAGE="fr-BE")) == "nl"  # the firm's

    Profile.objects.create(user=world.staff, language="en")
    assert page_language(client.get(overview, HTTP_ACCEPT_LANGUAGE="fr-BE")) == "en"  # the user's own
    html = client.get(overview, HTTP_ACCEPT_LANGUAGE="fr-BE").content.decode()
    assert "Client files" in html


def test_the_switcher_remembers_a_signed_in_users_choice_on_their_profile(
    client: Client, world: FirmWorld
) -> None:
    overview = reverse("firm_overview", args=[world.firm.slug])
    client.force_login(world.staff)
    response = client.post(reverse("language_switch"), {"language": "nl", "next": overview})
    assert response.status_code == 302 and response["Location"] == overview
    assert Profile.objects.get(user=world.staff).language == "nl"
    html = client.get(overview, HTTP_ACCEPT_LANGUAGE="fr-BE").content.decode()
    assert "Klantendossiers" in html and "Afmelden" in html
    # Another browser, the same person: still Dutch.
    other_browser = Client()
    other_browser.force_login(world.staff)
    assert page_language(other_browser.get(overview, HTTP_ACCEPT_LANGUAGE="en")) == "nl"


def test_the_switcher_before_log_in_sets_the_browsers_language(client: Client) -> None:
    response = client.post(reverse("language_switch"), {"language": "fr", "next": reverse("login")})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    assert page_language(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nl-BE")) == "fr"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", ""])
def test_the_switcher_goes_back_only_within_the_site(client: Client, target: str) -> None:
    response = client.post(reverse("language_switch"), {"language": "nl", "next": target})
    assert response["Location"] == reverse("home")


def test_an_unknown_language_changes_nothing(client: Client, world: FirmWorld) -> None:
    client.force_login(world.staff)
    client.post(reverse("language_switch"), {"language": "de"})
    assert not Profile.objects.filter(user=world.staff).exists()
    response = client.post(reverse("profile"), {"language": "de"})
    assert response.status_code == 200
    assert not Profile.objects.filter(user=world.staff).exists()
    assert 'class="error"' in response.content.decode()


def test_the_profile_page_sets_the_users_language_and_back_to_the_firms_default(
    client: Client, world: FirmWorld
) -> None:
    world.firm.default_language = "fr"
    world.firm.save()
    client.force_login(world.staff)
    response = client.post(reverse("profile"), {"language": "nl"}, follow=True)
    assert Profile.objects.get(user=world.staff).language == "nl"
    assert "Uw taal is bewaard." in response.content.decode()
    response = client.post(reverse("profile"), {"language": ""}, follow=True)
    assert Profile.objects.get(user=world.staff).language == ""
    assert "Votre langue est enregistrée." in response.content.decode()
    # A staff contributor is shown no firm setting, and cannot set one.
    assert 'name="default_language"' not in response.content.decode()
    client.post(reverse("profile"), {"firm": world.firm.slug, "default_language": "en"})
    world.firm.refresh_from_db()
    assert world.firm.default_language == "fr"


def test_an_admin_sets_the_firms_default_language(client: Client, world: FirmWorld) -> None:
    client.force_login(world.admin)
    html = client.get(reverse("profile")).content.decode()
    assert 'name="default_language"' in html
    client.post(reverse("profile"), {"firm": world.firm.slug, "default_language": "nl"})
    world.firm.refresh_from_db()
    assert world.firm.default_language == "nl"
    client.force_login(world.external)
    overview = reverse("firm_overview", args=[world.firm.slug])
    assert page_language(client.get(overview, HTTP_ACCEPT_LANGUAGE="en")) == "nl"


def test_an_admin_cannot_set_another_firms_default(
    client: Client, world: FirmWorld, other_world: FirmWorld
) -> None:
    client.force_login(world.admin)
    response = client.post(reverse("profile"), {"firm": other_world.firm.slug, "default_language": "nl"})
    assert response.status_code == 404
    other_world.firm.refresh_from_db()
    assert other_world.firm.default_language == ""


@pytest.mark.parametrize(
    ("language", "amount", "count", "date"),
    [
        ("en", "-1,234,567.89", "12,345", "31/12/2024"),
        ("nl", "-1.234.567,89", "12.345", "31/12/2024"),
        ("fr", "-1.234.567,89", "12.345", "31/12/2024"),
    ],
)
def test_numbers_and_dates_in_the_languages_belgian_format(
    language: str, amount: str, count: str, date: str
) -> None:
    with translation.override(language):
        assert format_money(Decimal("-1234567.885")) == amount
        assert format_count(12345) == count
        assert (
            Template('{{ day|date:"SHORT_DATE_FORMAT" }}').render(Context({"day": dt.date(2024, 12, 31)}))
            == date
        )
        assert format_money(Decimal("-0.001")) == ("0.00" if language == "en" else "0,00")


def test_the_trial_balance_rows_are_in_the_readers_format(client: Client, world: FirmWorld) -> None:
    ledger = build_small_ledger(world.given_file)
    url = (
        reverse("trial_balance", args=[world.firm.slug, world.given_file.pk])
        + f"?period=fy-{ledger.fiscal_year.pk}"
    )
    client.force_login(world.staff)
    english = client.get(url).content.decode()
    assert "2,444.57" in english and "-10,000.00" in english
    Profile.objects.create(user=world.staff, language="nl")
    dutch = client.get(url).content.decode()
    assert "2.444,57" in dutch and "-10.000,00" in dutch
    assert "2,444.57" not in dutch
