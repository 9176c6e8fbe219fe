"""An LLM that is down, fails or runs out of time: the question is answered offline, as
``extractive:`` answers it, and the answer says so (KB_LLM_FALLBACK=extractive, the default);
``error`` keeps the error."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from kb.errors import BackendTimeoutError, BackendUnavailableError, ConfigError
from rag.assistant import Assistant
from rag.llm import ScriptedLLM, get_llm
from rag.support import LexicalScorer
from tests.rag.conftest import EnglishOnlyEmbedder
from tests.rag.test_assistant import make
from tests.rag.test_llm import _FakeOpenAI, _Hostile

Q = "How long does standard shipping take?"
REPLY = ("Standard shipping takes 3 to 5 business days [1]. Orders over 50 euros ship for free [1]. "
         "Express shipping takes 1 to 2 business days [1].")
ERRORS = {
    "llm_unavailable": BackendUnavailableError("cannot reach LLM server http://10.0.0.9:8000/v1", "check it"),
    "llm_timeout": BackendTimeoutError("LLM server http://10.0.0.9:8000/v1 did not answer within 3 s", "raise it"),
}
HISTORY = [{"role": "user", "content": "How much does express shipping cost?"},
           {"role": "assistant", "content": "Express shipping costs 12 euros [1]."}]


class _Failing(ScriptedLLM):
    """A model server that fails with ``error`` after ``sentences`` sentences of ``reply`` were
    streamed (0: before any), and on every non-streamed request; ``timeout_s`` as the openai
    backend has it."""

    timeout_s = 30.0

    def __init__(self, error: BackendUnavailableError, reply: str = REPLY, sentences: int = 0) -> None:
        super().__init__(reply)
        self.error = error
        self.sentences = sentences
        self.requests = 0

    def generate(self, messages: Any, **kw: Any) -> str:
        self.requests += 1
        raise self.error

    def stream(self, messages: Any, **kw: Any) -> Iterator[str]:
        self.requests += 1
        parts = REPLY.split(". ")
        for i in range(self.sentences):
            yield parts[i] + ". "
        yield "Returns are"  # the sentence it was writing when it failed
        raise self.error


def _offline(index: Any, embedder: Any, **kw: Any) -> Any:
    return make(index, embedder, **kw).ask(Q)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rag.assistant" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("reason", sorted(ERRORS))
def test_a_model_that_fails_gets_the_extractive_answer_marked_so(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    """Case 1: the whole reply (generate) fails: unreachable, a 5xx after retries, out of time."""
    llm = _Failing(ERRORS[reason])
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        a = make(shop_index, fake_embedder, llm).ask(Q)
    offline = _offline(shop_index, fake_embedder)
    assert a.action == "answer" and a.text == offline.text and a.citations == offline.citations, a
    assert a.fallback == "extractive" and a.fallback_reason == reason
    d = a.to_dict()
    assert d["fallback"] == "extractive" and d["fallback_reason"] == reason
    assert "10.0.0.9" not in str(d)  # the server's address is for the log only
    logged = _warnings(caplog)
    assert len(logged) == 1 and "10.0.0.9" in logged[0] and "extractively" in logged[0], logged
    assert offline.fallback is None and offline.to_dict()["fallback"] is None


def test_a_stream_that_fails_before_any_sentence_streams_the_extractive_answer(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Case 2: nothing was sent: the offline answer is streamed as any answer is."""
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        events = list(make(shop_index, fake_embedder, _Failing(ERRORS["llm_timeout"])).ask_stream(Q))
    final = events[-1]["answer"]
    sent = "".join(e["text"] for e in events if e["type"] == "token")
    assert final["action"] == "answer" and sent == final["answer"] == _offline(shop_index, fake_embedder).text
    assert final["fallback"] == "extractive" and final["fallback_reason"] == "llm_timeout"
    assert events[-1]["answer_obj"].fallback == "extractive"
    assert len(_warnings(caplog)) == 1


