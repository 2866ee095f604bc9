"""Run one sync in its own process and report its wall time and peak memory as one JSON line.

Why a separate process: the peak RSS of a sync is only meaningful for a fresh worker-like process, not for
the benchmark driver that also holds snapshots, floors and page timings.

    python -m bench.runner RUN_ID [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import sys
import time


def _status_kb(field: str) -> int:
    """A memory figure of this process (kB) from /proc: ``VmRSS`` now, ``VmHWM`` its peak. Not
    ``getrusage``'s ru_maxrss, which Linux keeps across fork and exec: a runner started by a driver that had
    just read a large snapshot reported the driver's 2.5 GB as its own peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runner")
    parser.add_argument("run_id", type=int)
    parser.add_argument("--profile", help="write a cProfile of the sync to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "silverfin_sync.settings")
    import django

    django.setup()
    from syncs.engine import sync_run_execute

    baseline_kb = _status_kb("VmRSS")
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    run = sync_run_execute(run_id=args.run_id)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    seconds = time.perf_counter() - started
    result = {
        "run_id": run.pk,
        "status": run.status,
        "error": run.error_message,
        "reconciled": run.reconciled,
        "seconds": seconds,
        "api_calls": run.api_calls,
        "api_calls_by_kind": run.api_calls_by_kind,
        "counts": run.counts,
        "phases": run.progress.get("seconds", {}),
        "baseline_rss_mb": baseline_kb / 1024,
        "peak_rss_mb": _status_kb("VmHWM") / 1024,
        "cpu_seconds": _cpu_seconds(),
    }
    sys.stdout.write("BENCH-RESULT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
