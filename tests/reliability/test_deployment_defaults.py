"""Deployment defaults (issue #17, points 6 and 7): a compose file safe as written, forwarded headers believed
from the proxy only, a Content-Security-Policy, an idle session timeout, a lock file used by the image and the
suite's virtual environment, and `make audit` over it."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD
from tests.fixtures import FirmWorld
from tests.test_deployment import ROOT, load_compose

APP_SERVICES = ["migrate", "web", "worker", "beat"]


def test_only_the_tls_proxy_is_published_and_gunicorn_is_reachable_from_it_alone() -> None:
    compose = load_compose()
    services = compose["services"]
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert published == {"proxy": ["80:80", "443:443"]}
    proxy = services["proxy"]
    assert proxy["command"][:2] == ["caddy", "reverse-proxy"]  # terminates TLS (automatic HTTPS)
    assert proxy["command"][proxy["command"].index("--to") + 1] == "web:8000"
    # gunicorn's network holds the proxy and the web site only.
    members = {name for name, service in services.items() if "front" in service.get("networks", [])}
    assert members == {"proxy", "web"}
    proxy_address = proxy["networks"]["front"]["ipv4_address"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["TRUSTED_PROXIES"] == proxy_address, name
        assert environment["ALLOWED_HOSTS"] == "${SITE_DOMAIN:?set SITE_DOMAIN}"


def test_redis_needs_a_password_and_every_client_gives_it() -> None:
    services = load_compose()["services"]
    command = services["redis"]["command"]
    assert command[command.index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
            assert environment[variable].startswith("redis://:${REDIS_PASSWORD:?"), (name, variable)


def test_every_service_has_cpu_and_memory_limits() -> None:
    for name, service in load_compose()["services"].items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert float(limits.get("cpus", 0)) > 0 and re.fullmatch(r"\d+[MG]", limits.get("memory", "")), name


@pytest.mark.django_db
@pytest.mark.parametrize(("peer", "believed"), [("203.0.113.9", False), ("172.30.0.2", True)])
def test_x_forwarded_proto_is_believed_from_the_trusted_proxy_only(
    settings: Any, peer: str, believed: bool
) -> None:
    settings.TRUSTED_PROXIES = ["172.30.0.2"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get(reverse("login"), REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https")
    if believed:
        assert response.status_code == 200
    else:  # taken for what it is, plain HTTP: sent to HTTPS
        assert response.status_code == 301 and response["Location"].startswith("https://")


@pytest.mark.django_db
def test_every_page_carries_a_content_security_policy(world: FirmWorld) -> None:
    client = Client()
    client.force_login(world.staff)
    for url in (reverse("login"), reverse("firm_overview", args=[world.firm.slug])):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
        assert "unsafe" not in policy


@pytest.mark.django_db
def test_an_idle_session_ends(world: FirmWorld, settings: Any) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    from silverfin_sync.idle_sessions import IDLE_TOUCH_SECONDS, TOUCHED_AT

    client = Client()
    client.post(reverse("login"), {"username": world.staff.username, "password": PASSWORD})
    assert 0 < client.session.get_expiry_age() <= 3600
    home = reverse("firm_overview", args=[world.firm.slug])
    key = client.session.session_key
    # A request more than a minute after the last push pushes the expiry on (an active user stays in)...
    stored = SessionStore(session_key=key)
    stored[TOUCHED_AT] = int(time.time()) - IDLE_TOUCH_SECONDS - 1
    stored.save()
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + dt.timedelta(seconds=5))
    assert client.get(home).status_code == 200
    assert Session.objects.get(pk=key).expire_date > timezone.now() + dt.timedelta(seconds=3000)
    # ...and an idle one is over.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(home)["Location"].startswith("/accounts/login/")


def _pins(path: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[\w.+-]+", version), f"{path}: not pinned: {line}"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_the_lock_files_pin_everything_and_the_image_and_the_suite_install_from_them() -> None:
    import tomllib

    product = _pins("requirements.lock")
    everything = _pins("requirements-dev.lock")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=~! ]", requirement, maxsplit=1)[0].lower()
        assert name in product and everything[name] == product[name], name
    for requirement in project["optional-dependencies"]["dev"]:
        assert re.split(r"[\[<>=~! ]", requirement, maxsplit=1)[0].lower() in everything, requirement
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*requirements\.lock", dockerfile, re.M)
    assert "pip install --no-cache-dir --constraint requirements.lock ." in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --constraint requirements-dev.lock -e '.[dev]'" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml requirements-dev\.lock$", makefile, re.M)


def test_make_audit_runs_pip_audit_over_both_lock_files() -> None:
    plan = subprocess.run(
        ["make", "-n", "audit"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    (command,) = [line for line in plan.splitlines() if "pip-audit" in line]
    assert "--requirement requirements.lock" in command and "--requirement requirements-dev.lock" in command
    assert "--strict" in command  # a package the advisory database cannot be asked about fails the audit
    assert (ROOT / ".venv/bin/pip-audit").exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_policy_blocks_nothing_the_pages_need(page: Any, live_server: Any, world: FirmWorld) -> None:
    """In Chromium, under the policy: log in, the firm's overview, a client file page (htmx loads and
    polls), the profile; the browser reports no violation."""
    from tests.ledger.test_browser import log_in

    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )
    log_in(page, live_server, world.staff.username)
    page.goto(
        f"{live_server.url}{reverse('client_file_detail', args=[world.firm.slug, world.given_file.pk])}"
    )
    page.wait_for_function("() => window.htmx !== undefined")
    page.goto(f"{live_server.url}{reverse('profile')}")
    page.get_by_role("link", name="Change password").click()
    page.wait_for_url(f"**{reverse('password_change')}")
    assert violations == [], "\n".join(violations)
