"""Shared set-up of the reliability and security suite (issue #8).

Everything runs against the real PostgreSQL and Redis of ``tests/services.py`` and the WoW sandbox over real
HTTP. Tests that start a real Celery worker are marked ``slow`` (they take a few seconds each, and run in
``make test`` like every other test).
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: starts a real Celery worker process (about 5 s each); part of make test all the same",
    )
