"""Language-model backends behind one small protocol, chosen by ``"provider:model"`` strings.

``get_llm(spec)`` resolves:

- ``extractive:`` - no model: picks sentences of the passages in the prompt (the offline default;
  the assistant uses :mod:`rag.compose` directly for it, with the embedder).
- ``scripted:<reply>`` - a deterministic fake for tests: replies with ``<reply>`` (or a list of
  replies / a function given to :class:`ScriptedLLM`).
- ``openai-compatible:http://host:port/v1#model`` - any OpenAI-compatible chat endpoint (vLLM,
  Ollama, llama.cpp server, DeepSeek, Qwen ...) via the official ``openai`` client.
- ``openai:<model>`` - the OpenAI API (the client takes the key from ``api_key=`` or its usual
  configuration).
- ``transformers:/path/to/model[#file.gguf]`` - a local Hugging Face model; a GGUF file is
  loaded through ``gguf_file=``.

Every backend has ``generate(messages, **kw) -> str`` and ``stream(messages, **kw) ->
Iterator[str]``; a server that cannot be reached raises :class:`BackendUnavailableError` with a
message that says what to check.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from kb.errors import (
    INVISIBLE,
    BackendTimeoutError,
    BackendUnavailableError,
    ConfigError,
    MissingDependencyError,
)

Message = dict[str, str]


class LLM(Protocol):
    id: str
    extractive: bool

    def generate(self, messages: Sequence[Message], **kw: Any) -> str: ...

    def stream(self, messages: Sequence[Message], **kw: Any) -> Iterator[str]: ...


# --- extractive ----------------------------------------------------------------------------------

_PASSAGE_BLOCK = re.compile(r'<passage n="(\d+)"[^>]*>\n?(.*?)\n?</passage>', re.S)


class ExtractiveLLM:
    """No model: answers with the passage sentences (from the prompt's ``<passage>`` blocks) that
    share the most terms with the question, each cited. The assistant composes extractive
    answers with :class:`rag.compose.ExtractiveComposer` and the embedder instead; this backend
    exists so that ``extractive:`` honours the same protocol as every other backend."""

    extractive = True

    def __init__(self, max_sentences: int = 3) -> None:
        self.id = "extractive:"
        self.max_sentences = max_sentences

    def generate(self, messages: Sequence[Message], **kw: Any) -> str:
        from indexes.text import split_sentences, tokenize

        prompt = "\n".join(m.get("content", "") for m in messages if m.get("role") == "user")
        blocks = _PASSAGE_BLOCK.findall(prompt)
        question = _PASSAGE_BLOCK.sub(" ", prompt)
        m = re.search(r"<question>\s*(.*?)\s*</question>", prompt, re.S)
        if m:
            question = m.group(1)
        q = set(tokenize(question))
        scored: list[tuple[float, int, str]] = []
        for n, text in blocks:
            for sent in split_sentences(text):
                words = set(tokenize(sent))
                if words and q:
                    scored.append((len(q & words) / len(q), int(n), sent.strip()))
        scored.sort(key=lambda x: -x[0])
        picked = [(n, s) for score, n, s in scored[: self.max_sentences] if score > 0]
        return " ".join(f"{s} [{n}]" for n, s in picked)

    def stream(self, messages: Sequence[Message], **kw: Any) -> Iterator[str]:
        text = self.generate(messages, **kw)
        yield from re.findall(r"\S+\s*", text)


# --- scripted fake -------------------------------------------------------------------------------


class ScriptedLLM:
    """A deterministic fake: replies with the next scripted reply (the last one repeats), or with
    ``fn(messages)``. Records every call in ``calls`` so tests can inspect the prompts."""

    extractive = False

    def __init__(self, replies: Sequence[str] | str | Callable[[Sequence[Message]], str] = "") -> None:
        self.id = "scripted:"
        self._fn = replies if callable(replies) else None
        self._replies = [replies] if isinstance(replies, str) else list(replies) if not callable(replies) else []
        self._i = 0
        self.calls: list[list[Message]] = []
        self._lock = threading.Lock()

    def generate(self, messages: Sequence[Message], **kw: Any) -> str:
        with self._lock:
            self.calls.append([dict(m) for m in messages])
            if self._fn is not None:
                return str(self._fn(messages))
            if not self._replies:
                return ""
            reply = self._replies[min(self._i, len(self._replies) - 1)]
            self._i += 1
            return reply

    def stream(self, messages: Sequence[Message], **kw: Any) -> Iterator[str]:
        text = self.generate(messages, **kw)
        yield from re.findall(r"\S+\s*|\s+", text)


# --- OpenAI-compatible servers -------------------------------------------------------------------


class OpenAICompatibleLLM:
    """Chat completions through the official ``openai`` client (streaming, timeout, retries).

    A server found down (refused connections, HTTP 429 or 5xx after the retries, or no answer
    within the timeout) is not asked again for ``cooldown_s`` seconds: each call in that time
    fails at once with the same error, so a service whose model is down answers offline
    (KB_LLM_FALLBACK) at once instead of every question waiting out the retries, or the whole
    timeout, first. The first call after the cooldown asks the server again; an answer ends it."""

    extractive = False

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = 512,
        temperature: float = 0.0,
        cooldown_s: float = 10.0,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.id = f"openai-compatible:{base_url}#{model}" if base_url else f"openai:{model}"
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.cooldown_s = cooldown_s
        self._client: Any = None
        self._lock = threading.Lock()
        self._down: tuple[float, BackendUnavailableError] | None = None  # (until when, why) see the class

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ImportError as ex:
                    raise MissingDependencyError("openai", "llm") from ex
                # retries are made here, within one deadline (:meth:`_create`): the client's own
                # would each get the whole timeout (3 tries of KB_LLM_TIMEOUT_S=3 took 12 s)
                kw: dict[str, Any] = {"timeout": self.timeout_s, "max_retries": 0}
                if self.base_url:
                    kw["base_url"] = self.base_url
                    # a hosted compatible server (DeepSeek, Qwen) needs the key: the client's own variable
                    kw["api_key"] = self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
                elif self.api_key:
                    kw["api_key"] = self.api_key
                try:
                    self._client = openai.OpenAI(**kw)
                except openai.OpenAIError as ex:
                    raise ConfigError(f"cannot configure {self.id}: {ex}",
                                      "set the API key in OPENAI_API_KEY (the openai client reads it)") from ex
            return self._client

    def _where(self) -> str:
        return self.base_url or "the OpenAI API"

    def _translate(self, ex: Exception) -> Exception:
        import openai

        if isinstance(ex, openai.APITimeoutError):
            return self._timed_out()
        if isinstance(ex, openai.APIConnectionError):
            if _hung_up(ex):
                return BackendUnavailableError(
                    f"LLM server {self._where()} accepted the connection but closed it without replying",
                    "check the server's logs (a crash on the request, or a proxy in front of it that dropped "
                    "it) and that KB_LLM's http/https is the server's, and retry",
                )
            return BackendUnavailableError(
                f"cannot reach LLM server {self._where()}",
                "check that it is running and that KB_LLM names the right host, port and /v1 path",
            )
        if isinstance(ex, openai.AuthenticationError):
            return ConfigError(f"LLM server {self._where()} rejected the API key",
                               "set OPENAI_API_KEY to the key the server expects")
        if isinstance(ex, openai.NotFoundError):
            if not self.base_url:
                return ConfigError(
                    f"the OpenAI API does not know model {self.model!r}", "check the model name in KB_LLM"
                )
            # vLLM, Ollama, llama.cpp answer 404 for a path they do not serve as for a model they
            # do not know: a base URL without /v1 was reported as an unknown model
            return ConfigError(
                f"LLM server {self.base_url} answered 404 (not found): either it does not know model "
                f"{self.model!r} or the URL's path is not its API path",
                "check the model name after '#' in KB_LLM, and the path before it (most servers "
                "want http://host:port/v1)",
            )
        if isinstance(ex, openai.RateLimitError):
            return BackendUnavailableError(
                f"LLM server {self._where()} is rate-limiting requests (HTTP 429)",
                "retry later, or lower the request rate (e.g. fewer KB_GENERATION_SLOTS) or raise the server's limit",
            )
        if isinstance(ex, openai.APIStatusError):
            return BackendUnavailableError(
                f"LLM server {self._where()} failed with HTTP {ex.status_code}", "check the server's logs and retry"
            )
        said = " ".join(str(getattr(ex, "message", "") or "").split())[:200]
        if isinstance(ex, openai.APIError) and said:  # an error event in a stream: the server's own words
            return BackendUnavailableError(
                f"LLM server {self._where()} reported an error: {said}", "check the server's logs and retry"
            )
        return BackendUnavailableError(f"LLM server {self._where()} failed: {ex.__class__.__name__}", "retry later")

    def _params(self, kw: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_tokens": int(kw.get("max_tokens", self.max_tokens)),
            "temperature": float(kw.get("temperature", self.temperature)),
        }

    def _timed_out(self) -> BackendUnavailableError:
        return BackendTimeoutError(
            f"LLM server {self._where()} did not answer within {self.timeout_s:g} s",
            "check that it is running and not overloaded, or raise KB_LLM_TIMEOUT_S",
        )

    def _malformed(self, ex: BaseException | None = None) -> BackendUnavailableError:
        why = f" ({ex.__class__.__name__})" if ex is not None else ""
        return BackendUnavailableError(
            f"LLM server {self._where()} sent a reply that is not an OpenAI chat completion{why}",
            "check that KB_LLM names an OpenAI-compatible /v1 endpoint",
        )

    def _create(self, deadline: float, messages: Sequence[Message], **params: Any) -> Any:
        """``chat.completions.create`` within ``deadline`` (time.monotonic()): a refused
        connection, HTTP 429 or a 5xx is tried again, up to ``max_retries`` times, while time
        is left; a timeout is not (it spent the time)."""
        import openai

        self._check_cooldown()
        client = self._get_client()
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:  # out of time before the server was asked (the question's budget), or between tries
                raise self._went_down(self._timed_out()) if attempt else self._timed_out()
            try:
                resp = client.with_options(timeout=left, max_retries=0).chat.completions.create(
                    messages=list(messages), **params
                )
                self._down = None
                return resp
            except openai.OpenAIError as ex:
                wait = min(0.5 * 2**attempt, 4.0)
                again = isinstance(ex, openai.APIConnectionError | openai.RateLimitError | openai.InternalServerError)
                if isinstance(ex, openai.APITimeoutError) or not again or attempt >= self.max_retries:
                    err = self._translate(ex)
                    raise (self._went_down(err) if again or isinstance(ex, openai.APITimeoutError) else err) from ex
                if deadline - time.monotonic() <= wait:
                    raise self._went_down(self._translate(ex)) from ex
                attempt += 1
                time.sleep(wait)
            except (ValueError, TypeError, AttributeError, KeyError) as ex:  # a body the client cannot read
                raise self._malformed(ex) from ex

    def _went_down(self, err: Exception) -> Exception:
        """``err``, remembered as the reason the server is not asked for ``cooldown_s`` seconds."""
        if self.cooldown_s > 0 and isinstance(err, BackendUnavailableError):
            self._down = (time.monotonic() + self.cooldown_s, err)
        return err

    def _check_cooldown(self) -> None:
        """Raise the failure that put the server out of use, while its cooldown lasts: the same
        class (a timeout stays a timeout to :func:`rag.assistant.fallback_reason`)."""
        down = self._down
        if down is None:
            return
        until, err = down
        left = until - time.monotonic()
        if left > 0:
            raise type(err)(f"{err.message} (not asked again for {left:.0f} s)", err.hint)

    def _empty(self, why: str) -> BackendUnavailableError:
        """A reply of no text (``why``: no choices, or the finish reason it came with): a server
        fault, not the model's "I don't know". Read as an empty answer, it handed the customer to
        a person as "not confident", with no fallback and nothing in the log."""
        return BackendUnavailableError(
            f"LLM server {self._where()} sent an empty reply ({why})",
            "check the server's logs and that the model answers chat requests (a model that thinks "
            "before it answers may spend all of max_tokens on it)",
        )

    def _cut_off(self) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"LLM server {self._where()} closed the reply before it was finished",
            "check the server's logs (or a proxy's time limit) and retry",
        )

    def _deadline(self, kw: dict[str, Any]) -> float:
        """``kw["deadline"]`` (time.monotonic()) where the caller gives one (the question's budget,
        shared by its calls), else ``timeout_s`` from now."""
        own = time.monotonic() + self.timeout_s
        given = kw.get("deadline")
        return own if given is None else min(own, float(given))

    def generate(self, messages: Sequence[Message], **kw: Any) -> str:
        resp = self._create(self._deadline(kw), messages, **self._params(kw))
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list):
            raise self._malformed()  # an HTML page, a JSON object of another API
        if not choices:
            raise self._empty("no choices")
        text = _text_of(getattr(choices[0], "message", None), self._malformed)
        if not text.strip():
            raise self._empty(f"finish_reason {getattr(choices[0], 'finish_reason', None)}")
        if getattr(choices[0], "finish_reason", None) == "length":
            # cut at max_tokens: the sentence it was writing is not an answer, and without a whole
            # one the reply is empty (checked as it was, nothing was left: handed to a person as
            # "not confident", with no fallback and nothing in the log)
            text = text[: _finished(text)]
            if not text.strip():
                raise self._empty("finish_reason length, before its first sentence ended")
        return text

    def stream(self, messages: Sequence[Message], **kw: Any) -> Iterator[str]:
        """The reply as it comes, all of it within ``timeout_s``: a server that sends a token
        every few seconds, or stops half-way, is cut at the deadline (a watchdog closes the
        connection), not after a read timeout per token."""
        import openai

        deadline = self._deadline(kw)
        resp = self._create(deadline, messages, stream=True, **self._params(kw))
        if not hasattr(resp, "close") or not hasattr(resp, "__iter__"):
            raise self._malformed()
        fired = threading.Event()

        def cut() -> None:
            fired.set()
            resp.close()

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
        watchdog.daemon = True
        watchdog.start()
        events = 0
        finish: str | None = None
        held = _Sentences()
        said = False  # whether any text came at all
        failures: tuple[type[BaseException], ...] = (openai.OpenAIError, *_httpx_errors("HTTPError"))
        try:
            for event in resp:
                events += 1
                choices = getattr(event, "choices", None)
                if not isinstance(choices, list):
                    raise self._malformed()
                if choices:
                    piece = _text_of(getattr(choices[0], "delta", None), self._malformed)
                    said = said or bool(piece.strip())
                    finish = getattr(choices[0], "finish_reason", None) or finish
                    whole = held.push(piece)
                    if whole:
                        yield whole
                if fired.is_set() or finish is not None:
                    # (the reply has ended with its finish reason: a server that then kept the
                    # connection open without "[DONE]" had its whole answer waited out to the
                    # deadline and thrown away as a timeout)
                    break
            if fired.is_set():
                raise self._went_down(self._timed_out())
            if not events:
                # a body without one server-sent event (an error page sent with status 200, a
                # proxy's JSON): no reply at all, which read as an empty one handed the user off
                # as "not confident" instead of naming the server's fault
                raise self._malformed()
            if finish is None:
                # the connection closed without the last event (a crash, a proxy's time limit):
                # what came is the beginning of a reply, and read as a whole one it said "Return
                # shipping is free [1]." where the reply went on "but only for Plus members"
                raise self._cut_off()
            if not said:  # (as in generate: "choices": [] or "content": null to the end)
                raise self._empty(f"finish_reason {finish}")
            # cut at max_tokens ("length"): the sentence it was writing is left out, not given
            # half-said as a complete one
            rest = held.rest(cut=finish == "length")
            if held.empty(rest):  # (as in generate)
                raise self._empty("finish_reason length, before its first sentence ended")
            if rest:
                yield rest
        except failures as ex:
            if fired.is_set():
                raise self._went_down(self._timed_out()) from ex
            if isinstance(ex, _httpx_errors("RemoteProtocolError", "ReadError")) or (
                isinstance(ex, openai.APIConnectionError) and _hung_up(ex)
            ):
                # the connection closed in the middle of the body (a chunked reply cut short, which
                # openai 3 raises as a connection error): the server had answered, and was told
                # as one that "cannot be reached"
                raise self._cut_off() from ex
            raise (self._translate(ex) if isinstance(ex, openai.OpenAIError) else self._malformed(ex)) from ex
        except (ValueError, TypeError, AttributeError, KeyError) as ex:  # an event that is not JSON
            raise self._malformed(ex) from ex
        finally:
            watchdog.cancel()
            resp.close()


# the most of a reply held back while the sentence it is writing is not complete
_HOLD_CHARS = 1000
# the end of a sentence, with the quotes or brackets that close it and the citation markers after it
_SENTENCE_END = re.compile(
    r"(?:[.!?\u2026](?=[\s\"'\u201d\u2019)\[]|$)|[\u3002\uff01\uff1f])"
    r"[\"'\u201d\u2019)\uff09\u300d\u300f]*(?:\s*\[\d+\])*"
)


def _finished(text: str, *, more: bool = False) -> int:
    """Where the complete sentences of ``text`` end (0: none is). ``more``: more text may follow,
    so a sentence end counts only once something other than a citation marker follows it (a
    marker sent after the full stop, ``done. [1]``, belongs to the sentence before)."""
    end = 0
    for m in _SENTENCE_END.finditer(text):
        rest = text[m.end() :].lstrip()
        if not more or (rest and not rest.startswith("[")):
            end = m.end()
    return end


class _Sentences:
    """A reply given out a whole sentence at a time, as it comes: the sentence being written is
    held (a "sentence" longer than :data:`_HOLD_CHARS`, with no full stop at all, goes out as it
    is). The backends stream so, and a reply stopped at its token limit loses the sentence it was
    writing (:meth:`rest`)."""

    def __init__(self) -> None:
        self.pending = ""
        self.gave = False  # whether any text was given out
        self.cut = False  # whether the reply was cut at its token limit (:meth:`rest`)

    def push(self, piece: str) -> str:
        """The text ``piece`` completes ("" while the sentence is not)."""
        self.pending += piece
        done = len(self.pending) if len(self.pending) > _HOLD_CHARS else _finished(self.pending, more=True)
        out, self.pending = self.pending[:done], self.pending[done:]
        self.gave = self.gave or bool(out)
        return out

    def rest(self, *, cut: bool) -> str:
        """What is left at the end: all of it, or, where the reply was ``cut`` at its token limit,
        its whole sentences only."""
        self.cut = cut
        return self.pending[: _finished(self.pending)] if cut else self.pending

    def empty(self, rest: str) -> bool:
        """Whether a reply cut at its token limit, ending with ``rest``, gives nothing at all: cut
        before its first sentence ended, it is an empty reply, not an answer of no sentence."""
        return self.cut and not self.gave and not rest.strip()


def _httpx_errors(*names: str) -> tuple[type[BaseException], ...]:
    """The error classes ``names`` of each httpx the openai client may read replies with: httpx
    (openai 1.x) and httpx2, the fork openai 3 uses, whose errors httpx's classes do not catch (a
    server that hung up was told as one that cannot be reached)."""
    import importlib

    found: list[type[BaseException]] = []
    for module in ("httpx", "httpx2"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        found.extend(getattr(mod, name) for name in names if hasattr(mod, name))
    return tuple(found)


def _hung_up(ex: BaseException) -> bool:
    """Whether a connection error of the openai client is a server that took the connection and
    closed it without a reply (httpx's "Server disconnected without sending a response", a reset
    while reading or writing), not one that could not be reached: it was told "cannot reach LLM
    server; check that it is running" while it was running."""
    return isinstance(ex.__cause__, _httpx_errors("RemoteProtocolError", "ReadError", "WriteError"))


