"""Throwaway PostgreSQL, Redis and SMTP servers on loopback, for the test suite and the benchmarks.

    python -m tests.services -- pytest ...

starts them in a temporary folder on free ports, runs the command with ``DATABASE_URL``, ``REDIS_URL``,
``CELERY_BROKER_URL`` and ``EMAIL_URL`` pointing at them, stops them and exits with the command's exit code.
The SMTP server (aiosmtpd) keeps every message it receives in the Maildir ``TEST_SMTP_MAILDIR``; the
``smtp_mail`` fixture (tests/fixtures.py) reads them back. The folder and ports are exported too
(``TEST_PG_DATADIR``, ``TEST_PG_PORT``, ``TEST_REDIS_PORT``, ...) so the reliability tests can restart a
server mid-run (``restart_postgres`` below).

``initdb`` refuses to run as root; as root the servers run as the unprivileged ``postgres`` user (created
by Debian's postgresql package), which owns the temporary folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PG_USER = "app"
PG_DATABASE = "app"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    found = candidates[0] if candidates else shutil.which(name)
    if not found:
        raise SystemExit(
            f"PostgreSQL's {name} was not found; install the 'postgresql' package (make test does)."
        )
    return found


def _as_service_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"Nothing answered on 127.0.0.1:{port} within {timeout:.0f} s.")


def start_postgres(folder: Path, port: int) -> None:
    datadir = folder / "pg"
    datadir.mkdir()
    if os.geteuid() == 0:
        uid = pwd.getpwnam("postgres").pw_uid
        os.chown(folder, uid, -1)
        os.chown(datadir, uid, -1)
    subprocess.run(
        _as_service_user([_pg_bin("initdb"), "-D", str(datadir), "-A", "trust", "-U", PG_USER, "-E", "UTF8"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pg_ctl_start(datadir, port)
    subprocess.run(
        [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, PG_DATABASE], check=True
    )


def pg_ctl_start(datadir: Path, port: int) -> None:
    # Durability is pointless for a throwaway test server; turning it off makes the suite much faster.
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {datadir} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_service_user(
            [_pg_bin("pg_ctl"), "-D", str(datadir), "-o", options, "-l", str(datadir / "log"), "-w", "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def pg_ctl_stop(datadir: Path, mode: str = "fast") -> None:
    subprocess.run(
        _as_service_user([_pg_bin("pg_ctl"), "-D", str(datadir), "-m", mode, "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def restart_postgres() -> None:
    """Restart the test PostgreSQL (for tests that prove recovery from a database restart)."""
    datadir = Path(os.environ["TEST_PG_DATADIR"])
    pg_ctl_stop(datadir, mode="immediate")
    pg_ctl_start(datadir, int(os.environ["TEST_PG_PORT"]))


def start_redis(folder: Path, port: int) -> subprocess.Popen[bytes]:
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(redis).exists():
        raise SystemExit("redis-server was not found; install the 'redis-server' package (make test does).")
    (folder / "redis").mkdir()
    process = subprocess.Popen(
        [
            redis,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder / "redis"),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    _wait_for_port(port)
    return process


def start_smtp(maildir: Path, port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd on loopback, delivering every message into ``maildir`` (a real SMTP conversation)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "--nosetuid",
            "--listen",
            f"127.0.0.1:{port}",
            "--class",
            "aiosmtpd.handlers.Mailbox",
            str(maildir),
        ],
        stdout=subprocess.DEVNULL,
    )
    _wait_for_port(port)
    return process


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


@contextlib.contextmanager
def running_services() -> Iterator[dict[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="silverfin-sync-test-"))
    pg_port, redis_port, smtp_port = free_port(), free_port(), free_port()
    redis_process: subprocess.Popen[bytes] | None = None
    smtp_process: subprocess.Popen[bytes] | None = None
    try:
        start_postgres(folder, pg_port)
        redis_process = start_redis(folder, redis_port)
        smtp_process = start_smtp(folder / "mail", smtp_port)
        yield {
            "DATABASE_URL": f"postgres://{PG_USER}@127.0.0.1:{pg_port}/{PG_DATABASE}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "TEST_SERVICES_DIR": str(folder),
            "TEST_PG_DATADIR": str(folder / "pg"),
            "TEST_PG_PORT": str(pg_port),
            "TEST_REDIS_PORT": str(redis_port),
            "TEST_REDIS_DIR": str(folder / "redis"),
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "TEST_SMTP_MAILDIR": str(folder / "mail"),
        }
    finally:
        _stop(smtp_process)
        _stop(redis_process)
        pg_ctl_stop(folder / "pg")
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: python -m tests.services -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    with running_services() as service_env:
        env = {**os.environ, **service_env}
        print(
            f"PostgreSQL on 127.0.0.1:{env['TEST_PG_PORT']}, Redis on 127.0.0.1:{env['TEST_REDIS_PORT']}, "
            f"SMTP on {env['EMAIL_URL'].removeprefix('smtp://')}"
        )
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
