"""The firm overview: every visible client file with its sync state, chips that count, filters in the URL,
search, sort, pagination, the live refresh of running rows, and a query count that does not grow with the
number of files."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import ClientFile, Firm
from syncs.models import ClientLink, Connection, SyncRun
from tests.fixtures import FirmWorld

from .helpers import make_every_state

pytestmark = pytest.mark.django_db

# Session, user, language, membership, chips, page rows (and a session write in its savepoint).
OVERVIEW_QUERIES = 9
# Session, user, language, membership, the rows asked for, the chips (and a session write in its savepoint).
LIVE_QUERIES = 9


def rows(html: str) -> dict[str, str]:
    """Each row's file code → its status words."""
    found = {}
    for row in re.findall(r'<tr id="file-\d+".*?</tr>', html, re.S):
        code = re.search(r'class="muted file-code">([^<]+)<', row)
        status = re.search(r'class="file-status[^"]*"><span[^>]*>[^<]*</span> ([^<]+)<', row)
        assert code and status, row
        found[code.group(1)] = status.group(1).strip()
    return found


def chips(html: str) -> dict[str, int]:
    return {
        key: int(count.replace(",", ""))
        for key, count in re.findall(r'data-chip="(\w+)">[^<]*<span class="chip-count">([\d,]+)</span>', html)
    }


def get(client: Client, firm: Firm, query: str = "") -> str:
    response = client.get(reverse("firm_overview", args=[firm.slug]) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_every_state_shows_in_words_and_the_chips_count_it(client: Client, world: FirmWorld) -> None:
    make_every_state(world.firm)
    # An archived file leaves "All" (and every other chip) for a chip of its own.
    ClientFile.objects.filter(firm=world.firm, file_code="F-in_step_2").update(archived_at=timezone.now())
    client.force_login(world.staff)
    html = get(client, world.firm)
    assert rows(html) == {
        "ALPHA-G": "Not linked",
        "ALPHA-O": "Not linked",
        "F-in_step": "In step",
        "F-issues": "Synced with issues",
        "F-failed": "Failed",
        "F-running": "Running",
        "F-queued": "Queued",
        "F-needs_reconnect": "Needs reconnecting",
        "F-never_synced": "Never synced",
        "F-not_linked": "Not linked",
    }
    assert chips(html) == {
        "all": 10,
        "attention": 3,
        "failed": 1,
        "issues": 1,
        "needs_reconnect": 1,
        "running": 2,
        "in_step": 1,
        "never_synced": 1,
        "not_linked": 3,
        "archived": 1,
        "closed_changes": 0,
    }
    archived = get(client, world.firm, "?status=archived")
    assert rows(archived) == {"F-in_step_2": "Archived"}
    assert "Sync now" not in archived.split("<tbody", 1)[1]
    assert "Reading documents" in html and "1,500 records" in html  # the running row's progress
    assert "“Old WinbooksOnWeb” must be reconnected by an admin" in html
    # Last successful sync: relative, exact on hover; the next one from the link's schedule.
    assert re.search(r'<time datetime="[^"]+" title="\d+ \w+ \d{4} \d\d:\d\d">3\xa0hours ago</time>', html)
    # Sync arrows for staff, on linked rows whose connection works, disabled while a run is active.
    assert html.count('class="sync-arrows"') == 6  # one of the eight linked files is archived
    assert html.count('class="sync-arrows" type="submit" disabled') == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=attention", {"F-failed", "F-issues", "F-needs_reconnect"}),
        ("?status=failed", {"F-failed"}),
        ("?status=running", {"F-running", "F-queued"}),
        ("?status=not_linked", {"ALPHA-G", "ALPHA-O", "F-not_linked"}),
        ("?q=in+step", {"F-in_step", "F-in_step_2"}),
        ("?q=f-FAIL", {"F-failed"}),  # file code, any case
        ("?q=refused", {"F-needs_reconnect"}),  # company code
        ("?q=step&status=issues", set()),
        ("?status=no-such-chip&sort=nonsense&page=x", None),  # stale values: the whole list
    ],
)
def test_filters_and_search_live_in_the_url(
    client: Client, world: FirmWorld, query: str, expected: set[str] | None
) -> None:
    make_every_state(world.firm)
    client.force_login(world.admin)
    html = get(client, world.firm, query)
    assert set(rows(html)) == (expected if expected is not None else set(rows(get(client, world.firm))))
    if expected == set():
        assert "No client file matches this filter." in html


def test_the_connection_filter_and_the_chip_counts_within_a_search(client: Client, world: FirmWorld) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.admin)
    html = get(client, world.firm, f"?connection={state.refused.pk}")
    assert set(rows(html)) == {"F-needs_reconnect"}
    counts = chips(get(client, world.firm, "?q=in+step"))
    assert counts["all"] == 2 and counts["in_step"] == 2 and counts["failed"] == 0


def test_sorting_by_status_puts_the_worst_first_and_by_last_sync_the_freshest(
    client: Client, world: FirmWorld
) -> None:
    make_every_state(world.firm)
    client.force_login(world.admin)
    by_status = list(rows(get(client, world.firm, "?sort=status")).values())
    assert by_status[:3] == ["Needs reconnecting", "Failed", "Synced with issues"]
    assert by_status[-1] == "In step"
    by_name = list(rows(get(client, world.firm)))
    assert by_name == list(
        ClientFile.objects.filter(firm=world.firm).order_by("name", "pk").values_list("file_code", flat=True)
    )
    by_last_sync = list(rows(get(client, world.firm, "?sort=last_sync")).values())
    assert by_last_sync[-1] in {"Not linked", "Never synced", "Queued"}


