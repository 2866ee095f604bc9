"""Who may do what, over every URL the project serves, generated from the URL configuration.

Each (view, method) has one row of expectations, one letter per visitor:

    admin, staff, external contributor (on a client file given to them), Pulse user, anonymous,
    the admin of ANOTHER firm

    A = allowed (the view did its work: 200, a redirect elsewhere than the log-in, or a form's 400)
    F = 403   N = 404   L = redirect to the log-in page   M = 405 (method not allowed)

A URL pattern that has no row here fails the test: a new view cannot be forgotten. Django's admin is
checked on its own below (every registered model, superusers only).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from administration.models import ClientFileImport, Invitation
from syncs.models import ChangeAlert
from tests.factories import MembershipFactory, UserFactory
from tests.fixtures import FirmWorld
from tests.ledger.factories import build_small_ledger, make_run

pytestmark = pytest.mark.django_db

VISITORS = ("admin", "staff", "external", "pulse", "anonymous", "other_firm")

# name: (GET, POST)
EXPECTED: dict[str, tuple[str, str]] = {
    "login": ("AAAAAA", "AAAAAA"),
    "logout": ("MMMMMM", "AAAAAA"),
    "password_change": ("AAAALA", "AAAALA"),
    "password_change_done": ("AAAALA", "MMMMLM"),
    "password_reset": ("AAAAAA", "AAAAAA"),
    "password_reset_done": ("AAAAAA", "MMMMMM"),
    "password_reset_confirm": ("AAAAAA", "AAAAAA"),  # a wrong link is a page saying so
    "password_reset_complete": ("AAAAAA", "MMMMMM"),
    "home": ("AAAALA", "AAAALA"),
    "firm_overview": ("AAAFLN", "MMMMLM"),
    "firm_overview_live": ("AAAFLN", "MMMMLM"),
    "firm_overview_sync_now": ("MMMMLM", "AAFFLN"),
    "notification_settings": ("AAAFLN", "AAAFLN"),
    "profile": ("AAAALA", "AAAALA"),
    "language_switch": ("MMMMMM", "AAAAAA"),
    "syncs_tab": ("AAFFLN", "AAFFLN"),
    "sync_add": ("AFFFLN", "AFFFLN"),
    "sync_add_package": ("AFFFLN", "AFFFLN"),
    "sync_connect_winbooks": ("AFFFLN", "AFFFLN"),
    "sync_reconnect": ("AFFFLN", "AFFFLN"),
    "sync_disconnect": ("AFFFLN", "AFFFLN"),
    "sync_schedule": ("MMMMLM", "AFFFLN"),
    "client_file_detail": ("AAAFLN", "AAAFLN"),
    "client_link": ("MMMMLM", "AAFFLN"),
    "client_unlink": ("AAFFLN", "AAFFLN"),  # GET asks for confirmation
    "client_sync_now": ("MMMMLM", "AAFFLN"),
    "client_sync_status": ("AAAFLN", "MMMMMM"),
    "trial_balance": ("AAAFLN", "MMMMLM"),
    "trial_balance_csv": ("AAAFLN", "MMMMLM"),
    "trial_balance_xlsx": ("AAAFLN", "MMMMLM"),
    "account_lines": ("AAAFLN", "MMMMLM"),
    "entry_detail": ("AAAFLN", "MMMMLM"),
    "sync_history": ("AAAFLN", "MMMMLM"),
    "sync_run_detail": ("AAAFLN", "MMMMLM"),
    # Closed books: staff close periods (only admins reopen them, tested in tests/locks), everyone who
    # sees the file reads the alerts, admin and staff accept them.
    "books_lock": ("MMMMLM", "AAFFLN"),
    "change_alerts": ("AAAFLN", "MMMMLM"),
    "change_alert_accept": ("MMMMLM", "AAFFLN"),
    # The firm's administration: client files (admins; staff only where the firm allows it, tested in
    # tests/administration), people (admins only), the invitation link (whoever holds it).
    "client_file_add": ("AFFFLN", "AFFFLN"),
    "client_file_edit": ("AFFFLN", "AFFFLN"),
    "client_file_archive": ("MMMMLM", "AFFFLN"),
    "client_file_unarchive": ("MMMMLM", "AFFFLN"),
    "client_file_import": ("AFFFLN", "AFFFLN"),
    "client_file_import_preview": ("AFFFLN", "AFFFLN"),
    "client_file_import_confirm": ("MMMMLM", "AFFFLN"),
    "people": ("AFFFLN", "AFFFLN"),
    "person_invite": ("AFFFLN", "AFFFLN"),
    "person_edit": ("AFFFLN", "AFFFLN"),
    "person_remove": ("MMMMLM", "AFFFLN"),
    "invitation_resend": ("MMMMLM", "AFFFLN"),
    "invitation_revoke": ("MMMMLM", "AFFFLN"),
    "invitation_accept": ("AAAAAA", "AAAAAA"),
}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "admin:index"
    params: tuple[str, ...]


def all_routes() -> list[Route]:
    """Every URL pattern of the project, walked from the root resolver."""
    found: list[Route] = []

    def walk(patterns: list[Any], namespace: str, params: tuple[str, ...]) -> None:
        for entry in patterns:
            converters = tuple(getattr(entry.pattern, "converters", {}) or ())
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, inner, params + converters)
            elif isinstance(entry, URLPattern):
                found.append(
                    Route(
                        f"{namespace}{entry.name or '<unnamed ' + str(entry.pattern) + '>'}",
                        params + converters,
                    )
                )

    walk(get_resolver().url_patterns, "", ())
    return found


def project_routes() -> list[Route]:
    return [route for route in all_routes() if not route.name.startswith("admin:")]


def classify(response: HttpResponse) -> str:
    status = response.status_code
    if status in (301, 302):
        return "L" if response["Location"].startswith("/accounts/login/?next=") else "A"
    return {403: "F", 404: "N", 405: "M"}.get(status, "A" if status in (200, 400) else f"?{status}")


@pytest.fixture
def objects(world: FirmWorld, other_world: FirmWorld) -> dict[str, Any]:
    ledger = build_small_ledger(world.given_file)
    run = make_run(world.given_file)
    spare = MembershipFactory.create(firm=world.firm, user=UserFactory.create(username="spare@alpha.test"))
    invitations = [
        Invitation.objects.create(
            firm=world.firm,
            email=f"invited{index}@alpha.test",
            role="staff",
            token_hash=hashlib.sha256(f"matrix-token-{index}".encode()).hexdigest(),
            sent_at=timezone.now(),
            expires_at=timezone.now() + dt.timedelta(days=7),
        )
        for index in (1, 2)
    ]
    upload = ClientFileImport.objects.create(firm=world.firm, filename="c.csv", rows=[])
    return {
        "firm_slug": world.firm.slug,
        "client_file_id": world.given_file.pk,
        "connection_id": run.link.connection_id,
        "account_id": next(iter(ledger.accounts.values())).pk,
        "entry_id": ledger.sale.pk,
        "run_id": run.pk,
        "uidb64": "MQ",
        "token": "set-password",
        "membership_id": spare.pk,
        "alert_id": ChangeAlert.objects.create(client_file=world.given_file).pk,
        "invitation_id": invitations[0].pk,  # re-sent, then revoked
        "import_id": upload.pk,
        "invitation_token": "matrix-token-2",  # the other one: accepted through its link
    }


def visitor_client(world: FirmWorld, other_world: FirmWorld, visitor: str) -> Client:
    client = Client()
    user: User | None = {
        "admin": world.admin,
        "staff": world.staff,
        "external": world.external,
        "pulse": world.pulse,
        "anonymous": None,
        "other_firm": other_world.admin,
    }[visitor]
    if user is not None:
        client.force_login(user)
    return client


def test_every_view_has_an_expectation_row() -> None:
    names = {route.name for route in project_routes()}
    missing = names - set(EXPECTED)
    assert not missing, f"Views without access expectations (add a row to EXPECTED): {sorted(missing)}"
    assert not set(EXPECTED) - names, "Rows for views that no longer exist"
    assert all(len(get) == len(post) == len(VISITORS) for get, post in EXPECTED.values())


def test_role_action_matrix_over_every_url_and_method(
    world: FirmWorld, other_world: FirmWorld, objects: dict[str, Any]
) -> None:
    mismatches = []
    checked = 0
    for route in project_routes():
        get_row, post_row = EXPECTED[route.name]
        url = reverse(route.name, kwargs={param: objects[param] for param in route.params})
        for method, row in (("get", get_row), ("post", post_row)):
            # Anonymous and outsiders first, then the roles, so an allowed POST (unlink, disconnect…) runs
            # after every refusal was checked on the original state.
            for index in sorted(range(len(VISITORS)), key=lambda i: -i):
                visitor = VISITORS[index]
                # A fresh session each time (logging out must not end the later checks).
                response = getattr(visitor_client(world, other_world, visitor), method)(url)
                checked += 1
                got = classify(response)
                if got != row[index]:
                    mismatches.append(
                        f"{method.upper()} {route.name} as {visitor}: expected {row[index]}, got {got}"
                    )
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(project_routes()) * 2 * len(VISITORS)


def test_the_admin_is_for_superusers_only(world: FirmWorld, other_world: FirmWorld) -> None:
    superuser = User.objects.create_superuser("root@ops.test", "root@ops.test", "x")
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
    root = Client()
    root.force_login(superuser)
    for visitor in VISITORS:
        client = visitor_client(world, other_world, visitor)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (
                visitor,
                url,
            )
    for url in urls:
        assert root.get(url).status_code == 200, url


def test_every_admin_route_is_under_the_admin_site() -> None:
    """The admin's routes come from admin.site only (no second, unprotected admin)."""
    admin_routes = {route.name for route in all_routes() if route.name.startswith("admin:")}
    assert "admin:index" in admin_routes and "admin:login" in admin_routes
    assert all(not route.name.startswith("<unnamed") for route in project_routes())
