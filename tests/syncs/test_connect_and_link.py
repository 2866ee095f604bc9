"""Connecting a firm to WinbooksOnWeb and linking client files, against the sandbox over real HTTP."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from clients.models import Account, AccountBalance, Entry, EntryLine, Role
from syncs.engine import sync_run_execute
from syncs.models import AuditEvent, ClientLink, Connection, SyncRun
from syncs.runs import sync_run_request
from syncs.services import client_link_set, connection_connect
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def connect_form(sandbox: Any, **overrides: str) -> dict[str, str]:
    data = {
        "name": "WinbooksOnWeb",
        "email": sandbox.TESTER,
        "exchange_token": sandbox.exchange_token(),
        "api_url": sandbox.url,
    }
    data.update(overrides)
    return data


def post_connect(client: Client, world: FirmWorld, data: dict[str, str]) -> Any:
    client.force_login(world.admin)
    return client.post(reverse("sync_connect_winbooks", args=[world.firm.slug]), data)


# --- connecting -------------------------------------------------------------------------------------------


def test_an_admin_connects_and_the_tokens_are_stored_encrypted(
    client: Client, world: FirmWorld, wow_sandbox: Any
) -> None:
    data = connect_form(wow_sandbox)
    response = post_connect(client, world, data)
    assert response.status_code == 302
    connection = Connection.objects.get(firm=world.firm)
    assert connection.status == Connection.Status.CONNECTED
    assert connection.connected_by == world.admin
    assert connection.access_token and connection.refresh_token
    assert AuditEvent.objects.filter(
        firm=world.firm, action=AuditEvent.Action.CONNECTED, actor=world.admin
    ).exists()
    page = client.get(reverse("syncs_tab", args=[world.firm.slug])).content.decode()
    assert "Connected" in page and "WinbooksOnWeb" in page
    for secret in (
        connection.access_token,
        connection.refresh_token,
        data["exchange_token"],
        wow_sandbox.TESTER,
    ):
        assert secret not in page


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong", "did not accept this exchange token: it is wrong, has expired or has already been used"),
        ("used", "did not accept this exchange token"),
        ("expired", "did not accept this exchange token"),
        ("email", "This e-mail address is not the one the exchange token was created for"),
        ("module", "does not have the REST API module"),
        ("unreachable", "WinbooksOnWeb could not be reached"),
        ("plain_http", "must use https://"),
    ],
)
def test_each_connect_failure_says_why_and_saves_nothing(
    client: Client, world: FirmWorld, wow_sandbox: Any, case: str, expected: str
) -> None:
    data = connect_form(wow_sandbox)
    if case == "wrong":
        data["exchange_token"] = "not-a-token"
    elif case == "used":
        wow_sandbox.config(reusable_exchange_tokens=False)  # WoW may accept it again (docs/winbooks-api.md)
        connection_connect(
            firm=world.firm,
            actor=None,
            name="First",
            email=data["email"],
            exchange_token=data["exchange_token"],
            api_url=wow_sandbox.url,
        )
        Connection.objects.all().delete()
        AuditEvent.objects.all().delete()
    elif case == "expired":
        wow_sandbox.control("POST", "clock", {"advance_seconds": 16 * 60})
    elif case == "email":
        data["email"] = "someone.else@client.be"
    elif case == "module":
        wow_sandbox.control("POST", "licence", {"rest_api_enabled": False})
    elif case == "unreachable":
        data["api_url"] = UNREACHABLE
    elif case == "plain_http":
        data["api_url"] = "http://rapi.example.com"
    response = post_connect(client, world, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert expected in body
    assert data["exchange_token"] not in body  # the token is never sent back, even after an error
    assert not Connection.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_wrong_token_message_says_how_to_get_a_new_one(
    client: Client, world: FirmWorld, wow_sandbox: Any
) -> None:
    body = post_connect(client, world, connect_form(wow_sandbox, exchange_token="nope")).content.decode()
    assert "External applications" in body and "Trust this application" in body


@pytest.mark.parametrize("field", ["name", "email", "exchange_token"])
def test_an_empty_required_field_is_refused(
    client: Client, world: FirmWorld, wow_sandbox: Any, field: str
) -> None:
    response = post_connect(client, world, connect_form(wow_sandbox, **{field: "   "}))
    assert response.status_code == 200
    assert not Connection.objects.exists()


def ledger_rows(client_file: Any) -> dict[str, list[Any]]:
    """Every row of the client file's ledger (WoW ids and amounts), to compare before and after."""
    scope = {"client_file": client_file}
    return {
        "accounts": sorted(Account.objects.filter(**scope).values_list("wow_id", "number")),
        "entries": sorted(Entry.objects.filter(**scope).values_list("wow_id", "doc_number")),
        "lines": sorted(EntryLine.objects.filter(**scope).values_list("wow_id", "amount")),
        "balances": sorted(
            AccountBalance.objects.filter(**scope).values_list("period_id", "account_id", "closing")
        ),
    }


