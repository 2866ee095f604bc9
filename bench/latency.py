"""Workload 9 of ``make bench``: the sync with WoW 50 ms away (issue #22).

On loopback a WoW call costs about a millisecond of network; over the internet tens to hundreds. The sandbox
plays the latency (``POST /_sandbox/network``, wow_sandbox/network.py) and this workload measures:

- the first sync of a company at 50 ms a call, against its floor at the same latency: the same pages
  fetched with as many connections at once as the product keeps in flight (no database), or the write
  floor (COPY) if that is longer (the product fetches and writes at the same time);
- a first sync against today's one-request-at-a-time sync (``WOW_REQUESTS_IN_FLIGHT_PER_RUN=1``) at 50 ms,
  on a smaller company (one at a time at 50 ms takes minutes);
- at 0 ms, workload 1's first sync by the same product against its floors, with its calls and requests in
  flight (run ``--sandbox-mode strict`` for the strict sandbox): no regression on loopback;
- an incremental sync at 50 ms (100 edits, 20 additions, 10 deletions in 3 periods) and one with no change.

The calls and the most requests the sandbox answered at once ("concurrency used") are reported with each
run. The companies are smaller than workload 1's (half and a twentieth of its documents; the report says so):
a first sync of 120,000 documents one request at a time at 50 ms alone would take about ten minutes of
the benchmark's twenty.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import requests

from clients.ledger.streams import ENTRIES, STREAMS
from syncs.providers.winbooks.reader import (
    DEFAULT_PAGE_SIZE,
    GROUPS_PER_LANE,
    MAX_LEVEL,
    PAGE_SIZE,
    SIDE_BY_SIDE_MIN_DOCUMENTS,
    SIDE_BY_SIDE_MIN_GROUP,
    STREAM_OMS,
    period_groups,
)
from winbooks import query as q
from winbooks.dates import dumps
from winbooks.pagination import Key, keyset_query, record_key

from .floors import _DECODE, copy_floor, sandbox_access_token

LATENCY_MS = 50
# The company of the 50 ms first sync, its floor and the incremental syncs: half of workload 1's. The
# incremental sync's cost does not grow with the company, the first sync's does: its 3 % target is
# stricter here than at full size.
LARGE = {"years": 5, "accounts": 2000, "relations": 4000, "documents": 60_000}
# The company synced one request at a time at 50 ms: a twentieth.
SMALL = {"years": 5, "accounts": 1000, "relations": 2000, "documents": 6_000}


# --- the floor: the product's pages, as many at once as the product has in flight ----------------------


@dataclass
class ConcurrentFetchFloor:
    seconds: float
    requests: int
    records: int
    megabytes: float
    connections: int


class _Fetcher:
    """Keyset pages of one folder, as the reader asks for them, over plain ``requests`` sessions (one per
    thread), parsed with msgspec: nothing converted, nothing written."""

    def __init__(self, base_url: str, email: str, folder: str) -> None:
        self.base_url, self.folder = base_url, folder
        self.headers = {
            "Authorization": f"Bearer {sandbox_access_token(base_url, email)}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self.lock = threading.Lock()
        self.calls = self.records = self.bytes = 0
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def criteria(self, query: q.Query) -> list[Any]:
        url = f"{self.base_url}/app/{query.plural}/Folder/{self.folder}/ExecuteCriteria?maxLevel={query.max_level}"
        body = dumps(query.to_json()).encode()
        rows: list[Any] = []
        continue_path: str | None = None
        while True:
            extra = {"ContinuePath": continue_path} if continue_path else {}
            response = self._session().post(url, data=body, headers={**self.headers, **extra}, timeout=120)
            response.raise_for_status()
            with self.lock:
                self.calls += 1
                self.bytes += len(response.content)
            rows.extend(_DECODE(response.content))
            continue_path = response.headers.get("ContinuePath")
            if not continue_path:
                return rows

    def pages(
        self, om: str, page_size: int, max_level: int, after: Key | None, conditions: tuple[Any, ...] = ()
    ) -> Iterator[list[Any]]:
        key = after
        while True:
            query = keyset_query(
                om, since=None, after=key, page_size=page_size, max_level=max_level, conditions=conditions
            )
            rows = self.criteria(query)
            distinct = len({row["Id"] for row in rows})  # a header split across chunks counts once
            with self.lock:
                self.records += distinct
            if rows:
                key = record_key(rows[-1])
                yield rows
            if distinct < page_size:
                return


def _on_threads(jobs: list[Any], connections: int) -> None:
    """Run the callables ``jobs`` on ``connections`` threads, each taking the next one when it is done."""
    todo = iter(jobs)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                with lock:
                    job = next(todo, None)
                if job is None:
                    return
                job()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def concurrent_fetch_floor(base_url: str, email: str, folder: str, connections: int) -> ConcurrentFetchFloor:
    """Every stream's pages as the product asks for them, on ``connections`` connections: the first stream,
    then the other master-data streams side by side, then the documents counted per period and read in the
    reader's groups of periods (``period_groups``), each keyset-paged, side by side."""
    fetcher = _Fetcher(base_url, email, folder)

    def read(stream_key: str, after: Key | None = None, conditions: tuple[Any, ...] = ()) -> Any:
        om = STREAM_OMS[stream_key]
        page_size = PAGE_SIZE.get(stream_key, DEFAULT_PAGE_SIZE)
        return lambda: [
            None for _ in fetcher.pages(om, page_size, MAX_LEVEL.get(stream_key, 1), after, conditions)
        ]

    started = time.perf_counter()
    masters = [stream.key for stream in STREAMS if stream is not ENTRIES]
    read(masters[0])()
    _on_threads([read(key) for key in masters[1:]], connections)
    counts = fetcher.criteria(q.Query("GLTransHeader").project(q.group_by("BookPeriod_Id"), q.count("Id")))
    left = {None if period is None else str(period): int(n) for period, n in counts}
    if sum(left.values()) <= SIDE_BY_SIDE_MIN_DOCUMENTS or connections == 1:
        read("entries")()
    else:
        groups = period_groups(left, groups=connections * GROUPS_PER_LANE, smallest=SIDE_BY_SIDE_MIN_GROUP)
        planned = [period for group in groups for period in group]
        others = q.or_(q.not_(q.in_("BookPeriod_Id", planned)), q.is_null("BookPeriod_Id"))
        parts = [(q.in_("BookPeriod_Id", group),) for group in groups] + [(others,)]
        _on_threads([read("entries", None, part) for part in parts], connections)
    seconds = time.perf_counter() - started
    return ConcurrentFetchFloor(seconds, fetcher.calls, fetcher.records, fetcher.bytes / 1e6, connections)


