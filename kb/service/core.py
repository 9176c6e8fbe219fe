"""The service object behind the routes: one per app. It owns the knowledge-base runtimes (an
index holder and an assistant per knowledge base), the shared embedder, the limits, the store,
the job worker and the hand-off notifier. Routes stay thin: they call its methods."""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from indexes.kbase import pid_alive
from indexes.types import Document, Filters
from kb.auth import KeyStore, Principal
from kb.errors import (
    ForbiddenError,
    InputError,
    KBError,
    KnowledgeBaseNotServed,
    NotFoundError,
    QuestionTooLongError,
    SessionOwnerError,
    StorageError,
    UnsupportedFormatError,
    blank,
    read_gb18030,
    storage_problem,
)
from kb.service.holder import IndexHolder
from kb.service.jobs import Job, JobManager, JobNotFound
from kb.service.limits import GenerationSlots, RateLimiter
from kb.service.metrics import Metrics
from kb.service.store import ServiceStore
from kb.service.webhook import HandoffNotifier

log = logging.getLogger("kb.service")

_SAFE_NAME = re.compile(r"[^\w.\- ()\u00C0-\uFFFF]")


# the folder of kb/uploads/ where an upload waits for its job (hidden: never ingested as a document)
STAGING = ".staging"
# A staging folder is named "p<pid>-<host>-<uuid>" after the server process that made it, so that
# one whose process is gone (killed with its jobs queued) can be told from one still in use.
_STAGED_BY = re.compile(r"^p(\d+)-(.*)-[0-9a-f]{32}$")
_STALE_S = 86_400  # a staging folder this old is left over, whoever made it


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40] or "host"


def _process_gone(pid: int, host: str, this_process: bool) -> bool | None:
    """Whether the server process ``pid`` of machine ``host`` has ended: True, False, or None
    when it cannot be told from here (another machine or container sharing KB_HOME).
    ``this_process``: whether a process of this pid is this very one, not an earlier life of it
    (a container's server is pid 1 at every start)."""
    if host != _host():
        return None
    if pid == os.getpid():
        return not this_process
    return not pid_alive(pid)


def stale_staging(folder: Path, *, starting: bool) -> bool:
    """Whether no live server process can be using the staging folder ``folder``: its process
    (:data:`_STAGED_BY`) has ended, or it is this process's pid at start-up, or it is over a day
    old (a folder of another machine goes by its age only)."""
    made = _STAGED_BY.match(folder.name)
    if made is not None and _process_gone(int(made.group(1)), made.group(2), this_process=not starting):
        return True
    return time.time() - folder.stat().st_mtime > _STALE_S


# this process's life: a process that has the pid of an earlier one (a container's server is pid 1
# at every start) is another runner
_LIFE = uuid.uuid4().hex[:8]


def runner_name() -> str:
    """This server process, as the job store names it: ``p<pid>-<host>-<life>``."""
    return f"p{os.getpid()}-{_host()}-{_LIFE}"


_RUNNER = re.compile(r"^p(\d+)-(.*)-([0-9a-f]{8})$")
JOB_RETENTION_S = 30 * 86_400  # an ended job is kept this long in the store


def runner_gone(runner: str, created_at: float) -> bool:
    """Whether the process ``runner`` (:func:`runner_name`) that took a job can no longer run it
    (:func:`_process_gone`; this pid in another life is an earlier process); a job of another
    machine is taken over only once a day old, as :func:`stale_staging` goes by a folder's age."""
    made = _RUNNER.match(runner)
    gone = None if made is None else _process_gone(int(made.group(1)), made.group(2), made.group(3) == _LIFE)
    return gone if gone is not None else time.time() - created_at > _STALE_S


def _documents_of(paths: list[Path]) -> list[Path]:
    """The documents among an upload's files: an "x.pdf.meta.json" is the sidecar of x.pdf
    (groups, tags, title), not a document."""
    from ingest.loaders import META_SUFFIX

    return [p for p in paths if not p.name.endswith(META_SUFFIX)]


def check_upload_type(name: str) -> None:
    """An :class:`InputError` (422) for an uploaded file no loader reads ("run.exe", "README"):
    it was taken with a 202 and its job failed later on the same line. A sidecar
    ("x.pdf.meta.json") is metadata, read with its document, not a document of its own."""
    from ingest.loaders import META_SUFFIX, check_type

    if name.endswith(META_SUFFIX):
        return
    try:
        check_type(Path(name))
    except UnsupportedFormatError as ex:  # 415 is for the request's own type, which is a good form
        raise InputError(ex.message, ex.hint) from None


class TooManyFilesError(InputError):
    code = "too_many_files"
    http_status = 413


class EmptyQuestionError(InputError):
    code = "empty_question"


