"""Reading ahead from WoW in a thread while the ledger is written, and reading several things at once.

A sync's stream is a pipeline of two halves that wait on different machines: fetching a page waits on
WoW (then parses and converts it), writing it waits on PostgreSQL. Run one after the other, each half idles
while the other works; with the fetch in a thread, the two overlap. The proof likewise reads WoW's trial
balance while the balances are rebuilt.

The thread only reads: it never writes to the ledger, so the engine's guarantees (one transaction per
page, the cursor moved with it) are unchanged. It may use the database when the WoW client refreshes its
tokens, on a connection of its own, closed when it ends.

``Interleaved`` and ``OrderedMap`` keep several requests in flight (WoW's latency is paid once per round of
requests, not once per request): several sources read by several threads, their items handed over as they
come, or one function over many items, its results handed back in order.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from types import TracebackType
from typing import Generic, TypeVar

from django.db import connections

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")

# How long the thread waits to hand an item over before checking whether the reader has stopped.
_HANDOVER_POLL_SECONDS = 0.2
# How long closing waits for the thread to notice (it finishes the request in flight first).
_JOIN_SECONDS = 300


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _SourceDone:
    def __repr__(self) -> str:
        return "SOURCE_DONE"


#: What ``Interleaved`` hands over after a source's last item.
SOURCE_DONE = _SourceDone()


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
        self._held: _End | _Failed | None = None  # met by ``ready``, handed to the iteration
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
            item = self._held if self._held is not None else self._handover.get()
            self._held = None
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def ready(self, limit: int) -> list[T]:
        """Up to ``limit`` items already fetched, without waiting for any: the reader may take what has
        piled up in one go. The end of the source, or its error, stays for the iteration to meet."""
        items: list[T] = []
        while len(items) < limit and self._held is None:
            try:
                item = self._handover.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, (_End, _Failed)):
                self._held = item
            else:
                items.append(item)
        return items

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_JOIN_SECONDS)

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class _WorkerEnded:
    pass


class Interleaved(Generic[T]):
    """The items of several sources read at once: ``workers`` threads each take the next source not yet
    taken and read it to its end, handing its items over as they come, as ``(source index, item)``, and
    ``(source index, SOURCE_DONE)`` after its last one. At most ``depth`` items wait to be taken, so a
    slow reader holds the threads back instead of their items piling up.

    Each source is a callable that makes its iterator in the thread that reads it (which is where a source
    that holds a connection should open it). As with ``Prefetcher``: use it as a context manager; an error
    in any source is raised to the reader after the items handed over before it, and closing stops every
    thread (each closes what it was reading, and its database connections).
    """

    def __init__(
        self,
        sources: Sequence[Callable[[], Iterator[T]]],
        *,
        workers: int,
        depth: int,
        name: str = "interleaved",
    ) -> None:
        self._sources = sources
        self._next = iter(range(len(sources)))
        self._next_lock = threading.Lock()
        self._handover: queue.Queue[tuple[int, T | _SourceDone] | _Failed | _WorkerEnded] = queue.Queue(
            maxsize=max(1, depth)
        )
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, min(workers, len(sources))))
        ]
        for thread in self._threads:
            thread.start()

    def _put(self, item: tuple[int, T | _SourceDone] | _Failed | _WorkerEnded) -> bool:
        while not self._stop.is_set():
            try:
                self._handover.put(item, timeout=_HANDOVER_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _take(self) -> int | None:
        with self._next_lock:
            return next(self._next, None)

    def _work(self) -> None:
        try:
            while not self._stop.is_set() and (index := self._take()) is not None:
                source = self._sources[index]()
                try:
                    for item in source:
                        if not self._put((index, item)):
                            return
                finally:
                    close = getattr(source, "close", None)
                    if close is not None:
                        close()
                if not self._put((index, SOURCE_DONE)):
                    return
        except BaseException as error:  # handed to the reader, which raises it
            self._put(_Failed(error))
        finally:
            connections.close_all()  # this thread's connections only
            self._put(_WorkerEnded())

    def __iter__(self) -> Iterator[tuple[int, T | _SourceDone]]:
        running = len(self._threads)
        while running:
            item = self._handover.get()
            if isinstance(item, _WorkerEnded):
                running -= 1
                continue
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=_JOIN_SECONDS)

    def __enter__(self) -> Interleaved[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class OrderedMap(Generic[A, R]):
    """``function`` of each item, computed by up to ``workers`` threads at once from the moment this is
    created, handed back in the items' order; no more than ``workers`` results are computed ahead of the
    reader. Use it as a context manager: closing cancels what has not started (what has is finished
    first). With one worker, it is ``Prefetcher`` over the results."""

    def __init__(self, function: Callable[[A], R], items: Iterable[A], *, workers: int, name: str) -> None:
        self._function = function
        self._items = iter(items)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._window: deque[Future[R]] = deque()
        for item in islice(self._items, max(1, workers)):
            self._window.append(self._pool.submit(self._call, item))

    def _call(self, item: A) -> R:
        try:
            return self._function(item)
        finally:
            connections.close_all()  # this thread's connections only (a token refresh may have used one)

    def __iter__(self) -> Iterator[R]:
        while self._window:
            result = self._window.popleft().result()
            for item in islice(self._items, 1):
                self._window.append(self._pool.submit(self._call, item))
            yield result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OrderedMap[A, R]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
