"""Shared by the WoW client's tests (test_client_*.py): one strict mock of HTTP, instead of a copy per module.

The fake API's address, the e-mail and the clock those tests use are in ``tests/winbooks/fake_api.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """HTTP answered only by what the test registers; every registered answer must have been asked for."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
