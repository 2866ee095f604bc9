"""``make bench``: the sync measured on realistic work, figures printed next to their targets.

Runs inside ``python -m tests.services`` (real PostgreSQL and Redis on loopback), starts the WoW sandbox
in its own process, and measures:

1. the first sync of a large company (5 years, 2,000 accounts, 4,000 relations, 120,000 documents,
   480,000 lines) in a separate process, against the fetch floor (same pages, plain ``requests``) and the
   write floor (same rows, PostgreSQL ``COPY``);
2. peak memory at 480,000 lines against 48,000 lines;
3. an incremental sync after 100 edits, 20 additions and 10 deletions in 3 periods (exact, few calls),
   and a sync with no change;
4. a fleet of small client files of 40 firms (one holding half) due at once on 4 worker processes, and
   (8) the same beside a firm whose WoW hosts are hostile (bench/fleet.py);
5. the trial balance of a 2,000-account period and the Syncs tab with 1,000 linked client files;
6. the firm overview at 5,000 client files in every state: all, needs attention by status, a search;
7. the dispatcher's tick with 20,000 due links over 200 firms (bench/fleet.py);
9. the sync with WoW 50 ms away (bench/latency.py).

No figure is asserted: targets are printed with the ratio, and the report goes to ``bench/results/``.
``--scale 0.1`` shrinks every workload for a dry run (the report then says so).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.imports import import_preview

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
EMAIL = "bench@sandbox.local"
FIRM_SLUG = "bench"


@dataclass
class Figure:
    """One measured figure; ``limit`` is the target's bound (``value ≤ limit`` passes) when it has one."""

    workload: str
    name: str
    value: float
    unit: str
    limit: float | None = None
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.limit if self.limit else None

    @property
    def ok(self) -> bool | None:
        return None if self.limit is None else self.value <= self.limit


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    load: dict[str, list[float]] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        ratio = f"{figure.ratio:.2f}×" if figure.ratio is not None else ""
        mark = {True: "ok", False: "MISSED", None: ""}[figure.ok]
        print(
            f"  {figure.name:<44} {_fmt(figure.value):>12} {figure.unit:<8} {figure.target:<28} {ratio:>7} {mark}",
            flush=True,
        )
        return figure

    def note_load(self, label: str) -> None:
        self.load[label] = [round(x, 2) for x in os.getloadavg()]


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


# --- processes -----------------------------------------------------------------------------------------


def _free_port() -> int:
    from tests.services import free_port

    return free_port()


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=1)
            return
        time.sleep(0.2)
    raise SystemExit(f"Nothing answered on {url} within {timeout:.0f} s.")


