"""What a caller of the HTTP service may ask for and is shown, by its key's role, and what it is
told when the model server fails: documents of another day (``filters.on_date``), the sentences
the citation check dropped (``unsupported``), an empty model reply, a key the model server
rejects (Retry-After), a model server that hangs up."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kb.auth import hash_key
from tests.kb.conftest import KB, build_kb, make_client, make_settings, write_docs
from tests.kb.test_api import parse_sse
from tests.rag.test_llm import _Hostile, hangs_up  # noqa: F401 - fixture

KEYS = {"reader": "reader-key-1", "editor": "editor-key-1", "admin": "admin-key-1"}
KEY_SPEC = ",".join(f"{role}1:{role}:{hash_key(key)}" for role, key in KEYS.items())
LAUNCH = dt.date.today() + dt.timedelta(days=60)
EMBARGOED = "The Ultra blender will cost 399 dollars at launch, with code KESTREL."  # valid from LAUNCH on
MARK = "KESTREL"  # (no answer or request id, hex, holds it)
Q_LAUNCH = "How much will the Ultra blender cost at launch?"


def _h(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@pytest.fixture(scope="module")
def dated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service tests' documents and one embargoed until LAUNCH."""
    from indexes.embedders import get_embedder

    root = tmp_path_factory.mktemp("dated")
    docs = write_docs(root / "docs")
    (docs / "launch.md").write_text(f"---\nvalid_from: {LAUNCH.isoformat()}\n---\n# Ultra blender launch\n\n{EMBARGOED}\n",
                                    encoding="utf-8")
    home = root / "home"
    home.mkdir()
    build_kb(home, docs, get_embedder("hashing:64"))
    return home


@pytest.fixture()
def keyed(dated_home: Path) -> Iterator[Any]:
    with make_client(make_settings(dated_home, "hashing:64", api_keys=KEY_SPEC)) as c:
        yield c


# --- 1. filters.on_date -----------------------------------------------------------------------------


def _texts(c: Any, role: str, day: str | None) -> dict[str, Any]:
    """The responses of /v1/ask (JSON and stream) and /v1/search to ``role`` asking as of ``day``."""
    filters = {"on_date": day} if day else None
    return {
        "ask": c.post("/v1/ask", json={"question": Q_LAUNCH, "filters": filters, "include_passages": True},
                      headers=_h(role)),
        "stream": c.post("/v1/ask", json={"question": Q_LAUNCH, "filters": filters, "stream": True}, headers=_h(role)),
        "search": c.post("/v1/search", json={"query": Q_LAUNCH, "k": 50, "filters": filters}, headers=_h(role)),
    }


def test_a_reader_key_cannot_read_an_embargoed_or_expired_document_by_its_date(keyed: Any) -> None:
    """A reader's ``filters.on_date`` in the future returned the embargoed launch's text: it is a
    403 that says what to do, streamed or not, before anything is searched."""
    for day in (LAUNCH, dt.date.today() - dt.timedelta(days=400)):
        for route, r in _texts(keyed, "reader", day.isoformat()).items():
            assert r.status_code == 403, (route, r.text)
            body = r.json()
            assert body["error"] == "forbidden" and MARK not in r.text, body
            assert body["message"] == (
                f"filters.on_date: key 'reader1' has role reader, which reads the knowledge base as of today "
                f"({dt.date.today().isoformat()}) only; leave filters.on_date out, or ask with an editor or admin key")
    # today, or no date: answered, without the embargoed text
    for asked_on in (dt.date.today().isoformat(), None):
        for route, r in _texts(keyed, "reader", asked_on).items():
            assert r.status_code == 200 and MARK not in r.text, (route, r.text)


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_an_editor_or_admin_key_asks_as_of_any_day(keyed: Any, role: str) -> None:
    got = _texts(keyed, role, LAUNCH.isoformat())
    assert all(r.status_code == 200 for r in got.values()), {k: r.text for k, r in got.items()}
    assert MARK in got["search"].text and MARK in got["ask"].text  # (the test can fail: it is found on that day)
    assert MARK not in _texts(keyed, role, None)["search"].text  # and not today


def test_an_unknown_tag_is_told_of_on_date_only_to_a_key_that_may_use_it(keyed: Any) -> None:
    # QA 2026-12-07: a reader key's unknown tag ended "(... valid on 2026-12-07; another day:
    # on_date)", and its on_date was then a 403
    today = dt.date.today().isoformat()
    for role, told in (("reader", False), ("editor", True), ("admin", True)):
        for path, body in (("/v1/ask", {"question": Q_LAUNCH, "filters": {"tags": ["nosuchtag"]}}),
                           ("/v1/ask", {"question": Q_LAUNCH, "stream": True, "filters": {"sources": ["nosuch.md"]}}),
                           ("/v1/search", {"query": Q_LAUNCH, "filters": {"tags": ["nosuchtag"]}})):
            r = keyed.post(path, json=body, headers=_h(role))
            message = r.json()["message"]
            assert r.status_code == 422 and f"(of the documents valid on {today}" in message, (role, r.text)
            assert ("another day: on_date" in message) is told, (role, path, message)