def test_reconnect_keeps_links_and_disconnect_keeps_ledger_links_and_history(
    client: Client, world: FirmWorld, wow_sandbox: Any, connection: Connection
) -> None:
    link = client_link_set(
        client_file=world.given_file, connection=connection, company_code="DEMO_BV", actor=world.staff
    )
    first = SyncRun.objects.get(link=link)
    assert sync_run_execute(run_id=first.pk).status == SyncRun.Status.SUCCEEDED  # a ledger to keep
    synced = ledger_rows(world.given_file)
    assert all(synced.values()), synced
    client.force_login(world.admin)
    response = client.post(
        reverse("sync_reconnect", args=[world.firm.slug, connection.pk]),
        {"email": wow_sandbox.TESTER, "exchange_token": wow_sandbox.exchange_token()},
    )
    assert response.status_code == 302
    assert ClientLink.objects.get(pk=link.pk).is_active
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECONNECTED).count() == 1
    queued, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    response = client.post(reverse("sync_disconnect", args=[world.firm.slug, connection.pk]))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED
    assert connection.access_token == connection.refresh_token == ""
    assert ClientLink.objects.filter(pk=link.pk).exists()
    assert ledger_rows(world.given_file) == synced  # every row of the ledger kept as it was
    assert SyncRun.objects.get(pk=first.pk).status == SyncRun.Status.SUCCEEDED  # the history too
    # The queued sync will not run on a disconnected sync.
    assert SyncRun.objects.get(pk=queued.pk).status == SyncRun.Status.FAILED


# --- linking ----------------------------------------------------------------------------------------------


def post_link(
    client: Client, world: FirmWorld, user: User, connection_id: int, code: str, file: Any = None
) -> Any:
    client.force_login(user)
    target = file or world.given_file
    return client.post(
        reverse("client_link", args=[world.firm.slug, target.pk]),
        {"connection": connection_id, "company_code": code},
    )


def test_staff_links_a_client_file_and_its_first_sync_is_queued(
    client: Client, world: FirmWorld, connection: Connection, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_link(client, world, world.staff, connection.pk, "  DEMO_BV ")
    assert response.status_code == 302
    link = ClientLink.objects.get(client_file=world.given_file)
    assert link.company_code == "DEMO_BV" and link.linked_by == world.staff
    run = SyncRun.objects.get(link=link)
    assert run.trigger == SyncRun.Trigger.FIRST_LINK and run.status == SyncRun.Status.QUEUED
    assert len(callbacks) == 1  # the task is sent once the link is committed
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LINKED, client_file=world.given_file).exists()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown", "WinbooksOnWeb knows no company with this code"),
        ("no_access", "has no access to that company"),
        ("unreachable", "WinbooksOnWeb could not be reached"),
        ("empty", "Enter the WinbooksOnWeb company code"),
    ],
)
def test_each_link_failure_says_why_and_saves_nothing(
    client: Client, world: FirmWorld, wow_sandbox: Any, connection: Connection, case: str, expected: str
) -> None:
    code = {"unknown": "NO_SUCH_CO", "no_access": "OTHER_BV", "unreachable": "DEMO_BV", "empty": " "}[case]
    if case == "no_access":
        wow_sandbox.control("POST", "folders", {"code": "OTHER_BV", "name": "Other", "kind": "empty"})
    if case == "unreachable":
        Connection.objects.filter(pk=connection.pk).update(api_url=UNREACHABLE)
    response = post_link(client, world, world.staff, connection.pk, code)
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not ClientLink.objects.exists()
    assert not SyncRun.objects.exists()


