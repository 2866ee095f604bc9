"""Bad input on every form and command: empty, very long, Unicode, HTML/script, SQL-looking, whitespace
around codes. Each refusal gives a clear message, stores nothing and renders nothing unescaped; input that
is merely unusual (Unicode, HTML-looking names) is stored as typed and always shown escaped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from clients.models import ClientFile, Firm, Membership
from syncs.models import AuditEvent, ClientLink, Connection, SyncRun
from tests.fixtures import FirmWorld

from .helpers import connect_and_link

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
SQL = "x'; DROP TABLE syncs_connection; --"
LONG = "x" * 5000
BLANK = "   "


def stored() -> tuple[Any, ...]:
    return (
        list(Firm.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values_list("username", flat=True)),
        list(Membership.objects.order_by("pk").values()),
        list(ClientFile.objects.order_by("pk").values()),
        list(Connection.objects.order_by("pk").values("pk", "name", "status", "api_url", "firm_id")),
        list(ClientLink.objects.order_by("pk").values()),
        SyncRun.objects.count(),
        AuditEvent.objects.count(),
    )


def assert_refused(response: Any, field: str | None = None) -> None:
    assert response.status_code in (200, 400), response.status_code
    form = response.context["form"] if "form" in response.context else response.context["link_form"]
    assert form.errors, "no message"
    if field is not None:
        assert field in form.errors or "__all__" in form.errors, form.errors
    assert all(str(message).strip() for messages in form.errors.values() for message in messages)
    assert SCRIPT not in response.content.decode()  # escaped wherever it is echoed


@pytest.fixture
def _forget_failed_log_ins() -> Iterator[None]:
    """The throttle lives in the shared cache (Redis): leave no failed log-in behind for later tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_client(world: FirmWorld) -> Client:
    client = Client()
    client.force_login(world.admin)
    return client


CONNECT_BAD = {
    "name": ["", BLANK, "x" * 101, LONG],
    "email": ["", BLANK, "not-an-email", SCRIPT, SQL, "é" * 300 + "@x.be", "a@b.be\n"],
    "exchange_token": ["", BLANK, "two words", LONG, SCRIPT, SQL, "tok\u200ben", "tök€n"],
    "api_url": [
        "javascript:alert(1)",
        "ftp://x.be",
        "http://evil.example.com",
        "https://u@host.be",
        LONG,
        SCRIPT,
    ],
}


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in CONNECT_BAD.items() for v in values])
def test_the_connect_form_refuses_bad_input(
    world: FirmWorld, wow_sandbox: Any, admin_client: Client, field: str, value: str
) -> None:
    data = {
        "name": "WoW",
        "email": wow_sandbox.TESTER,
        "exchange_token": wow_sandbox.exchange_token(),
        "api_url": wow_sandbox.url,
    }
    data[field] = value
    before = stored()
    response = admin_client.post(reverse("sync_connect_winbooks", args=[world.firm.slug]), data)
    assert_refused(response)
    assert stored() == before


@pytest.mark.parametrize("name", ["Ünïcødé € 会计", SCRIPT, SQL, "  spaced   out  "])
def test_unusual_names_are_stored_as_typed_and_shown_escaped(
    world: FirmWorld, wow_sandbox: Any, admin_client: Client, name: str
) -> None:
    data = {
        "name": name,
        "email": f"  {wow_sandbox.TESTER} ",
        "exchange_token": f" {wow_sandbox.exchange_token()} ",
        "api_url": f" {wow_sandbox.url}/ ",
    }
    response = admin_client.post(reverse("sync_connect_winbooks", args=[world.firm.slug]), data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    connection = Connection.objects.get()
    assert connection.name == " ".join(name.split()) and connection.email == wow_sandbox.TESTER
    assert connection.api_url == wow_sandbox.url
    page = admin_client.get(reverse("syncs_tab", args=[world.firm.slug])).content.decode()
    assert SCRIPT not in page
    if name == SCRIPT:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert Connection.objects.count() == 1  # the SQL-looking name did nothing to the table


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", v) for v in CONNECT_BAD["email"]]
    + [("exchange_token", v) for v in CONNECT_BAD["exchange_token"]],
)
def test_the_reconnect_form_refuses_bad_input(
    world: FirmWorld, wow_sandbox: Any, admin_client: Client, field: str, value: str
) -> None:
    link = connect_and_link(world, wow_sandbox)
    data = {"email": wow_sandbox.TESTER, "exchange_token": wow_sandbox.exchange_token()}
    data[field] = value
    before = stored()
    tokens = Connection.objects.values_list("access_token", "refresh_token").get(pk=link.connection_id)
    response = admin_client.post(reverse("sync_reconnect", args=[world.firm.slug, link.connection_id]), data)
    assert_refused(response)
    assert stored() == before
    assert (
        Connection.objects.values_list("access_token", "refresh_token").get(pk=link.connection_id) == tokens
    )


LINK_BAD = {
    "company_code": ["", BLANK, "x" * 101, LONG, SCRIPT, SQL, "DEMO\x07BV", "ДЕМО_BV"],
    "start_date": ["not-a-date", "2024-13-45", SCRIPT, SQL, LONG],
    "connection": ["", "abc", "999999", SQL],
}


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in LINK_BAD.items() for v in values])
def test_the_link_form_refuses_bad_input(world: FirmWorld, wow_sandbox: Any, field: str, value: str) -> None:
    connect_and_link(world, wow_sandbox)  # the given file is linked; the other file is the one we try
    connection = Connection.objects.get()
    client = Client()
    client.force_login(world.staff)
    data = {"connection": str(connection.pk), "company_code": "SECOND_BV", "start_date": ""}
    data[field] = value
    before = stored()
    response = client.post(reverse("client_link", args=[world.firm.slug, world.other_file.pk]), data)
    assert_refused(response)
    assert stored() == before