def _text_of(message: Any, malformed: Callable[[], Exception]) -> str:
    """A chat message's (or stream delta's) text: its content string, or the text of its parts
    when a server sends a list of them; "" for none. As text (:func:`model_text`)."""
    if message is None:
        raise malformed()
    content = getattr(message, "content", None)
    if content is None or isinstance(content, str):
        return model_text(content or "")
    if isinstance(content, list):
        return model_text(
            "".join(p.get("text") or "" for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        )
    raise malformed()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def model_text(text: str) -> str:
    """What a model wrote, as text that can be stored and sent: a lone surrogate (JSON may escape
    one, "\\ud800", which is no character) as U+FFFD, and the invisible characters stored text
    drops (zero-width ones, bidi overrides: :data:`kb.errors.INVISIBLE`) left out. A reply that
    held "\\ud800" was answered with a 500 (the service database could not store it) and a
    stream torn in the middle of its body."""
    if _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub("\ufffd", text)
    return text.translate(INVISIBLE)


# --- local transformers models -------------------------------------------------------------------


class TransformersLLM:
    """A local Hugging Face causal LM (a directory, or a GGUF file via ``gguf_file``), loaded on
    first use; streaming through ``TextIteratorStreamer``."""

    extractive = False

    def __init__(
        self, path: str, gguf_file: str | None = None, max_tokens: int = 256, device: str = "cpu",
        timeout_s: float = 60.0,
    ) -> None:
        if gguf_file is None and path.lower().endswith(".gguf"):  # transformers:/models/x.gguf
            path, gguf_file = str(Path(path).parent), Path(path).name
        self.path = path
        self.gguf_file = gguf_file
        self.timeout_s = timeout_s
        self.id = f"transformers:{path}" + (f"#{gguf_file}" if gguf_file else "")
        self.max_tokens = max_tokens
        self.device = device
        self._model: Any = None
        self._tok: Any = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """The model's files are there (nothing loaded): `kb serve` checks before it listens."""
        p = Path(self.path)
        if self.gguf_file and not (p / self.gguf_file).is_file():
            # the file, not its folder: "transformers:/models/x.gguf" was told "/models does not exist"
            raise ConfigError(
                f"GGUF file {p / self.gguf_file} does not exist",
                "set KB_LLM=transformers:/path/to/model.gguf (or /path/to/folder#file.gguf)",
            )
        if not p.exists():
            raise ConfigError(f"local model {self.path} does not exist", "set KB_LLM=transformers:/path/to/model")

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as ex:
                raise MissingDependencyError("transformers", "llm") from ex
            self.check()
            kw: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            try:
                self._tok = AutoTokenizer.from_pretrained(self.path, **kw)
                model: Any = AutoModelForCausalLM.from_pretrained(self.path, **kw)
            except Exception as ex:  # noqa: BLE001 - any load failure is a configuration problem
                raise ConfigError(
                    f"cannot load local model {self.id}: {ex.__class__.__name__}: {str(ex)[:200]}",
                    "check the path and that it is a causal language model",
                ) from ex
            if self.device != "cpu":  # KB_DEVICE=cuda generated on the CPU: the device was kept, never used
                try:
                    model = model.to(self.device)
                except Exception as ex:  # noqa: BLE001 - no such device, or a torch built without it
                    raise ConfigError(
                        f"cannot put local model {self.id} on device {self.device!r}: {str(ex)[:200]}",
                        "set KB_DEVICE=cpu, or install a torch build for that device",
                    ) from ex
            self._model = model
            self._model.eval()

    def _gemma_turns(self) -> bool:
        """Whether the model is a Gemma one without a chat template (the GGUF files of
        gemma-3-270m carry none): its prompt is written in Gemma's turns, which it was trained
        on, not as "system: ... user: ..." text, which it echoed back, rules and all."""
        model_type = getattr(getattr(self._model, "config", None), "model_type", None)
        return not getattr(self._tok, "chat_template", None) and model_type in GEMMA_MODEL_TYPES

    def _inputs(self, messages: Sequence[Message]) -> Any:
        tok = self._tok
        if getattr(tok, "chat_template", None):
            try:
                return tok.apply_chat_template(
                    list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
                )
            except Exception:  # noqa: BLE001 - templates that reject a system role: plain text below
                pass
        if self._gemma_turns():
            return tok(gemma_prompt(messages), return_tensors="pt")
        text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        return tok(text, return_tensors="pt")

    def _gen_kwargs(self, messages: Sequence[Message], kw: dict[str, Any]) -> dict[str, Any]:
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in dict(self._inputs(messages)).items()}
        pad = self._tok.pad_token_id if self._tok.pad_token_id is not None else self._tok.eos_token_id
        stop: dict[str, Any] = {}
        if self._gemma_turns():
            # the model ends its turn with <end_of_turn>: it stops there, not at the end of the file
            end = self._tok.convert_tokens_to_ids("<end_of_turn>")
            if isinstance(end, int) and end != getattr(self._tok, "unk_token_id", None):
                stop["eos_token_id"] = [t for t in (self._tok.eos_token_id, end) if t is not None]
        return {
            **inputs,
            **stop,
            "max_new_tokens": int(kw.get("max_tokens", self.max_tokens)),
            # the reply so far when time is up (the question's budget where given), checked as any other
            "max_time": self.timeout_s if kw.get("deadline") is None
            else max(0.05, min(self.timeout_s, float(kw["deadline"]) - time.monotonic())),
            "do_sample": False,
            "pad_token_id": pad,
        }

    def generate(self, messages: Sequence[Message], **kw: Any) -> str:
        return "".join(self.stream(messages, **kw))

    def stream(self, messages: Sequence[Message], **kw: Any) -> Iterator[str]:
        """The reply sentence by sentence, as :meth:`OpenAICompatibleLLM.stream` gives it. A reply
        the model did not end (no end token) was stopped by ``max_time``, the question's budget,
        and fails as a timeout; or by ``max_new_tokens``, and the sentence it was writing is left
        out. Both were checked as whole replies: "You", all that came in the time left, was an
        unsupported answer handed to a person, with no fallback."""
        self.warm_up()
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
        gen_kw = self._gen_kwargs(messages, kw)
        gen_kw["streamer"] = streamer
        errors: list[BaseException] = []
        written: list[Any] = []  # the token ids generate() returns

        def run() -> None:
            try:
                with torch.inference_mode():
                    written.append(self._model.generate(**gen_kw))
            except BaseException as ex:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(ex)
                streamer.end()

        started = time.monotonic()
        th = threading.Thread(target=run, daemon=True)
        th.start()
        held = _Sentences()
        for piece in streamer:
            whole = held.push(model_text(piece or ""))
            if whole:
                yield whole
        th.join()
        if errors:
            raise BackendUnavailableError(
                f"local model {self.id} failed while generating: {errors[0].__class__.__name__}", "check the model"
            )
        stopped = self._stopped(written[0] if written else None, gen_kw)
        if stopped == "time":
            raise BackendTimeoutError(
                f"local model {self.id} did not finish its reply within {time.monotonic() - started:.0f} s",
                "raise KB_LLM_TIMEOUT_S, or run the model on a faster device (KB_DEVICE)",
            )
        rest = held.rest(cut=stopped == "length")
        if held.empty(rest):
            raise BackendUnavailableError(
                f"local model {self.id} wrote no whole sentence in {gen_kw['max_new_tokens']} tokens",
                "raise KB_LLM_MAX_TOKENS",
            )
        if rest:
            yield rest

    def _stopped(self, out: Any, gen_kw: dict[str, Any]) -> str | None:
        """Why a generation that did not end with an end token stopped: "length" (it wrote
        ``max_new_tokens``) or "time" (``max_time``); None where it ended its reply itself (or
        where generate() returned no token ids to tell)."""
        shape = getattr(out, "shape", None)
        if shape is None or len(shape) != 2 or shape[1] == 0:
            return None
        ends = gen_kw.get("eos_token_id", self._tok.eos_token_id)
        ends = {int(e) for e in (ends if isinstance(ends, list | tuple) else [ends]) if e is not None}
        if int(out[0, -1]) in ends:
            return None
        prompt = getattr(gen_kw.get("input_ids"), "shape", (0, 0))[1]
        return "length" if shape[1] - prompt >= int(gen_kw["max_new_tokens"]) else "time"


