"""The network between a client and WoW, played on loopback: a fixed latency per request and a bandwidth limit.

On loopback a WoW call costs about a millisecond of network; over the internet to WinbooksOnWeb it costs
tens to hundreds. The benchmarks (and a test) set both here so that what the product does about latency
(requests kept in flight) can be measured; by default both are off.

- ``latency_ms``: every WoW request (data and token routes; never the control API) waits this long before
  it is answered, outside the store's lock, so requests in flight at once wait at the same time, as they
  would on a real network.
- ``bandwidth_bytes_per_second``: the answers' bodies share one link of this capacity (the narrowest hop
  between the client and WoW): each piece written reserves its time on the link, so four connections get a
  quarter of it each, not four times it. ``None``: no limit.

The sandbox also counts the WoW requests it is handling at once (``in_flight``, its maximum since the
statistics were last reset): what a client's concurrency really was, seen from the server.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

# Bytes written per piece when the bandwidth is limited: small enough to pace a link fairly between
# connections, large enough that sleeping per piece stays cheap.
PIECE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Network:
    latency_ms: float = 0.0
    bandwidth_bytes_per_second: float | None = None

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self, values: dict[str, Any]) -> Network:
        """A copy with ``values`` applied; ValueError names the first bad key or value."""
        updates: dict[str, Any] = {}
        for key, value in values.items():
            if key == "latency_ms":
                if not _number(value) or not 0 <= value <= 60_000:
                    raise ValueError("latency_ms must be a number of milliseconds from 0 to 60000")
                updates[key] = float(value)
            elif key == "bandwidth_bytes_per_second":
                if value is not None and (not _number(value) or not 1_000 <= value < math.inf):
                    raise ValueError("bandwidth_bytes_per_second must be null or a number of at least 1000")
                updates[key] = None if value is None else float(value)
            else:
                raise ValueError(f"unknown network setting {key!r} (latency_ms, bandwidth_bytes_per_second)")
        return replace(self, **updates)


def _number(value: Any) -> bool:
    # The control API reads JSON numbers with a fraction as Decimal.
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and math.isfinite(value)


NO_DELAY = Network()


class Link:
    """The shared link the answers go through: paces writes to the bandwidth, counts requests in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free_at = 0.0  # time.monotonic() when the link has sent everything reserved so far
        self.in_flight = 0
        self.max_in_flight = 0

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset_max(self) -> None:
        with self._lock:
            self.max_in_flight = self.in_flight

    def describe(self) -> dict[str, int]:
        with self._lock:
            return {"now": self.in_flight, "max": self.max_in_flight}

    def wait_latency(self, network: Network) -> None:
        if network.latency_ms > 0:
            time.sleep(network.latency_ms / 1000)

    def write(self, network: Network, write: Any, data: bytes) -> None:
        """``write(data)``, paced to the link's bandwidth when it has one."""
        rate = network.bandwidth_bytes_per_second
        if not rate:
            write(data)
            return
        view = memoryview(data)
        for start in range(0, len(view), PIECE_BYTES):
            piece = view[start : start + PIECE_BYTES]
            with self._lock:
                now = time.monotonic()
                begins = max(now, self._free_at)
                self._free_at = begins + len(piece) / rate
                done = self._free_at
            time.sleep(max(0.0, done - time.monotonic()))
            write(piece)
