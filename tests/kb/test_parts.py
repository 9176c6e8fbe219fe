"""Service parts without the HTTP layer: index holder swaps, jobs, store export, webhook."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from kb.service.holder import IndexHolder
from kb.service.jobs import Job, JobManager, JobNotFound
from kb.service.store import AnswerNotFound, ServiceStore
from kb.service.webhook import HandoffNotifier
from tests.kb.conftest import build_kb, write_docs


def _wait(pred: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_holder_keeps_serving_then_swaps(tmp_path: Path, fake_embedder: Any) -> None:
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import ingest_paths

    home = tmp_path / "home"
    docs = write_docs(tmp_path / "docs")
    build_kb(home, docs, fake_embedder)
    kb = KnowledgeBase(home, "acme")
    swaps: list[tuple[str | None, str]] = []
    holder = IndexHolder(kb, "hashing:64", check_s=0.0, grace_s=0.2, on_swap=lambda old, new: swaps.append((old, new.version)))
    first = holder.current()
    assert holder.version == first.version and swaps == [(None, first.version)]
    assert first._all_chunks is not None  # warmed before it was served: its chunks in memory
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.md").write_text("# New\n\nPelicans deliver parcels on Sundays.\n", encoding="utf-8")
    report = ingest_paths(KnowledgeBase(home, "acme"), [extra / "new.md"], fake_embedder)
    assert report.published
    # no question asked: the watcher finds the new version and loads it in the background (it
    # was loaded only when a question came, which was answered from the old version)
    assert _wait(lambda: holder.version == kb.live_version())
    assert holder.current().version == kb.live_version()
    assert swaps[-1] == (first.version, kb.live_version())
    assert holder.current()._all_chunks is not None  # the new version too, before the swap
    assert any(d.source == "new.md" for d in holder.current().documents())
    holder.close()


def test_a_replaced_version_is_freed_without_a_garbage_collection(tmp_path: Path, fake_embedder: Any) -> None:
    """A replaced version, the retriever over it and its mapped vectors file are freed once the
    grace period ends, by reference counting alone: the caches of the version and of its
    retriever held their owners (a reference cycle), and a server publishing often kept every
    replaced version's vectors file, deleted from disk, mapped (35 after 30 uploads)."""
    import gc
    import weakref

    from indexes.kbase import VECTORS_RAW, KnowledgeBase
    from ingest.pipeline import ingest_paths
    from rag.assistant import Assistant
    from rag.support import get_scorer

    home = tmp_path / "home"
    build_kb(home, write_docs(tmp_path / "docs"), fake_embedder)
    kb = KnowledgeBase(home, "acme")
    holder = IndexHolder(kb, "hashing:64", check_s=0.0, grace_s=0.05)
    asst = Assistant(holder.current, fake_embedder, "extractive:", get_scorer("default", fake_embedder))
    gc.disable()
    try:
        assert asst.ask("How long do refunds take?").text
        old = weakref.ref(holder.current())
        mapped = str(holder.current().path / VECTORS_RAW)
        extra = tmp_path / "more"
        extra.mkdir()
        (extra / "new.md").write_text("# New\n\nPelicans deliver parcels on Sundays.\n", encoding="utf-8")
        assert ingest_paths(KnowledgeBase(home, "acme"), [extra / "new.md"], fake_embedder).published
        holder.refresh(wait=True)
        assert asst.ask("Who delivers parcels on Sundays?").text  # the retriever over the new version
        assert _wait(lambda: old() is None, timeout=5.0)
        with open("/proc/self/maps", encoding="utf-8") as maps:
            assert mapped not in maps.read()
    finally:
        gc.enable()
        holder.close()


def test_holder_keeps_serving_when_the_pointer_is_damaged(tmp_path: Path, fake_embedder: Any) -> None:
    """An empty pointer file is damage (kb ingest must not build over it), but the version the
    service has loaded is whole: questions keep their answers."""
    from indexes.kbase import CURRENT, KnowledgeBase

    home = tmp_path / "home"
    build_kb(home, write_docs(tmp_path / "docs"), fake_embedder)
    kb = KnowledgeBase(home, "acme")
    holder = IndexHolder(kb, "hashing:64", check_s=0.0)
    first = holder.current()
    (kb.path / CURRENT).write_text("", encoding="utf-8")
    assert holder.current() is first and holder.refresh() is first
    assert _wait(lambda: bool(holder.last_error and "is empty" in holder.last_error))  # the watcher's reading
    holder.close()


