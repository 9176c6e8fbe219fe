"""Serve one index version while the next is built; swap to a newly published version without a
restart and without failing a request.

:meth:`IndexHolder.current` is what the assistant's ``index_provider`` calls on every query: it
returns the loaded version at once, and reads nothing. A watcher thread reads the tiny ``CURRENT`` pointer of the
knowledge base every ``check_s`` seconds, whether or not queries come (a version published by
``kb ingest`` or ``kb delete`` while no one asked was served to the first question after it, however
long after: a deleted document was quoted once). When the pointer moved, a background thread loads
the new version; the reference is swapped (one assignment) only once it is fully loaded, and the
old version is closed after a grace period so that queries still running on it finish.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kb.errors import KBError

log = logging.getLogger("kb.service.holder")

# seconds between two tries to load a live version that could not be loaded
RETRY_S = 30.0
# the watcher's shortest wait between two reads of the pointer (check_s may be 0 in tests)
WATCH_MIN_S = 0.05


class IndexHolder:
    def __init__(
        self,
        kb: Any,
        expected_embedder: str | None,
        *,
        check_s: float = 0.5,
        grace_s: float = 30.0,
        on_swap: Callable[[str | None, Any], None] | None = None,
    ) -> None:
        self.kb = kb
        self.expected_embedder = expected_embedder
        self.check_s = check_s
        self.grace_s = grace_s
        self.on_swap = on_swap
        self._index: Any | None = None
        self._checked_at = 0.0
        self._load_lock = threading.Lock()  # one load at a time
        self._loading: threading.Thread | None = None
        self.last_error: str | None = None
        # the live version that could not be loaded, why, and when it was last tried: the service
        # is not ready while it serves an older one (readyz says so), and tries again every
        # RETRY_S seconds, not on every check
        self.reload_error: str | None = None
        self._failed: tuple[str | None, float] = (None, 0.0)
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def version(self) -> str | None:
        idx = self._index
        return idx.version if idx is not None else None

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def current(self) -> Any:
        idx = self._index
        if idx is None:
            return self.refresh(wait=True)
        return idx  # the watcher reads the pointer: no question pays for it

    def _check(self, idx: Any) -> None:
        """At most every ``check_s`` seconds: start loading the live version when it is not
        ``idx``, the one served."""
        now = time.monotonic()
        if now - self._checked_at < self.check_s:
            return
        self._checked_at = now
        try:
            live = self.kb.live_version()
        except KBError as ex:  # a damaged pointer: the version loaded is still whole; serve it
            self.last_error = ex.one_line()
            return
        failed, at = self._failed
        if live is not None and live != idx.version and (live != failed or now - at >= RETRY_S):
            self._start_background()

    def _watch(self) -> None:
        while not self._closed.wait(max(self.check_s, WATCH_MIN_S)):
            idx = self._index
            if idx is None:
                continue
            try:
                self._check(idx)
            except Exception:  # noqa: BLE001 - a watcher that dies would leave the service stale
                log.exception("checking knowledge base %s for a new version failed", self.kb.name)

    def _start_watcher(self) -> None:
        if self._watcher is None and not self._closed.is_set():
            self._watcher = threading.Thread(target=self._watch, name=f"kb-watch-{self.kb.name}", daemon=True)
            self._watcher.start()

    def _start_background(self) -> None:
        t = self._loading
        if t is not None and t.is_alive():
            return
        t = threading.Thread(target=self._background, name=f"kb-reload-{self.kb.name}", daemon=True)
        self._loading = t
        t.start()

    def _background(self) -> None:
        try:
            self.refresh(wait=True)
        except Exception as ex:  # noqa: BLE001 - keep serving the old version; readyz shows it
            self.last_error = self.reload_error = ex.one_line() if isinstance(ex, KBError) else f"{type(ex).__name__}: {ex}"
            try:
                self._failed = (self.kb.live_version(), time.monotonic())
            except KBError:
                self._failed = (None, time.monotonic())
            log.warning(
                "reloading knowledge base %s failed, still serving %s: %s", self.kb.name, self.version, ex
            )

    def refresh(self, wait: bool = True) -> Any:
        """Load the live version if it differs from the one served; returns the served one.
        Raises (KnowledgeBaseNotFound, EmbedderMismatchError, ...) only when nothing is loaded."""
        if not wait:
            self._start_background()
            return self._index
        with self._load_lock:
            old = self._index
            try:
                live = self.kb.live_version()
            except KBError:
                if old is None:
                    raise
                return old  # a damaged pointer: keep serving what is loaded
            if old is not None and (live is None or live == old.version):
                return old
            new = self.kb.load_live(expected_embedder=self.expected_embedder)
            new.warm_up()  # before it is served: no query pays for reading what every query needs
            self._index = new
            self._start_watcher()
            self._checked_at = time.monotonic()
            self.last_error = self.reload_error = None
            self._failed = (None, 0.0)
            log.info(
                "serving knowledge base %s version %s (%d chunks)", self.kb.name, new.version, new.n_chunks
            )
            if self.on_swap is not None:
                self.on_swap(old.version if old is not None else None, new)
            if old is not None:
                timer = threading.Timer(self.grace_s, _close_quietly, args=(old,))
                timer.daemon = True
                timer.start()
            return new

    def close(self) -> None:
        self._closed.set()
        idx, self._index = self._index, None
        if idx is not None:
            _close_quietly(idx)


def _close_quietly(index: Any) -> None:
    try:
        index.close()
    except Exception:  # noqa: BLE001
        pass
