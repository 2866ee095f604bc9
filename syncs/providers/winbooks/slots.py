"""A cap on concurrent requests per WinbooksOnWeb licence, shared by every worker: a Redis semaphore.

One slow licence (or many files of one firm) must not hold every worker in a request to it, and WoW is
not asked more than ``WOW_MAX_CONCURRENT_REQUESTS`` things at once per connection, whichever worker asks.
Each slot is a member of a sorted set scored by its lease's end: a worker that dies holding one frees it
when the lease ends (the exchange's deadline and a margin), so slots never leak. Without Redis (the
embedded development mode) there is no cap.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis
from django.conf import settings

import winbooks

# Take a slot if fewer than ARGV[3] unexpired ones are held: atomic, so two workers cannot both take the last.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])) + 1)
  return 1
end
return 0
"""


@functools.cache
def _redis(url: str) -> Any:
    return redis.Redis.from_url(url)


def requests_in_flight_per_run() -> int:
    """How many requests one run keeps in flight to WoW at most: ``WOW_REQUESTS_IN_FLIGHT_PER_RUN``, never
    above the licence's cap (which every run and worker of the connection share: a run may find fewer slots
    free, and then waits for them)."""
    wanted = max(1, settings.WOW_REQUESTS_IN_FLIGHT_PER_RUN)
    cap = settings.WOW_MAX_CONCURRENT_REQUESTS
    return min(wanted, cap) if cap > 0 else wanted


def licence_slot(connection_id: int) -> Callable[[float], contextlib.AbstractContextManager[None]] | None:
    """What the WoW client is given as ``exchange_slot`` for this connection, or None without a cap."""
    limit = settings.WOW_MAX_CONCURRENT_REQUESTS
    if not settings.REDIS_URL or limit <= 0:
        return None
    key = f"wow-slots:{connection_id}"

    @contextlib.contextmanager
    def slot(seconds: float) -> Iterator[None]:
        client = _redis(settings.REDIS_URL)
        token = uuid.uuid4().hex
        give_up = time.monotonic() + settings.WOW_SLOT_WAIT_SECONDS
        while True:
            now = time.time()
            if client.eval(_ACQUIRE, 1, key, now, now + seconds + 10, limit, token):
                break
            if time.monotonic() >= give_up:
                raise winbooks.SlotUnavailable(key)
            time.sleep(0.05 + 0.15 * random.random())  # noqa: S311
        try:
            yield
        finally:
            client.zrem(key, token)

    return slot
