"""The firm of ``world`` connected to the WoW sandbox, and its given client file linked to DEMO_BV."""

from __future__ import annotations

from typing import Any

import pytest

from syncs.models import ClientLink, Connection
from syncs.services import client_link_set, connection_connect
from tests.fixtures import FirmWorld


@pytest.fixture
def connection(world: FirmWorld, wow_sandbox: Any) -> Connection:
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
    """Linking queues the first sync (run not started: the test transaction is never committed)."""
    return client_link_set(
        client_file=world.given_file, connection=connection, company_code=wow_sandbox.DEMO, actor=world.staff
    )
