"""Calls made while a person waits cannot take the web site down: every gunicorn worker busy connecting to
a WoW host that never answers, and the log-in page still answers.

Real gunicorn (two sync workers, as in production but fewer) on the test database. Two admins press
"Connect" at once with an API location whose token endpoint takes ten minutes to answer: each request
gives up after the interactive deadline (a few seconds, no retries) and says WoW could not be reached, and
meanwhile a third person's log-in page is served (within 30 s; with the sync client's limits it would wait
for minutes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.fixtures import FirmWorld
from tests.hostile_wow import hostile_server
from tests.services import free_port

from .workers import ROOT, wait_for
from .workers import test_database_url as database_url

WORKERS = ["--workers", "2", "--timeout", "600"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def logged_in(base: str, user: Any) -> requests.Session:
    """A browser session of ``user`` on the gunicorn site (the session store is shared with it)."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    return session


def test_connect_calls_to_a_hung_host_leave_the_log_in_page_answering(
    world: FirmWorld, other_world: FirmWorld, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": database_url(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "silverfin_sync.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            *WORKERS,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _answers(base), timeout=30, what="gunicorn to start")
        admins = [logged_in(base, world.admin), logged_in(base, other_world.admin)]
        with hostile_server("slow", interval=600) as hung:
            answers: list[Any] = []

            def connect(session: requests.Session, slug: str) -> None:
                url = base + reverse("sync_connect_winbooks", args=[slug])
                form = session.get(url, timeout=30).text
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
                assert token
                data = {
                    "name": "WoW",
                    "email": "a@b.be",
                    "exchange_token": "x",
                    "api_url": hung.url,
                    "csrfmiddlewaretoken": token.group(1),
                }
                answers.append(session.post(url, data=data, headers={"Referer": url}, timeout=120))

            threads = [
                threading.Thread(target=connect, args=(admins[0], world.firm.slug)),
                threading.Thread(target=connect, args=(admins[1], other_world.firm.slug)),
            ]
            for thread in threads:
                thread.start()
            # Both web workers are now waiting on the hung token endpoint.
            wait_for(lambda: hung.requests == 2, timeout=30, what="both connect calls to reach the host")
            page = requests.get(base + reverse("login"), timeout=30)
            assert page.status_code == 200
            assert hung.bytes_sent == 0  # served while the host still had not answered anything
            for thread in threads:
                thread.join(timeout=60)
        assert len(answers) == 2
        for answer in answers:
            assert answer.status_code == 200 and "could not be reached" in answer.text
        assert hung.requests == 2  # no retries from a web request
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _answers(base: str) -> bool:
    try:
        return requests.get(base + reverse("login"), timeout=5).status_code == 200
    except requests.RequestException:
        return False
