"""Production settings and the deployment files: the start-up guard, `check --deploy`, docker-compose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from silverfin_sync.settings import _REQUIRED_IN_PRODUCTION
from syncs.runs import QUEUE_NOW, QUEUE_SCHEDULED

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "p" + "k4$9mZq!r7Lw2@xV8#nB5^tY1&cJ6*hF3(gD0)sA-eU_iO+oP=" * 2
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "FIELD_ENCRYPTION_KEYS": "ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE=",
    "DATABASE_URL": "sqlite:////tmp/silverfin-deploy-check.db",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    "REDIS_URL": "redis://127.0.0.1:1/1",
    "ALLOWED_HOSTS": "sync.example.com",
}


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_environment_here_is_what_the_guard_demands() -> None:
    assert set(_REQUIRED_IN_PRODUCTION) <= set(PRODUCTION_ENV)


@pytest.mark.parametrize(
    "missing", sorted(_REQUIRED_IN_PRODUCTION)
)  # every one of them, from the guard itself
def test_production_refuses_to_start_without_a_secret_naming_it(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_ENV=production needs these environment variables" in result.stderr
    assert missing in result.stderr
    assert STRONG_KEY not in result.stderr  # the message names variables, never their values


def test_check_deploy_is_clean_in_production() -> None:
    result = run_manage(PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_development_mode_needs_no_environment() -> None:
    result = run_manage({"DATABASE_URL": "sqlite:////tmp/silverfin-dev-check.db"}, "check")
    assert result.returncode == 0, result.stderr


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_describes_every_service_the_design_needs() -> None:
    services = load_compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


@pytest.mark.parametrize("service", ["web", "worker", "beat", "migrate"])
def test_every_app_service_reads_the_production_settings(service: str) -> None:
    from silverfin_sync import settings

    env = load_compose()["services"][service]["environment"]
    assert env["DJANGO_ENV"] == "production"
    # Every variable the production guard demands is provided, from the same anchor.
    assert set(settings._REQUIRED_IN_PRODUCTION) <= set(env)
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://:") and "@redis:6379/" in env["REDIS_URL"]
    assert env["CELERY_BROKER_URL"].startswith("redis://:") and "@redis:6379/" in env["CELERY_BROKER_URL"]


def test_service_commands_match_the_code() -> None:
    from silverfin_sync import settings

    services = load_compose()["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "silverfin_sync.wsgi:application"]
    worker = services["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "silverfin_sync", "worker"]
    queues = worker[worker.index("-Q") + 1].split(",")
    # Both queues the product sends runs to: the nightly ones and "Sync now" / first syncs.
    assert sorted(queues) == sorted({QUEUE_SCHEDULED, QUEUE_NOW})
    assert settings.CELERY_TASK_DEFAULT_QUEUE in queues
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "silverfin_sync", "beat"]
    assert beat[beat.index("--scheduler") + 1] == settings.CELERY_BEAT_SCHEDULER
    assert "replicas" not in services["beat"].get("deploy", {})  # exactly one beat


def test_workers_recycle_on_memory_and_sync_now_has_workers_of_its_own() -> None:
    from silverfin_sync.management.commands import rundemo

    services = load_compose()["services"]
    commands = {name: service.get("command") or [] for name, service in services.items()}
    workers = {name: c for name, c in commands.items() if isinstance(c, list) and c[3:4] == ["worker"]}
    assert len(workers) >= 2
    for name, command in workers.items():
        assert int(command[command.index("--max-memory-per-child") + 1]) > 0, name
    only_now = [c for c in workers.values() if c[c.index("-Q") + 1].split(",") == [QUEUE_NOW]]
    assert only_now, "no worker serves the Sync now queue alone"
    assert "--max-memory-per-child" in Path(rundemo.__file__).read_text()


def test_the_sandbox_imports_nothing_of_the_client() -> None:
    """wow_sandbox/ plays WoW against our client: sharing code with it would hide the client's mistakes."""
    import ast

    offending = []
    for path in sorted((ROOT / "wow_sandbox").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offending += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] in {"winbooks", "syncs", "clients", "silverfin_sync", "django"}
            ]
    assert offending == []


def test_the_sandbox_is_neither_in_the_wheel_nor_in_the_production_image() -> None:
    import tomllib

    from setuptools import find_packages

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = find_packages(str(ROOT), include=found["include"], exclude=found.get("exclude", ()))
    assert "winbooks" in shipped and "syncs" in shipped
    assert not [name for name in shipped if name.startswith("wow_sandbox")]
    copied = [
        line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
    ]
    assert "winbooks" in copied and not [source for source in copied if "sandbox" in source]
