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


def assert_refused(response: Any, field: str | None, message: str) -> None:
    """Refused with ``message`` on ``field`` (None: on the form as a whole), and on nothing else: every other
    value was valid, so the refusal is for the reason named. Nothing echoed unescaped."""
    assert response.status_code in (200, 400), response.status_code
    form = response.context["form"] if "form" in response.context else response.context["link_form"]
    key = field or "__all__"
    assert set(form.errors) == {key}, form.errors
    assert any(message in str(error) for error in form.errors[key]), form.errors
    assert SCRIPT not in response.content.decode()  # escaped wherever it is echoed


# Messages, by the check that gives them. The product's own checks come first; the last two are WoW's
# refusals as the product words them (a value WoW is the judge of: an exchange token or company code it
# does not know): they prove the refusal reaches the user clearly, not that the product checked anything.
REQUIRED = "This field is required."
TOO_LONG = "Ensure this value has at most"
NO_EMAIL = "Enter the e-mail address the exchange token was created for."
NO_TOKEN = "Paste the exchange token from WinbooksOnWeb's e-mail."
NOT_A_TOKEN = "This does not look like an exchange token"
NOT_A_WEB_ADDRESS = "The API location must be a web address"
NOT_HTTPS = "The API location must use https://"
NOT_PLAIN = "The API location must be a plain address"
NO_CODE = "Enter the WinbooksOnWeb company code."
UNTYPABLE_CODE = "The company code contains characters that cannot be typed."
NOT_A_DATE = "Enter a valid date."
NOT_A_CHOICE = "Select a valid choice."
WOW_REFUSED_TOKEN = "WinbooksOnWeb did not accept this exchange token"
WOW_UNKNOWN_COMPANY = "WinbooksOnWeb knows no company with this code."


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


# (value, field the refusal is on (None: the form), message)
CONNECT_BAD: dict[str, list[tuple[str, str | None, str]]] = {
    "name": [
        ("", "name", REQUIRED),
        (BLANK, "name", REQUIRED),
        ("x" * 101, "name", TOO_LONG),
        (LONG, "name", TOO_LONG),
    ],
    "email": [
        ("", "email", REQUIRED),
        (BLANK, "email", REQUIRED),
        ("not-an-email", "email", NO_EMAIL),
        (SCRIPT, "email", NO_EMAIL),
        (SQL, "email", NO_EMAIL),
        ("é" * 300 + "@x.be", "email", TOO_LONG),
        ("tester@sandbox.local\nBcc: x@y.be", "email", NO_EMAIL),
    ],
    "exchange_token": [
        ("", "exchange_token", NO_TOKEN),
        (BLANK, "exchange_token", NO_TOKEN),
        ("two words", "exchange_token", NOT_A_TOKEN),
        (LONG, "exchange_token", TOO_LONG),
        (SQL, "exchange_token", NOT_A_TOKEN),
        ("tok\u200ben", "exchange_token", NOT_A_TOKEN),
        ("tok\x07en", "exchange_token", NOT_A_TOKEN),
        (SCRIPT, None, WOW_REFUSED_TOKEN),
        ("tök€n", None, WOW_REFUSED_TOKEN),
    ],
    "api_url": [
        ("javascript:alert(1)", "api_url", NOT_A_WEB_ADDRESS),
        ("ftp://x.be", "api_url", NOT_A_WEB_ADDRESS),
        ("http://evil.example.com", "api_url", NOT_HTTPS),
        ("https://u@host.be", "api_url", NOT_PLAIN),
        ("https://host.be/?x=1", "api_url", NOT_PLAIN),
        (LONG, "api_url", TOO_LONG),
        (SCRIPT, "api_url", NOT_A_WEB_ADDRESS),
    ],
}


def connect_data(sandbox: Any) -> dict[str, str]:
    return {
        "name": "WoW",
        "email": sandbox.TESTER,
        "exchange_token": sandbox.exchange_token(),
        "api_url": sandbox.url,
    }


def test_the_connect_form_accepts_its_baseline(
    world: FirmWorld, wow_sandbox: Any, admin_client: Client
) -> None:
    """The positive control of the cases below: each changes one field of this, which is accepted."""
    response = admin_client.post(
        reverse("sync_connect_winbooks", args=[world.firm.slug]), connect_data(wow_sandbox)
    )
    assert response.status_code == 302
    assert Connection.objects.get().status == Connection.Status.CONNECTED


@pytest.mark.parametrize(
    ("field", "value", "refused_on", "message"),
    [(f, *case) for f, cases in CONNECT_BAD.items() for case in cases],
)
def test_the_connect_form_refuses_bad_input(
    world: FirmWorld,
    wow_sandbox: Any,
    admin_client: Client,
    field: str,
    value: str,
    refused_on: str | None,
    message: str,
) -> None:
    data = connect_data(wow_sandbox)
    data[field] = value
    before = stored()
    response = admin_client.post(reverse("sync_connect_winbooks", args=[world.firm.slug]), data)
    assert_refused(response, refused_on, message)
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