class AnswerNotRecorded(NotFoundError):
    def __init__(self, answer_id: str) -> None:
        super().__init__(
            f"answer {answer_id!r} was given but not recorded (the service could not write its database then)",
            "feedback on it cannot be kept; rate a later answer",
        )


class UnknownJob(NotFoundError):
    """An unknown job id: never taken, or ended longer ago than the store keeps jobs; the caller
    is told where to look instead."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id!r} is unknown: jobs are kept for {JOB_RETENTION_S // 86_400} days after they end",
            "list the documents with GET /v1/documents to see what was ingested",
        )


def gbk_reading(text: str) -> str | None:
    """What ``text`` reads as when it is GBK bytes that a parser read as Latin-1, as the multipart
    parser reads a name or field that is not UTF-8 (a GBK client's "常见问题.txt" arrives as
    "³£¼ûÎÊÌâ.txt"); None for any other text. Its bytes must read as GB18030 and give Chinese,
    with the non-ASCII bytes in pairs, as GBK writes Chinese: "équipe", sent as UTF-8 and read so,
    holds one lone byte, and stays as it is."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return None  # it holds characters Latin-1 has not: it was decoded as UTF-8
    if raw.isascii() or any(len(run) % 2 for run in re.findall(rb"[\x80-\xff]+", raw)):
        return None
    return read_gb18030(raw)


def safe_filename(name: str) -> str:
    # the name as its sender wrote it (:func:`gbk_reading`)
    base = os.path.basename((gbk_reading(name or "") or name or "").replace("\\", "/")).strip()
    base = _SAFE_NAME.sub("_", base).lstrip(".").strip()
    if not base:
        raise InputError(f"upload file name {name!r} is not usable", "give the file a name such as faq.csv")
    if len(base) > 200:  # cut the name, not its type: "aaa…a.txt" stays a .txt
        stem, ext = os.path.splitext(base)
        base = stem[: 200 - len(ext[:16])] + ext[:16]
    return base


class Runtime:
    """One served knowledge base: its index holder and (built on first use) its assistant."""

    def __init__(self, name: str, kb: Any, holder: IndexHolder, build: Callable[[IndexHolder], Any]) -> None:
        self.name = name
        self.kb = kb
        self.holder = holder
        self._build = build
        self._assistant: Any = None
        self._lock = threading.Lock()

    @property
    def assistant(self) -> Any:
        if self._assistant is None:
            with self._lock:
                if self._assistant is None:
                    self._assistant = self._build(self.holder)
        return self._assistant

    @assistant.setter
    def assistant(self, value: Any) -> None:
        self._assistant = value


def hit_to_passage(hit: Any, cited: set[str] | None = None) -> dict[str, Any]:
    c = hit.chunk
    return {
        "source": c.source_id,
        "title": c.title,
        "locator": hit.locator,
        "text": hit.passage,
        "score": round(float(hit.score), 4),
        "chunk_id": c.id,
        "lang": c.lang,
        "cited": bool(cited and c.source_id in cited),
    }


def _not_found(rt: Any, doc_id: str, readable: Sequence[Document], caller: Principal) -> tuple[str, str]:
    """The error and hint of a delete whose name ``doc_id`` finds no document the caller may read:
    as ``kb delete`` says it, that it is deleted already (and how to add it back), or the nearest
    source. Only of documents the caller may read: a typo of a staff document's name, or its
    deletion, is told to no one outside staff (QA 2026-12-07: the HTTP delete of a typo, and of a
    deleted document, said only "not in knowledge base")."""
    from indexes.types import did_you_mean
    from ingest.pipeline import deleted_marks, mark_names

    missing = f"document {doc_id!r} is not in knowledge base {rt.name!r}"
    entry_of = doc_id.partition("#")[0]
    if "#" in doc_id and any(d.source == entry_of for d in readable):
        return missing, f"an FAQ entry ({doc_id!r}) goes with its file: delete {entry_of!r}, or upload it again without that row"
    marks = {
        source: mark for source, mark in deleted_marks(rt.kb).items()
        if caller.groups is None or not (groups := mark_names(mark, "groups")) or set(groups) & set(caller.groups)
    }
    mark = marks.get(doc_id) or next((m for m in marks.values() if m.get("id") == doc_id), None)
    if mark is not None:
        at = mark.get("at", "")[:10]
        return (f"document {doc_id!r} was deleted already{f' (on {at})' if at else ''}",
                "upload its file again to add it back")
    guess = did_you_mean([doc_id], [d.source for d in readable])
    if guess:
        return f"{missing}{guess}", "pass a document's id or source, as GET /v1/documents lists them"
    return missing, "pass a document's id or source, as GET /v1/documents lists them"


