"""Request rate (token bucket per key or client) and concurrent generation slots."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from kb.errors import BusyError, RateLimitError


class RateLimiter:
    """One token bucket per caller: ``per_min`` requests a minute, bursts up to ``burst``
    (default: ``per_min``). ``per_min <= 0`` disables it. Bounded memory (LRU of callers)."""

    def __init__(self, per_min: int, burst: int | None = None, max_callers: int = 10_000) -> None:
        self.rate = per_min / 60.0
        self.capacity = float(burst if burst is not None else per_min)
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, caller: str, now: float | None = None) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                raise RateLimitError(max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[caller] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)


class GenerationSlots:
    """At most ``slots`` answers generated at once; up to ``queue`` more wait (at most
    ``wait_s``), as many as the slots serve within ``wait_s`` at the measured answer time;
    beyond that a request gets 503 with Retry-After at once.

    A burst of 30 questions, each answered in about 15 ms, got 5 to 10 refusals with the queue
    at 16, though the last would have waited about 0.1 s: the default queue is larger (see
    kb.settings), and it shrinks where answers are slow (an LLM's seconds), so that a request
    whose wait would pass ``wait_s`` is told at once instead of after ``wait_s``."""

    # the weight of the latest answer in the measured answer time (a moving average)
    SMOOTHING = 0.2

    def __init__(self, slots: int, queue: int, wait_s: float = 30.0) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.wait_s = wait_s
        self._sem = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self.waiting = 0
        self.active = 0
        self.answer_s: float | None = None  # the measured time a slot is held; None before one is

    def may_wait(self) -> int:
        """How many requests may wait now: ``queue``, fewer where the slots, at the measured
        answer time, would not serve them all within ``wait_s``."""
        if self.answer_s is None or self.answer_s <= 0:
            return self.queue
        return min(self.queue, int(self.slots * self.wait_s / self.answer_s))

    def acquire(self) -> float:
        """Take a slot, waiting for one where :meth:`may_wait` allows; the time it was taken,
        for :meth:`release` to measure the answer by."""
        if self._sem.acquire(blocking=False):
            with self._lock:
                self.active += 1
            return time.monotonic()
        with self._lock:
            if self.waiting >= self.may_wait():
                if self.waiting >= self.queue:
                    raise BusyError(f"all {self.slots} answer slots are busy and {self.queue} requests wait")
                raise BusyError(f"all {self.slots} answer slots are busy and the {self.waiting} requests waiting "
                                f"fill them for about {self.wait_s:.0f} s")
            self.waiting += 1
        try:
            ok = self._sem.acquire(timeout=self.wait_s)
        finally:
            with self._lock:
                self.waiting -= 1
        if not ok:
            raise BusyError(f"no answer slot came free within {self.wait_s:.0f} s")
        with self._lock:
            self.active += 1
        return time.monotonic()

    def release(self, taken: float | None = None) -> None:
        """Give a slot back; ``taken`` (what :meth:`acquire` returned) measures the answer."""
        with self._lock:
            self.active -= 1
            if taken is not None:
                held = max(0.0, time.monotonic() - taken)
                self.answer_s = held if self.answer_s is None else (
                    (1 - self.SMOOTHING) * self.answer_s + self.SMOOTHING * held
                )
        self._sem.release()

    @contextmanager
    def slot(self) -> Iterator[None]:
        taken = self.acquire()
        try:
            yield
        finally:
            self.release(taken)
