"""Document jobs (ingest an upload, delete a document) run one at a time by a worker thread.

A job is queued -> running -> succeeded | partial (some files failed) | failed (nothing
published) | cancelled (stopped on request before it published anything: :meth:`JobManager.cancel`;
a queued job is cancelled when its turn comes, a running ingest between two parts of its work).
``progress`` names the stage; ``failed`` lists per-file errors. A job reports
``succeeded`` only after the service serves the new index version (``after_publish`` returns),
so an answer asked after that sees the change.

With a store (the service's SQLite database) every job is recorded when it is taken and as it
runs, with what it needs to run again (``spec``): a job of a server process that stopped or was
killed before it ended is taken up by the next one (``Service.resume_jobs``), and any process
sharing the store answers for any job. The last ``keep`` jobs are also kept in memory.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kb.errors import CancelledError, KBError, NotFoundError, StorageError, storage_problem

log = logging.getLogger("kb.service.jobs")

ENDED = ("succeeded", "partial", "failed", "cancelled")
# how often a running job reads the store for a cancel asked through another server process
CANCEL_POLL_S = 2.0


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
    spec: dict[str, Any] = field(default_factory=dict)  # what the service needs to run it again
    cancel_requested: bool = False
    # asks the store whether another process was asked to cancel it (JobManager sets it)
    _cancel_asked: Callable[[], bool] | None = field(default=None, repr=False, compare=False)
    _cancel_read_at: float = field(default=0.0, repr=False, compare=False)

    def should_stop(self) -> bool:
        """Whether a cancel was asked for: the work calls it between parts of its work."""
        if self.cancel_requested:
            return True
        now = time.monotonic()
        if self._cancel_asked is not None and now - self._cancel_read_at >= CANCEL_POLL_S:
            self._cancel_read_at = now
            try:
                self.cancel_requested = self._cancel_asked()
            except (sqlite3.Error, OSError) as ex:  # a store that cannot be read stops no job
                log.warning("job %s: whether it was cancelled could not be read (%s)", self.id, ex)
        return self.cancel_requested

    @property
    def failed(self) -> list[dict[str, str]]:
        """The report's files that failed ({source, error})."""
        return list((self.report or {}).get("failed") or [])

    @property
    def warnings(self) -> list[dict[str, str]]:
        """The report's files indexed with something left out ({source, warning})."""
        return list((self.report or {}).get("warnings") or [])

    def to_dict(self) -> dict[str, Any]:
        done = self.state in ENDED
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
            "cancel_requested": self.cancel_requested,
        }

    def record(self) -> dict[str, Any]:
        """What the store keeps: :meth:`to_dict`, its owner and its ``spec``."""
        return {**self.to_dict(), "owner": self.owner, "spec": self.spec}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Job:
        return cls(
            id=rec["id"], kind=rec["kind"], kb=rec["kb"], files=list(rec.get("files") or []),
            owner=rec.get("owner", ""), state=rec["state"], stage=(rec.get("progress") or {}).get("stage", ""),
            created_at=float(rec["created_at"]), started_at=rec.get("started_at"),
            finished_at=rec.get("finished_at"), report=rec.get("report"), error=rec.get("error"),
            spec=dict(rec.get("spec") or {}), cancel_requested=bool(rec.get("cancel_requested")),
        )


class JobEndedError(KBError):
    """A cancel that comes too late: the job ended, or is a delete under way (409)."""

    code = "job_ended"
    http_status = 409


class JobNotFound(NotFoundError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} is unknown", "check the job id")


