"""Reading ahead from WoW in a thread while the ledger is written.

A sync's stream is a pipeline of two halves that wait on different machines: fetching a page waits on
WoW (then parses and converts it), writing it waits on PostgreSQL. Run one after the other, each half idles
while the other works; with the fetch in a thread, the two overlap. The proof likewise reads WoW's trial
balance while the balances are rebuilt.

The thread only reads: it never writes to the ledger, so the engine's guarantees (one transaction per
page, the cursor moved with it) are unchanged. It may use the database when the WoW client refreshes its
tokens, on a connection of its own, closed when it ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

from django.db import connections

T = TypeVar("T")

# How long the thread waits to hand an item over before checking whether the reader has stopped.
_HANDOVER_POLL_SECONDS = 0.2
# How long closing waits for the thread to notice (it finishes the request in flight first).
_JOIN_SECONDS = 300


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetcher(Generic[T]):
    """The items of ``source``, produced in a thread from the moment this is created, up to ``depth`` items
    ahead of the reader. Use it as a context manager, so the thread stops whenever the reader does.

    An error in ``source`` is raised to the reader where the item would have come, after the items before
    it. On close (the reader done, failed or cancelled), the thread is told to stop and ``source`` is
    closed in the thread that ran it.
    """

    def __init__(self, source: Iterator[T], *, depth: int = 2, name: str = "prefetch") -> None:
        self._source = source
        self._handover: queue.Queue[T | _End | _Failed] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: T | _End | _Failed) -> bool:
        while not self._stop.is_set():
            try:
                self._handover.put(item, timeout=_HANDOVER_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as error:  # handed to the reader, which raises it
            self._put(_Failed(error))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()
            connections.close_all()  # this thread's connections only (they are per thread)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._handover.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_JOIN_SECONDS)

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
