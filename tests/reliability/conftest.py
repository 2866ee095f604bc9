"""Shared set-up of the reliability and security suite (issue #8).

Everything runs against the real PostgreSQL and Redis of ``tests/services.py`` and the WoW sandbox over real
HTTP. Tests that start a real Celery worker are marked ``slow`` (they take a few seconds each, and run in
``make test`` like every other test).
"""

from __future__ import annotations

from typing import Any

import pytest

from syncs.models import ClientLink
from tests.fixtures import FirmWorld

from .helpers import connect_and_link


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: starts a real Celery worker process (about 5 s each); part of make test all the same",
    )


@pytest.fixture
def link(world: FirmWorld, wow_sandbox: Any) -> ClientLink:
    return connect_and_link(world, wow_sandbox)