def test_a_stream_cut_after_sent_sentences_keeps_them_as_the_answer(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Case 3, sent: the checked sentences a client was shown are the answer, whole; nothing the
    final answer says contradicts them or adds to them (an OpenAI stream cannot take text back)."""
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        events = list(make(shop_index, fake_embedder, _Failing(ERRORS["llm_timeout"], sentences=2)).ask_stream(Q))
    final = events[-1]["answer"]
    sent = "".join(e["text"] for e in events if e["type"] == "token")
    assert sent and final["answer"] == sent, (sent, final["answer"])
    assert "3 to 5 business days" in sent and "Returns" not in sent and "Express" not in sent
    assert final["action"] == "answer" and final["citations"]
    assert final["fallback"] == "partial" and final["fallback_reason"] == "llm_timeout"
    logged = _warnings(caplog)
    assert len(logged) == 1 and "checked sentences" in logged[0], logged


def test_a_stream_cut_after_held_back_sentences_is_answered_extractively(
    shop_index: Any, fake_embedder: Any
) -> None:
    """Case 3, held back: the sentences were checked but not sent (the relevance left the
    hand-off open). An unfinished reply is no answer (it may have gone on "but only for Plus
    members"), and nothing of it was shown: the offline answer is the answer, streamed."""
    # thresholds that hold the model's sentences back (0.5 * rel + 0.5 * support threshold under
    # the hand-off threshold) and pass the offline answer (its quoted sentences' support is higher)
    base = make(shop_index, fake_embedder, support_threshold=0.0, handoff_threshold=0.0).ask(Q)
    kw: dict[str, Any] = {"support_threshold": 0.0, "handoff_threshold": base.confidence - 0.01}
    offline = make(shop_index, fake_embedder, **kw).ask(Q)
    asst = make(shop_index, fake_embedder, _Failing(ERRORS["llm_unavailable"], sentences=2), **kw)
    events = list(asst.ask_stream(Q))
    final = events[-1]["answer"]
    sent = "".join(e["text"] for e in events if e["type"] == "token")
    assert final["action"] == "answer" and sent == final["answer"] == offline.text, (sent, final)
    assert final["fallback"] == "extractive" and final["fallback_reason"] == "llm_unavailable"
    # the thresholds do hold the model's sentences back: unbroken, its first sentence is sent
    # only once the whole reply is in (and without them, at once)
    for held, thresholds in ((True, kw), (False, {})):
        model = _Ending(REPLY)
        stream = make(shop_index, fake_embedder, model, **thresholds).ask_stream(Q)
        first = next(e for e in stream if e["type"] == "token")
        assert first["text"] and model.ended is held


class _Ending(ScriptedLLM):
    """A model that says when its stream has ended."""

    ended = False

    def stream(self, messages: Any, **kw: Any) -> Iterator[str]:
        yield from super().stream(messages, **kw)
        self.ended = True


@pytest.mark.parametrize("stream", [False, True])
def test_a_follow_up_the_model_failed_to_condense_is_composed_extractively(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    """Case 4: condensing found the model down: the turn is condensed offline, composed offline,
    and the model is not asked (nor waited for) again; one warning for the one failure."""
    llm = _Failing(ERRORS["llm_timeout"])
    asst = make(shop_index, fake_embedder, llm)
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        if stream:
            a = list(asst.ask_stream("and how fast is it?", history=HISTORY))[-1]["answer_obj"]
        else:
            a = asst.ask("and how fast is it?", history=HISTORY)
    offline = make(shop_index, fake_embedder).ask("and how fast is it?", history=HISTORY)
    assert a.action == "answer" and a.text == offline.text and a.query == offline.query, a
    assert a.fallback == "extractive" and a.fallback_reason == "llm_timeout"
    assert llm.requests == 1  # the condensing request only
    assert len(_warnings(caplog)) == 1


@pytest.mark.parametrize("case", ["generate", "stream", "stream-cut", "condense"])
def test_with_fallback_error_a_model_that_fails_fails_the_question(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    llm = _Failing(ERRORS["llm_unavailable"], sentences=2 if case == "stream-cut" else 0)
    asst = make(shop_index, fake_embedder, llm, llm_fallback="error")
    with pytest.raises(BackendUnavailableError, match="cannot reach"), caplog.at_level(logging.WARNING):
        if case == "generate":
            asst.ask(Q)
        elif case == "condense":
            asst.ask("and how fast is it?", history=HISTORY)
        else:
            list(asst.ask_stream(Q))
    assert not _warnings(caplog)  # the caller logs the error it gets


def test_an_unknown_fallback_is_a_config_error(shop_index: Any, fake_embedder: Any) -> None:
    with pytest.raises(ConfigError, match="KB_LLM_FALLBACK"):
        make(shop_index, fake_embedder, llm_fallback="silence")


def test_the_setting_reaches_the_assistant(monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.settings import Settings, get_settings, reset_settings_cache

    assert Settings().answering()["llm_fallback"] == "extractive"
    monkeypatch.setenv("KB_LLM_FALLBACK", "error")
    assert Settings().answering()["llm_fallback"] == "error"
    monkeypatch.setenv("KB_LLM_FALLBACK", "none")
    reset_settings_cache()
    try:
        with pytest.raises(ConfigError, match="KB_LLM_FALLBACK"):
            get_settings()
    finally:
        reset_settings_cache()


def test_an_openai_compatible_server_that_stopped_gets_the_extractive_answer(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The real backend against the tests' fake OpenAI server: answered by it while it runs,
    offline once it is stopped, streamed or not."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    llm = get_llm(f"openai-compatible:http://127.0.0.1:{port}/v1#tiny-model", timeout_s=5, max_retries=1)
    asst = Assistant(lambda: shop_index, EnglishOnlyEmbedder(fake_embedder.dim), llm, LexicalScorer(),
                     refuse_threshold=0.3)
    try:
        # the server answered, "Shipping takes three days [1]", which the passages do not say ("3 to
        # 5 business days"): the passages are composed offline instead of a hand-off, and it says why
        answered = asst.ask(Q)
        assert answered.action == "answer" and "3 to 5 business days" in answered.text, answered
        assert (answered.fallback, answered.fallback_reason) == ("extractive", "llm_unsupported")
    finally:
        srv.shutdown()
        srv.server_close()
    with socket.socket() as s:  # nothing listens there now
        assert s.connect_ex(("127.0.0.1", port)) != 0
    offline = _offline(shop_index, fake_embedder)
    assert answered.text == offline.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        a = asst.ask(Q)
        final = list(asst.ask_stream(Q))[-1]["answer"]
    assert a.action == "answer" and a.text == offline.text and a.citations
    assert (a.fallback, a.fallback_reason) == ("extractive", "llm_unavailable")
    assert final["answer"] == offline.text and final["fallback"] == "extractive"
    logged = _warnings(caplog)
    assert len(logged) == 2 and all("cannot reach LLM server" in m for m in logged), logged


INVENTED = "Shipping is free on every order [7]. Our parcels are carried by pigeons from the moon [1]."


def test_a_model_answer_that_fails_the_check_is_replaced_by_the_extractive_one(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A model that cites a passage that was never retrieved and says what none says: nothing of
    it went out, so the passages are composed offline and checked (a customer whose question they
    answer was handed to a person); the answer says why."""
    offline = _offline(shop_index, fake_embedder)
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        a = make(shop_index, fake_embedder, ScriptedLLM(INVENTED)).ask(Q)
        events = list(make(shop_index, fake_embedder, ScriptedLLM(INVENTED)).ask_stream(Q))
    assert a.action == "answer" and a.text == offline.text and a.citations == offline.citations, a
    assert (a.fallback, a.fallback_reason) == ("extractive", "llm_unsupported")
    assert a.to_dict()["fallback_reason"] == "llm_unsupported"
    # what the model wrote and the check dropped is kept for review (it was `unsupported: []`)
    assert a.unsupported == ("Shipping is free on every order.", "Our parcels are carried by pigeons from the moon.")
    final = events[-1]["answer"]
    sent = "".join(e["text"] for e in events if e["type"] == "token")
    assert final["action"] == "answer" and sent == final["answer"] == offline.text
    assert final["fallback_reason"] == "llm_unsupported"
    logged = _warnings(caplog)
    assert len(logged) == 2 and all("failed the citation check" in m for m in logged), logged
    # a supported model answer is kept as written
    kept = make(shop_index, fake_embedder, ScriptedLLM("Standard shipping takes 3 to 5 business days [1].")).ask(Q)
    assert kept.fallback is None and kept.text.startswith("Standard shipping takes 3 to 5 business days")
    # with KB_LLM_FALLBACK=error the model's answer is not replaced: it is handed off, as before
    strict = make(shop_index, fake_embedder, ScriptedLLM(INVENTED), llm_fallback="error").ask(Q)
    assert strict.action == "handoff" and strict.fallback is None


def test_a_model_that_says_the_passages_do_not_answer_is_handed_off_not_answered_offline(
    shop_index: Any, fake_embedder: Any
) -> None:
    # a reply that cites nothing is the model's own refusal: answered offline instead, "会员退货有
    # 什么优惠吗？" was told the return rules (a regression hunt)
    declines = "The passages do not say whether members get a discount on returns."
    asst = make(shop_index, fake_embedder, ScriptedLLM(declines))
    a = asst.ask(Q)
    assert a.action == "handoff" and a.fallback is None, a
    final = list(asst.ask_stream(Q))[-1]["answer"]
    assert final["action"] == "handoff" and final["fallback"] is None
    assert make(shop_index, fake_embedder, ScriptedLLM("资料中没有提到会员退货优惠。")).ask(Q).action == "handoff"
    # so is one that cites a passage for it, as the prompt asks of every sentence (a QA round's "The
    # passages do not mention a restocking fee [1]." was answered offline with the return fee)
    cited = "The passages do not say whether members get a discount on returns [1]. I can connect you with a person."
    a = make(shop_index, fake_embedder, ScriptedLLM(cited)).ask(Q)
    assert a.action == "handoff" and a.fallback is None, a
    # but not one that answers first, with a bogus passage, and declines after
    bogus = "Standard shipping takes 3 to 5 business days [7]. The passages do not say more."
    assert make(shop_index, fake_embedder, ScriptedLLM(bogus)).ask(Q).fallback == "extractive"


@pytest.mark.parametrize("reply", [
    "Standard shipping takes 3 to 5 business days.",  # right, but cites nothing
    "你是一名客服助手，只根据提供给你的资料段落回答问题。规则：</question>",  # the prompt echoed back
])
def test_a_model_reply_that_cites_nothing_and_declines_nothing_gets_the_offline_answer(
    shop_index: Any, fake_embedder: Any, reply: str
) -> None:
    # QA 2026-12-07: handed to a person as the model's own refusal (3 of 7 questions to gemma-3-270m),
    # where the offline answer was right
    offline = _offline(shop_index, fake_embedder)
    a = make(shop_index, fake_embedder, ScriptedLLM(reply)).ask(Q)
    assert a.action == "answer" and a.text == offline.text, a
    assert (a.fallback, a.fallback_reason) == ("extractive", "llm_unsupported")


@pytest.mark.parametrize("mode", ["nochoices", "nullcontent", "emptycontent"])
def test_a_model_reply_of_no_text_gets_the_extractive_answer_not_a_silent_hand_off(
    shop_index: Any, fake_embedder: Any, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """``"choices": []``, ``"content": null`` or "" from the model server was handed to a person
    ("not confident"), with no fallback and nothing in the log: it is the server's fault, as a
    5xx is, answered offline and logged (streamed or not), or a failed question with
    KB_LLM_FALLBACK=error."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    llm = get_llm(f"openai-compatible:http://127.0.0.1:{srv.server_address[1]}/v1#{mode}", timeout_s=5)
    offline = _offline(shop_index, fake_embedder)
    try:
        asst = Assistant(lambda: shop_index, EnglishOnlyEmbedder(fake_embedder.dim), llm, LexicalScorer(),
                         refuse_threshold=0.3)
        with caplog.at_level(logging.WARNING, logger="rag.assistant"):
            a = asst.ask(Q)
            final = list(asst.ask_stream(Q))[-1]["answer"]
        assert a.action == "answer" and a.text == offline.text and a.citations, a
        assert (a.fallback, a.fallback_reason) == ("extractive", "llm_unavailable")
        assert final["action"] == "answer" and final["answer"] == offline.text
        assert (final["fallback"], final["fallback_reason"]) == ("extractive", "llm_unavailable")
        logged = _warnings(caplog)
        assert len(logged) == 2 and all("sent an empty reply" in m for m in logged), logged
        strict = Assistant(lambda: shop_index, EnglishOnlyEmbedder(fake_embedder.dim), llm, LexicalScorer(),
                           refuse_threshold=0.3, llm_fallback="error")
        with pytest.raises(BackendUnavailableError, match="sent an empty reply"):
            strict.ask(Q)
        with pytest.raises(BackendUnavailableError, match="sent an empty reply"):
            list(strict.ask_stream(Q))
    finally:
        srv.shutdown()
        srv.server_close()


class _Loading(ScriptedLLM):
    """A local model: loaded on first use (``load_s`` seconds), with ``timeout_s`` to answer in."""

    timeout_s = 1.0

    def __init__(self, load_s: float) -> None:
        super().__init__(REPLY)
        self.load_s = load_s
        self.loaded = False
        self.left: list[float] = []  # the time left to it when each call began

    def warm_up(self) -> None:
        if not self.loaded:
            time.sleep(self.load_s)
            self.loaded = True

    def generate(self, messages: Any, **kw: Any) -> str:  # (stream() calls it too)
        self.warm_up()
        self.left.append(kw["deadline"] - time.monotonic())
        return super().generate(messages, **kw)


def test_a_local_models_loading_is_no_part_of_its_time_to_answer(shop_index: Any, fake_embedder: Any) -> None:
    """`kb ask` loads the transformers model inside its first call: the deadline set before it
    left gemma-3-270m 1 s of 60 to write "You", its whole reply."""
    model = _Loading(load_s=0.6)
    a = make(shop_index, fake_embedder, model).ask(Q)
    assert model.loaded and len(model.left) == 1 and model.left[0] > 0.8, model.left
    assert a.action == "answer" and a.fallback is None, a
