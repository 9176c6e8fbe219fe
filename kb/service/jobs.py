"""Document jobs (ingest an upload, delete a document) run one at a time by a worker thread.

A job is queued -> running -> succeeded | partial (some files failed) | failed (nothing
published). ``progress`` names the stage; ``failed`` lists per-file errors. A job reports
``succeeded`` only after the service serves the new index version (``after_publish`` returns),
so an answer asked after that sees the change. Jobs live in memory (the last ``keep`` of them).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kb.errors import KBError, NotFoundError, storage_problem

log = logging.getLogger("kb.service.jobs")


@dataclass
class Job:
    id: str
    kind: str  # ingest | delete
    kb: str
    files: list[str]
    owner: str
    state: str = "queued"
    stage: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    report: dict[str, Any] | None = None
    error: dict[str, str] | None = None

    @property
    def failed(self) -> list[dict[str, str]]:
        """The report's files that failed ({source, error})."""
        return list((self.report or {}).get("failed") or [])

    @property
    def warnings(self) -> list[dict[str, str]]:
        """The report's files indexed with something left out ({source, warning})."""
        return list((self.report or {}).get("warnings") or [])

    def to_dict(self) -> dict[str, Any]:
        done = self.state in ("succeeded", "partial", "failed")
        return {
            "id": self.id,
            "kind": self.kind,
            "kb": self.kb,
            "state": self.state,
            "progress": {"stage": self.stage, "files": len(self.files), "done": done},
            "files": list(self.files),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "report": self.report,
            "failed": self.failed,
            "warnings": self.warnings,
            "error": self.error,
        }


class JobNotFound(NotFoundError):
    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id!r} is unknown (finished jobs are kept in memory only)", "check the job id"
        )


class JobManager:
    def __init__(
        self,
        *,
        on_finish: Callable[[Job], None] | None = None,
        keep: int = 500,
    ) -> None:
        self.on_finish = on_finish
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue[tuple[Job, Callable[[Job], dict[str, Any]]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="kb-jobs", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(
        self, kind: str, kb: str, files: list[str], owner: str, work: Callable[[Job], dict[str, Any]]
    ) -> Job:
        job = Job(id="job_" + uuid.uuid4().hex[:16], kind=kind, kb=kb, files=files, owner=owner)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        self.start()
        self._queue.put((job, work))
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, work = item
            job.state = job.stage = "running"
            job.started_at = time.time()
            try:
                report = work(job)
                job.report = report
                # every file refused: nothing of it was published
                all_failed = job.files and len({f.get("source") for f in job.failed}) >= len(job.files)
                job.state = "failed" if all_failed else "partial" if job.failed else "succeeded"
                if all_failed:
                    first = job.failed[0].get("error", "")
                    more = f" (and {len(job.failed) - 1} more; see failed)" if len(job.failed) > 1 else ""
                    job.error = {"error": "nothing_published", "message": f"{first}{more}"}
            except KBError as ex:
                job.state = "failed"
                job.error = ex.to_dict()
            except Exception as ex:  # noqa: BLE001 - a job failure must not kill the worker
                log.exception("job %s failed", job.id)
                job.state = "failed"
                problem = storage_problem(ex)  # a full or read-only disk: say so, not "internal"
                job.error = (
                    {"error": "storage", "message": problem}
                    if problem is not None
                    else {"error": "internal", "message": f"{type(ex).__name__}; see the server log"}
                )
            finally:
                job.finished_at = time.time()
                job.stage = "done"
                log.info("job %s (%s, %d files) %s", job.id, job.kind, len(job.files), job.state)
                if self.on_finish is not None:
                    try:
                        self.on_finish(job)
                    except Exception:  # noqa: BLE001
                        log.exception("job hook failed")
