"""The role-by-page matrix for every page of the client file's ledger and history.

Admins and staff see every client file; external contributors see the ones given to them (404 for the
others); Pulse users get 403 on every file, given to them or not; another firm's users get 404;
anonymous users are sent to log in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from clients.models import ClientFile, Role
from syncs.models import SyncRun
from tests.fixtures import FirmWorld

from .factories import SmallLedger, build_small_ledger, make_run

pytestmark = pytest.mark.django_db

PAGES = [
    "trial_balance",
    "trial_balance_fiscal_year",
    "trial_balance_csv",
    "trial_balance_xlsx",
    "account_lines",
    "entry_detail",
    "sync_history",
    "sync_run_detail",
    "client_sync_status",
]

EXPECTED = {
    Role.ADMIN: {"given": 200, "other": 200},
    Role.STAFF: {"given": 200, "other": 200},
    Role.EXTERNAL: {"given": 200, "other": 404},
    Role.PULSE: {"given": 403, "other": 403},
}


@dataclass
class FileWithLedger:
    client_file: ClientFile
    ledger: SmallLedger
    run: SyncRun


@pytest.fixture
def files(world: FirmWorld) -> dict[str, FileWithLedger]:
    return {
        name: FileWithLedger(client_file=f, ledger=build_small_ledger(f), run=make_run(f))
        for name, f in [("given", world.given_file), ("other", world.other_file)]
    }


def page_url(world: FirmWorld, page: str, target: FileWithLedger) -> str:
    slug, pk, ledger = world.firm.slug, target.client_file.pk, target.ledger
    return {
        "trial_balance": reverse("trial_balance", args=[slug, pk]) + "?period=2024-01",
        "trial_balance_fiscal_year": reverse("trial_balance", args=[slug, pk])
        + f"?period=fy-{ledger.fiscal_year.pk}",
        "trial_balance_csv": reverse("trial_balance_csv", args=[slug, pk]) + "?period=2024-01",
        "trial_balance_xlsx": reverse("trial_balance_xlsx", args=[slug, pk]) + "?period=2024-01",
        "account_lines": reverse("account_lines", args=[slug, pk, ledger.accounts["700000"].pk])
        + "?period=2024-01",
        "entry_detail": reverse("entry_detail", args=[slug, pk, ledger.sale.pk]),
        "sync_history": reverse("sync_history", args=[slug, pk]),
        "sync_run_detail": reverse("sync_run_detail", args=[slug, pk, target.run.pk]),
        "client_sync_status": reverse("client_sync_status", args=[slug, pk]),
    }[page]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("which", ["given", "other"])
@pytest.mark.parametrize("page", PAGES)
def test_each_role_gets_what_it_may_on_each_page(
    client: Client, world: FirmWorld, files: dict[str, FileWithLedger], role: Role, which: str, page: str
) -> None:
    client.force_login(world.user(role))
    assert client.get(page_url(world, page, files[which])).status_code == EXPECTED[role][which]


@pytest.mark.parametrize("page", PAGES)
def test_another_firms_users_find_nothing(
    client: Client, world: FirmWorld, other_world: FirmWorld, files: dict[str, FileWithLedger], page: str
) -> None:
    for role in Role:
        client.force_login(other_world.user(role))
        assert client.get(page_url(world, page, files["given"])).status_code == 404, role


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_are_sent_to_log_in(
    client: Client, world: FirmWorld, files: dict[str, FileWithLedger], page: str
) -> None:
    url = page_url(world, page, files["given"])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


def test_ids_of_the_other_file_under_the_given_file_are_not_found(
    client: Client, world: FirmWorld, files: dict[str, FileWithLedger]
) -> None:
    """An external contributor given one file cannot reach the other file's objects through it."""
    slug, given, other = world.firm.slug, world.given_file.pk, files["other"]
    client.force_login(world.external)
    for url in [
        reverse("account_lines", args=[slug, given, other.ledger.accounts["700000"].pk]),
        reverse("entry_detail", args=[slug, given, other.ledger.sale.pk]),
        reverse("sync_run_detail", args=[slug, given, other.run.pk]),
        reverse("trial_balance", args=[slug, given]) + f"?period=fy-{other.ledger.fiscal_year.pk}",
    ]:
        assert client.get(url).status_code == 404, url


def test_the_pages_only_read(client: Client, world: FirmWorld, files: dict[str, FileWithLedger]) -> None:
    client.force_login(world.admin)
    for page in PAGES:
        assert client.post(page_url(world, page, files["given"])).status_code == 405, page
