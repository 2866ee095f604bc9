"""Several WoW requests in flight (issue #22): documents of different periods read side by side, each group
with its own keyset cursor, and the proof's batches at once; never more in flight per licence than its cap,
whatever the runs and workers; and a ledger exactly as the one-at-a-time read gives, which is the sandbox's.

The sandbox counts the requests it answers at once (``stats.in_flight``). Bounds on that count hold
whatever the timing; the one place a test wants at least two at once, the sandbox's latency (every
request waits there, side by side) makes one-at-a-time impossible short of a thread being held off for the
whole run.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connections

from clients.models import Entry
from syncs import engine
from syncs.engine import sync_run_execute
from syncs.models import ClientLink, Connection, SyncRun
from syncs.prefetch import SOURCE_DONE, Interleaved, OrderedMap
from syncs.providers.winbooks import reader as winbooks_reader
from syncs.providers.winbooks.reader import SideBySideCursor, period_groups
from syncs.runs import sync_run_request
from syncs.services import client_link_set, connection_connect
from tests.fixtures import FirmWorld

from .helpers import assert_ledger_equals_sandbox, ledger_state

ZERO = "00000000-0000-0000-0000-000000000000"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# --- the pieces, without WoW ------------------------------------------------------------------------------


def test_the_cursor_of_parts_read_side_by_side_stays_behind_the_part_furthest_behind() -> None:
    start = (at(0), "c")
    cursor = SideBySideCursor(start, 3)
    assert cursor.key() == start  # nothing read yet
    cursor.read(0, (at(5), "a"))
    cursor.read(1, (at(3), "b"))
    assert cursor.key() == start  # part 2 has not moved
    cursor.read(2, (at(4), "z"))
    assert cursor.key() == (at(3), "b")  # part 1 is furthest behind
    cursor.read(1, (at(4), "a"))
    # Parts 1 and 2 stand at the same instant with different ids: ids are not compared (WoW may order them
    # otherwise), so the whole instant is taken up again.
    assert cursor.key() == (at(4), ZERO)
    cursor.done(1)
    assert cursor.key() == (at(4), "z")
    cursor.done(2)
    assert cursor.key() == (at(5), "a")
    cursor.done(0)
    assert cursor.key() == (at(5), "a")  # all read: the furthest position


def test_the_cursor_never_goes_before_its_start_at_the_starting_instant() -> None:
    start = (at(0), "m")
    cursor = SideBySideCursor(start, 2)
    cursor.read(0, (at(0), "x"))
    assert cursor.key() == start  # part 1 still at the start: the start is safe, and later than (t, zero)
    cursor.read(1, (at(0), "y"))
    assert cursor.key() == start
    cursor.done(0)
    cursor.done(1)
    assert cursor.key()[0] == at(0)


def test_the_cursor_after_parts_that_read_nothing_is_the_start() -> None:
    cursor = SideBySideCursor((at(7), "k"), 2)
    cursor.done(0)
    cursor.done(1)
    assert cursor.key() == (at(7), "k")


def test_period_groups_hold_every_period_with_documents_once_largest_first() -> None:
    left: dict[str | None, int] = {f"p{n:02}": n * 10 for n in range(30)}  # p00 has none left
    left[None] = 500  # documents without a period go to the read of the other periods
    groups = period_groups(left, groups=8, smallest=20)
    periods = [period for group in groups for period in group]
    assert sorted(periods) == sorted(f"p{n:02}" for n in range(1, 30))
    sizes = [sum(left[p] for p in group) for group in groups]
    assert sizes == sorted(sizes, reverse=True)
    assert 6 <= len(groups) <= 9
    assert period_groups({"a": 0, None: 3}, groups=4, smallest=20) == []
    assert period_groups({"a": 5, "b": 5}, groups=4, smallest=20) == [["b", "a"]]  # never below smallest


def test_interleaved_sources_are_read_at_the_same_time() -> None:
    """Each source waits at a barrier for the others before its first item: read one after another, the
    barrier could never be passed."""
    barrier = threading.Barrier(3, timeout=30)

    def source(name: str) -> Any:
        barrier.wait()
        yield from (f"{name}1", f"{name}2")

    sources = [lambda name=name: source(name) for name in "abc"]
    with Interleaved(sources, workers=3, depth=2, name="test") as interleaved:
        items = list(interleaved)
    assert sorted(str(item) for _, item in items if item is not SOURCE_DONE) == [
        "a1",
        "a2",
        "b1",
        "b2",
        "c1",
        "c2",
    ]
    for index in range(3):  # each source's items in its own order, then its end
        own = [item for source_index, item in items if source_index == index]
        assert own == [f"{'abc'[index]}1", f"{'abc'[index]}2", SOURCE_DONE]


def test_interleaved_hands_over_an_error_and_stops_every_thread() -> None:
    def failing() -> Any:
        yield 1
        raise ValueError("WoW said no")

    def endless() -> Any:
        n = 0
        while True:
            n += 1
            yield n

    with (
        pytest.raises(ValueError, match="WoW said no"),
        Interleaved([failing, endless], workers=2, depth=1) as both,
    ):
        for _ in both:
            pass
    assert all(not thread.is_alive() for thread in both._threads)


def test_ordered_map_computes_at_once_and_answers_in_order() -> None:
    barrier = threading.Barrier(3, timeout=30)
    started = []

    def slow_square(n: int) -> int:
        started.append(n)
        if n < 3:
            barrier.wait()  # the first three are computed side by side
        return n * n

    with OrderedMap(slow_square, range(8), workers=3, name="test") as squares:
        assert list(squares) == [n * n for n in range(8)]
    assert sorted(started) == list(range(8))


# --- the sync against the sandbox -------------------------------------------------------------------------

GENERATED = {"kind": "generated", "years": 2, "accounts": 60, "relations": 30, "documents": 400, "seed": 11}


@pytest.fixture(params=["wow-like", "strict"])
def sandbox_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 documents a page: 400 documents are 20 pages, read side by side in groups of periods."""
    monkeypatch.setitem(winbooks_reader.PAGE_SIZE, "entries", 20)


