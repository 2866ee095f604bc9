"""A real Celery worker process on the test database, and the test Redis, for the reliability tests."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parent.parent.parent


def test_database_url() -> str:
    """DATABASE_URL pointing at pytest-django's test database (not the one in the environment)."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def purge_broker() -> None:
    """Forget every message an earlier test left in the broker."""
    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()


def broker_messages() -> int:
    """Messages the broker holds: waiting in the queues, or delivered and not yet acknowledged (a retry
    waiting for its countdown is held unacknowledged)."""
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    return int(broker.llen("syncs") + broker.llen("syncs-now") + broker.hlen("unacked"))


class Worker:
    def __init__(self, log: Path, **env: str) -> None:
        self.log = log
        environment = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        environment.update(
            {
                "DATABASE_URL": test_database_url(),
                "SYNC_STALE_AFTER_SECONDS": "2",
                "PYTHONUNBUFFERED": "1",
                **env,
            }
        )
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "silverfin_sync",
                    "worker",
                    "--pool",
                    "solo",
                    "-Q",
                    "syncs-now,syncs",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "info",
                ],
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def count(self, text: str) -> int:
        """How many times ``text`` occurs in the whole log (task receipts, the product's log lines)."""
        return self.log.read_text(errors="replace").count(text)


@contextlib.contextmanager
def worker(log: Path, **env: str) -> Iterator[Worker]:
    started = Worker(log, **env)
    try:
        yield started
    finally:
        started.stop()


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 25.0, every: float = 0.2, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what or condition}")


# --- Redis restarts ---------------------------------------------------------------------------------------

_started_redis: list[subprocess.Popen[bytes]] = []


def _stop_started_redis() -> None:
    for process in _started_redis:
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


atexit.register(_stop_started_redis)


def restart_redis() -> None:
    """Stop the test Redis without saving (queued messages are lost) and start it again on the same port
    with the arguments tests/services.py uses."""
    port = os.environ["TEST_REDIS_PORT"]
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    subprocess.run([cli, "-p", port, "shutdown", "nosave"], check=False, capture_output=True, timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run([cli, "-p", port, "ping"], capture_output=True, timeout=5).returncode != 0:
            break
        time.sleep(0.1)
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [
            server,
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            os.environ["TEST_REDIS_DIR"],
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    _started_redis.append(process)
    wait_for(
        lambda: subprocess.run([cli, "-p", port, "ping"], capture_output=True, timeout=5).returncode == 0,
        timeout=10,
        what="Redis to start again",
    )


def reconnect_database() -> None:
    connections.close_all()