class JobManager:
    def __init__(
        self,
        *,
        on_finish: Callable[[Job], None] | None = None,
        keep: int = 500,
        store: Any = None,
        runner: str = "",
    ) -> None:
        self.on_finish = on_finish
        self.keep = keep
        self.store = store  # kb.service.store.ServiceStore, or None: jobs in memory only
        self.runner = runner  # this process, as the store names it
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
        self,
        kind: str,
        kb: str,
        files: list[str],
        owner: str,
        work: Callable[[Job], dict[str, Any]],
        spec: dict[str, Any] | None = None,
    ) -> Job:
        """Queue ``work``. With a store, the job is recorded first: one that could not be is not
        taken (StorageError), since a restart would lose it."""
        job = Job(id="job_" + uuid.uuid4().hex[:16], kind=kind, kb=kb, files=files, owner=owner, spec=dict(spec or {}))
        try:
            self._save(job, strict=True)
        except (sqlite3.Error, OSError) as ex:
            raise StorageError(
                storage_problem(ex) or f"the job could not be recorded ({ex})", "try again later"
            ) from ex
        self._enqueue(job, work)
        return job

    def resume(self, job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        """Queue again a recorded job that an earlier process did not end."""
        job.state = job.stage = "queued"
        job.started_at = None
        if self.store is not None and not job.cancel_requested:
            # a cancel asked before the restart: said at once, not only when its turn comes
            job.cancel_requested = self.store.cancel_asked(job.id)
        self._save(job)
        self._enqueue(job, work)

    def end(self, job: Job, error: dict[str, str]) -> None:
        """End a recorded job as failed without running it (what it needed is gone)."""
        job.state, job.stage, job.error, job.finished_at = "failed", "done", error, time.time()
        self._save(job)
        self._remember(job)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self.store is not None:
            # a failed read is the service's: a 503 in words (kb.app), not a 507 for a write
            rec = self.store.load_job(job_id)
            job = None if rec is None else Job.from_record(rec)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def cancel(self, job_id: str, by: str) -> Job:
        """Ask a job that has not ended to stop: a queued one is cancelled when its turn comes,
        a running ingest before it publishes (its work asks :meth:`Job.should_stop`). A job run by
        another server process sharing the store is asked through the store. A job that ended, or
        a delete already running (it takes seconds and cannot be stopped half-way), is a 409."""
        job = self.get(job_id)
        if job.state in ENDED:
            raise JobEndedError(f"job {job_id} has already ended ({job.state})", "nothing to cancel")
        if job.kind == "delete" and job.state == "running":
            raise JobEndedError(f"job {job_id} is a delete under way", "wait for it; upload the document again to undo it")
        if not job.cancel_requested:
            job.cancel_requested = True
            log.info("job %s: cancel asked by %s", job.id, by)
            if self.store is not None:
                try:
                    self.store.ask_cancel(job.id)
                except (sqlite3.Error, OSError) as ex:
                    raise StorageError(
                        storage_problem(ex) or f"the cancel could not be recorded ({ex})", "try again later"
                    ) from ex
        return job

    def _remember(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)

    def _enqueue(self, job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        if self.store is not None:
            store, job_id = self.store, job.id
            job._cancel_asked = lambda: store.cancel_asked(job_id)
        self._remember(job)
        self.start()
        self._queue.put((job, work))

    def _save(self, job: Job, *, strict: bool = False) -> None:
        if self.store is None:
            return
        try:
            self.store.save_job(job.record(), self.runner)
        except (sqlite3.Error, OSError) as ex:
            if strict:
                raise
            # the job goes on; another process, or this one after a restart, sees it as it was
            log.warning("job %s: its state could not be recorded (%s)", job.id, ex)

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
            self._save(job)
            try:
                # a job cancelled while queued stops here (its work cleans up what it staged)
                report = work(job)
                job.report = report
                # every file refused: nothing of it was published
                all_failed = job.files and len({f.get("source") for f in job.failed}) >= len(job.files)
                job.state = "failed" if all_failed else "partial" if job.failed else "succeeded"
                if all_failed:
                    first = job.failed[0].get("error", "")
                    more = f" (and {len(job.failed) - 1} more; see failed)" if len(job.failed) > 1 else ""
                    job.error = {"error": "nothing_published", "message": f"{first}{more}"}
            except CancelledError as ex:
                job.state = "cancelled"
                job.error = ex.to_dict()
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
                self._save(job)
                log.info("job %s (%s, %d files) %s", job.id, job.kind, len(job.files), job.state)
                if self.on_finish is not None:
                    try:
                        self.on_finish(job)
                    except Exception:  # noqa: BLE001
                        log.exception("job hook failed")