def generated(sandbox: Any, code: str) -> None:
    created = sandbox.control("POST", "folders", {"code": code, **GENERATED, "grant": [sandbox.TESTER]})
    assert created.status_code == 201, created.text


def connect(world: FirmWorld, sandbox: Any) -> Connection:
    return connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=sandbox.TESTER,
        exchange_token=sandbox.exchange_token(),
        api_url=sandbox.url,
    )


def link_to(world: FirmWorld, connection: Connection, code: str, client_file: Any = None) -> ClientLink:
    return client_link_set(
        client_file=client_file or world.given_file,
        connection=connection,
        company_code=code,
        actor=world.staff,
    )


def run_once(link: ClientLink, sandbox: Any) -> tuple[SyncRun, dict[str, int]]:
    """The link's queued run (or a new one), and the sandbox's count of requests in flight meanwhile."""
    run = SyncRun.objects.filter(link=link, status=SyncRun.Status.QUEUED).first()
    if run is None:
        run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    sandbox.control("DELETE", "stats")
    run = sync_run_execute(run_id=run.pk)
    return run, sandbox.control("GET", "stats").json()["in_flight"]


@pytest.mark.django_db
def test_documents_read_side_by_side_give_the_ledger_of_a_read_one_at_a_time(
    world: FirmWorld,
    other_world: FirmWorld,
    wow_sandbox: Any,
    settings: Any,
    small_pages: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One company synced by two firms: one with four requests in flight, one with one at a time. Both
    ledgers equal the sandbox, so each other, after the first sync and after edits, additions (enough to be
    read side by side again) and deletions."""
    generated(wow_sandbox, "GEN_BV")
    wow_sandbox.control("POST", "network", {"latency_ms": 20})
    side_by_side = link_to(world, connect(world, wow_sandbox), "GEN_BV")
    one_at_a_time = link_to(other_world, connect(other_world, wow_sandbox), "GEN_BV")

    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 4

    def not_needed(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the documents read side by side left something to the gap check or a heal")

    with monkeypatch.context() as first_sync:
        # Nothing changes meanwhile: the stream alone must bring every document (the later checks would
        # otherwise make up for a group read wrong, and hide it).
        first_sync.setattr(engine, "_reconcile_period_ids", not_needed)
        first_sync.setattr(engine, "_heal_period", not_needed)
        run, in_flight = run_once(side_by_side, wow_sandbox)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    assert 2 <= in_flight["max"] <= 4
    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 1
    alone, in_flight = run_once(one_at_a_time, wow_sandbox)
    assert alone.status == SyncRun.Status.SUCCEEDED and alone.reconciled is True, alone.error_message
    assert in_flight["max"] == 1
    snapshot = wow_sandbox.snapshot("GEN_BV")
    assert_ledger_equals_sandbox(side_by_side.client_file, snapshot)
    assert_ledger_equals_sandbox(one_at_a_time.client_file, snapshot)
    assert ledger_state(side_by_side.client_file) == ledger_state(one_at_a_time.client_file)
    assert run.counts["entries"]["created"] == alone.counts["entries"]["created"] == 400
    # The side-by-side read asked for the same documents: a few more calls (its plan, each group's last
    # page), not a second read.
    assert run.api_calls <= alone.api_calls * 1.25, (run.api_calls, alone.api_calls)

    wow_sandbox.control("POST", "clock", {"advance_seconds": 3600})
    changed = wow_sandbox.control(
        "POST",
        "folders/GEN_BV/mutate",
        {"edit_documents": 30, "add_documents": 80, "delete_documents": 10, "seed": 3},
    )
    assert changed.status_code == 200, changed.text
    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 4
    run, in_flight = run_once(side_by_side, wow_sandbox)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    assert in_flight["max"] >= 2  # 110 changed documents, 6 pages: read side by side again
    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 1
    alone, _ = run_once(one_at_a_time, wow_sandbox)
    assert alone.status == SyncRun.Status.SUCCEEDED and alone.reconciled is True, alone.error_message
    snapshot = wow_sandbox.snapshot("GEN_BV")
    assert_ledger_equals_sandbox(side_by_side.client_file, snapshot)
    assert_ledger_equals_sandbox(one_at_a_time.client_file, snapshot)
    for counts in (run.counts, alone.counts):
        assert counts["entries"]["created"] == 80 and counts["entries"]["deleted"] == 10

    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 4
    run, _ = run_once(side_by_side, wow_sandbox)  # nothing changed: no more calls than one at a time
    assert run.status == SyncRun.Status.SUCCEEDED and run.api_calls <= 15, run.api_calls_by_kind


@pytest.mark.django_db(transaction=True)
def test_runs_side_by_side_on_one_licence_never_have_more_in_flight_than_its_cap(
    world: FirmWorld, wow_sandbox: Any, settings: Any, small_pages: None
) -> None:
    """Two runs of one connection at once (as two workers would run them), each allowed four requests in
    flight, on a licence capped at two: the sandbox never answers more than two at once, and both ledgers
    are exact."""
    settings.WOW_MAX_CONCURRENT_REQUESTS = 2
    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 4
    generated(wow_sandbox, "GEN_A")
    generated(wow_sandbox, "GEN_B")
    connection = connect(world, wow_sandbox)
    first = link_to(world, connection, "GEN_A")
    second = link_to(world, connection, "GEN_B", client_file=world.other_file)
    wow_sandbox.control("POST", "network", {"latency_ms": 20})
    wow_sandbox.control("DELETE", "stats")
    runs = [SyncRun.objects.get(link=link).pk for link in (first, second)]
    failures: list[BaseException] = []

    def work(run_id: int) -> None:
        try:
            sync_run_execute(run_id=run_id)
        except BaseException as error:  # reported by the test below
            failures.append(error)
        finally:
            connections.close_all()  # this thread's

    workers = [threading.Thread(target=work, args=(run_id,)) for run_id in runs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures, failures
    assert wow_sandbox.control("GET", "stats").json()["in_flight"]["max"] <= 2
    for link, code in ((first, "GEN_A"), (second, "GEN_B")):
        run = SyncRun.objects.get(link=link)
        assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
        assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot(code))


@pytest.mark.django_db
def test_a_first_sync_read_side_by_side_cut_off_and_resumed_reads_on_from_where_every_group_stood(
    world: FirmWorld, wow_sandbox: Any, settings: Any, small_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WoW fails for good in the middle of the documents read side by side: the run goes back to the queue
    with the pages written so far, and its retry reads on from the stream's cursor. Had the cursor gone past
    a document some group had not read yet, only the gap check would find it: it must find nothing, and
    no document is written twice."""
    from syncs.providers import ProviderError

    settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN = 4
    generated(wow_sandbox, "GEN_BV")
    link = link_to(world, connect(world, wow_sandbox), "GEN_BV")
    wow_sandbox.control(
        "POST",
        "faults",
        {
            "path_contains": "GLTransHeaders/Folder/GEN_BV/ExecuteCriteria",
            "kind": "status",
            "status": 503,
            "skip": 12,
            "count": 40,
        },
    )
    run = SyncRun.objects.get(link=link)
    with pytest.raises(ProviderError):
        sync_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED and run.error_class == "transient"
    assert Entry.objects.filter(client_file=link.client_file).count() < 400
    wow_sandbox.control("DELETE", "faults")

    def not_needed(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the resumed read left something to the gap check or a heal")

    monkeypatch.setattr(engine, "_reconcile_period_ids", not_needed)
    monkeypatch.setattr(engine, "_heal_period", not_needed)
    run = sync_run_execute(run_id=run.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.reconciled is True, run.error_message
    assert_ledger_equals_sandbox(link.client_file, wow_sandbox.snapshot("GEN_BV"))
    assert run.counts["entries"]["created"] == 400 and run.counts["entries"]["updated"] == 0
