"""The local engine: parsing, embedding and writing overlap.

* the caller's iterator parses files (a process pool when ``--workers`` > 1), consumed by a
  *feeder* thread that queues each file for the writer and cuts its texts into batches;
* one *embedding* thread embeds the batches in order (large batches; the embedder sorts by length
  inside and runs on the best device: CUDA fp16 when present, the same code path as on CPU);
* the calling thread *writes* files and vector batches into the version (SQLite and the vector
  file stay in one thread).

Queues are bounded, so a slow stage holds the others back instead of filling memory. Order is
preserved end to end: a file always reaches the writer before the batch holding its texts, and
batches are written in their order, so the result does not depend on timing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

_DONE = object()


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def run_local(
    parsed: Iterable[Any],
    fallback: Callable[[Any], Any],
    batcher: Any,
    bemb: Any,
    feeder: Any,
    *,
    say: Callable[[str], None] = lambda _m: None,
    queue_files: int = 64,
    queue_batches: int = 2,
) -> None:
    from ingest.reindex import texts_of

    write_q: queue.Queue[Any] = queue.Queue(maxsize=queue_files)
    embed_q: queue.Queue[Any] = queue.Queue(maxsize=queue_batches)
    stop = threading.Event()
    errors: list[BaseException] = []

    def feed() -> None:
        try:
            for pf in parsed:
                if stop.is_set():
                    return
                if pf.error is not None:
                    pf = fallback(pf)
                    if pf is None:
                        continue
                if not _put(write_q, ("file", pf), stop):
                    return
                for b in batcher.add(texts_of(pf.chunks)):
                    if not _put(embed_q, b, stop):
                        return
            for b in batcher.flush():
                if not _put(embed_q, b, stop):
                    return
        except BaseException as ex:  # noqa: BLE001 - handed to the caller's thread
            errors.append(ex)
            stop.set()
        finally:
            _put(embed_q, _DONE, stop)

    def embed() -> None:
        try:
            while not stop.is_set():
                try:
                    b = embed_q.get(timeout=0.2)
                except queue.Empty:
                    continue
                if b is _DONE:
                    break
                vecs = bemb(b)
                if not _put(write_q, ("batch", b, vecs), stop):
                    return
        except BaseException as ex:  # noqa: BLE001
            errors.append(ex)
            stop.set()
        finally:
            _put(write_q, _DONE, stop)

    threads = [threading.Thread(target=feed, name="reindex-feed", daemon=True),
               threading.Thread(target=embed, name="reindex-embed", daemon=True)]
    for t in threads:
        t.start()
    files = 0
    try:
        while not stop.is_set():
            try:
                item = write_q.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _DONE:
                break
            if item[0] == "file":
                pf = item[1]
                feeder.add_file(pf.document, pf.content_hash, pf.chunks)
                files += 1
                if files % 100 == 0:
                    say(f"{files} files parsed, {feeder.vectors} vectors written")
            else:
                feeder.add_batch(item[1], item[2])
    except BaseException:
        stop.set()
        raise
    finally:
        if errors or stop.is_set():
            stop.set()
        for t in threads:
            t.join(timeout=30)
    if errors:
        raise errors[0]