# --- the workload ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _network(sandbox: Any, latency_ms: float) -> Iterator[None]:
    sandbox.control("POST", "network", {"latency_ms": latency_ms})
    try:
        yield
    finally:
        sandbox.control("POST", "network", {"latency_ms": 0})


@contextlib.contextmanager
def _requests_in_flight(count: int) -> Iterator[None]:
    """The runner processes (bench.runner) read their settings from the environment."""
    before = os.environ.get("WOW_REQUESTS_IN_FLIGHT_PER_RUN")
    os.environ["WOW_REQUESTS_IN_FLIGHT_PER_RUN"] = str(count)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("WOW_REQUESTS_IN_FLIGHT_PER_RUN", None)
        else:
            os.environ["WOW_REQUESTS_IN_FLIGHT_PER_RUN"] = before


def _scaled(params: dict[str, int], factor: float) -> dict[str, int]:
    return {**params, "documents": max(500, int(params["documents"] * factor))}


def latency(report: Any, sandbox: Any, world: Any, scale: Any, mode: str = "wow-like") -> None:
    """Workload 9 (see the module's docstring)."""
    from django.conf import settings

    from bench import __main__ as bench

    lanes = min(settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN, settings.WOW_MAX_CONCURRENT_REQUESTS)
    large, small = _scaled(LARGE, scale.factor), _scaled(SMALL, scale.factor)
    print(
        f"\n[9] WoW {LATENCY_MS} ms away: first sync of {large['documents']:,} documents, incremental, "
        f"and {small['documents']:,} documents one request at a time",
        flush=True,
    )
    w7 = "9 latency"
    sandbox.create_folder("LAT_BV", **large)
    sandbox.create_folder("LAT_SMALL_BV", **small)
    sandbox.create_folder("LAT_SEQ_BV", **small)
    details: dict[str, Any] = {
        "latency_ms": LATENCY_MS,
        "requests_in_flight": lanes,
        "large": large,
        "small": small,
    }
    report.details["latency"] = details

    def run(code: str, label: str) -> dict[str, Any]:
        report.note_load(f"before {label}")
        result = bench.run_in_process(bench.queued_run(bench.link_company(world, code)), sandbox)
        details[label] = result
        return result

    def in_flight(result: dict[str, Any]) -> int:
        return int(result["sandbox_stats"].get("in_flight", {}).get("max", 0))

    def calls_note(result: dict[str, Any]) -> str:
        return f"{result['api_calls']:,} calls, at most {in_flight(result)} in flight"

    # 1. The large first sync at 50 ms against its floor at 50 ms.
    with _network(sandbox, LATENCY_MS):
        first = run("LAT_BV", "first sync at 50 ms")
        report.note_load("before the floor at 50 ms")
        fetch = concurrent_fetch_floor(sandbox.url, bench.EMAIL, "LAT_BV", lanes)
    from syncs.models import ClientLink

    lat_link = ClientLink.objects.get(firm=world.firm, company_code="LAT_BV", unlinked_at=None)
    write = copy_floor(lat_link.client_file_id)
    details["fetch_floor_at_50_ms"], details["write_floor"] = asdict(fetch), asdict(write)
    floor = max(fetch.seconds, write.seconds)
    report.add(
        bench.Figure(
            w7,
            f"first sync at {LATENCY_MS} ms ({large['documents']:,} documents)",
            first["seconds"],
            "s",
            limit=1.3 * floor,
            target="≤ 1.3 × floor at 50 ms",
            note=calls_note(first) + f"; status {first['status']}",
        )
    )
    report.add(
        bench.Figure(
            w7,
            f"  fetch floor at {LATENCY_MS} ms, {lanes} connections",
            fetch.seconds,
            "s",
            note=f"{fetch.requests:,} requests",
        )
    )
    report.add(bench.Figure(w7, "  write floor (COPY)", write.seconds, "s", note=f"{write.rows:,} rows"))
    report.add(
        bench.Figure(
            w7, "  API calls", first["api_calls"], "calls", note=json.dumps(first["api_calls_by_kind"])
        )
    )
    report.add(
        bench.Figure(
            w7,
            "  requests in flight at most (sandbox)",
            in_flight(first),
            "requests",
            target=f"≤ {lanes}",
            limit=lanes,
        )
    )
    report.add(
        bench.Figure(
            w7, "  runs not succeeded", int(first["status"] != "succeeded"), "runs", limit=0, target="= 0"
        )
    )

    # 2. An incremental sync at 50 ms, and one with no change.
    period_ids = _busy_periods(lat_link.client_file_id)
    sandbox.control("POST", "clock", {"advance_seconds": 3600})
    sandbox.control(
        "POST",
        "folders/LAT_BV/mutate",
        {
            "edit_documents": 100,
            "add_documents": 20,
            "delete_documents": 10,
            "periods": period_ids,
            "seed": 7,
        },
    )
    with _network(sandbox, LATENCY_MS):
        report.note_load("before incremental at 50 ms")
        inc = bench.run_in_process(bench.request_run(lat_link), sandbox)
        report.note_load("before no-change at 50 ms")
        none = bench.run_in_process(bench.request_run(lat_link), sandbox)
    differing, pairs = bench.ledger_matches_snapshot(sandbox, "LAT_BV", lat_link.client_file_id)
    details["incremental at 50 ms"], details["no change at 50 ms"] = inc, none
    report.add(
        bench.Figure(
            w7,
            f"incremental at {LATENCY_MS} ms (130 changes)",
            inc["seconds"],
            "s",
            limit=0.03 * first["seconds"],
            target="≤ 3 % of first sync at 50 ms",
            note=calls_note(inc),
        )
    )
    report.add(
        bench.Figure(
            w7,
            "  (period, account) sums differing from WoW",
            differing,
            "pairs",
            limit=0,
            target="= 0",
            note=f"{pairs:,} compared",
        )
    )
    report.add(
        bench.Figure(
            w7,
            f"no-change sync at {LATENCY_MS} ms: API calls",
            none["api_calls"],
            "calls",
            limit=15,
            target="≤ 15",
            note=json.dumps(none["api_calls_by_kind"]),
        )
    )
    report.add(bench.Figure(w7, f"no-change sync at {LATENCY_MS} ms: wall time", none["seconds"], "s"))

    # 3. The small company at 50 ms, side by side and one request at a time (today's sync).
    with _network(sandbox, LATENCY_MS):
        side = run("LAT_SMALL_BV", "small first sync at 50 ms")
        with _requests_in_flight(1):
            alone = run("LAT_SEQ_BV", "small first sync at 50 ms, one request at a time")
    report.add(
        bench.Figure(
            w7,
            f"first sync at {LATENCY_MS} ms ({small['documents']:,} documents)",
            side["seconds"],
            "s",
            limit=0.5 * alone["seconds"],
            target="≤ 0.5 × one at a time",
            note=calls_note(side),
        )
    )
    report.add(
        bench.Figure(
            w7,
            f"  one request at a time at {LATENCY_MS} ms (today)",
            alone["seconds"],
            "s",
            note=calls_note(alone),
        )
    )

    # 4. At 0 ms (loopback): workload 1's first sync, by the same product, against its floors.
    loopback = report.details.get("first_sync")
    if loopback:
        floors = report.details["fetch_floor"]["seconds"] + report.details["write_floor"]["seconds"]
        report.add(
            bench.Figure(
                w7,
                "first sync at 0 ms (workload 1)",
                loopback["seconds"],
                "s",
                limit=1.3 * floors,
                target="≤ 1.3 × floors",
                note=calls_note(loopback) + f"; sandbox {mode}",
            )
        )


def _busy_periods(client_file_id: int) -> list[str]:
    """Three periods with documents, spread over the years (as workload 3 picks them)."""
    from clients.models import AccountBalance

    period_ids = list(
        AccountBalance.objects.filter(client_file_id=client_file_id, line_count__gt=0)
        .order_by("-period__year", "-period__number")
        .values_list("period__wow_id", flat=True)
        .distinct()[:40]
    )
    return [str(p) for p in dict.fromkeys(period_ids)][::13][:3]


__all__ = ["concurrent_fetch_floor", "latency"]
