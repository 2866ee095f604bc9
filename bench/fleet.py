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
import time
from collections.abc import Iterator
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