def test_whitespace_around_a_company_code_is_ignored(world: FirmWorld, wow_sandbox: Any) -> None:
    connect_and_link(world, wow_sandbox)
    ClientLink.objects.update(unlinked_at="2024-01-01T00:00Z")  # free the code again
    client = Client()
    client.force_login(world.staff)
    response = client.post(
        reverse("client_link", args=[world.firm.slug, world.other_file.pk]),
        {"connection": str(Connection.objects.get().pk), "company_code": f" \t{wow_sandbox.DEMO}  "},
    )
    assert response.status_code == 302
    assert (
        ClientLink.objects.get(client_file=world.other_file, unlinked_at__isnull=True).company_code
        == wow_sandbox.DEMO
    )


@pytest.mark.parametrize("value", ["", BLANK, LONG, SCRIPT, SQL, "ünï", "x" * 300])
def test_the_login_form_refuses_bad_input_without_echoing_it_raw(
    world: FirmWorld, value: str, _forget_failed_log_ins: None
) -> None:
    before = stored()
    response = Client().post(
        reverse("login"), {"username": value, "password": value}, REMOTE_ADDR="192.0.2.77"
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert SCRIPT not in response.content.decode()
    assert stored()[:4] == before[:4]


@pytest.mark.parametrize("value", [SCRIPT, SQL, LONG, "ünï", BLANK])
def test_query_parameters_are_never_rendered_raw(world: FirmWorld, admin_client: Client, value: str) -> None:
    slug = world.firm.slug
    checks = [
        (reverse("sync_add", args=[slug]), {"kind": value}),
        (reverse("sync_add_package", args=[slug]), {"package": value}),
        (reverse("sync_history", args=[slug, world.given_file.pk]), {"page": value}),
        (reverse("trial_balance", args=[slug, world.given_file.pk]), {"period": value}),
    ]
    for url, params in checks:
        response = admin_client.get(url, params, follow=True)
        assert response.status_code in (200, 404), (url, response.status_code)
        assert SCRIPT not in response.content.decode(), url


# --- commands ------------------------------------------------------------------------------------------------


def command_refuses(*args: str, **env: str) -> str:
    before = stored()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with pytest.raises(CommandError) as raised:
            call_command(*args)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    message = str(raised.value)
    assert message.strip() and "Traceback" not in message
    assert stored() == before, f"{args} stored something"
    return message


@pytest.mark.parametrize(
    ("name", "slug", "email"),
    [
        ("", "acme", "boss@acme.be"),
        (BLANK, "acme", "boss@acme.be"),
        ("Acme", "", "boss@acme.be"),
        ("Acme", "acme co", "boss@acme.be"),
        ("Acme", SCRIPT, "boss@acme.be"),
        ("Acme", SQL, "boss@acme.be"),
        ("Acme", "acme", "not-an-email"),
        ("Acme", "acme", SQL),
        ("x" * 201, "acme", "boss@acme.be"),
        ("Acme", "alpha", "boss@acme.be"),  # taken
    ],
)
def test_create_firm_refuses_bad_input_and_stores_nothing(
    world: FirmWorld, name: str, slug: str, email: str
) -> None:
    command_refuses(
        "create_firm",
        "--name",
        name,
        "--slug",
        slug,
        "--admin-email",
        email,
        "--password-env",
        "TEST_PW",
        TEST_PW="pw-1234567",
    )


def test_operator_commands_refuse_bad_input_and_store_nothing(world: FirmWorld, wow_sandbox: Any) -> None:
    slug = world.firm.slug
    assert "No firm" in command_refuses(
        "winbooks_connect", "--firm", SCRIPT, "--name", "W", "--email", "a@b.be", "--exchange-token", "t"
    )
    assert "exchange token" in command_refuses(
        "winbooks_connect", "--firm", slug, "--name", "W", "--email", "a@b.be", "--exchange-token", ""
    )
    for bad in ("", BLANK, LONG, "not-an-email"):
        command_refuses(
            "winbooks_connect",
            "--firm",
            slug,
            "--name",
            bad if bad != "not-an-email" else "W",
            "--email",
            bad if bad == "not-an-email" else wow_sandbox.TESTER,
            f"--exchange-token={wow_sandbox.exchange_token()}",  # a token may start with "-"
            "--api-url",
            wow_sandbox.url,
        )
    command_refuses(
        "winbooks_connect",
        "--firm",
        slug,
        "--name",
        "W",
        "--email",
        wow_sandbox.TESTER,
        "--exchange-token",
        SQL,
        "--api-url",
        wow_sandbox.url,
    )
    connect_and_link(world, wow_sandbox)
    other = world.other_file.file_code
    for code in ("", BLANK, LONG, SCRIPT, SQL):
        command_refuses("link_client", "--firm", slug, "--client", other, "--company-code", code)
    command_refuses("link_client", "--firm", slug, "--client", SQL, "--company-code", "DEMO_BV")
    command_refuses(
        "link_client",
        "--firm",
        slug,
        "--client",
        other,
        "--company-code",
        "SECOND_BV",
        "--start-date",
        "2024-13-45",
    )
    command_refuses("sync_client", "--firm", slug, "--client", SCRIPT)
    for period in ("2024-99", SCRIPT, SQL, "", LONG):
        command_refuses(
            "trial_balance", "--firm", slug, "--client", world.given_file.file_code, "--period", period
        )
