"""Constant query counts: the trial balance of 2,000 accounts, the Syncs tab of a firm with 1,000 linked
client files, and the history of many runs answer in as many queries as a small one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import Account, AccountBalance, ClientFile, Firm, Period
from syncs.models import ClientLink, Connection, PeriodCheck, SyncRun
from tests.fixtures import FirmWorld

from .factories import ConnectionFactory, FiscalYearFactory, PeriodFactory, make_run

pytestmark = pytest.mark.django_db

# What each page may cost, whatever the size of the data (measured: see the tests' messages). Each includes
# the one query that finds the reader's language (clients/middleware.py).
TRIAL_BALANCE_QUERIES = 13
SYNCS_TAB_QUERIES = 13
HISTORY_QUERIES = 11


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def make_accounts_with_balances(client_file: ClientFile, how_many: int, periods: list[Period]) -> None:
    """``how_many`` accounts, each with a balance in every period; debits and credits that tie out."""
    accounts = Account.objects.bulk_create(
        Account(client_file=client_file, wow_id=uuid.uuid4(), number=f"{100000 + n}", name=f"Account {n}")
        for n in range(how_many)
    )
    balances = []
    for period in periods:
        for n, account in enumerate(accounts):
            amount = Decimal("100.25") * (n % 7 + 1)
            debit, credit = (amount, Decimal(0)) if n % 2 == 0 else (Decimal(0), amount)
            balances.append(
                AccountBalance(
                    client_file=client_file,
                    period=period,
                    account=account,
                    opening=Decimal(0),
                    debit=debit,
                    credit=credit,
                    closing=debit - credit,
                    line_count=1,
                )
            )
    AccountBalance.objects.bulk_create(balances, batch_size=5000)


def make_trial_balance_file(client_file: ClientFile, accounts: int) -> list[Period]:
    fiscal_year = FiscalYearFactory.create(client_file=client_file)
    periods = [
        PeriodFactory.create(client_file=client_file, fiscal_year=fiscal_year, number=n, month=max(n, 1))
        for n in range(3)
    ]
    make_accounts_with_balances(client_file, accounts, periods)
    run = make_run(client_file)
    PeriodCheck.objects.create(
        run=run,
        period=periods[1],
        period_key=periods[1].key,
        ties_out=False,
        differences=[
            {"account": "100001", "ledger": "-200.50", "wow": "-300.50", "difference": "-100.00"},
            {"account": "100002", "ledger": "300.75", "wow": "301.75", "difference": "1.00"},
        ],
    )
    return periods


@pytest.mark.parametrize("user", ["staff", "external"])
def test_the_trial_balance_of_2000_accounts_costs_what_one_of_20_does(
    client: Client, world: FirmWorld, django_assert_max_num_queries: Callable[..., Any], user: str
) -> None:
    make_trial_balance_file(world.other_file, accounts=20)
    make_trial_balance_file(world.given_file, accounts=2000)
    if user == "external":  # both files given to them, so they can compare the two as staff do
        world.external.memberships.get(firm=world.firm).client_files.add(world.other_file)
    client.force_login(getattr(world, user))
    slug = world.firm.slug
    measured = {}
    for name, client_file in [("small", world.other_file), ("large", world.given_file)]:
        base = reverse("trial_balance", args=[slug, client_file.pk])
        measured[name] = count_queries(client, f"{base}?period=2024-01")
        measured[f"{name} default"] = count_queries(client, base)
    with django_assert_max_num_queries(TRIAL_BALANCE_QUERIES):
        response = client.get(reverse("trial_balance", args=[slug, world.given_file.pk]) + "?period=2024-01")
    html = response.content.decode()
    assert html.count('<td class="account-number">') == 2000
    assert "✗ Does not tie out with WinbooksOnWeb" in html
    assert measured["small"] == measured["large"], measured
    assert measured["small default"] == measured["large default"], measured


def test_the_fiscal_year_and_the_exports_of_2000_accounts_are_constant_too(
    client: Client, world: FirmWorld, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    periods = make_trial_balance_file(world.given_file, accounts=2000)
    client.force_login(world.staff)
    base_args = [world.firm.slug, world.given_file.pk]
    fiscal_year = f"fy-{periods[0].fiscal_year_id}"
    for name in ["trial_balance", "trial_balance_csv", "trial_balance_xlsx"]:
        with django_assert_max_num_queries(TRIAL_BALANCE_QUERIES):
            response = client.get(reverse(name, args=base_args) + f"?period={fiscal_year}")
        assert response.status_code == 200
    csv_lines = client.get(
        reverse("trial_balance_csv", args=base_args) + "?period=2024-01"
    ).content.splitlines()
    assert len(csv_lines) == 1 + 2000 + 1


def make_firm_with_linked_files(firm: Firm, how_many: int) -> None:
    """``how_many`` client files linked over three syncs, one of which needs reconnecting."""
    connected = ConnectionFactory.create(firm=firm, name=f"{firm.slug} main")
    second = ConnectionFactory.create(firm=firm, name=f"{firm.slug} second")
    refused = ConnectionFactory.create(
        firm=firm,
        name=f"{firm.slug} refused",
        status=Connection.Status.NEEDS_RECONNECT,
        status_reason_code="wow.access_revoked",
    )
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=firm, name=f"Client {n:04d} BV", file_code=f"{firm.slug}-{n}")
        for n in range(how_many)
    )
    now = timezone.now()
    ClientLink.objects.bulk_create(
        ClientLink(
            firm=firm,
            client_file=f,
            connection=(connected, second, refused)[n % 3],
            company_code=f"COMP{n}",
            last_success_at=now,
        )
        for n, f in enumerate(files)
    )
    SyncRun.objects.bulk_create(
        SyncRun(link=link, client_file_id=link.client_file_id, trigger=SyncRun.Trigger.SCHEDULE)
        for link in ClientLink.objects.filter(firm=firm)[:50]
    )


def test_the_syncs_tab_of_a_firm_with_1000_linked_files_costs_what_one_with_10_does(
    client: Client,
    world: FirmWorld,
    other_world: FirmWorld,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    make_firm_with_linked_files(other_world.firm, 10)
    make_firm_with_linked_files(world.firm, 1000)
    client.force_login(other_world.admin)
    small = count_queries(client, reverse("syncs_tab", args=[other_world.firm.slug]))
    client.force_login(world.admin)
    large = count_queries(client, reverse("syncs_tab", args=[world.firm.slug]))
    with django_assert_max_num_queries(SYNCS_TAB_QUERIES):
        response = client.get(reverse("syncs_tab", args=[world.firm.slug]))
    html = response.content.decode()
    assert "needs reconnecting" in html
    assert "and 323 more" in html  # 333 files on the refused sync, 10 named
    assert small == large, f"syncs tab queries: 10 links {small}, 1,000 links {large}"


def make_runs(client_file: ClientFile, how_many: int, requested_by: Any) -> None:
    link = make_run(client_file).link
    SyncRun.objects.bulk_create(
        SyncRun(
            link=link,
            client_file=client_file,
            trigger=SyncRun.Trigger.MANUAL,
            requested_by=requested_by,
            status=SyncRun.Status.SUCCEEDED,
            counts={"entries": {"created": n, "updated": 0, "deleted": 0, "unchanged": 0}},
        )
        for n in range(how_many)
    )


def test_the_history_of_500_runs_costs_what_one_of_60_does(
    client: Client, world: FirmWorld, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    make_runs(world.other_file, 60, world.staff)
    make_runs(world.given_file, 500, world.staff)
    client.force_login(world.staff)
    slug = world.firm.slug
    small = count_queries(client, reverse("sync_history", args=[slug, world.other_file.pk]) + "?page=3")
    large = count_queries(client, reverse("sync_history", args=[slug, world.given_file.pk]) + "?page=3")
    with django_assert_max_num_queries(HISTORY_QUERIES):
        response = client.get(reverse("sync_history", args=[slug, world.given_file.pk]) + "?page=3")
    assert response.status_code == 200
    runs = response.context["runs"]
    assert runs.number == 3 and len(runs.object_list) == 25  # a full page 3 of both histories
    assert small == large, f"history queries: 60 runs {small}, 500 runs {large}"