# the model types of Gemma models (config.json's model_type), written in Gemma's turns
GEMMA_MODEL_TYPES = frozenset({"gemma", "gemma2", "gemma3", "gemma3_text"})


def gemma_prompt(messages: Sequence[Message]) -> str:
    """``messages`` in Gemma's turn format (its chat template, for a tokenizer that lacks it):
    user and model turns, the system text at the head of the first user turn (Gemma has no
    system role), ending where the model's turn begins. The tokenizer adds <bos>."""
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    turns = []
    for m in messages:
        if m.get("role") == "system":
            continue
        role = "model" if m.get("role") == "assistant" else "user"
        text = m["content"]
        if system and role == "user":
            text, system = f"{system}\n\n{text}", ""
        turns.append(f"<start_of_turn>{role}\n{text}<end_of_turn>\n")
    if system:  # a system text and no user turn
        turns.insert(0, f"<start_of_turn>user\n{system}<end_of_turn>\n")
    return "".join(turns) + "<start_of_turn>model\n"


# --- registry ------------------------------------------------------------------------------------


def _check_url(url: str, spec: str) -> None:
    """A server URL that names a host and, if any, a port: "http://[::1/v1" failed on every question."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"LLM spec {spec!r} has no valid server URL", "use openai-compatible:http://host:port/v1#model-name")

PROVIDERS = ("extractive", "scripted", "openai-compatible", "openai", "transformers")


def get_llm(
    spec: str,
    *,
    api_key: str | None = None,
    timeout_s: float = 60.0,
    max_retries: int = 2,
    max_tokens: int = 512,
    device: str = "cpu",
    cooldown_s: float = 10.0,
) -> LLM:
    """Resolve a ``"provider:model"`` spec (see the module docstring). ``cooldown_s``: how long a
    server found down is not asked again (:class:`OpenAICompatibleLLM`; 0 = ask every time)."""
    spec = (spec or "extractive:").strip()
    provider, sep, rest = spec.partition(":")
    if not sep and spec != "extractive":
        what = "names a provider but no model" if spec in PROVIDERS else "is not provider:model"
        raise ConfigError(
            f"LLM spec {spec!r} {what}",
            "write provider:model, e.g. openai-compatible:http://host:8000/v1#model, openai:gpt-4o-mini, "
            "transformers:/path/to/model or extractive:",
        )
    if provider == "extractive":
        if rest.strip():  # "extractive:foo" was taken for "extractive:", the model name ignored
            raise ConfigError(
                f"LLM spec {spec!r} names a model, but extractive takes none", "write extractive: (or leave KB_LLM unset)"
            )
        return ExtractiveLLM()
    if provider == "scripted":
        return ScriptedLLM(rest)
    if provider == "openai-compatible":
        url, _, model = rest.partition("#")
        if not url.startswith(("http://", "https://")) or not model:
            raise ConfigError(
                f"LLM spec {spec!r} is incomplete", "use openai-compatible:http://host:port/v1#model-name"
            )
        _check_url(url, spec)
        return OpenAICompatibleLLM(
            model, base_url=url, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries, max_tokens=max_tokens,
            cooldown_s=cooldown_s,
        )
    if provider == "openai":
        if not rest:
            raise ConfigError("LLM spec 'openai:' names no model", "use e.g. openai:gpt-4o-mini")
        return OpenAICompatibleLLM(
            rest, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries, max_tokens=max_tokens,
            cooldown_s=cooldown_s,
        )
    if provider == "transformers":
        path, _, gguf = rest.partition("#")
        if not path:
            raise ConfigError("LLM spec 'transformers:' names no model", "use transformers:/path/to/model[#file.gguf]")
        return TransformersLLM(path, gguf_file=gguf or None, max_tokens=max_tokens, device=device, timeout_s=timeout_s)
    raise ConfigError(f"unknown LLM provider {provider!r} in {spec!r}", f"use one of {', '.join(PROVIDERS)}")
