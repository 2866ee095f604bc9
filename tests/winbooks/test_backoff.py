"""One backoff formula for the WoW client's retries and the workers' run retries."""

from __future__ import annotations

import pytest

from syncs import runs
from winbooks.backoff import backoff_delay


@pytest.mark.parametrize(("attempt", "full"), [(0, 30.0), (1, 60.0), (2, 120.0), (4, 480.0), (5, 600.0)])
def test_the_wait_doubles_from_the_base_up_to_the_cap_with_jitter_between_half_and_all(
    attempt: int, full: float
) -> None:
    assert backoff_delay(attempt, base=30, cap=600, rand=lambda: 0.0) == full / 2
    assert backoff_delay(attempt, base=30, cap=600, rand=lambda: 0.999) == pytest.approx(full * 0.9995)


def test_a_huge_attempt_number_is_the_cap_not_an_overflow() -> None:
    assert backoff_delay(10_000, base=0.5, cap=30, rand=lambda: 1.0) == 30.0
    assert backoff_delay(-3, base=0.5, cap=30, rand=lambda: 1.0) == 0.5  # never below the base


def test_the_workers_retry_delay_is_the_same_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("winbooks.backoff.random.random", lambda: 0.0)
    assert [runs.retry_delay(n) for n in range(6)] == [15.0, 30.0, 60.0, 120.0, 240.0, 300.0]
    assert runs.retry_delay(3, base=5, cap=60) == 20.0