def test_a_company_code_already_linked_is_refused_naming_the_first_file(
    client: Client, world: FirmWorld, connection: Connection
) -> None:
    client_link_set(
        client_file=world.given_file, connection=connection, company_code="DEMO_BV", actor=world.staff
    )
    response = post_link(client, world, world.staff, connection.pk, "demo_bv", file=world.other_file)
    assert response.status_code == 400
    assert f"already linked to the client file “{world.given_file.name}”" in response.content.decode()
    assert ClientLink.objects.count() == 1


def test_relinking_and_unlinking_are_audited(
    client: Client, world: FirmWorld, wow_sandbox: Any, connection: Connection
) -> None:
    wow_sandbox.control(
        "POST", "folders", {"code": "SECOND_BV", "kind": "demo", "grant": [wow_sandbox.TESTER]}
    )
    client_link_set(
        client_file=world.given_file, connection=connection, company_code="DEMO_BV", actor=world.staff
    )
    assert post_link(client, world, world.staff, connection.pk, "SECOND_BV").status_code == 302
    assert (
        ClientLink.objects.get(client_file=world.given_file, unlinked_at__isnull=True).company_code
        == "SECOND_BV"
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RELINKED).count() == 1
    response = client.post(reverse("client_unlink", args=[world.firm.slug, world.given_file.pk]))
    assert response.status_code == 302
    assert not ClientLink.objects.filter(client_file=world.given_file, unlinked_at__isnull=True).exists()
    assert ClientLink.objects.filter(client_file=world.given_file).count() == 2  # history stays
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UNLINKED).count() == 1


def test_another_firms_sync_cannot_be_chosen_by_form_value(
    client: Client, world: FirmWorld, other_world: FirmWorld, wow_sandbox: Any
) -> None:
    foreign = connection_connect(
        firm=other_world.firm,
        actor=None,
        name="Theirs",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )
    response = post_link(client, world, world.admin, foreign.pk, "DEMO_BV")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ClientLink.objects.exists()


# --- secrets ----------------------------------------------------------------------------------------------


