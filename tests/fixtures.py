"""Domain fixtures shared by the whole suite: a firm with one user per role, a second firm to prove
isolation, the first firm connected to the WoW sandbox with its given client file linked to DEMO_BV, and mail
really sent over SMTP."""

from __future__ import annotations

import email
import email.message
import email.policy
import mailbox
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from clients.models import ClientFile, Firm, Role
from syncs.models import ClientLink, Connection
from syncs.services import client_link_set, connection_connect

from .factories import ClientFileFactory, FirmFactory, MembershipFactory, UserFactory


@dataclass
class FirmWorld:
    firm: Firm
    admin: User
    staff: User
    external: User
    pulse: User
    given_file: ClientFile  # given to the external contributor and the Pulse user
    other_file: ClientFile  # not given to them

    def user(self, role: Role) -> User:
        return {
            Role.ADMIN: self.admin,
            Role.STAFF: self.staff,
            Role.EXTERNAL: self.external,
            Role.PULSE: self.pulse,
        }[role]


def make_firm_world(prefix: str) -> FirmWorld:
    firm = FirmFactory.create(name=f"{prefix.title()} Accountants", slug=prefix)
    given = ClientFileFactory.create(
        firm=firm, name=f"{prefix.title()} Given BV", file_code=f"{prefix.upper()}-G"
    )
    other = ClientFileFactory.create(
        firm=firm, name=f"{prefix.title()} Other NV", file_code=f"{prefix.upper()}-O"
    )
    users = {}
    for role in Role:
        user = UserFactory.create(username=f"{role.value}@{prefix}.test")
        membership = MembershipFactory.create(user=user, firm=firm, role=role)
        if role in {Role.EXTERNAL, Role.PULSE}:
            membership.client_files.set([given])
        users[role] = user
    return FirmWorld(
        firm=firm,
        admin=users[Role.ADMIN],
        staff=users[Role.STAFF],
        external=users[Role.EXTERNAL],
        pulse=users[Role.PULSE],
        given_file=given,
        other_file=other,
    )


@pytest.fixture
def world(db: None) -> FirmWorld:
    return make_firm_world("alpha")


@pytest.fixture
def other_world(db: None) -> FirmWorld:
    return make_firm_world("beta")


def delivery_order(key: str) -> tuple[int, int, int]:
    """A Maildir key's place in delivery order. The key is ``<seconds>.M<microseconds>P<pid>Q<count>.<host>``
    with nothing zero-padded, so sorting keys as text put ``M99999`` after ``M100000`` and read two mails
    sent in order back swapped."""
    found = re.match(r"(\d+)\.M(\d+)P\d+Q(\d+)\.", key)
    assert found, f"not a Maildir key of Python's mailbox module: {key}"
    seconds, microseconds, count = found.groups()
    return int(seconds), int(microseconds), int(count)


class SmtpMail:
    """The messages the suite's SMTP server (aiosmtpd, started by tests/services.py) received."""

    def __init__(self, maildir: str) -> None:
        self.maildir = mailbox.Maildir(maildir, create=True)

    def clear(self) -> None:
        self.maildir.clear()

    def messages(self) -> list[email.message.EmailMessage]:
        """The messages in the order the server received them."""
        parsed = []
        for key in sorted(self.maildir.keys(), key=delivery_order):
            raw = self.maildir.get_bytes(key)
            parsed.append(
                email.message_from_bytes(raw, _class=email.message.EmailMessage, policy=email.policy.default)
            )
        return parsed

    def wait_for(self, count: int, timeout: float = 10.0) -> list[email.message.EmailMessage]:
        """The messages once ``count`` have arrived (delivery is done when Django's send returns, but the
        server writes the file after answering)."""
        deadline = time.monotonic() + timeout
        while len(self.maildir) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages()


@pytest.fixture
def smtp_mail(settings: Any) -> SmtpMail:
    """Mail really sent over SMTP to the suite's server, and read back; empty at the start of the test.

    pytest-django swaps in the in-memory mail backend for every test; this fixture puts Django's SMTP
    backend back, with the host and port of ``EMAIL_URL``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    mail = SmtpMail(os.environ["TEST_SMTP_MAILDIR"])
    mail.clear()
    return mail


@pytest.fixture
def connection(world: FirmWorld, wow_sandbox: Any) -> Connection:
    """The firm of ``world`` connected to the sandbox (a real token exchange over HTTP)."""
    return connection_connect(
        firm=world.firm,
        actor=world.admin,
        name="WinbooksOnWeb",
        email=wow_sandbox.TESTER,
        exchange_token=wow_sandbox.exchange_token(),
        api_url=wow_sandbox.url,
    )


@pytest.fixture
def link(world: FirmWorld, connection: Connection, wow_sandbox: Any) -> ClientLink:
    """The given client file linked to DEMO_BV by staff. Linking queues the first sync, which no worker
    runs: tests execute it themselves (in a test transaction, its message is never even sent)."""
    return client_link_set(
        client_file=world.given_file, connection=connection, company_code=wow_sandbox.DEMO, actor=world.staff
    )


@pytest.fixture
def celery_worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process on the test database and the test Redis broker."""
    from silverfin_sync.celery import app

    app.control.purge()  # tasks other tests queued for runs that no longer exist
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    worker = subprocess.Popen(
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
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
    )
    yield worker
    worker.terminate()
    worker.wait(timeout=20)
