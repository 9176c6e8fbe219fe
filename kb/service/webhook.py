"""Hand-off notifications: when an answer's action is ``handoff`` and ``KB_HANDOFF_WEBHOOK`` is
set, POST the conversation, the retrieved passages and the draft reply to it, from a background
thread (bounded queue; retries with exponential backoff; a timeout per attempt). The answer
never waits for it; a full queue drops the notification and counts it."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("kb.service.webhook")


class HandoffNotifier:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_queue: int = 1000,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.on_outcome = on_outcome
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="kb-handoff-webhook", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(timeout)

    def notify(self, payload: dict[str, Any]) -> bool:
        self.start()
        try:
            self._queue.put_nowait(payload)
            return True
        except queue.Full:
            self._outcome("dropped")
            log.warning("hand-off webhook queue is full; notification dropped")
            return False

    def _outcome(self, outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                payload = self._queue.get()
                if payload is None:
                    return
                self._deliver(client, payload)

    def _deliver(self, client: Any, payload: dict[str, Any]) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.retries + 1):
            try:
                resp = client.post(self.url, json=payload)
                if resp.status_code < 300:
                    self.delivered += 1
                    self._outcome("delivered")
                    return
                reason = f"HTTP {resp.status_code}"
                if 400 <= resp.status_code < 500 and resp.status_code not in (408, 429):
                    break  # the receiver rejects it; retrying will not help
            except Exception as ex:  # noqa: BLE001 - network errors of any kind
                reason = type(ex).__name__
            log.warning("hand-off webhook attempt %d/%d failed: %s", attempt, self.retries, reason)
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        self.failed += 1
        self._outcome("failed")
