"""Password change and reset (issue #17, point 6), driven over HTTP; the reset link really goes out over SMTP
to the suite's mail server (aiosmtpd, tests/services.py) and is followed from the message."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD
from tests.fixtures import FirmWorld, SmtpMail

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "plum-orchard-lantern-42"


@pytest.fixture(autouse=True)
def _no_throttle_left_over() -> None:
    cache.clear()


def logs_in(username: str, password: str) -> bool:
    client = Client()
    client.post(reverse("login"), {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_a_user_changes_their_password_and_other_sessions_end(world: FirmWorld) -> None:
    elsewhere = Client()
    elsewhere.post(reverse("login"), {"username": world.staff.username, "password": PASSWORD})
    client = Client()
    client.post(reverse("login"), {"username": world.staff.username, "password": PASSWORD})
    form = client.get(reverse("password_change"))
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    refused = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "1234", "new_password2": "1234"},
    )
    assert "This password is too short" in refused.content.decode()  # the validators apply here too
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert client.get(reverse("home")).status_code == 302  # still logged in here (to the firm)
    assert elsewhere.get(reverse("home"))["Location"].startswith("/accounts/login/")  # logged out there
    assert logs_in(world.staff.username, NEW_PASSWORD) and not logs_in(world.staff.username, PASSWORD)


def test_a_forgotten_password_is_reset_through_a_mailed_link(world: FirmWorld, smtp_mail: SmtpMail) -> None:
    client = Client()
    response = client.post(reverse("password_reset"), {"email": world.staff.email})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    (message,) = smtp_mail.wait_for(1)
    assert message["To"] == world.staff.email
    body = message.get_content()
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^\s]+/)", body)
    assert link is not None, body
    assert PASSWORD not in body
    form = client.get(link[1], follow=True)
    assert 'name="new_password1"' in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    assert logs_in(world.staff.username, NEW_PASSWORD)
    # The link works once.
    again = Client().get(link[1], follow=True)
    assert "This link is used or expired" in again.content.decode()


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    world: FirmWorld, smtp_mail: SmtpMail
) -> None:
    response = Client().post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert smtp_mail.messages() == []


def test_password_reset_mails_are_throttled_per_address_and_per_email(
    world: FirmWorld, smtp_mail: SmtpMail
) -> None:
    """Nobody can flood a known address with reset mails: three a window, then a clear refusal, no mail."""
    client = Client()
    url = reverse("password_reset")
    for _ in range(3):
        assert client.post(url, {"email": world.staff.username}).status_code == 302
    refused = client.post(url, {"email": world.staff.username.upper()})
    assert refused.status_code == 200
    assert "Too many password-reset requests" in refused.content.decode()
    assert len(smtp_mail.wait_for(3)) == 3
    # Another person's reset from the same place still goes out.
    assert client.post(url, {"email": world.admin.username}).status_code == 302
    assert len(smtp_mail.wait_for(4)) == 4