def test_jobs_report_states(tmp_path: Path) -> None:
    from kb.errors import LockedError

    finished: list[str] = []
    jm = JobManager(on_finish=lambda j: finished.append(j.state))
    ok = jm.submit("ingest", "acme", ["a.md"], "t", lambda job: {"failed": []})
    part = jm.submit("ingest", "acme", ["a.md", "b.pdf"], "t", lambda job: {"failed": [{"source": "b.pdf", "error": "x"}]})
    bad = jm.submit("delete", "acme", ["a.md"], "t", lambda job: (_ for _ in ()).throw(LockedError("kb is locked")))

    def crash_work(job: Job) -> dict[str, Any]:
        return {"result": 1 / 0}

    crash = jm.submit("delete", "acme", ["a.md"], "t", crash_work)

    def disk_full(job: Job) -> dict[str, Any]:
        import errno

        raise OSError(errno.ENOSPC, "No space left on device", "/kb/acme/versions/v9/chunks.sqlite")

    full = jm.submit("ingest", "acme", ["a.md"], "t", disk_full)
    refused = jm.submit("ingest", "acme", ["a.md"], "t", lambda job: {"failed": [{"source": "a.md", "error": "empty"}]})
    assert _wait(lambda: len(finished) == 6)
    full_job = jm.get(full.id)
    assert full_job.state == "failed" and full_job.error is not None and full_job.error["error"] == "storage"
    assert "free some space" in full_job.error["message"]
    refused_job = jm.get(refused.id)  # every file refused: nothing published is a failure, not "partial"
    assert refused_job.state == "failed" and refused_job.error == {"error": "nothing_published", "message": "empty"}
    assert jm.get(ok.id).state == "succeeded"
    assert jm.get(part.id).to_dict()["failed"] == [{"source": "b.pdf", "error": "x"}]
    bad_job = jm.get(bad.id)
    assert bad_job.state == "failed" and bad_job.error is not None and bad_job.error["error"] == "locked"
    assert jm.get(crash.id).error == {"error": "internal", "message": "ZeroDivisionError; see the server log"}
    with pytest.raises(JobNotFound):
        jm.get("job_nope")
    jm.stop()


def _answer(text: str, action: str, sources: list[str]) -> dict[str, Any]:
    return {"answer": text, "action": action, "confidence": 0.8,
            "citations": [{"n": i + 1, "source": s, "locator": "", "title": s, "text": "t", "score": 1.0}
                          for i, s in enumerate(sources)]}


def test_feedback_export_in_eval_format(tmp_path: Path) -> None:
    store = ServiceStore(tmp_path / "feedback.sqlite")
    store.record_answer(answer_id="a1", kb="acme", session_id="s1", question="How long do refunds take?",
                        answer=_answer("5 business days [1]", "answer", ["returns.md"]), lang="en", passages=[],
                        history=[], caller="t")
    store.record_answer(answer_id="a2", kb="acme", session_id="s1", question="And abroad?",
                        answer=_answer("Canada [1]", "answer", ["shipping.md"]), lang="en", passages=[],
                        history=[{"role": "user", "content": "How long do refunds take?"},
                                 {"role": "assistant", "content": "5 business days [1]"}], caller="t")
    store.add_feedback("a1", "up", None, "t")
    store.add_feedback("a2", "down", "wrong country", "t")
    with pytest.raises(AnswerNotFound):
        store.add_feedback("nope", "up", None, "t")
    rows = list(store.export())
    assert [r["question"] for r in rows] == ["How long do refunds take?", "And abroad?"]
    up, down = rows
    assert up["answers"] == ["5 business days [1]"] and up["gold"] == ["returns.md"] and up["answerable"] is True
    assert down["answerable"] is False and down["gold"] == [] and down["needs_review"] is True
    assert down["history"][0] == {"role": "user", "content": "How long do refunds take?"}
    assert down["feedback"]["comment"] == "wrong country"
    for r in rows:  # the keys eval/datasets.py reads
        assert {"id", "question", "answers", "gold", "lang", "answerable"} <= set(r)
        assert bool(r["gold"]) == r["answerable"]
    assert [r["id"] for r in store.export("down")] == [down["id"]]
    turns = store.history("s1")
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    # a rating changed replaces the caller's earlier one (QA 2026-12-07: "up" then "down" left the
    # answer in the export twice, as a test case and as an unanswerable one); another caller's stays
    store.add_feedback("a1", "down", "changed my mind", "t")
    store.add_feedback("a1", "up", None, "u")
    assert sorted((r["feedback"]["rating"], r["feedback"].get("comment")) for r in store.export()
                  if r["question"] == "How long do refunds take?") == [("down", "changed my mind"), ("up", None)]
    store.close()


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        type(self).bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture()
def receiver() -> Any:
    _Receiver.bodies = []
    _Receiver.fail_first = 0
    srv = HTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def test_webhook_retries_then_delivers(receiver: Any) -> None:
    _Receiver.fail_first = 2
    outcomes: list[str] = []
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    n = HandoffNotifier(url, backoff_s=0.01, retries=3, on_outcome=outcomes.append)
    assert n.notify({"event": "handoff", "conversation": [{"role": "user", "content": "hi"}]})
    assert _wait(lambda: outcomes == ["delivered"])
    assert _Receiver.bodies == [{"event": "handoff", "conversation": [{"role": "user", "content": "hi"}]}]
    n.stop()