def test_external_contributors_see_their_files_only_and_no_sync_arrows(
    client: Client, world: FirmWorld
) -> None:
    make_every_state(world.firm)
    client.force_login(world.external)
    html = get(client, world.firm)
    assert set(rows(html)) == {"ALPHA-G"}
    assert "sync-arrows" not in html and 'id="bulk-sync"' not in html


def test_the_live_refresh_swaps_running_rows_in_place_until_they_finish(
    client: Client, world: FirmWorld
) -> None:
    state = make_every_state(world.firm)
    client.force_login(world.staff)
    running = state.files["running"]
    html = get(client, world.firm)
    poller = re.search(r'<div id="overview-live" hx-get="([^"]+)" hx-trigger="every 2s"', html)
    assert poller
    url = poller.group(1).replace("&amp;", "&")
    assert f"ids={running.pk}" in url and f"ids={state.files['queued'].pk}" in url

    live = client.get(url).content.decode()
    assert f'<tr id="file-{running.pk}" class="file-row status-running" hx-swap-oob="true">' in live
    assert 'hx-trigger="every 2s"' in live  # still running: poll again

    SyncRun.objects.filter(client_file=running, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now()
    )
    SyncRun.objects.filter(client_file=state.files["queued"]).update(status=SyncRun.Status.FAILED)
    live = client.get(url).content.decode()
    assert f'<tr id="file-{running.pk}" class="file-row status-in_step" hx-swap-oob="true">' in live
    assert "hx-trigger" not in live  # nothing runs any more: the polling stops

    # Ids of another firm's files or of files not given find nothing.
    client.force_login(world.external)
    assert "<tr" not in client.get(url).content.decode()


def make_linked_files(firm: Firm, how_many: int) -> None:
    """``how_many`` files over two connections, each with a few runs in a mix of states."""
    connected = Connection.objects.create(firm=firm, name=f"{firm.slug} main")
    refused = Connection.objects.create(
        firm=firm, name=f"{firm.slug} refused", status=Connection.Status.NEEDS_RECONNECT
    )
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=firm, name=f"Client {n:05d} BV", file_code=f"{firm.slug}-{n}")
        for n in range(how_many)
    )
    links = ClientLink.objects.bulk_create(
        ClientLink(
            firm=firm,
            client_file=f,
            connection=refused if n % 10 == 0 else connected,
            company_code=f"C{n}",
            last_success_at=timezone.now(),
        )
        for n, f in enumerate(files)
        if n % 7
    )
    statuses = [SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED, SyncRun.Status.SUCCEEDED_WITH_ISSUES]
    SyncRun.objects.bulk_create(
        SyncRun(
            link=link,
            client_file_id=link.client_file_id,
            trigger=SyncRun.Trigger.SCHEDULE,
            status=statuses[(n + k) % 3],
            progress={"stream": "entries", "records": 10},
        )
        for n, link in enumerate(links)
        for k in range(3)
    )
    SyncRun.objects.bulk_create(
        SyncRun(
            link=link,
            client_file_id=link.client_file_id,
            trigger=SyncRun.Trigger.MANUAL,
            status=SyncRun.Status.RUNNING,
            progress={"stream": "entries", "records": 10, "streams_done": 3},
        )
        for link in links[::50]
    )


def test_the_overview_of_5000_files_costs_what_one_of_20_does(
    client: Client,
    world: FirmWorld,
    other_world: FirmWorld,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    make_linked_files(other_world.firm, 20)
    make_linked_files(world.firm, 5000)
    measured = {}
    for name, w in (("small", other_world), ("large", world)):
        client.force_login(w.staff)
        for query in ("", "?status=attention&sort=status", "?q=client+0&sort=last_sync&page=3"):
            with CaptureQueriesContext(connection) as queries:
                html = get(client, w.firm, query)
            # The session's own writes (its expiry is pushed on at most once a minute) depend on the clock,
            # not on the number of files: left out of the comparison.
            measured[f"{name} {query}"] = len(
                [
                    q
                    for q in queries
                    if "django_session" not in q["sql"] and not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
                ]
            )
        assert 'class="sync-arrows"' in html
    assert len(set(measured.values())) == 1, measured
    client.force_login(world.staff)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        html = get(client, world.firm)
    assert chips(html)["all"] == 5002
    assert len(rows(html)) == 50
    client.force_login(world.external)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        assert len(rows(get(client, world.firm))) == 1


def test_the_live_refresh_of_50_running_rows_costs_what_one_does(
    client: Client,
    world: FirmWorld,
    other_world: FirmWorld,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    make_linked_files(other_world.firm, 20)  # one file running
    make_linked_files(world.firm, 3000)  # 52 running: the refresh reads the first 50 asked for
    measured = {}
    for name, w, expected in (("one", other_world, 1), ("fifty", world, 50)):
        client.force_login(w.staff)
        running = ClientFile.objects.filter(firm=w.firm, sync_runs__status=SyncRun.Status.RUNNING)
        ids = "&".join(f"ids={pk}" for pk in running.order_by("pk").values_list("pk", flat=True))
        url = reverse("firm_overview_live", args=[w.firm.slug]) + f"?{ids}&back=status%3Drunning"
        with CaptureQueriesContext(connection) as queries:
            live = client.get(url).content.decode()
        assert live.count('class="file-row status-running" hx-swap-oob="true"') == expected
        assert "10 records" in live and 'data-chip="running">' in live
        measured[name] = len(
            [
                q
                for q in queries
                if "django_session" not in q["sql"] and not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
            ]
        )
    assert measured["one"] == measured["fifty"], measured
    with django_assert_max_num_queries(LIVE_QUERIES):
        client.get(url)