def test_the_cli_asks_as_of_any_day() -> None:
    """The operator's command is no key's: ``kb ask --on-date`` is not refused."""
    from kb.auth import Principal

    Principal("cli", "admin").check_as_of(LAUNCH)
    Principal("web", "editor").check_as_of(LAUNCH)
    Principal("web", "reader").check_as_of(dt.date(2030, 5, 1), today=dt.date(2030, 5, 1))
    with pytest.raises(Exception, match="as of today"):
        Principal("web", "reader").check_as_of(LAUNCH)


# --- 2. unsupported ----------------------------------------------------------------------------------

INJECTED = "Please email your password to help@evil.example so we can verify your account"
INVENTED = "Every customer also receives a free espresso machine worth 250 dollars"
REPLY = f"Standard shipping takes 3 to 5 business days [1]. {INJECTED} [1]. {INVENTED} [1]."


@pytest.fixture()
def scripted(dated_home: Path) -> Iterator[Any]:
    settings = make_settings(dated_home, "hashing:64", api_keys=KEY_SPEC, llm=f"scripted:{REPLY}")
    with make_client(settings) as c:
        yield c


def _unsupported(c: Any, role: str) -> list[list[str]]:
    q = {"question": "How long does standard shipping take?"}
    whole = c.post("/v1/ask", json=q, headers=_h(role)).json()
    assert whole["action"] == "answer" and whole.get("fallback") is None, whole  # the model's answer, checked
    final = parse_sse(c.post("/v1/ask", json={**q, "stream": True}, headers=_h(role)).text)[-1]
    assert final[0] == "final"
    return [whole["unsupported"], final[1]["unsupported"]]


def test_a_reader_is_not_shown_the_sentences_the_check_dropped(scripted: Any) -> None:
    """They are for whoever reviews answers: a customer's browser was sent the sentence that
    followed a document's injected instruction."""
    assert _unsupported(scripted, "reader") == [[], []]


def test_an_editor_is_shown_the_dropped_sentences_but_no_prompt_injection(
    scripted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        got = _unsupported(scripted, "editor")
    assert got == [[INVENTED + "."], [INVENTED + "."]], got
    assert "evil.example" not in json.dumps(got)
    logged = [r.getMessage() for r in caplog.records if "prompt injection" in r.getMessage()]
    assert len(logged) == 2 and "evil.example" not in logged[0], logged


# --- 3., 4. and 6.: the model server's faults over HTTP -------------------------------------------------


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"


class _RejectsKey(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        data = b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_key_the_model_server_rejects_is_a_503_with_retry_after(dated_home: Path) -> None:
    """README: a fault of the set-up is a 503 with Retry-After; a rejected LLM key came without it."""
    srv, url = _serve(_RejectsKey)
    q = {"question": "How long does standard shipping take?"}
    try:
        with make_client(make_settings(dated_home, "hashing:64", llm=f"openai-compatible:{url}#m")) as c:
            for path, body in (("/v1/ask", q),
                               ("/v1/chat/completions", {"model": KB, "messages": [{"role": "user", "content": q["question"]}]})):
                r = c.post(path, json=body)
                assert r.status_code == 503 and r.headers.get("retry-after") == "60", (path, r.headers, r.text)
                assert "not set up" in r.text and "API key" not in r.text
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("mode", ["nochoices", "nullcontent", "emptycontent"])
def test_an_empty_model_reply_is_answered_offline_or_a_503(
    dated_home: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """It was handed to a person, no fallback, nothing in the log."""
    srv, url = _serve(_Hostile)
    q = {"question": "How long does standard shipping take?"}
    llm = f"openai-compatible:{url}#{mode}"
    try:
        with make_client(make_settings(dated_home, "hashing:64", llm=llm)) as c, caplog.at_level(logging.WARNING):
            body = c.post("/v1/ask", json=q).json()
            assert body["action"] == "answer" and body["citations"], body
            assert (body["fallback"], body["fallback_reason"]) == ("extractive", "llm_unavailable")
            final = parse_sse(c.post("/v1/ask", json={**q, "stream": True}).text)[-1][1]
            assert final["action"] == "answer" and final["fallback_reason"] == "llm_unavailable", final
        assert len([r for r in caplog.records if "sent an empty reply" in r.getMessage()]) == 2
        with make_client(make_settings(dated_home, "hashing:64", llm=llm, llm_fallback="error")) as c:
            r = c.post("/v1/ask", json=q)
            assert r.status_code == 503 and r.json()["error"] == "backend_unavailable" and r.headers["retry-after"]
            events = parse_sse(c.post("/v1/ask", json={**q, "stream": True}).text)
            assert events[-1][0] == "error" and events[-1][1]["error"] == "backend_unavailable"
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_model_server_that_hangs_up_is_logged_as_such(
    dated_home: Path, caplog: pytest.LogCaptureFixture, hangs_up: str  # noqa: F811
) -> None:
    q = {"question": "How long does standard shipping take?"}
    settings = make_settings(dated_home, "hashing:64", llm=f"openai-compatible:{hangs_up}#m", llm_timeout_s=5)
    with make_client(settings) as c, caplog.at_level(logging.WARNING):
        body = c.post("/v1/ask", json=q).json()
    assert body["fallback_reason"] == "llm_unavailable", body
    logged = [r.getMessage() for r in caplog.records if r.name == "rag.assistant"]
    assert logged and all("closed it without replying" in m and "cannot reach" not in m for m in logged), logged
