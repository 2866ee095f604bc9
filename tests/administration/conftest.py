"""A second and a third company in the sandbox, for linking and importing next to DEMO_BV."""

from __future__ import annotations

from typing import Any

import pytest

from syncs.models import Connection


@pytest.fixture
def connection(connection: Connection, wow_sandbox: Any) -> Connection:
    wow_sandbox.control(
        "POST", "folders", {"code": "SECOND_BV", "kind": "demo", "grant": [wow_sandbox.TESTER]}
    )
    return connection