@contextlib.contextmanager
def sandbox_process(mode: str = "wow-like") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The WoW sandbox in its own process (its own GIL, as a remote WoW would be), answering WoW-like or
    strict (wow_sandbox/behaviour.py)."""
    port = _free_port()
    strict = ["--strict"] if mode == "strict" else []
    process = subprocess.Popen(
        [sys.executable, "-m", "wow_sandbox", "--port", str(port), *strict],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/_sandbox/stats")
        yield url, process
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc: where the time of a sync goes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """CPU seconds of the benchmarks' own PostgreSQL server so far: its postmaster (found by the port of
    ``DATABASE_URL`` on its command line) with its reaped children (a finished backend's time lands there)
    plus its live children. Other servers on the machine (other suites' throwaway ones) do not count: they
    made the figure move, even below zero, when one of them stopped during a workload."""
    port = str(urlsplit(os.environ["DATABASE_URL"]).port)
    tick = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[int, float, float]] = {}  # pid: (parent, own time, reaped children's time)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            name, _, rest = stat.read_text().partition(") ")
            if not name.endswith("(postgres"):
                continue
            fields = rest.split()
            processes[int(stat.parent.name)] = (
                int(fields[1]),
                (int(fields[11]) + int(fields[12])) / tick,
                (int(fields[13]) + int(fields[14])) / tick,
            )
    total = 0.0
    for pid, (parent, own, children) in processes.items():
        with contextlib.suppress(OSError):
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if parent not in processes and port.encode() in arguments:
                total += own + children + sum(o for p, o, _c in processes.values() if p == pid)
    return total


class Sandbox:
    """The control API of the sandbox (not part of WoW)."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process
        self.session = requests.Session()

    def control(self, method: str, path: str, body: Any = None, timeout: float = 600) -> Any:
        response = self.session.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=timeout)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_folder(self, code: str, **params: int) -> float:
        started = time.perf_counter()
        self.control("POST", "folders", {"code": code, "kind": "generated", "grant": [EMAIL], **params})
        return time.perf_counter() - started

    def exchange_token(self) -> str:
        return str(
            self.control("POST", "exchange-tokens", {"email": EMAIL, "trusted": True})["exchange_token"]
        )

    def cpu(self) -> float:
        return _cpu_of(self.process.pid)


# --- the product's side ----------------------------------------------------------------------------------


@dataclass
class World:
    firm: Any
    admin: Any
    connection: Any


def make_world(sandbox: Sandbox) -> World:
    from clients.models import Role
    from clients.services import firm_create, membership_set, user_get_or_create
    from syncs.services import connection_connect

    firm = firm_create(name="Bench Accountants", slug=FIRM_SLUG)
    admin = user_get_or_create(email="admin@bench.test", password="bench-password-123")
    membership_set(firm=firm, user=admin, role=Role.ADMIN)
    connection = connection_connect(
        firm=firm,
        actor=admin,
        name="WinbooksOnWeb",
        email=EMAIL,
        exchange_token=sandbox.exchange_token(),
        api_url=sandbox.url,
    )
    return World(firm, admin, connection)


def link_company(world: World, code: str) -> Any:
    """A client file linked to ``code`` through the product's service (which queues its first run)."""
    from clients.services import client_file_create
    from syncs.services import client_link_set

    client_file = client_file_create(firm=world.firm, name=f"{code} client", file_code=code)
    return client_link_set(
        client_file=client_file, connection=world.connection, company_code=code, actor=world.admin
    )


def run_in_process(run_id: int, sandbox: Sandbox, profile: Path | None = None) -> dict[str, Any]:
    """One sync in a fresh process (``bench.runner``): its wall time, peak RSS and the sandbox's share."""
    sandbox.control("DELETE", "stats")
    sandbox_cpu, postgres_cpu = sandbox.cpu(), _postgres_cpu()
    command = [sys.executable, "-m", "bench.runner", str(run_id)]
    if profile is not None:
        command += ["--profile", str(profile)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"bench.runner failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
    result["process_seconds"] = wall
    result["sandbox_cpu_seconds"] = sandbox.cpu() - sandbox_cpu
    result["postgres_cpu_seconds"] = _postgres_cpu() - postgres_cpu
    result["sandbox_stats"] = sandbox.control("GET", "stats")
    return result


def request_run(link: Any) -> int:
    from syncs.models import SyncRun
    from syncs.runs import sync_run_request

    run, _ = sync_run_request(link=link, trigger=SyncRun.Trigger.MANUAL)
    return int(run.pk)


def queued_run(link: Any) -> int:
    from syncs.models import SyncRun

    return int(SyncRun.objects.get(link=link, status=SyncRun.Status.QUEUED).pk)


def ledger_matches_snapshot(sandbox: Sandbox, code: str, client_file_id: int) -> tuple[int, int]:
    """Per period and account, the ledger's line count and sum against the sandbox snapshot's ``sums``.
    Returns how many (period, account) pairs differ and how many were compared."""
    from django.db.models import Count, Sum

    from clients.models import Account, EntryLine, Period

    sums = sandbox.control("GET", f"folders/{code}/snapshot")["sums"]
    theirs = {
        (row["BookPeriod_Id"].strip("{}").lower(), row["GLAccount_Id"].strip("{}").lower()): (
            int(row["Count"]),
            Decimal(str(row["Sum"])),
        )
        for row in sums
    }
    periods = dict(Period.objects.filter(client_file_id=client_file_id).values_list("pk", "wow_id"))
    accounts = dict(Account.objects.filter(client_file_id=client_file_id).values_list("pk", "wow_id"))
    # Straight from the lines (not the balance rows the sync's own proof compares): an independent sum.
    ours = {
        (str(periods[row["period_id"]]), str(accounts[row["account_id"]])): (
            row["lines"],
            Decimal(row["total"]),
        )
        for row in EntryLine.objects.filter(client_file_id=client_file_id, period_id__in=list(periods))
        .values("period_id", "account_id")
        .annotate(lines=Count("pk"), total=Sum("amount"))
    }
    differing = sum(1 for key in set(ours) | set(theirs) if ours.get(key) != theirs.get(key))
    return differing, len(theirs)


# --- workloads -------------------------------------------------------------------------------------------


@dataclass
class Scale:
    factor: float

    def n(self, value: int, minimum: int = 1) -> int:
        return max(minimum, int(value * self.factor))


def first_sync_and_memory(
    report: Report, sandbox: Sandbox, world: World, scale: Scale, profile_dir: Path | None
) -> tuple[Any, float]:
    """Workloads 1 and 2: the large first sync, its floors, and memory at 1/10 of its size."""
    from bench.floors import copy_floor, fetch_floor

    big_docs = scale.n(120_000)
    master = {"years": 5, "accounts": 2000, "relations": 4000}
    print(f"\n[1] First sync of a large company ({big_docs:,} documents) and [2] memory", flush=True)
    report.details["build_seconds"] = {
        "SMALL_BV": sandbox.create_folder("SMALL_BV", documents=big_docs // 10, **master),
        "BIG_BV": sandbox.create_folder("BIG_BV", documents=big_docs, **master),
    }
    small_link = link_company(world, "SMALL_BV")
    big_link = link_company(world, "BIG_BV")

    report.note_load("before small sync")
    small = run_in_process(queued_run(small_link), sandbox)
    report.note_load("before large sync")
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    profile = profile_dir / "first_sync.prof" if profile_dir else None
    big = run_in_process(queued_run(big_link), sandbox, profile)
    report.details["first_sync"] = big
    report.details["small_sync"] = small
    lines = big["counts"].get("lines", {}).get("created", 0)
    small_lines = small["counts"].get("lines", {}).get("created", 0)

    report.note_load("before floors")
    fetch = fetch_floor(sandbox.url, EMAIL, "BIG_BV")
    write = copy_floor(big_link.client_file_id)
    report.details["fetch_floor"] = asdict(fetch)
    report.details["write_floor"] = asdict(write)
    floor = fetch.seconds + write.seconds

    w1 = "1 first sync"
    report.add(Figure(w1, "wall time", big["seconds"], "s", target="≤ 1.3 × floors", limit=1.3 * floor))
    report.add(
        Figure(w1, "fetch floor (requests + msgspec)", fetch.seconds, "s", note=f"{fetch.requests} requests")
    )
    report.add(Figure(w1, "write floor (COPY)", write.seconds, "s", note=f"{write.rows:,} rows"))
    report.add(Figure(w1, "lines written", lines, "lines"))
    report.add(Figure(w1, "lines per second", lines / big["seconds"], "lines/s"))
    report.add(Figure(w1, "API calls", big["api_calls"], "calls", note=json.dumps(big["api_calls_by_kind"])))
    report.add(Figure(w1, "worker CPU", big["cpu_seconds"], "s"))
    report.add(Figure(w1, "sandbox CPU during the sync", big["sandbox_cpu_seconds"], "s"))
    report.add(Figure(w1, "PostgreSQL CPU during the sync", big["postgres_cpu_seconds"], "s"))
    busy = big["cpu_seconds"] + big["sandbox_cpu_seconds"] + big["postgres_cpu_seconds"]
    cores = os.cpu_count() or 1
    report.add(
        Figure(
            w1,
            f"CPU of worker, sandbox and PostgreSQL / {cores} cores",
            busy / cores,
            "s",
            note="the shortest the sync could take on this machine with every core busy throughout",
        )
    )
    report.details["first_sync_phases"] = big.get("phases", {})
    not_ok = int(big["status"] != "succeeded") + int(small["status"] != "succeeded")
    report.add(Figure(w1, "runs not succeeded", not_ok, "runs", target="= 0", limit=0, note=big["status"]))
    w2 = "2 memory"
    report.add(Figure(w2, f"peak RSS at {small_lines:,} lines", small["peak_rss_mb"], "MB"))
    report.add(
        Figure(
            w2,
            f"peak RSS at {lines:,} lines",
            big["peak_rss_mb"],
            "MB",
            target="≤ 1.2 × small, < 300 MB",
            limit=min(1.2 * small["peak_rss_mb"], 300),
        )
    )
    report.add(Figure(w2, "RSS after Django setup", big["baseline_rss_mb"], "MB"))
    return big_link, big["seconds"]


def incremental(report: Report, sandbox: Sandbox, big_link: Any, first_seconds: float) -> None:
    """Workload 3: a few changes in 3 periods, then no change at all."""
    from clients.models import AccountBalance

    print("\n[3] Incremental sync", flush=True)
    period_ids = list(
        AccountBalance.objects.filter(client_file_id=big_link.client_file_id, line_count__gt=0)
        .order_by("-period__year", "-period__number")
        .values_list("period__wow_id", flat=True)
        .distinct()[:40]
    )
    chosen = [str(p) for p in dict.fromkeys(period_ids)][::13][:3]
    # An hour later, as a real next sync would be: otherwise everything the generator wrote moments ago is
    # still inside the engine's 5-minute cursor overlap and is read again.
    sandbox.control("POST", "clock", {"advance_seconds": 3600})
    mutated = sandbox.control(
        "POST",
        "folders/BIG_BV/mutate",
        {"edit_documents": 100, "add_documents": 20, "delete_documents": 10, "periods": chosen, "seed": 7},
    )
    report.note_load("before incremental sync")
    inc = run_in_process(request_run(big_link), sandbox)
    differing, pairs = ledger_matches_snapshot(sandbox, "BIG_BV", big_link.client_file_id)
    report.note_load("before no-change sync")
    none = run_in_process(request_run(big_link), sandbox)
    report.details["incremental"] = {
        "mutate": {k: len(v) if isinstance(v, list) else v for k, v in mutated.items()},  # small report
        "periods": chosen,
        "run": inc,
        "pairs_compared": pairs,
    }
    report.details["no_change"] = none
    w3 = "3 incremental"
    report.add(
        Figure(
            w3,
            "(period, account) sums differing from WoW",
            differing,
            "pairs",
            limit=0,
            target="= 0",
            note=f"{pairs:,} pairs compared",
        )
    )
    report.add(
        Figure(
            w3,
            "API calls after 130 changes",
            inc["api_calls"],
            "calls",
            limit=48,
            target="≤ a few dozen (48)",
            note=json.dumps(inc["api_calls_by_kind"]),
        )
    )
    report.add(
        Figure(
            w3,
            "wall time after 130 changes",
            inc["seconds"],
            "s",
            limit=0.03 * first_seconds,
            target="≤ 3 % of first sync",
        )
    )
    report.add(
        Figure(
            w3,
            "API calls with no change",
            none["api_calls"],
            "calls",
            limit=15,
            target="≤ 15",
            note=json.dumps(none["api_calls_by_kind"]),
        )
    )
    report.add(Figure(w3, "wall time with no change", none["seconds"], "s"))


def _time_page(client: Any, url: str, repeat: int) -> tuple[list[float], int, int]:
    from django.db import connection

    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url, HTTP_HOST="127.0.0.1")
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url, HTTP_HOST="127.0.0.1")
        timings.append((time.perf_counter() - started) * 1000)
    return timings, len(queries), len(response.content)


def _profile_page(client: Any, url: str) -> list[str]:
    """Where one request's time goes: the project's and Django's heaviest calls by cumulative time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url, HTTP_HOST="127.0.0.1")
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(clients|syncs|template|db/models)", 12)
    return [line.strip() for line in out.getvalue().splitlines() if line.strip()[:1].isdigit()][:12]


def pages(report: Report, world: World, big_link: Any, scale: Scale) -> None:
    """Workload 5: server time of the two heaviest pages, in-process (Django test Client)."""
    from django.test import Client
    from django.urls import reverse

    from clients.models import ClientFile
    from syncs.models import ClientLink

    print("\n[5] Pages", flush=True)
    linked = ClientLink.objects.filter(firm=world.firm, unlinked_at=None).count()
    extra = max(0, 1000 - linked)
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=world.firm, name=f"Extra {i:04} BV", file_code=f"EXTRA_{i:04}") for i in range(extra)
    )
    ClientLink.objects.bulk_create(
        ClientLink(firm=world.firm, client_file=cf, connection=world.connection, company_code=cf.file_code)
        for cf in files
    )
    client = Client()
    client.force_login(world.admin)
    targets: dict[str, tuple[str, int]] = {
        "trial balance (2,000 accounts)": (
            reverse("trial_balance", args=[FIRM_SLUG, big_link.client_file_id]),
            30,
        ),
        f"Syncs tab ({linked + extra:,} linked files)": (reverse("syncs_tab", args=[FIRM_SLUG]), 30),
    }
    report.note_load("before pages")
    for name, (url, repeat) in targets.items():
        _time_page(client, url, 2)  # warm caches and templates
        timings, queries, size = _time_page(client, url, repeat)
        hot = _profile_page(client, url)
        p95 = statistics.quantiles(timings, n=20)[18]
        report.details.setdefault("pages", {})[name] = {
            "url": url,
            "median_ms": statistics.median(timings),
            "p95_ms": p95,
            "queries": queries,
            "bytes": size,
            "profile_top_cumulative": hot,
        }
        report.add(Figure("5 pages", f"{name}: median", statistics.median(timings), "ms"))
        report.add(Figure("5 pages", f"{name}: p95", p95, "ms", limit=300, target="≤ 300 ms"))
        report.add(Figure("5 pages", f"{name}: queries", queries, "queries"))


def overview_pages(report: Report, world: World) -> None:
    """Workload 6: the firm overview (the control room) at 5,000 client files in every state, as an admin
    opens it, filters it to what needs attention and searches it (server time, in-process)."""
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from clients.models import ClientFile
    from syncs.models import ClientLink, Connection, SyncRun

    print("\n[6] Firm overview", flush=True)
    wanted = 5000
    have = ClientFile.objects.filter(firm=world.firm).count()
    refused = Connection.objects.create(
        firm=world.firm, name="Bench refused", status=Connection.Status.NEEDS_RECONNECT
    )
    files = ClientFile.objects.bulk_create(
        ClientFile(firm=world.firm, name=f"Overview {i:05} BV", file_code=f"OVERVIEW_{i:05}")
        for i in range(max(0, wanted - have))
    )
    # Most files linked (one in 20 on a connection that needs reconnecting), one in 10 not linked; each
    # linked file with a history of three runs ending in success, issues or failure.
    links = ClientLink.objects.bulk_create(
        ClientLink(
            firm=world.firm,
            client_file=cf,
            connection=refused if i % 20 == 0 else world.connection,
            company_code=cf.file_code,
            last_success_at=timezone.now(),
        )
        for i, cf in enumerate(files)
        if i % 10
    )
    statuses = [SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED_WITH_ISSUES, SyncRun.Status.FAILED]
    SyncRun.objects.bulk_create(
        SyncRun(
            link=link,
            client_file_id=link.client_file_id,
            trigger=SyncRun.Trigger.SCHEDULE,
            status=statuses[(i + k) % 3] if k < 2 or i % 7 else SyncRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
        )
        for i, link in enumerate(links)
        for k in range(3)
    )
    total = ClientFile.objects.filter(firm=world.firm).count()
    client = Client()
    client.force_login(world.admin)
    overview = reverse("firm_overview", args=[FIRM_SLUG])
    targets = {
        f"overview ({total:,} files)": overview,
        "overview, needs attention by status": f"{overview}?status=attention&sort=status",
        "overview, search by last sync, page 3": f"{overview}?q=overview+0&sort=last_sync&page=3",
    }
    report.note_load("before overview")
    for name, url in targets.items():
        _time_page(client, url, 2)
        timings, queries, size = _time_page(client, url, 30)
        p95 = statistics.quantiles(timings, n=20)[18]
        report.details.setdefault("pages", {})[name] = {
            "url": url,
            "median_ms": statistics.median(timings),
            "p95_ms": p95,
            "queries": queries,
            "bytes": size,
            "profile_top_cumulative": _profile_page(client, url),
        }
        report.add(Figure("6 overview", f"{name}: median", statistics.median(timings), "ms"))
        report.add(Figure("6 overview", f"{name}: p95", p95, "ms", limit=300, target="≤ 300 ms"))
        report.add(Figure("6 overview", f"{name}: queries", queries, "queries"))


# --- report ------------------------------------------------------------------------------------------------


def write_report(report: Report, started: float, scale: Scale, mode: str = "wow-like") -> None:
    RESULTS.mkdir(exist_ok=True)
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    context = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "revision": revision,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "scale": scale.factor,
        "sandbox_mode": mode,
        "total_seconds": round(time.perf_counter() - started, 1),
        "load_average_1_5_15": report.load,
    }
    data = {
        "context": context,
        "figures": [
            {**asdict(f), "ratio": None if f.ratio is None else round(f.ratio, 3), "ok": f.ok}
            for f in report.figures
        ],
        "details": report.details,
    }
    name = "latest" if mode == "wow-like" else f"latest-{mode}"
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report, context) + "\n")
    print(f"\nReport: {RESULTS / name}.md and {name}.json ({context['total_seconds']} s in all)")


def markdown(report: Report, context: dict[str, Any]) -> str:
    rows = [
        "| Workload | Figure | Value | Target | Ratio | |",
        "|---|---|---:|---|---:|---|",
    ]
    for f in report.figures:
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        mark = {True: "✓", False: "✗", None: ""}[f.ok]
        rows.append(f"| {f.workload} | {f.name} | {_fmt(f.value)} {f.unit} | {f.target} | {ratio} | {mark} |")
    loads = ", ".join(f"{k}: {v[0]}" for k, v in context["load_average_1_5_15"].items())
    head = (
        f"Benchmarks of {context['revision']} on {context['date']}, {context['cpus']} CPUs, "
        f"scale {context['scale']}, sandbox {context['sandbox_mode']}, {context['total_seconds']} s in all. "
        f"1-minute load average: {loads}."
    )
    return head + "\n\n" + "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the workloads (dry runs)")
    parser.add_argument("--profile-dir", type=Path, help="write a cProfile of the large first sync here")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated workloads to skip: incremental,fleet,pages,overview,dispatcher,imports,latency",
    )
    parser.add_argument(
        "--sandbox-mode",
        choices=("wow-like", "strict"),
        default="wow-like",
        help="how the sandbox answers (default %(default)s; strict writes results/latest-strict.*)",
    )
    args = parser.parse_args(argv)
    if "DATABASE_URL" not in os.environ or not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("Run through tests.services (make bench): the benchmarks need PostgreSQL.")
    # Children (runners, Celery workers) inherit these: production-like, no query log kept in memory.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "silverfin_sync.settings")
    os.environ["DJANGO_DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    started = time.perf_counter()
    scale = Scale(args.scale)
    report = Report()
    report.note_load("start")
    skip = set(filter(None, args.skip.split(",")))
    with sandbox_process(args.sandbox_mode) as (url, process):
        sandbox = Sandbox(url, process)
        world = make_world(sandbox)
        big_link, first_seconds = first_sync_and_memory(report, sandbox, world, scale, args.profile_dir)
        if "incremental" not in skip:
            incremental(report, sandbox, big_link, first_seconds)
        if "fleet" not in skip:
            from bench.fleet import fleet

            fleet(report, sandbox, world, scale)
        if "pages" not in skip:
            pages(report, world, big_link, scale)
        if "overview" not in skip:
            overview_pages(report, world)
        if "dispatcher" not in skip:
            from bench.fleet import dispatcher

            dispatcher(report, scale)
        if "imports" not in skip:
            import_preview(report, sandbox, world, scale, Figure)
        if "latency" not in skip:
            from bench.latency import latency

            latency(report, sandbox, world, scale, args.sandbox_mode)
    report.note_load("end")
    write_report(report, started, scale, args.sandbox_mode)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