RECONNECT_BAD = [("email", *case) for case in CONNECT_BAD["email"]] + [
    ("exchange_token", *case) for case in CONNECT_BAD["exchange_token"]
]


def test_the_reconnect_form_accepts_its_baseline(
    world: FirmWorld, wow_sandbox: Any, admin_client: Client
) -> None:
    link = connect_and_link(world, wow_sandbox)
    tokens = Connection.objects.values_list("access_token", "refresh_token").get(pk=link.connection_id)
    data = {"email": wow_sandbox.TESTER, "exchange_token": wow_sandbox.exchange_token()}
    response = admin_client.post(reverse("sync_reconnect", args=[world.firm.slug, link.connection_id]), data)
    assert response.status_code == 302
    assert (
        Connection.objects.values_list("access_token", "refresh_token").get(pk=link.connection_id) != tokens
    )


@pytest.mark.parametrize(("field", "value", "refused_on", "message"), RECONNECT_BAD)
def test_the_reconnect_form_refuses_bad_input(
    world: FirmWorld,
    wow_sandbox: Any,
    admin_client: Client,
    field: str,
    value: str,
    refused_on: str | None,
    message: str,
) -> None:
    link = connect_and_link(world, wow_sandbox)
    data = {"email": wow_sandbox.TESTER, "exchange_token": wow_sandbox.exchange_token()}
    data[field] = value
    before = stored()
    tokens = Connection.objects.values_list("access_token", "refresh_token").get(pk=link.connection_id)
    response = admin_client.post(reverse("sync_reconnect", args=[world.firm.slug, link.connection_id]), data)
    assert_refused(response, refused_on, message)
    assert stored() == before
    assert (
        Connection.objects.values_list("access_token", "refresh_token").get(pk=link.connection_id) == tokens
    )


LINK_BAD: dict[str, list[tuple[str, str, str]]] = {
    "company_code": [
        ("", "company_code", NO_CODE),
        (BLANK, "company_code", NO_CODE),
        ("x" * 101, "company_code", TOO_LONG),
        (LONG, "company_code", TOO_LONG),
        ("SECOND\x07BV", "company_code", UNTYPABLE_CODE),
        ("SECOND_BV\u200b", "company_code", UNTYPABLE_CODE),
        (SCRIPT, "company_code", WOW_UNKNOWN_COMPANY),
        (SQL, "company_code", WOW_UNKNOWN_COMPANY),
        ("ДЕМО_BV", "company_code", WOW_UNKNOWN_COMPANY),
    ],
    "start_date": [
        ("not-a-date", "start_date", NOT_A_DATE),
        ("2024-13-45", "start_date", NOT_A_DATE),
        (SCRIPT, "start_date", NOT_A_DATE),
        (SQL, "start_date", NOT_A_DATE),
        (LONG, "start_date", NOT_A_DATE),
    ],
    "connection": [
        ("", "connection", REQUIRED),
        ("abc", "connection", NOT_A_CHOICE),
        ("999999", "connection", NOT_A_CHOICE),
        (SQL, "connection", NOT_A_CHOICE),
    ],
}


def link_other_file(world: FirmWorld, sandbox: Any, **changes: str) -> Any:
    """Post the link form for the firm's other file: SECOND_BV, a company the sandbox has (the given file
    is linked to DEMO_BV), with ``changes`` made to that baseline."""
    connect_and_link(world, sandbox)
    sandbox.control("POST", "folders", {"code": "SECOND_BV", "kind": "demo", "grant": [sandbox.TESTER]})
    client = Client()
    client.force_login(world.staff)
    data = {"connection": str(Connection.objects.get().pk), "company_code": "SECOND_BV", "start_date": ""}
    data.update(changes)
    return client.post(reverse("client_link", args=[world.firm.slug, world.other_file.pk]), data)


def test_the_link_form_accepts_its_baseline(world: FirmWorld, wow_sandbox: Any) -> None:
    response = link_other_file(world, wow_sandbox)
    assert response.status_code == 302
    assert ClientLink.objects.get(client_file=world.other_file).company_code == "SECOND_BV"


@pytest.mark.parametrize(
    ("field", "value", "refused_on", "message"),
    [(f, *case) for f, cases in LINK_BAD.items() for case in cases],
)
def test_the_link_form_refuses_bad_input(
    world: FirmWorld, wow_sandbox: Any, field: str, value: str, refused_on: str, message: str
) -> None:
    connect_and_link(world, wow_sandbox)
    before = stored()
    response = link_other_file(world, wow_sandbox, **{field: value})
    assert_refused(response, refused_on, message)
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
