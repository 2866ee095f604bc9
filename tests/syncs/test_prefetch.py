"""The read-ahead thread: order, errors, early stops, and that it reads before it is asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from syncs.prefetch import Prefetcher


def test_items_arrive_in_order_and_the_thread_ends() -> None:
    with Prefetcher(iter(range(50)), depth=2) as ahead:
        assert list(ahead) == list(range(50))
    assert not ahead._thread.is_alive()


def test_reading_starts_before_the_first_item_is_asked_for() -> None:
    started = threading.Event()

    def source() -> Iterator[int]:
        started.set()
        yield 1

    with Prefetcher(source()) as ahead:
        assert started.wait(timeout=10)  # e.g. WoW's sums come in while the balances are rebuilt
        assert list(ahead) == [1]


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("WoW went away")

    received = []
    with Prefetcher(source()) as ahead, pytest.raises(ValueError, match="WoW went away"):
        for item in ahead:
            received.append(item)
    assert received == [1, 2]


def test_a_reader_that_stops_early_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    with Prefetcher(endless(), depth=2) as ahead:
        for item in ahead:
            if item == 3:
                break
    assert closed.wait(timeout=10)
    assert not ahead._thread.is_alive()


def test_a_reader_that_fails_while_writing_stops_the_thread() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    with pytest.raises(RuntimeError), Prefetcher(source()) as ahead:
        for _ in ahead:
            raise RuntimeError("the database refused the page")
    assert closed.wait(timeout=10)


def _arrived(ahead: Prefetcher[int], count: int) -> None:
    """Wait until ``count`` items wait in the hand-over (the thread is that far ahead)."""
    for _ in range(1000):
        if ahead._handover.qsize() >= count or ahead._held is not None:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the thread did not read ahead")


def test_ready_takes_what_has_arrived_without_waiting_for_more() -> None:
    release = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        yield 2
        release.wait(timeout=10)  # the third is not there until the test says so
        yield 3

    with Prefetcher(source(), depth=3) as ahead:
        items = iter(ahead)
        assert next(items) == 1
        _arrived(ahead, 1)
        assert ahead.ready(5) == [2]  # not waiting for the third
        assert ahead.ready(5) == []
        release.set()
        assert list(items) == [3]


def test_ready_leaves_the_end_and_an_error_for_the_iteration_to_meet() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("WoW went away")

    with Prefetcher(source(), depth=3) as ahead:
        items = iter(ahead)
        assert next(items) == 1
        _arrived(ahead, 2)
        assert ahead.ready(5) == [2]
        assert ahead.ready(5) == []  # the error is not an item, and is not lost either
        with pytest.raises(ValueError, match="WoW went away"):
            next(items)

    with Prefetcher(iter([1, 2, 3]), depth=3) as ahead:
        items = iter(ahead)
        assert next(items) == 1
        _arrived(ahead, 3)
        assert ahead.ready(1) == [2]  # no more than asked for
        assert ahead.ready(5) == [3]
        assert list(items) == []