def check_may_change(doc: Document, caller: Principal) -> None:
    """A key restricted to some access groups replaces or deletes only documents restricted to
    them: not a public one (every customer reads it), nor one another group shares."""
    if caller.groups is None:
        return
    dg = doc.groups
    if not dg or not set(dg) <= set(caller.groups):
        whose = "everyone's" if not dg else "of groups " + ", ".join(dg)
        raise ForbiddenError(
            f"{doc.source} is {whose}; key {caller.name!r} may only change documents of {', '.join(caller.groups)}",
            "ask an editor whose key has no group restriction",
        )


class SlotStream(Iterator[dict[str, Any]]):
    """A stream of answer events that holds an answer slot until it ends, fails or is closed.

    A generator's own ``finally`` would not do: a generator that was never started runs no code
    when it is closed, and one a server stops reading (the client hung up) is only closed when
    it is garbage collected, which a reference cycle can put off for minutes, with the slot taken
    all that time. The server closes this explicitly however the response ends."""

    def __init__(self, events: Iterator[dict[str, Any]], release: Callable[[], None]) -> None:
        self._events = events
        self._release: Callable[[], None] | None = release
        self._lock = threading.Lock()

    def __next__(self) -> dict[str, Any]:
        try:
            return next(self._events)
        except BaseException:  # StopIteration included: the stream is over either way
            self.close()
            raise

    def close(self) -> None:
        """Stop the stream and give its slot back; idempotent, safe from any thread."""
        with self._lock:
            release, self._release = self._release, None
        if release is None:
            return
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        except ValueError:
            pass  # being read on another thread right now: its slot is given back all the same
        finally:
            release()