def test_secrets_appear_in_no_page_admin_or_log_line(
    client: Client, world: FirmWorld, wow_sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data = connect_form(wow_sandbox)
    post_connect(client, world, data)
    connection = Connection.objects.get()
    client_link_set(
        client_file=world.given_file, connection=connection, company_code="DEMO_BV", actor=world.admin
    )
    secrets = [connection.access_token, connection.refresh_token, data["exchange_token"], connection.email]
    superuser = User.objects.create_superuser("root@ops.test", "root@ops.test", "pw")
    pages = [
        (world.admin, reverse("syncs_tab", args=[world.firm.slug])),
        (world.admin, reverse("sync_reconnect", args=[world.firm.slug, connection.pk])),
        (world.staff, reverse("syncs_tab", args=[world.firm.slug])),
        (world.staff, reverse("client_file_detail", args=[world.firm.slug, world.given_file.pk])),
        (superuser, reverse("admin:syncs_connection_change", args=[connection.pk])),
        (superuser, reverse("admin:syncs_connection_changelist")),
        (superuser, reverse("admin:syncs_auditevent_changelist")),
    ]
    for user, url in pages:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, url
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:  # the e-mail address too
        assert secret not in logged


# --- who may do what --------------------------------------------------------------------------------------

SYNC_PAGES = ["syncs_tab", "sync_add", "sync_connect_winbooks", "sync_reconnect", "sync_disconnect"]
EXPECTED_GET = {
    Role.ADMIN: dict.fromkeys(SYNC_PAGES, 200),
    Role.STAFF: {
        "syncs_tab": 200,
        "sync_add": 403,
        "sync_connect_winbooks": 403,
        "sync_reconnect": 403,
        "sync_disconnect": 403,
    },
    Role.EXTERNAL: dict.fromkeys(SYNC_PAGES, 403),
    Role.PULSE: dict.fromkeys(SYNC_PAGES, 403),
}


def sync_url(name: str, world: FirmWorld, connection: Connection) -> str:
    args: list[Any] = [world.firm.slug]
    if name in {"sync_reconnect", "sync_disconnect"}:
        args.append(connection.pk)
    return reverse(name, args=args)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("page", SYNC_PAGES)
def test_syncs_pages_per_role(
    client: Client, world: FirmWorld, connection: Connection, role: Role, page: str
) -> None:
    client.force_login(world.user(role))
    assert client.get(sync_url(page, world, connection)).status_code == EXPECTED_GET[role][page]


@pytest.mark.parametrize("role", [Role.STAFF, Role.EXTERNAL, Role.PULSE])
@pytest.mark.parametrize("page", ["sync_connect_winbooks", "sync_reconnect", "sync_disconnect"])
def test_only_admins_may_post_to_the_syncs_actions(
    client: Client, world: FirmWorld, connection: Connection, role: Role, page: str
) -> None:
    client.force_login(world.user(role))
    assert client.post(sync_url(page, world, connection), {}).status_code == 403
    connection.refresh_from_db()
    assert connection.status == Connection.Status.CONNECTED


@pytest.mark.parametrize(
    ("role", "expected"), [(Role.ADMIN, 302), (Role.STAFF, 302), (Role.EXTERNAL, 403), (Role.PULSE, 403)]
)
@pytest.mark.parametrize("action", ["client_link", "client_unlink", "client_sync_now"])
def test_file_level_sync_actions_per_role(
    client: Client, world: FirmWorld, connection: Connection, role: Role, expected: int, action: str
) -> None:
    client.force_login(world.user(role))
    data = {"connection": connection.pk, "company_code": "DEMO_BV"}
    response = client.post(reverse(action, args=[world.firm.slug, world.given_file.pk]), data)
    assert response.status_code == expected


@pytest.mark.parametrize("page", SYNC_PAGES)
def test_another_firms_sync_pages_are_not_found(
    client: Client, world: FirmWorld, other_world: FirmWorld, connection: Connection, page: str
) -> None:
    client.force_login(other_world.admin)
    assert client.get(sync_url(page, world, connection)).status_code == 404
    # ... and their own firm's URL with our connection's id is not found either.
    if page in {"sync_reconnect", "sync_disconnect"}:
        assert client.get(reverse(page, args=[other_world.firm.slug, connection.pk])).status_code == 404
        assert client.post(reverse(page, args=[other_world.firm.slug, connection.pk])).status_code == 404


# --- operator commands ------------------------------------------------------------------------------------


def test_winbooks_connect_and_link_client_commands(world: FirmWorld, wow_sandbox: Any) -> None:
    out = io.StringIO()
    call_command(
        "winbooks_connect",
        "--firm",
        world.firm.slug,
        "--name",
        "WoW",
        "--email",
        wow_sandbox.TESTER,
        # "=" form: a token may start with "-", which argparse would take for an option
        f"--exchange-token={wow_sandbox.exchange_token()}",
        "--api-url",
        wow_sandbox.url,
        stdout=out,
    )
    assert "Connected 'WoW'" in out.getvalue()
    call_command(
        "link_client",
        "--firm",
        world.firm.slug,
        "--client",
        world.given_file.file_code,
        "--company-code",
        "DEMO_BV",
        stdout=out,
    )
    assert "its first sync is queued" in out.getvalue()
    assert ClientLink.objects.filter(client_file=world.given_file, company_code="DEMO_BV").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--firm", "nope"], "No firm with the slug 'nope'"),
        (["--exchange-token", "bad"], "did not accept this exchange token"),
    ],
)
def test_winbooks_connect_fails_clearly(
    world: FirmWorld, wow_sandbox: Any, args: list[str], message: str
) -> None:
    base = {
        "--firm": world.firm.slug,
        "--name": "WoW",
        "--email": wow_sandbox.TESTER,
        "--exchange-token": wow_sandbox.exchange_token(),
        "--api-url": wow_sandbox.url,
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError, match=message):
        # "=" form: a token may start with "-", which argparse would take for an option
        call_command("winbooks_connect", *[f"{k}={v}" for k, v in base.items()], stdout=io.StringIO())
    assert not Connection.objects.exists()


def test_link_client_fails_clearly_on_an_unknown_code(world: FirmWorld, connection: Connection) -> None:
    with pytest.raises(CommandError, match="knows no company with this code"):
        call_command(
            "link_client",
            "--firm",
            world.firm.slug,
            "--client",
            world.given_file.file_code,
            "--company-code",
            "NOPE",
            stdout=io.StringIO(),
        )
    assert not ClientLink.objects.exists()
