"""``read_ahead``: chunks in order, read by a background thread at most ``depth`` ahead; errors and early stops."""

from __future__ import annotations

import threading
import time

import pytest

from alignment_drift.integrations.sources.stream import read_ahead


def test_items_arrive_in_order_and_all_of_them() -> None:
    assert list(read_ahead(iter(range(1_000)), depth=3)) == list(range(1_000))
    assert list(read_ahead(iter([]))) == []


def test_the_reader_runs_at_most_depth_items_ahead() -> None:
    produced: list[int] = []

    def source():
        for i in range(10):
            produced.append(i)
            yield i

    stream = read_ahead(source(), depth=2)
    first = next(stream)
    time.sleep(0.3)  # let the reader fill the queue
    # the caller's item, `depth` queued and one more read that waits to be queued
    assert first == 0
    assert len(produced) == 1 + 2 + 1
    assert list(stream) == list(range(1, 10))


def test_reading_overlaps_with_the_callers_work() -> None:
    def slow_source():
        for i in range(4):
            time.sleep(0.2)  # reading a chunk
            yield i

    began = time.perf_counter()
    for _ in read_ahead(slow_source()):
        time.sleep(0.2)  # working on it
    elapsed = time.perf_counter() - began
    assert elapsed < 1.4  # in turn: 1.6 s; overlapped: about 1.0 s


def test_an_error_while_reading_is_raised_at_the_item_where_it_stopped() -> None:
    def failing():
        yield 1
        yield 2
        raise OSError("the file was truncated")

    got = []
    with pytest.raises(OSError, match="truncated"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_closing_early_stops_the_reader() -> None:
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    stream = read_ahead(endless())
    assert next(stream) == 0
    stream.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
    assert not any(t.name == "alignment-drift-read-ahead" for t in threading.enumerate())


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="'depth' parameter must be >= 1"):
        list(read_ahead(iter([1]), depth=0))
