"""How long to wait before trying again: one formula for the client's in-request retries and the workers'
run retries (``syncs.runs.retry_delay``), so the two cannot drift apart.

Doubling from ``base`` up to ``cap``, times a random factor in [0.5, 1) so that many callers refused at
once (a firm's files, a licence's workers) do not all come back in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# 2**62 × any sane base is past every cap; the exponent stops there so attempt 10,000 is no OverflowError.
MAX_EXPONENT = 62


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float] | None = None) -> float:
    """The wait before retry ``attempt + 1``: ``min(cap, base × 2**attempt)`` with jitter."""
    delay = min(cap, base * 2 ** min(max(attempt, 0), MAX_EXPONENT))
    return float(delay * (0.5 + 0.5 * (rand or random.random)()))
