"""The fleet workloads of ``make bench`` (issues #22 and #16), called from ``bench/__main__.py``:

- **dispatcher**: 20,000 links over 200 firms generated straight into the database, all due: one tick queues
  them (runs created, broker messages sent) — its time and its queries, against a tick at a tenth of that
  (the same number of queries) and a tick with nothing due;
- **fleet**: small client files of 40 firms, one firm holding half of them, due at once and synced by 4
  worker processes, while people press "Sync now" now and then: runs per minute, the median completion of
  the small firms' files against the same files synced without the big firm, and the "Sync now" queue wait;
- **noisy neighbour**: the small firms' files once more with one hostile firm among them (its WoW host drips,
  sends a huge body, loops on ContinuePath or answers 429 for ever, ``tests/hostile_wow.py``): the time
  against the same files alone (the fleet's run without the big firm), and the "Sync now" wait meanwhile.

No figure is asserted: each is printed next to its target, and the measured numbers go to
docs/architecture.md's decisions with the load average.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any


def _bench() -> Any:
    """bench/__main__.py's shared pieces (Figure, the workers), imported when a workload runs."""
    import bench.__main__ as shared

    return shared


@contextlib.contextmanager
def counted_queries() -> Iterator[list[str]]:
    from django.db import connection

    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield queries


def broker_length(*queues: str) -> int:
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return int(sum(broker.llen(queue) for queue in queues))


def purge_broker() -> None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("syncs", "syncs-now", "unacked", "unacked_index")


def generate_linked_files(
    *, firms: int, files_per_firm: int, prefix: str, api_url: str, next_sync_at: dt.datetime | None
) -> list[Any]:
    """``firms`` firms with one connection each and ``files_per_firm`` linked client files each (a list of
    counts per firm, or one count for all), written straight into the database. Returns the links."""
    from django.utils import timezone

    from clients.models import ClientFile, Firm
    from syncs.models import ClientLink, Connection

    made_firms = Firm.objects.bulk_create(
        Firm(name=f"{prefix.title()} {i:03} Accountants", slug=f"{prefix}-{i:03}") for i in range(firms)
    )
    connections = Connection.objects.bulk_create(
        Connection(
            firm=firm,
            name="WinbooksOnWeb",
            api_url=api_url,
            connected_at=timezone.now(),
            nightly_sync_time=dt.time(2, 0),
        )
        for firm in made_firms
    )
    counts = files_per_firm if isinstance(files_per_firm, list) else [files_per_firm] * firms
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=firm, name=f"{prefix.title()} {i:03}-{n:05} BV", file_code=f"{prefix}{i:03}_{n:05}")
        for i, firm in enumerate(made_firms)
        for n in range(counts[i])
    )
    connection_of = {c.firm_id: c for c in connections}
    return ClientLink.objects.bulk_create(
        ClientLink(
            firm_id=cf.firm_id,
            client_file=cf,
            connection=connection_of[cf.firm_id],
            company_code=cf.file_code,
            next_sync_at=next_sync_at,
        )
        for cf in files
    )


