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
    ``wait_s``); beyond that a request gets 503 with Retry-After at once."""

    def __init__(self, slots: int, queue: int, wait_s: float = 30.0) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.wait_s = wait_s
        self._sem = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self.waiting = 0
        self.active = 0

    def acquire(self) -> None:
        if self._sem.acquire(blocking=False):
            with self._lock:
                self.active += 1
            return
        with self._lock:
            if self.waiting >= self.queue:
                raise BusyError(f"all {self.slots} answer slots are busy and {self.queue} requests wait")
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

    def release(self) -> None:
        with self._lock:
            self.active -= 1
        self._sem.release()

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