def test_webhook_gives_up_without_blocking(receiver: Any) -> None:
    _Receiver.fail_first = 100
    outcomes: list[str] = []
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    n = HandoffNotifier(url, backoff_s=0.3, retries=2, on_outcome=outcomes.append)
    assert n.notify({"event": "handoff"})
    assert outcomes == []  # notify() only queues; delivery and retries happen in the background
    assert _wait(lambda: outcomes == ["failed"])
    n.stop()


def test_the_services_assistant_follows_the_answering_settings(hashing_home: Path) -> None:
    # every answering setting reaches the service, not only `kb ask` (the follow-up weight did not)
    from kb.service.core import Service
    from tests.kb.conftest import KB, make_settings

    svc = Service(make_settings(hashing_home, "hashing:64", followup_question_weight=0.0, query_cache_size=0))
    asst = svc.runtime(KB).assistant
    assert asst.followup_question_weight == 0.0 and asst.query_cache_size == 0
    r = asst.retriever()
    r.retrieve("How long is the return window?", k=3)
    assert len(r._qvecs) == 0  # nothing kept: every question is embedded
    on = Service(make_settings(hashing_home, "hashing:64")).runtime(KB).assistant.retriever()
    on.retrieve("How long is the return window?", k=3)
    assert len(on._qvecs) == 1


def test_the_ingestion_settings_are_keyword_arguments_of_ingest_and_reindex(hashing_home: Path) -> None:
    # `kb ingest`, `kb reindex`, `kb eval` and the service's uploads pass Settings.ingesting() on
    import inspect

    from ingest.pipeline import ingest_paths
    from ingest.reindex import reindex
    from tests.kb.conftest import make_settings

    opts = make_settings(hashing_home, "hashing:64", chunk_tokens=96, chunk_overlap=8, max_file_mb=5).ingesting()
    assert opts == {"max_file_mb": 5, "chunk_tokens": 96, "chunk_overlap": 8}
    for fn in (ingest_paths, reindex):
        assert set(opts) <= set(inspect.signature(fn).parameters), fn.__name__


def test_an_upload_name_from_a_gbk_client_is_read_as_chinese() -> None:
    # the multipart parser reads a file name that is not UTF-8 as Latin-1: "常见问题.txt" sent in
    # GBK was stored, and cited, as "³_¼ûÎÊÌâ.txt"
    from kb.service.core import safe_filename

    assert safe_filename("常见问题.txt".encode("gbk").decode("latin-1")) == "常见问题.txt"
    for name in ("常见问题.txt", "résumé.txt", "Café Menü.pdf", "faq.csv", "équipe.md", "Ñoño.txt"):
        assert safe_filename(name) == name  # names sent in UTF-8 are kept
    long = safe_filename("a" * 300 + ".txt")  # cut to 200 characters, its type kept
    assert len(long) == 200 and long.endswith("a.txt")
    assert safe_filename("../../etc/passwd") == "passwd"


def test_a_job_run_by_one_process_is_cancelled_through_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two server processes share the store: a DELETE /v1/jobs/{id} may reach the one not running it
    from ingest.pipeline import stop_if
    from kb.service import jobs as jobs_mod
    from kb.service.jobs import JobEndedError
    from kb.service.store import ServiceStore

    monkeypatch.setattr(jobs_mod, "CANCEL_POLL_S", 0.05)
    stores = [ServiceStore(tmp_path / "feedback.sqlite") for _ in range(2)]
    finished: list[str] = []
    runner = JobManager(store=stores[0], runner="a", on_finish=lambda j: finished.append(j.state))
    other = JobManager(store=stores[1], runner="b")

    def work(job: Job) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stop_if(job.should_stop)
            time.sleep(0.01)
        return {"failed": []}

    job = runner.submit("ingest", "acme", ["a.md"], "t", work)
    assert _wait(lambda: runner.get(job.id).state == "running")
    asked = other.cancel(job.id, "t")
    assert asked.cancel_requested and other.get(job.id).cancel_requested  # read back from the store
    assert _wait(lambda: finished == ["cancelled"])
    ended = other.get(job.id)
    assert ended.state == "cancelled" and ended.error is not None and ended.error["error"] == "cancelled"
    with pytest.raises(JobEndedError, match="already ended"):
        other.cancel(job.id, "t")
    runner.stop()
    for s in stores:
        s.close()