def analyze() -> None:
    """Fresh planner statistics after a bulk load, as autovacuum gives them within a minute in production
    (a plan made for empty tables read 20,000 links per connection, 0.6 s for a tick with nothing due)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _tick(now: dt.datetime | None = None) -> tuple[float, int, dict[str, int]]:
    from syncs.schedule import sync_dispatch_due

    with counted_queries() as queries:
        started = time.perf_counter()
        result = sync_dispatch_due(now=now)
        seconds = time.perf_counter() - started
    return seconds, len(queries), result


def dispatcher(report: Any, scale: Any) -> None:
    """Workload: the dispatcher's tick with 20,000 due links over 200 firms, a tenth of that, and none."""
    from django.utils import timezone

    from syncs.models import ClientLink, SyncRun

    shared = _bench()
    Figure = shared.Figure
    firms = scale.n(200, minimum=10)
    per_firm = 100
    print(f"\n[7] Dispatcher: {firms * per_firm:,} links over {firms} firms", flush=True)
    now = timezone.now()
    purge_broker()
    figures: dict[str, Any] = {}
    w = "7 dispatcher"
    for label, count in (("small", max(1, firms // 10)), ("large", firms)):
        started = time.perf_counter()
        links = generate_linked_files(
            firms=count,
            files_per_firm=per_firm,
            prefix=f"disp{label[0]}",
            api_url="http://127.0.0.1:9",
            next_sync_at=now - dt.timedelta(minutes=1),
        )
        # Last night's runs, finished: the history a real tick reads past.
        SyncRun.objects.bulk_create(
            SyncRun(
                link=link,
                client_file_id=link.client_file_id,
                trigger=SyncRun.Trigger.SCHEDULE,
                status=SyncRun.Status.SUCCEEDED,
                finished_at=now - dt.timedelta(days=1),
            )
            for link in links
        )
        built = time.perf_counter() - started
        analyze()
        report.note_load(f"before dispatcher tick ({len(links):,} due)")
        seconds, queries, result = _tick()
        messages = broker_length("syncs", "syncs-now")
        purge_broker()
        figures[label] = {
            "links": len(links),
            "seconds": seconds,
            "queries": queries,
            "queued": result["queued"],
            "broker_messages": messages,
            "generated_seconds": built,
        }
    large, small = figures["large"], figures["small"]
    report.add(
        Figure(
            w,
            f"tick with {large['links']:,} due links",
            large["seconds"],
            "s",
            limit=2.0,
            target="≤ 2 s",
            note=f"{large['queued']:,} runs queued, {large['broker_messages']:,} messages in the broker",
        )
    )
    report.add(Figure(w, "runs queued by that tick", large["queued"], "runs", target=f"= {large['links']:,}"))
    report.add(
        Figure(
            w,
            f"its queries (at {small['links']:,} due: {small['queries']})",
            large["queries"],
            "queries",
            limit=small["queries"],
            target="= at a tenth of the links",
        )
    )
    # Nothing due any more: the ordinary tick, every minute of the day.
    timings = []
    for _ in range(30):
        seconds, queries, result = _tick()
        timings.append(seconds * 1000)
    figures["idle"] = {"median_ms": statistics.median(timings), "max_ms": max(timings), "queries": queries}
    report.add(
        Figure(
            w,
            "tick with nothing due: median",
            statistics.median(timings),
            "ms",
            limit=50,
            target="≤ 50 ms",
            note=f"{queries} queries, max {max(timings):.1f} ms, with {2 * large['links']:,} runs stored",
        )
    )
    report.details["dispatcher"] = figures
    # Out of the way of the later workloads: unlinked, their runs ended.
    SyncRun.objects.filter(link__company_code__startswith="disp", status__in=SyncRun.ACTIVE_STATUSES).update(
        status=SyncRun.Status.FAILED, finished_at=timezone.now()
    )
    ClientLink.objects.filter(company_code__startswith="disp").update(unlinked_at=timezone.now())


# --- the fleet -------------------------------------------------------------------------------------------

HOSTILE = ("drip_body", "huge", "continue_loop", "rate_limited")
FLEET_WORKERS = 4
FLEET_SHARE = 0.1  # of the 2,000 files, at --scale 1
DONE = ("succeeded", "succeeded_with_issues", "failed")


@contextlib.contextmanager
def solo_workers(count: int) -> Iterator[list[Any]]:
    """``count`` worker processes (solo pool: the process itself runs the sync) on both queues, as in
    production's compose file; stopped, and killed if a hostile host still holds one, when done."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from silverfin_sync.celery import app

    purge_broker()
    celery = str(Path(sys.executable).parent / "celery")
    root = Path(__file__).resolve().parent.parent
    workers = [
        subprocess.Popen(
            [
                *(celery, "-A", "silverfin_sync", "worker", "--pool", "solo", "-Q", "syncs-now,syncs"),
                *("-n", f"fleet{i}@%h", "-l", "warning", "--without-gossip", "--without-mingle"),
            ],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 90
        while len(app.control.ping(timeout=1.0) or []) < count:
            if time.monotonic() > deadline:
                raise SystemExit("The Celery workers did not answer within 90 s.")
        yield workers
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
        purge_broker()


def _connected_firms(sandbox: Any, world: Any, names: list[str], slug: str) -> list[tuple[Any, Any]]:
    """Firms, each connected to the sandbox with tokens of its own (a real exchange each)."""
    from clients.services import firm_create
    from syncs.services import connection_connect

    made = []
    for i, name in enumerate(names):
        firm = firm_create(name=name, slug=f"{slug}-{i:02}")
        connection = connection_connect(
            firm=firm,
            actor=world.admin,
            name="WinbooksOnWeb",
            email=shared_email(),
            exchange_token=sandbox.exchange_token(),
            api_url=sandbox.url,
        )
        made.append((firm, connection))
    return made


def shared_email() -> str:
    return str(_bench().EMAIL)


def _link_files(firm: Any, connection: Any, codes: list[str], *, due: dt.datetime) -> list[Any]:
    from clients.models import ClientFile
    from syncs.models import ClientLink

    files = ClientFile.objects.bulk_create(
        ClientFile(firm=firm, name=f"{code} BV", file_code=code) for code in codes
    )
    return ClientLink.objects.bulk_create(
        ClientLink(
            firm=firm, client_file=cf, connection=connection, company_code=cf.file_code, next_sync_at=due
        )
        for cf in files
    )


class SyncNowPresser(threading.Thread):
    """A person pressing "Sync now" on one of the desk files every ``every`` seconds while the fleet runs;
    the runs it started are kept to read their queue wait (claimed at − asked at) afterwards."""

    def __init__(self, client_files: list[Any], every: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.client_files = client_files
        self.every = every
        self.stop = threading.Event()
        self.run_ids: list[int] = []

    def run(self) -> None:
        from django.db import connection

        from syncs.runs import client_file_sync_now

        turn = 0
        try:
            while self.client_files and not self.stop.wait(self.every):
                client_file = self.client_files[turn % len(self.client_files)]
                turn += 1
                run, created = client_file_sync_now(client_file=client_file, requested_by=None)
                if created:
                    self.run_ids.append(run.pk)
        finally:
            connection.close()


def _wait_until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _phase(
    name: str,
    *,
    measured: list[Any],
    others: list[Any],
    desk: list[Any],
    timeout: float,
    report: Any,
) -> dict[str, Any]:
    """Dispatch what is due (as beat would) and press "Sync now" meanwhile, until the measured links' runs
    have all ended (and the others' too, unless they are hostile: those are only watched)."""
    from django.utils import timezone

    from syncs.models import SyncRun
    from syncs.schedule import sync_dispatch_due

    analyze()  # the ledger grew in the phase before: plans for what the tables hold now, as in production
    report.note_load(f"before fleet: {name}")
    presser = SyncNowPresser(desk)
    started_at = timezone.now()
    started = time.perf_counter()
    dispatched = sync_dispatch_due()
    presser.start()
    measured_runs = SyncRun.objects.filter(link__in=measured, trigger=SyncRun.Trigger.SCHEDULE)
    finished = _wait_until(
        lambda: measured_runs.filter(status__in=DONE).count() >= len(measured), timeout=timeout
    )
    measured_seconds = time.perf_counter() - started
    other_runs = SyncRun.objects.filter(link__in=others, trigger=SyncRun.Trigger.SCHEDULE)
    all_finished = finished and _wait_until(
        lambda: other_runs.filter(status__in=DONE).count() >= len(others), timeout=timeout
    )
    total_seconds = time.perf_counter() - started
    presser.stop.set()
    presser.join()
    pressed = SyncRun.objects.filter(pk__in=presser.run_ids)
    _wait_until(lambda: not pressed.filter(status__in=SyncRun.ACTIVE_STATUSES).exists(), timeout=120)
    waits = [
        (begun - asked).total_seconds()
        for asked, begun in pressed.values_list("queued_at", "started_at")
        if begun is not None
    ]
    completions = sorted(
        (ended - started_at).total_seconds()
        for ended in measured_runs.filter(status__in=DONE).values_list("finished_at", flat=True)
        if ended is not None
    )
    return {
        "dispatched": dispatched,
        "finished": finished,
        "all_finished": all_finished,
        "measured_runs": len(measured),
        "other_runs": len(others),
        "measured_seconds": measured_seconds,
        "total_seconds": total_seconds,
        "median_completion_seconds": statistics.median(completions) if completions else None,
        "sync_now_runs": len(presser.run_ids),
        "sync_now_not_started": len(presser.run_ids) - len(waits),
        "sync_now_waits": waits,
        "measured_statuses": dict(
            measured_runs.values_list("status").annotate(n=models_count()).values_list("status", "n")
        ),
        "measured_reclaimed": measured_runs.filter(attempt__gt=1).count(),
    }


def models_count() -> Any:
    from django.db.models import Count

    return Count("pk")


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def fleet(report: Any, sandbox: Any, world: Any, scale: Any) -> None:
    """Workloads 4 (fleet) and 8 (noisy neighbour): the same small files, first synced each time by firms of
    their own: alone, beside a firm holding as many files, beside a firm whose WoW hosts are hostile, and
    alone again."""
    from django.utils import timezone

    from syncs.models import Connection, SyncRun
    from tests.hostile_wow import hostile_server

    Figure = _bench().Figure
    # A tenth of the 2,000 files (and of its firm of 1,000), so that the whole of make bench fits in
    # 20 minutes on 2 cores: the big firm's files run two at a time (its cap), 1,000 would take ~10 minutes.
    total = scale.n(round(2000 * FLEET_SHARE), minimum=80)
    big_count = total // 2
    small_count = total - big_count
    firms = 40
    print(
        f"\n[4] Fleet: {total:,} small files of {firms} firms (one holding {big_count:,}) on "
        f"{FLEET_WORKERS} workers, and [8] noisy neighbour",
        flush=True,
    )
    started = time.perf_counter()
    small_codes = [f"FLEET_S{i:04}" for i in range(small_count)]
    big_codes = [f"FLEET_B{i:04}" for i in range(big_count)]
    desk_code = "FLEET_DESK"
    for code in [*small_codes, *big_codes, desk_code]:
        sandbox.create_folder(code, years=2, accounts=60, relations=30, documents=200)
    report.details["fleet_build_seconds"] = time.perf_counter() - started
    far = timezone.now() + dt.timedelta(days=30)

    def small_firms(label: str) -> tuple[list[Any], list[Any]]:
        """The small files spread over 39 firms of their own, and one desk file per firm for "Sync now"."""
        made = _connected_firms(
            sandbox, world, [f"{label} {i:02} BV" for i in range(firms - 1)], label.lower()
        )
        links, desk = [], []
        due = timezone.now() - dt.timedelta(minutes=1)
        for i, (firm, connection) in enumerate(made):
            links += _link_files(firm, connection, small_codes[i :: firms - 1], due=due)
            desk += [link.client_file for link in _link_files(firm, connection, [desk_code], due=far)]
        return links, desk

    figures: dict[str, Any] = {}
    with solo_workers(FLEET_WORKERS):
        # Every worker's first sync pays for imports and connections: not part of any phase.
        ((warm_firm, warm_connection),) = _connected_firms(sandbox, world, ["Warm-up BV"], "warmup")
        warm = _link_files(warm_firm, warm_connection, small_codes[: 2 * FLEET_WORKERS], due=timezone.now())
        _phase("warm-up", measured=warm, others=[], desk=[], timeout=300, report=report)
        alone_links, alone_desk = small_firms("Alone")
        figures["alone"] = _phase(
            "small firms alone", measured=alone_links, others=[], desk=alone_desk, timeout=900, report=report
        )
        with_links, with_desk = small_firms("Beside")
        ((big_firm, big_connection),) = _connected_firms(
            sandbox, world, ["Big Fleet Accountants"], "bigfleet"
        )
        big_links = _link_files(
            big_firm, big_connection, big_codes, due=timezone.now() - dt.timedelta(minutes=1)
        )
        big_desk = [link.client_file for link in _link_files(big_firm, big_connection, [desk_code], due=far)]
        figures["with_big"] = _phase(
            "with the big firm",
            measured=with_links,
            others=big_links,
            desk=with_desk + big_desk,
            timeout=1800,
            report=report,
        )
        noisy_links, noisy_desk = small_firms("Noisy")
        ((hostile_firm, hostile_connection),) = _connected_firms(
            sandbox, world, ["Hostile Accountants"], "hostile"
        )
        with contextlib.ExitStack() as hosts:
            servers = [
                hosts.enter_context(hostile_server(behaviour, interval=1.0, drip_bytes=1_000_000))
                for behaviour in HOSTILE
            ]
            hostile_links = []
            for behaviour, server in zip(HOSTILE, servers, strict=True):
                connection = Connection.objects.create(
                    firm=hostile_firm,
                    name=f"WoW {behaviour}",
                    api_url=server.url,
                    email=hostile_connection.email,
                    access_token=hostile_connection.access_token,
                    refresh_token=hostile_connection.refresh_token,
                    access_token_expires_at=hostile_connection.access_token_expires_at,
                )
                hostile_links += _link_files(
                    hostile_firm, connection, [f"HOSTILE_{behaviour.upper()}"], due=timezone.now()
                )
            figures["noisy"] = _phase(
                "with a hostile firm",
                measured=noisy_links,
                others=[],
                desk=noisy_desk,
                timeout=900,
                report=report,
            )
            hostile = SyncRun.objects.filter(link__in=hostile_links)
            figures["noisy"]["hostile_runs"] = {
                link.company_code: list(
                    hostile.filter(link=link).values_list("status", "error_class", "attempt", "error_code")
                )
                for link in hostile_links
            }
            SyncRun.objects.filter(link__in=hostile_links, status__in=SyncRun.ACTIVE_STATUSES).update(
                status=SyncRun.Status.FAILED, finished_at=timezone.now()
            )
        # The baseline once more, last: on a machine shared with other work, the faster of the two is the
        # one the others are compared with (the stricter ratio).
        again_links, again_desk = small_firms("Again")
        figures["alone_again"] = _phase(
            "small firms alone, again",
            measured=again_links,
            others=[],
            desk=again_desk,
            timeout=900,
            report=report,
        )
    report.details["fleet"] = figures
    with_big, noisy = figures["with_big"], figures["noisy"]
    alone = min(figures["alone"], figures["alone_again"], key=lambda phase: phase["measured_seconds"])
    first, again = figures["alone"]["measured_seconds"], figures["alone_again"]["measured_seconds"]
    alone_times = f"alone {first:.1f} s, again {again:.1f} s"
    w4, w8 = "4 fleet", "8 noisy neighbour"
    runs = with_big["measured_runs"] + with_big["other_runs"]
    not_ok = runs - with_big["measured_statuses"].get("succeeded", 0) - _succeeded(big_links)
    report.add(
        Figure(w4, "runs (small firms + the big firm)", runs, "runs", note=f"{big_count:,} of the big firm")
    )
    report.add(Figure(w4, "runs failed or unfinished", not_ok, "runs", limit=0, target="= 0"))
    report.add(
        Figure(
            w4, "runs claimed more than once", with_big["measured_reclaimed"], "runs", limit=0, target="= 0"
        )
    )
    report.add(Figure(w4, "runs per minute", runs / with_big["total_seconds"] * 60, "runs/min"))
    report.add(
        Figure(
            w4,
            "small firms' median completion, alone",
            alone["median_completion_seconds"],
            "s",
            note=f"the faster of two runs ({alone_times})",
        )
    )
    report.add(
        Figure(
            w4,
            "small firms' median completion, beside the big firm",
            with_big["median_completion_seconds"],
            "s",
            limit=1.5 * alone["median_completion_seconds"],
            target="≤ 1.5 × alone",
        )
    )
    waits = with_big["sync_now_waits"]
    report.add(
        Figure(
            w4,
            "Sync now queue wait p95 during the fleet",
            p95(waits),
            "s",
            limit=5,
            target="≤ 5 s",
            note=f"{len(waits)} presses, {with_big['sync_now_not_started']} not started",
        )
    )
    report.add(Figure(w8, "small files alone", alone["measured_seconds"], "s", note=alone_times))
    report.add(
        Figure(
            w8,
            "the same beside a hostile firm",
            noisy["measured_seconds"],
            "s",
            limit=1.2 * alone["measured_seconds"],
            target="≤ 1.2 × alone",
            note=", ".join(HOSTILE),
        )
    )
    report.add(
        Figure(
            w8,
            "Sync now queue wait p95 meanwhile",
            p95(noisy["sync_now_waits"]),
            "s",
            limit=5,
            target="≤ 5 s",
            note=f"{len(noisy['sync_now_waits'])} presses",
        )
    )


def _succeeded(links: list[Any]) -> int:
    from syncs.models import SyncRun

    return SyncRun.objects.filter(link__in=links, status=SyncRun.Status.SUCCEEDED).count()