class Service:
    def __init__(self, settings: Any, kbs: list[str] | None = None) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.kb_names = list(kbs) if kbs else None  # None = every knowledge base under home
        self.keys = KeyStore.parse(settings.api_keys)
        self.metrics = Metrics()
        self.limiter = RateLimiter(int(settings.rate_limit_per_min))
        self.slots = GenerationSlots(int(settings.generation_slots), int(settings.generation_queue))
        self.store = ServiceStore(self.home / "feedback.sqlite")
        self.jobs = JobManager(
            on_finish=lambda job: self.metrics.jobs.labels(kind=job.kind, state=job.state).inc(),
            store=self.store,
            runner=runner_name(),
        )
        self.notifier: HandoffNotifier | None = None
        if settings.handoff_webhook:
            self.notifier = HandoffNotifier(
                settings.handoff_webhook, on_outcome=lambda o: self.metrics.webhook.labels(outcome=o).inc()
            )
        self._runtimes: dict[str, Runtime] = {}
        self._rt_lock = threading.Lock()
        self._embedder: Any = None
        self._emb_lock = threading.Lock()
        self.warmed = False
        self.warm_error: str | None = None
        # answers given that the store could not record (the last 1000): feedback on one is told so
        self._unrecorded: OrderedDict[str, None] = OrderedDict()
        self._unrecorded_lock = threading.Lock()

    # -- parts -----------------------------------------------------------------------------------
    @property
    def default_kb(self) -> str:
        if self.kb_names:
            return self.kb_names[0]
        return str(self.settings.default_kb)

    def embedder(self) -> Any:
        with self._emb_lock:
            if self._embedder is None:
                from indexes.embedders import get_embedder

                s = self.settings
                self._embedder = get_embedder(s.embedder, device=s.device, batch_size=s.embed_batch_size)
            return self._embedder

    def available_kbs(self) -> list[str]:
        from indexes.kbase import list_kbs

        names = list_kbs(self.home)
        if self.kb_names is not None:
            names = [n for n in self.kb_names if n in names]
        return names

    def knowledge_base(self, name: str) -> Any:
        from indexes.kbase import KnowledgeBase, validate_kb_name

        name = validate_kb_name(name)
        if self.kb_names is not None and name not in self.kb_names:
            raise KnowledgeBaseNotServed(name, self.available_kbs())
        return KnowledgeBase.from_settings(self.home, name, self.settings)

    def runtime(self, name: str | None, create: bool = False) -> Runtime:
        name = name or self.default_kb
        with self._rt_lock:
            rt = self._runtimes.get(name)
        if rt is not None:
            return rt
        kb = self.knowledge_base(name)
        if not create and kb.live_version() is None:
            # the caller is told which are served; the operator reads where it was looked for
            log.info("knowledge base %r asked for has no published index under %s", name, self.home)
            raise KnowledgeBaseNotServed(name, self.available_kbs())
        with self._rt_lock:
            rt = self._runtimes.get(name)
            if rt is None:
                holder = IndexHolder(kb, self.settings.embedder, on_swap=functools.partial(self._swapped, name))
                rt = Runtime(name, kb, holder, self._build_assistant)
                self._runtimes[name] = rt
        return rt

    def _swapped(self, name: str, old: str | None, new: Any) -> None:
        self.metrics.set_index(name, old, new.version, int(new.n_chunks))
        if old is not None:
            self.metrics.index_swaps.labels(kb=name).inc()

    def _build_assistant(self, holder: IndexHolder) -> Any:
        """An Assistant whose index is whatever the holder serves at the moment of each query.
        No conversation store of its own: the service keeps the turns (kb.service.store) and
        always passes the history explicitly."""
        from rag.assistant import Assistant
        from rag.retrieval import get_reranker
        from rag.support import get_scorer

        s = self.settings
        embedder = self.embedder()
        device = "cpu" if s.device == "auto" else s.device
        return Assistant(
            holder.current,
            embedder,
            s.llm,
            get_scorer(s.scorer, embedder),
            None,
            reranker=get_reranker(s.reranker, device=device),
            **s.answering(llm_device=device),
        )

    def warm_up(self) -> None:
        """Load the embedder, the live index of every served knowledge base and the answer
        models; /readyz says 200 once this is done."""
        try:
            emb = self.embedder()
            if hasattr(emb, "warm_up"):
                emb.warm_up()
            for name in self.available_kbs() or [self.default_kb]:
                try:
                    rt = self.runtime(name)
                except KnowledgeBaseNotServed:
                    continue
                rt.holder.current()
                a = rt.assistant
                for part in (a, getattr(a, "llm", None), getattr(a, "scorer", None), getattr(a, "reranker", None)):
                    if part is not None and hasattr(part, "warm_up"):
                        part.warm_up()
                a.search("warm up", k=1, groups=())  # first query loads jieba, tokenizers, FAISS params
            self.warmed = True
        except Exception as ex:  # noqa: BLE001 - reported by /readyz
            self.warm_error = f"{type(ex).__name__}: {ex}"
            log.error("warm-up failed: %s", self.warm_error)

    def readiness(self) -> tuple[bool, dict[str, str | None], str | None]:
        kbs: dict[str, str | None] = {}
        names = self.available_kbs()
        stale: list[str] = []
        for name in names:
            with self._rt_lock:
                rt = self._runtimes.get(name)
            kbs[name] = rt.holder.version if rt is not None else None
            if rt is not None and rt.holder.reload_error:
                # a version published since (a reindex with another embedder) cannot be loaded:
                # the one served may hold documents deleted since, so the service is not ready
                stale.append(f"{name} still serves {rt.holder.version}: its live version cannot be loaded "
                             f"({rt.holder.reload_error})")
        if self.warm_error:
            return False, kbs, self.warm_error
        if stale:
            return False, kbs, "; ".join(stale)
        if not names:
            return (
                False,
                kbs,
                f"no published knowledge base under {self.home}; run `kb ingest` or upload documents",
            )
        loaded = all(v is not None for v in kbs.values())
        ok = self.warmed and loaded
        return ok, kbs, None if ok else "warming up"

    def close(self) -> None:
        self.jobs.stop()
        if self.notifier is not None:
            self.notifier.stop()
        for rt in list(self._runtimes.values()):
            rt.holder.close()
        self.store.close()

    # -- queries ---------------------------------------------------------------------------------
    def check_question(self, text: str, what: str = "question") -> str:
        limit = int(self.settings.max_question_chars)
        if len(text) > limit:
            raise QuestionTooLongError(
                f"the {what} has {len(text)} characters, the limit is {limit}",
                "shorten it (or raise KB_MAX_QUESTION_CHARS)",
            )
        if blank(text):  # spaces, NULs, zero-width spaces: nothing to answer
            raise EmptyQuestionError(f"the {what} is empty", f"send a non-empty {what}")
        return text

    @staticmethod
    def filters(groups: tuple[str, ...] | None, spec: Any | None) -> Filters:
        if spec is None:
            return Filters.of(groups=groups)
        return Filters.of(
            groups=groups, tags=spec.tags, lang=spec.lang, on_date=spec.on_date, sources=spec.sources
        )

    def new_session_id(self) -> str:
        return "sess_" + uuid.uuid4().hex[:20]

    def check_session(self, session_id: str | None, caller: Principal) -> None:
        """A conversation is continued only with the API key that started it: another key's
        questions would read its history (and an LLM would be sent it) and be added to it. The id
        is checked here too (:func:`rag.assistant.check_session_id`), so that a stream refuses
        one with a 422 before its status line, not in an ``error`` event after a 200."""
        if not session_id:
            return
        from rag.assistant import check_session_id

        check_session_id(session_id)
        if self.store.claim_session(session_id, caller.name) != caller.name:
            raise SessionOwnerError(
                f"session {session_id!r} was started with another API key",
                "omit session_id to start a new conversation, or continue it with the key that started it",
            )

    def history_for(
        self, session_id: str | None, given: list[dict[str, str]] | None, groups: tuple[str, ...] | None,
        kb: str | None = None,
    ) -> list[dict[str, str]]:
        """The conversation so far: as the request gives it, else the session's last turns that
        were answered under access groups the request's own ``groups`` cover, from the knowledge
        base ``kb`` (any, when None)."""
        if given is not None:
            return given
        if not session_id:
            return []
        return [
            {"role": t["role"], "content": t["content"]}
            for t in self.store.history(session_id, limit=20, viewer=groups, kb=kb)
        ]

    def answer(
        self,
        rt: Runtime,
        question: str,
        *,
        session_id: str | None,
        history: list[dict[str, str]],
        groups: tuple[str, ...] | None,
        filters: Filters,
        for_agent: bool = False,
    ) -> Any:
        try:
            with self.slots.slot():
                self._gauges()
                return rt.assistant.ask(
                    question, session_id=session_id, groups=groups, filters=filters, history=history,
                    for_agent=for_agent,
                )
        finally:
            self._gauges()  # after the slot is given back: the gauge read one too many at rest

    def stream(
        self,
        rt: Runtime,
        question: str,
        *,
        session_id: str | None,
        history: list[dict[str, str]],
        groups: tuple[str, ...] | None,
        filters: Filters,
    ) -> SlotStream:
        """Acquire a slot now (so that a full queue answers 503 before the stream starts) and
        return the events, which release the slot when they end or are closed, read or not."""
        taken = self.slots.acquire()
        self._gauges()

        def events() -> Iterator[dict[str, Any]]:
            t0 = time.perf_counter()
            first = True
            for ev in rt.assistant.ask_stream(
                question, session_id=session_id, groups=groups, filters=filters, history=history
            ):
                if first and ev.get("type") == "token":
                    first = False
                    self.metrics.ttft.observe(time.perf_counter() - t0)
                yield ev

        def release() -> None:
            self.slots.release(taken)
            self._gauges()

        return SlotStream(events(), release)

    def _gauges(self) -> None:
        self.metrics.gen_active.set(self.slots.active)
        self.metrics.gen_waiting.set(self.slots.waiting)

    def finish(
        self,
        rt: Runtime,
        answer: dict[str, Any],
        *,
        question: str,
        lang: str,
        hits: list[Any],
        session_id: str | None,
        history: list[dict[str, str]],
        caller: Principal,
        groups: tuple[str, ...] | None = None,
        index_version: str | None = None,
    ) -> dict[str, Any]:
        """Record an answer (store, metrics, hand-off webhook); returns the response body.
        ``index_version``: the version its passages came from (the one served now where none)."""
        out = dict(answer)
        out["answer_id"] = out.get("answer_id") or "ans_" + uuid.uuid4().hex[:20]
        out["session_id"] = out.get("session_id") or session_id
        cited = {c.get("source", "") for c in out.get("citations", [])}
        passages = [hit_to_passage(h, cited) for h in hits]
        out["kb"] = rt.name
        # the version the passages came from: read after the answer, the one served then was a newer
        # version's where an ingest published meanwhile (a QA round's $61.99 reported as of $62.99's)
        out["index_version"] = index_version or rt.holder.version
        out["handoff"] = out.get("action") == "handoff"
        self.metrics.actions.labels(kb=rt.name, action=str(out.get("action"))).inc()
        if out.get("fallback"):  # the model was down or out of time: an operator's alert
            self.metrics.fallbacks.labels(
                kb=rt.name, fallback=str(out["fallback"]), reason=str(out.get("fallback_reason"))
            ).inc()
        if self.settings.log_text:  # KB_LOG_TEXT=1: questions and answers in the log (off by default)
            log.info("question %r -> %s %r", question, out.get("action"), out.get("answer"))
        self.metrics.observe_timings(out.get("timings_ms") or {})
        try:
            self.store.record_answer(
                answer_id=out["answer_id"],
                kb=rt.name,
                session_id=out["session_id"],
                question=question,
                answer=out,
                lang=lang,
                passages=passages,
                history=history,
                caller=caller.name,
                groups=groups,
            )
        except (sqlite3.Error, OSError) as ex:
            # the customer gets the answer all the same; unrecorded, its answer_id takes no
            # feedback and its session_id carries no history of this turn
            self.storage_fault(f"answer {out['answer_id']} was given but not recorded", ex)
            with self._unrecorded_lock:
                self._unrecorded[out["answer_id"]] = None
                while len(self._unrecorded) > 1000:
                    self._unrecorded.popitem(last=False)
        if out["handoff"] and self.notifier is not None:
            self.notifier.notify(
                {
                    "event": "handoff",
                    "kb": rt.name,
                    "session_id": out["session_id"],
                    "answer_id": out["answer_id"],
                    "conversation": [*history, {"role": "user", "content": question}],
                    "passages": passages,
                    "draft_reply": out.get("answer", ""),
                    "confidence": out.get("confidence"),
                    "citations": out.get("citations", []),
                }
            )
        out["_passages"] = passages
        return out

    def storage_fault(self, what: str, ex: BaseException) -> None:
        """Log one line for a write to the service's store that failed, and count it."""
        self.metrics.errors.labels(code="storage").inc()
        log.warning("%s: %s", what, storage_problem(ex) or f"{type(ex).__name__}: {ex}")

    def add_feedback(self, answer_id: str, rating: str, comment: str | None, caller: Principal) -> str:
        with self._unrecorded_lock:
            unrecorded = answer_id in self._unrecorded
        if unrecorded:
            raise AnswerNotRecorded(answer_id)
        try:
            given_to = self.store.answer_caller(answer_id)  # 404 for an unknown answer
        except (sqlite3.Error, OSError) as ex:
            self.storage_fault(f"answer {answer_id} could not be read for its feedback", ex)
            raise StorageError("the feedback could not be saved: the service cannot read its database right now",
                               "try again later") from ex
        if given_to != caller.name and not caller.allows("admin"):
            # another key's rating of an answer it was never given went into the eval export as a
            # reviewed case (a thumbs-up is exported as gold)
            raise ForbiddenError(f"answer {answer_id} was given to another API key",
                                 "rate an answer with the key that asked for it")
        try:
            return self.store.add_feedback(answer_id, rating, comment, caller.name)
        except (sqlite3.Error, OSError) as ex:
            self.storage_fault(f"feedback on answer {answer_id} was not recorded", ex)
            raise StorageError(
                "the feedback could not be saved: the service cannot write its database right now",
                "try again later",
            ) from ex

    def job(self, job_id: str, caller: Principal, doing: str = "read") -> Job:
        """A job, for the key that started it or an admin: any editor read another key's job, its
        files, per-file failures and report, where only cancelling it was refused. A 403 as for a
        cancel, not a 404: the two answer one id alike (a 404 to GET and a 403 to DELETE would
        tell it apart anyway), and a job id is random, never guessed from a name as a document's
        source is (which a key that cannot read the document is told is unknown)."""
        try:
            job = self.jobs.get(job_id)
        except JobNotFound:
            raise UnknownJob(job_id) from None
        if job.owner != caller.name and not caller.allows("admin"):
            raise ForbiddenError(f"job {job_id} was started by another key", f"{doing} it with that key or an admin key")
        return job

    def cancel_job(self, job_id: str, caller: Principal) -> Job:
        """Cancel a job (:meth:`JobManager.cancel`) for the key that started it, or an admin."""
        self.job(job_id, caller, "cancel")
        return self.jobs.cancel(job_id, caller.name)

    # -- documents -------------------------------------------------------------------------------
    def uploads_dir(self, kb_name: str) -> Path:
        from ingest.pipeline import UPLOADS

        return self.home / kb_name / UPLOADS

    def staging_dir(self, kb_name: str) -> Path:
        """A new folder for one upload's files until its job has read them: only the files it
        published replace the kept copies in :meth:`uploads_dir` (a corrupt re-upload leaves the
        good copy, and a refused file is not kept). Folders a killed server left are removed."""
        root = self.uploads_dir(kb_name) / STAGING
        self._sweep_staging(root, starting=False)
        folder = root / f"p{os.getpid()}-{_host()}-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        return folder

    def clean_staging(self, spare: Collection[Path] = ()) -> None:
        """At start-up: remove the staging folders of every knowledge base that no live server
        process uses, but those of the jobs taken up (``spare``, from :meth:`resume_jobs`)."""
        from ingest.pipeline import UPLOADS

        try:
            roots = list(self.home.glob(f"*/{UPLOADS}/{STAGING}"))
        except OSError:  # an unreadable KB_HOME: the server says so when it is used, not here
            return
        for root in roots:
            self._sweep_staging(root, starting=True, spare=spare)

    @staticmethod
    def _sweep_staging(root: Path, *, starting: bool, spare: Collection[Path] = ()) -> None:
        try:
            folders = list(root.iterdir()) if root.is_dir() else []
        except OSError:
            return
        for old in folders:
            try:
                if old not in spare and stale_staging(old, starting=starting):
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass

    def with_documents_of(self, kb_name: str, staged: list[Path]) -> list[Path]:
        """``staged`` with, for each sidecar uploaded without its document, a copy of that
        document as uploaded before, so that it is read again with the new metadata. Only a
        copy whose document is in the live index: one deleted stays deleted, even where its copy
        was left behind (a delete that raced an upload of it)."""
        from ingest.loaders import META_SUFFIX, sidecar_names, source_of

        kept = self.uploads_dir(kb_name)
        out = list(staged)
        live: set[str] | None = None
        for side in (p for p in staged if p.name.endswith(META_SUFFIX)):
            if any(p != side and side.name in sidecar_names(p) for p in out):
                continue
            if live is None:
                live = self._live_sources(kb_name)
            earlier = sorted(
                p for p in (kept.iterdir() if kept.is_dir() else ())
                if p.is_file() and not p.name.endswith(META_SUFFIX) and side.name in sidecar_names(p)
                and source_of(p, kept) in live
            )
            if not earlier:
                base = side.name[: -len(META_SUFFIX)]
                raise InputError(
                    f"{side.name} is the metadata of {base}, which is neither in this upload"
                    f" nor in knowledge base {kb_name!r}",
                    f"upload {base} with it",
                )
            for doc in earlier:
                shutil.copy2(doc, side.parent / doc.name)
                out.append(side.parent / doc.name)
        return out

    def _live_sources(self, kb_name: str) -> set[str]:
        """The sources of the documents of the live index version as published now (a CLI's
        delete included, which the served version may not show yet)."""
        if self.knowledge_base(kb_name).live_version() is None:
            return set()
        return {d.source for d in self.runtime(kb_name).holder.refresh(wait=True).documents()}

    def submit_ingest(
        self,
        kb_name: str,
        paths: list[Path],
        groups: tuple[str, ...],
        tags: tuple[str, ...],
        caller: Principal,
        public: bool = False,
    ) -> Job:
        """Ingest staged files (:meth:`staging_dir`), then keep those it published. The job runs
        from its recorded ``spec``, as it runs again after a restart (:meth:`resume_jobs`).
        ``public``: documents uploaded for access groups before may be published to everyone."""
        kb = self.knowledge_base(kb_name)
        spec = {
            "staged": [str(p) for p in paths], "groups": list(groups), "tags": list(tags), "public": public,
            "caller": {"name": caller.name, "role": caller.role,
                       "groups": None if caller.groups is None else list(caller.groups)},
        }
        names = [p.name for p in _documents_of(paths)]
        return self.jobs.submit("ingest", kb.name, names, caller.name, self._ingest_work(kb.name, spec), spec)

    def _ingest_work(self, kb_name: str, spec: dict[str, Any]) -> Callable[[Job], dict[str, Any]]:
        """The work of an ingest job's ``spec``: its staged files, the groups and tags of the
        upload, and its caller's groups (the documents it may replace)."""
        from ingest.loaders import sidecar_path

        s = self.settings
        paths = [Path(p) for p in spec["staged"]]
        docs = _documents_of(paths)
        groups, tags = tuple(spec["groups"]), tuple(spec["tags"])
        only = spec["caller"]["groups"]
        only_groups = None if only is None else tuple(only)
        widen = bool(spec.get("public"))  # a job recorded before the field: False
        kept = self.uploads_dir(kb_name)

        def work(job: Job) -> dict[str, Any]:
            from ingest.pipeline import ingest_paths

            try:
                job.stage = "ingesting"
                report = ingest_paths(
                    self.knowledge_base(kb_name),
                    docs,
                    self.embedder(),
                    **s.ingesting(),
                    default_groups=groups,
                    default_tags=tags,
                    lock_timeout=60,
                    only_groups=only_groups,
                    widen=widen,
                    upload=True,
                    should_stop=job.should_stop,
                )
                failed = {f["source"] for f in report.failed}
                for doc in docs:
                    if doc.name in failed:
                        continue
                    side = sidecar_path(doc)  # the one it was read with (a sidecar of two goes once)
                    if side is not None:
                        os.replace(side, kept / side.name)
                    os.replace(doc, kept / doc.name)
                if report.published:
                    job.stage = "switching"
                    self.runtime(kb_name, create=True).holder.refresh(wait=True)
                return report.to_dict()
            finally:
                for folder in {p.parent for p in paths}:
                    shutil.rmtree(folder, ignore_errors=True)

        return work

    def submit_delete(self, kb_name: str, doc_id: str, caller: Principal) -> Job:
        """A job deleting the document ``doc_id`` names: its id, or its source as listed and cited
        ("churn.md": the id alone was taken, and the source every listing shows was not found)."""
        rt = self.runtime(kb_name)
        readable = [d for d in rt.holder.current().documents() if d.readable_by(caller.groups)]
        doc = next((d for d in readable if d.id == doc_id), None) or next((d for d in readable if d.source == doc_id), None)
        if doc is None:
            raise NotFoundError(*_not_found(rt, doc_id, readable, caller))
        check_may_change(doc, caller)
        work = self._delete_work(rt.name, doc.source, again=False)
        return self.jobs.submit("delete", rt.name, [doc.source], caller.name, work, {"source": doc.source})

    def _delete_work(self, kb_name: str, source: str, *, again: bool) -> Callable[[Job], dict[str, Any]]:
        def work(job: Job) -> dict[str, Any]:
            from ingest.pipeline import delete_sources, stop_if

            stop_if(job.should_stop)  # cancelled while it was queued
            rt = self.runtime(kb_name)
            job.stage = "deleting"
            # its kept upload goes with it (ingest.pipeline.forget_uploads), as with `kb delete`
            report = delete_sources(rt.kb, [source], self.embedder(), lock_timeout=60)
            if report.published:
                job.stage = "switching"
                rt.holder.refresh(wait=True)
            out = report.to_dict()
            if again and not report.deleted:
                # taken up after a restart: the process before published the delete, then stopped
                out["failed"] = []
            return out

        return work

    # -- jobs an earlier server process left ------------------------------------------------------
    def resume_jobs(self) -> set[Path]:
        """At start-up, before :meth:`clean_staging`: take up the jobs that a server process which
        stopped or was killed had taken and not ended (:func:`runner_gone`), with the files it had
        staged. A job that cannot run again (its files or its knowledge base are gone) ends as
        failed, saying so. Returns the staging folders the clean-up must spare: those of the jobs
        taken up (now this process's), and of every other job not ended."""
        spared: set[Path] = set()
        try:
            self.store.prune_jobs(time.time() - JOB_RETENTION_S)
            left = self.store.unfinished_jobs()
        except (sqlite3.Error, OSError) as ex:
            log.warning("the jobs of earlier server processes could not be read (%s); none taken up", ex)
            return spared
        me = self.jobs.runner
        for runner, rec in left:
            # the files of every job not ended stay: its own server's, one left to a server of its
            # knowledge base, or one that another server starting with this one claims first, and
            # has not yet moved under its own name when this one clears the folders of the dead
            spared |= {Path(p).parent for p in (rec.get("spec") or {}).get("staged") or ()}
            if not runner_gone(runner, float(rec.get("created_at", 0))):
                continue
            if self.kb_names is not None and rec.get("kb") not in self.kb_names:
                continue  # left to a server of its knowledge base, with its files
            try:
                job = Job.from_record(rec)
                if not self.store.claim_job(job.id, runner, me):
                    continue  # another process starting with this one took it
            except (sqlite3.Error, KeyError, TypeError, ValueError) as ex:
                log.warning("job %s of %s could not be taken up (%s)", rec.get("id"), runner, ex)
                continue
            try:
                work, folders = self._work_again(job)
            except (KBError, OSError, KeyError, TypeError, ValueError) as ex:
                why = str(ex) if isinstance(ex, KBError) else f"{type(ex).__name__}: {ex}"
                self.jobs.end(job, {
                    "error": "interrupted",
                    "message": f"the server stopped before this job ended, and it cannot run again: {why}",
                })
                log.warning("job %s of %s ended: %s", job.id, runner, why)
                continue
            spared |= folders
            self.jobs.resume(job, work)
            log.info("job %s (%s) taken up from %s, which stopped before it ended", job.id, job.kind, runner)
        return spared

    def _work_again(self, job: Job) -> tuple[Callable[[Job], dict[str, Any]], set[Path]]:
        spec = job.spec
        if job.kind == "delete":
            self.knowledge_base(job.kb)
            return self._delete_work(job.kb, str(spec["source"]), again=True), set()
        staged = [Path(p) for p in spec["staged"]]
        moved: dict[Path, Path] = {}
        for folder in dict.fromkeys(p.parent for p in staged):
            if not folder.is_dir():
                raise InputError(f"its uploaded files are gone from {folder}", "upload them again")
            # renamed as this process's, so that no clean-up of a dead process's folders takes it
            mine = folder.parent / f"p{os.getpid()}-{_host()}-{uuid.uuid4().hex}"  # as staging_dir names it
            os.rename(folder, mine)
            moved[folder] = mine
        # a file missing from its folder was kept already: the process before published it and
        # was killed while it moved the job's files out of staging
        paths = [q for q in (moved[p.parent] / p.name for p in staged) if q.exists()]
        if not paths:
            raise InputError("its uploaded files are gone", "upload them again")
        spec["staged"] = [str(p) for p in paths]
        return self._ingest_work(self.knowledge_base(job.kb).name, spec), set(moved.values())
