"""A bounded, thread-safe LRU that fetches the keys it lacks in one batch.

Used wherever values are immutable for their key and costly to make: decoded chunks and
neighbour lists of an index version (SQLite + JSON), passage and sentence vectors (the embedder).
The fetch runs outside the lock, so concurrent callers never wait on each other's I/O; a key
evicted by another caller between the two locked steps is simply fetched again.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchLRU(Generic[K, V]):
    def __init__(self, fetch: Callable[[list[K]], Sequence[V]], size: int) -> None:
        """``fetch(keys)`` returns one value per key, in order; ``size``: entries kept (0: none).
        A method of the cache's owner is held weakly: held as it is, the owner's cache held the
        owner, a reference cycle that kept a replaced index version (and its retriever, FAISS
        index and mapped vectors file, deleted from disk) alive until a full garbage collection,
        which a server that publishes often may not run for hours."""
        self._method: weakref.WeakMethod[Callable[[list[K]], Sequence[V]]] | None = None
        self._plain: Callable[[list[K]], Sequence[V]] | None = None
        if inspect.ismethod(fetch):
            self._method = weakref.WeakMethod(fetch)
        else:
            self._plain = fetch
        self.size = max(0, int(size))
        self._d: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is cached (it does not count as a use)."""
        with self._lock:
            return key in self._d

    def keys(self) -> list[K]:
        """The cached keys, least recently used first."""
        with self._lock:
            return list(self._d)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    @property
    def fetch(self) -> Callable[[list[K]], Sequence[V]]:
        if self._plain is not None:
            return self._plain
        assert self._method is not None
        method = self._method()
        if method is None:
            raise ReferenceError("the object whose method fetches for this cache is gone")
        return method

    def _fetch(self, keys: list[K]) -> dict[K, V]:
        values = self.fetch(keys)
        if len(values) != len(keys):
            raise ValueError(f"fetch returned {len(values)} values for {len(keys)} keys")
        return dict(zip(keys, values, strict=True))

    def get_many(self, keys: Sequence[K]) -> list[V]:
        """The values of ``keys``, in order (repeats allowed); each missing key is fetched once."""
        d = self._d
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in d]
        fetched = self._fetch(missing) if missing else {}
        with self._lock:
            found: dict[K, V] = {}
            for k in keys:
                if k in fetched or k in found:
                    continue
                if k in d:
                    d.move_to_end(k)
                    found[k] = d[k]
            for k, v in fetched.items():
                d[k] = v
            while len(d) > self.size:
                d.popitem(last=False)
        found.update(fetched)
        lost = [k for k in dict.fromkeys(keys) if k not in found]  # evicted by a concurrent caller
        if lost:
            found.update(self._fetch(lost))
        return [found[k] for k in keys]

    def get(self, key: K) -> V:
        return self.get_many([key])[0]
