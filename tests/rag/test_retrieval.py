from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexes.embedders import HashingEmbedder
from indexes.text import bare_question, has_cjk
from indexes.types import Filters
from kb.errors import InputError
from rag.retrieval import HybridRetriever, dense_capability, get_reranker, margin_confidence, minmax
from rag.types import Hit
from tests.rag.conftest import SHOP, Doc, EnglishOnlyEmbedder, build_kb, sectioned


def test_dense_weight_is_zero_when_the_embedder_cannot_read_the_query() -> None:
    emb = EnglishOnlyEmbedder(64)
    assert dense_capability(emb, "退货的期限是多少天？", "zh") == pytest.approx(0.0)
    assert dense_capability(emb, "How long is the return window?", "en") == pytest.approx(1.0)
    # table fallback for embedders without a tokenizer to ask
    class Opaque:
        id = "sentence-transformers:all-MiniLM-L6-v2"

    assert dense_capability(Opaque(), "退货", "zh") == 0.0
    assert dense_capability(HashingEmbedder(64), "退货", "zh") == 1.0


def test_chinese_query_with_english_embedder_is_bm25_only(kb_home: Path) -> None:
    emb = EnglishOnlyEmbedder(64)
    index = build_kb(kb_home, "en-only", emb, SHOP)
    r = HybridRetriever(index, emb)
    calls = emb.calls
    hits = r.retrieve("无理由退货的期限是几天？", k=3)
    assert emb.calls == calls  # the query was not even embedded
    assert r.last_debug is not None and r.last_debug.capability == 0.0
    assert hits[0].chunk.source == "zh/退货.md"
    assert hits[0].scores["dense"] == 0.0
    r.retrieve("How long does standard shipping take?", k=3)
    assert r.last_debug.capability == 1.0 and emb.calls == calls + 1
    # where the time went, stage by stage (bench/query.py reports them)
    stages = r.last_debug.stages_ms
    assert list(stages) == ["embed", "keyword", "vector", "fuse", "passages"]
    assert all(ms >= 0.0 for ms in stages.values()) and sum(stages.values()) <= r.last_timings["retrieve"]


def test_score_normalisation_and_margin_confidence() -> None:
    assert minmax({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax({"a": 1.0}) == {"a": 1.0}
    peaked = margin_confidence({"a": 10.0, "b": 1.0, "c": 1.1, "d": 0.9})
    flat = margin_confidence({"a": 1.0, "b": 0.99, "c": 0.98, "d": 0.9})
    assert 0.0 <= flat < peaked <= 1.0


def test_a_keyword_list_holding_every_match_is_normalised_from_zero(kb_home: Path, fake_embedder: Any) -> None:
    """A Chinese question in a mostly English knowledge base matches two documents by keywords,
    almost equally. Min-max over those two alone made their near-tie 1 against 0, so the one the
    embedder ranked first lost to the other; every other chunk scores 0, and that is the floor."""
    assert minmax({"a": 5.93, "b": 5.83}) == {"a": 1.0, "b": 0.0}
    assert minmax({"a": 5.93, "b": 5.83}, floor=0.0) == pytest.approx({"a": 1.0, "b": 5.83 / 5.93})
    assert minmax({"a": 3.0, "b": 4.0}, floor=5.0) == {"a": 0.0, "b": 1.0}  # a floor above the pool is none
    assert margin_confidence({"a": 5.93, "b": 5.83}, floor=0.0) < 0.05 < margin_confidence({"a": 5.93, "b": 5.83})
    english = [Doc(f"en/{i}.md", f"Topic {i}", [f"Topic {i} covers shipping, returns and payment option {i}."])
               for i in range(8)]
    docs = english + [
        Doc("zh/积分.md", "会员积分", ["退货后，该商品获得的积分将被扣回；如积分已使用，将从退款金额中扣除相应金额。"], lang="zh"),
        Doc("zh/退款.md", "退款时效", ["仓库收到退货后两个工作日内完成检验，检验通过后退款在五至七个工作日内退回。"], lang="zh"),
    ]
    r = HybridRetriever(build_kb(kb_home, "mixed", fake_embedder, docs), fake_embedder)
    hits = r.retrieve("退货需要多长时间退款？", k=5)
    by_source = {h.chunk.source: h.scores for h in hits}
    assert set(by_source) >= {"zh/积分.md", "zh/退款.md"}
    bm25 = [by_source[s]["bm25"] for s in ("zh/积分.md", "zh/退款.md")]
    assert min(bm25) > 0.5 * max(bm25)  # both hold the question's words
    assert min(by_source[s]["bm25_n"] for s in ("zh/积分.md", "zh/退款.md")) == pytest.approx(min(bm25) / max(bm25))


class _ConceptEmbedder(HashingEmbedder):
    """A cross-lingual embedder in miniature: a text's vector is the concepts it names, in either
    language (points / 积分, parcel / 包裹), so that an English question meets a Chinese rule."""

    CONCEPTS: tuple[tuple[str, ...], ...] = (("point", "积分", "expire", "过期"), ("parcel", "包裹", "collect", "领取"))

    def embed(self, texts: Any, kind: str = "passage") -> np.ndarray:
        out = np.full((len(texts), self.dim), 0.05, dtype=np.float32)
        for i, t in enumerate(texts):
            for c, words in enumerate(self.CONCEPTS):
                out[i, c] += sum(t.lower().count(w) for w in words)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_a_missing_keyword_score_does_not_count_against_a_document_in_another_script(kb_home: Path) -> None:
    """The keyword search cannot see a Chinese document from an English question; that it found
    none of the question's words there says nothing against it (as an embedder that cannot read
    a language gets no weight), so the embedder alone ranks it."""
    emb = _ConceptEmbedder(16)
    docs = [
        Doc("en/parcels.md", "Parcels", ["Collect your parcel at a parcel point near you within 7 days."]),
        Doc("zh/积分.md", "会员积分", ["积分自到账之日起24个月内有效，过期自动清零。"], lang="zh"),
    ]
    r = HybridRetriever(build_kb(kb_home, "bilingual", emb, docs), emb)
    hits = r.retrieve("Do points expire?", k=2)
    assert [h.chunk.source for h in hits] == ["zh/积分.md", "en/parcels.md"]
    assert hits[0].scores["bm25"] == 0.0 and hits[1].scores["bm25"] > 0.0  # "point" of "parcel point"
    # its keyword score counts as that of the average source in the question's script (here the
    # one, its normalised BM25 1.0), not as 0 against it
    assert hits[0].scores["dense_n"] == 1.0 and hits[0].score == pytest.approx(1.0)
    # the same the other way: a Chinese question, an English document
    assert r.retrieve("包裹在哪里领取？", k=2)[0].chunk.source == "en/parcels.md"


class _SameScriptEmbedder(_ConceptEmbedder):
    """:class:`_ConceptEmbedder` with a multilingual model's bias: every text also points along its
    script's own axis, so that any Chinese text is closer to a Chinese question than an English
    text on the question's topic is (multilingual-e5-small: "保修期多长？" is nearer the Chinese
    points rules, 0.865, than the English warranty periods, 0.794)."""

    CONCEPTS: tuple[tuple[str, ...], ...] = (("warranty", "保修"), ("parcel", "包裹"))

    def embed(self, texts: Any, kind: str = "passage") -> np.ndarray:
        out = np.full((len(texts), self.dim), 0.05, dtype=np.float32)
        for i, t in enumerate(texts):
            for c, words in enumerate(self.CONCEPTS):
                out[i, c] += sum(t.lower().count(w) for w in words)
            out[i, 2 + int(has_cjk(t))] += 1.5  # the script's axis
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_a_passage_in_another_script_is_ranked_without_the_embedders_bias_for_the_questions_own(
    kb_home: Path,
) -> None:
    """In a knowledge base of both scripts, the other script's passages are ranked as if they gained
    the difference between the query's median cosine to its own script's chunks and to theirs; the
    hits still report the plain cosine, on which the refusal and FAQ thresholds are calibrated."""
    emb = _SameScriptEmbedder(16)
    docs = [Doc("en/warranty.md", "Warranty", ["The warranty lasts two years from the delivery date."])]
    docs += [Doc(f"en/{i}.md", f"Topic {i}", [f"Opening hours of shop number {i} on weekdays."]) for i in range(8)]
    docs += [Doc(f"zh/{i}.md", f"门店 {i}", [f"第{i}号门店工作日的营业时间。"], lang="zh") for i in range(8)]
    r = HybridRetriever(build_kb(kb_home, "scripts", emb, docs), emb)
    q = "保修期多长？"
    qv = emb.embed([q], kind="query")[0]
    index = r.index
    sources, _ = index.row_sources()
    raw = {sources[row]: float(c) for row, c in enumerate(index.passage_similarity(qv, range(index.n_chunks)))}
    assert raw["en/warranty.md"] < min(raw[f"zh/{i}.md"] for i in range(8))  # the bias, as given
    hits = r.retrieve(q, k=3)
    assert hits[0].chunk.source == "en/warranty.md"
    shift = r.last_debug.weights["script_shift"] if r.last_debug else 0.0
    zh_cos = [raw[f"zh/{i}.md"] for i in range(8)]
    en_cos = [raw[d.source] for d in docs if d.source.startswith("en/")]
    assert shift == pytest.approx(min(np.percentile(zh_cos, p) - np.percentile(en_cos, p) for p in (10, 25, 50)), abs=1e-5)
    assert hits[0].scores["dense"] == pytest.approx(raw["en/warranty.md"], abs=1e-5)  # the plain cosine
    # a filter that leaves enough of both: the medians of what it leaves (the kept sample vectors, filtered)
    kept = [d.source for d in docs if d.source != "en/0.md"]
    r.retrieve(q, k=3, filters=Filters(sources=tuple(kept)))
    shift = r.last_debug.weights["script_shift"] if r.last_debug else 0.0
    zh_cos = [raw[s] for s in kept if s.startswith("zh/")]
    en_cos = [raw[s] for s in kept if s.startswith("en/")]
    assert shift == pytest.approx(min(np.percentile(zh_cos, p) - np.percentile(en_cos, p) for p in (10, 25, 50)), abs=1e-5)
    # a filter that leaves too few chunks of one script: no shift, the question's script first
    few = r.retrieve(q, k=3, filters=Filters(sources=("en/warranty.md", "zh/0.md", "zh/1.md")))
    assert few[0].chunk.source.startswith("zh/") and r.last_debug and r.last_debug.weights["script_shift"] == 0.0


def test_the_script_bias_is_not_overestimated_where_one_scripts_few_chunks_share_the_questions_topic(
    kb_home: Path,
) -> None:
    """The demo's few Chinese chunks are all on returns: their median cosine to "如何退货" was lifted
    by the topic as well as by the script, the shift overestimated the bias, and English FAQ entries
    on other topics outranked the Chinese return rules. The smallest of the quantiles' differences
    is the bias alone: what the unrelated chunks of each script show."""
    emb = _SameScriptEmbedder(16)
    docs = [Doc(f"zh/w{i}.md", f"保修 {i}", [f"第{i}条：保修期内免费维修，保修凭发票。"], lang="zh") for i in range(6)]
    docs += [Doc(f"zh/s{i}.md", f"门店 {i}", [f"第{i}号门店工作日的营业时间。"], lang="zh") for i in range(3)]
    docs += [Doc(f"en/{i}.md", f"Topic {i}", [f"Opening hours of shop number {i} on weekdays."]) for i in range(9)]
    r = HybridRetriever(build_kb(kb_home, "topical", emb, docs), emb)
    q = "保修怎么办理？"
    qv = emb.embed([q], kind="query")[0]
    sources, _ = r.index.row_sources()
    raw = {sources[row]: float(c) for row, c in enumerate(r.index.passage_similarity(qv, range(r.index.n_chunks)))}
    hits = r.retrieve(q, k=3)
    assert hits[0].chunk.source.startswith("zh/w"), [h.chunk.source for h in hits]
    shift = r.last_debug.weights["script_shift"] if r.last_debug else 0.0
    bias = raw["zh/s0.md"] - raw["en/0.md"]  # unrelated to the question, in either script
    assert shift == pytest.approx(bias, abs=1e-5)
    assert np.median([raw[d.source] for d in docs if d.lang == "zh"]) - raw["en/0.md"] > bias + 0.02  # the median's


def test_a_copy_of_a_source_shown_is_left_out_but_an_overlapping_window_is_not(
    kb_home: Path, fake_embedder: Any
) -> None:
    """A manual that prints a section twice: the copy adds nothing, and its slot goes to the next
    source. A page window that shares one chunk with a shown one still holds chunks of its own."""
    pair = "Press and hold the Bixby button to talk to Bixby, then release it to hear the answer."
    wake = "Say Hi Bixby to wake Bixby up without pressing the Bixby button at all."
    own = "Bixby voice answers can be turned off under Settings, General, Bixby voice."
    docs = [
        Doc("manual/ch02.md", "Using Bixby", [pair, wake]),
        Doc("manual/ch14.md", "Using Bixby", [pair, wake]),  # printed twice
        Doc("web/bixby-2.md", "Using Bixby", [pair, own]),  # another window of the page
        Doc("manual/ch03.md", "Remote", ["The Bixby button on the remote also starts the voice guide."]),
    ]
    r = HybridRetriever(build_kb(kb_home, "copies", fake_embedder, docs), fake_embedder, merge_neighbours=False)
    sources = [h.chunk.source for h in r.retrieve("How do I use the Bixby button to talk to Bixby?", k=4)]
    assert sum(s in ("manual/ch02.md", "manual/ch14.md") for s in sources) == 1
    assert "web/bixby-2.md" in sources and "manual/ch03.md" in sources
    shown = [h.text or h.chunk.text for h in r.retrieve("How do I use the Bixby button to talk to Bixby?", k=4)]
    assert len(shown) == len(set(shown)) and own in shown  # the window by what it holds of its own


def test_hits_are_distinct_sources_with_faq_blend(shop_index: Any, fake_embedder: Any) -> None:
    r = HybridRetriever(shop_index, fake_embedder)
    hits = r.retrieve("Can I change my delivery address?", k=5)
    ids = [h.chunk.source_id for h in hits]
    assert len(ids) == len(set(ids))
    assert ids[0] == "faq.csv#2"
    assert hits[0].scores["qdense"] > 0
    assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_filters_apply_inside_retrieval(shop_index: Any, fake_embedder: Any) -> None:
    r = HybridRetriever(shop_index, fake_embedder)
    q = "partner discount code resellers"
    assert r.retrieve(q, k=1, filters=Filters(groups=("partners",)))[0].chunk.source == "internal/pricing.md"
    hits = r.retrieve(q, k=10, filters=Filters(groups=()))
    assert hits and all(h.chunk.source != "internal/pricing.md" for h in hits)
    assert r.retrieve(q, k=10, filters=Filters(lang="fr")) == []  # a filter that keeps nothing: no hits
    with pytest.raises(InputError, match="no document has the source 'nothing.md'"):  # a name nothing carries
        r.retrieve(q, k=10, filters=Filters(sources=("nothing.md",)))


def test_near_duplicates_collapse_and_neighbours_merge(kb_home: Path, fake_embedder: Any) -> None:
    text = "To pair the remote, hold the back and play buttons for three seconds until the light blinks."
    docs = [
        Doc("manual/ch1.md", "Remote", [text]),
        Doc("manual/ch9.md", "Remote", [text]),  # the manual repeats the section
        Doc("manual/tv.md", "Picture", [
            "Picture mode changes colour and contrast settings.",
            "Choose Movie picture mode for dark rooms; it lowers the brightness and warms the colour.",
            "Eco mode lowers brightness to save power.",
        ]),
    ]
    index = build_kb(kb_home, "dups", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    hits = r.retrieve("how do I pair the remote buttons", k=5)
    assert [h.chunk.source for h in hits].count("manual/ch1.md") + \
        [h.chunk.source for h in hits].count("manual/ch9.md") == 1
    pic = r.retrieve("picture mode brightness colour", k=3)
    tv = next(h for h in pic if h.chunk.source == "manual/tv.md")
    assert tv.text is not None and tv.passage.count("\n") >= 1  # adjacent chunks merged
    assert "Movie picture mode" in tv.passage


class KeywordReranker:
    id = "test:keyword"

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [1.0 if "Express" in p else 0.0 for p in passages]


def test_reranker_stage_reorders_and_is_off_by_default(shop_index: Any, fake_embedder: Any) -> None:
    assert get_reranker(None) is None and get_reranker("none") is None
    r = HybridRetriever(shop_index, fake_embedder, reranker=KeywordReranker())
    hits = r.retrieve("shipping", k=3)
    assert "Express" in hits[0].passage and "rerank" in hits[0].scores
    assert hits[0].rows  # what the passage is made of survives the reranking (answer_excerpts reads it)
    assert np.isfinite(r.last_timings["rerank"])


@pytest.mark.integration
def test_minilm_cannot_read_chinese_so_dense_weight_is_zero(real_embedder: Any) -> None:
    assert dense_capability(real_embedder, "研究生招生报名时间是什么时候？", "zh") < 0.05
    assert dense_capability(real_embedder, "How do I pair the remote control?", "en") > 0.95


class _ScoringIndex:
    """Only what HybridRetriever._complete asks of an index: per-row cosine and BM25."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[int]]] = []

    def passage_similarity(self, qvec: np.ndarray, rows: list[int]) -> np.ndarray:
        self.asked.append(("cos", list(rows)))
        return np.array([np.nan if r == 9 else 0.1 * r for r in rows], dtype=np.float32)

    def keyword_scores(self, query: str, rows: list[int]) -> np.ndarray:
        self.asked.append(("bm25", list(rows)))
        return np.array([0.0 if r == 4 else float(r) for r in rows], dtype=np.float32)


def test_every_candidate_is_scored_by_both_retrievers(fake_embedder: Any) -> None:
    idx = _ScoringIndex()
    r = HybridRetriever(idx, fake_embedder)
    dense = [(1, 0.9), (2, 0.8), (4, 0.7)]
    bm25 = [(2, 5.0), (3, 4.0), (9, 3.0)]
    d, b = r._complete("q", np.zeros(4, np.float32), dense, bm25)
    # BM25-only rows 3 and 9 get their cosine (9 has no passage vector: left out), and
    # dense-only rows 1 and 4 their BM25 score (4 contains no query term: left out)
    assert dict(d) == pytest.approx({1: 0.9, 2: 0.8, 4: 0.7, 3: 0.3})
    assert dict(b) == {2: 5.0, 3: 4.0, 9: 3.0, 1: 1.0}
    assert idx.asked == [("cos", [3, 9]), ("bm25", [1, 4])]
    # every chunk's scores, when the searches gave them, are read, not asked for
    idx.asked.clear()
    cos_every = np.array([np.nan if r == 9 else 0.1 * r for r in range(10)], dtype=np.float32)
    bm25_every = np.array([0.0 if r == 4 else float(r) for r in range(10)], dtype=np.float32)
    assert r._complete("q", np.zeros(4, np.float32), dense, bm25, bm25_every, cos_every) == (d, b)
    assert idx.asked == []
    # an index that cannot score given rows keeps the two top lists
    assert HybridRetriever(object(), fake_embedder)._complete("q", np.zeros(4), dense, bm25) == (dense, bm25)


def test_text_blend_leans_on_keywords_in_english_and_is_even_in_chinese(fake_embedder: Any) -> None:
    r = HybridRetriever(None, fake_embedder)
    wq, wp, wb = r._weights(False, 1.0, "en")
    assert wq == 0.0 and wb > wp
    assert r._weights(False, 1.0, "zh") == (0.0, 0.5, 0.5)
    assert r._weights(False, 0.0, "zh") == (0.0, 0.0, 0.5)  # an embedder that cannot read it
    assert r._weights(True, 1.0, "en") == r._weights(True, 1.0, "zh")  # FAQ entries: one blend


class _CountingEmbedder(HashingEmbedder):
    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.batches: list[list[str]] = []

    def embed(self, texts: Any, kind: str = "passage") -> np.ndarray:
        if kind == "query":
            self.batches.append(list(texts))
        return super().embed(texts, kind=kind)


def test_retrieve_many_fuses_phrasings_and_embeds_only_the_main_one(kb_home: Path) -> None:
    emb = _CountingEmbedder(64)
    index = build_kb(kb_home, "shop-many", emb, SHOP)
    r = HybridRetriever(index, emb)
    condensed = "How much does express shipping cost? Do you ship to Switzerland?"
    question = "Do you ship to Switzerland?"
    fused = r.retrieve_many([(condensed, 1.0), (question, 0.5)], k=5)
    assert emb.batches == [[bare_question(condensed)]]  # one embedding: the question alone is searched by its words
    vec = r.embed_query(condensed)
    a = {h.chunk.source_id: h for h in r.retrieve(condensed, k=5)}
    b = {h.chunk.source_id: h for h in r.retrieve(question, k=5, qvec=vec)}
    assert emb.batches == [[bare_question(condensed)]]  # the main vector was cached, the question's never needed
    ids = [h.chunk.source_id for h in fused]
    assert len(ids) == len(set(ids)) and len(ids) <= 5
    for h in fused:
        sid = h.chunk.source_id
        want = (1.0 * (a[sid].score if sid in a else 0.0) + 0.5 * (b[sid].score if sid in b else 0.0)) / 1.5
        assert h.score == pytest.approx(want)
        # the evidence is the main phrasing's wherever it returned the source
        assert h.scores == (a[sid].scores if sid in a else b[sid].scores)
    assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)
    # what is asked now leads: the FAQ entry on Switzerland beats the earlier turn's topic
    assert ids[0] == "faq.csv#3"
    # one phrasing (or one with weight) is plain retrieval
    assert [h.chunk.source_id for h in r.retrieve_many([(question, 1.0), (condensed, 0.0)], k=5)] == [
        h.chunk.source_id for h in r.retrieve(question, k=5)
    ]
    assert r.retrieve_many([], k=5) == []


def test_retrieve_many_searches_the_shared_vector_once(shop_index: Any, fake_embedder: Any) -> None:
    searched: list[tuple[str, ...]] = []
    real = shop_index.vector_search_all

    def spy(qvec: Any, k: int, allowed: Any = None, kinds: tuple[str, ...] = ("passage", "question"),
            shift: Any = None) -> Any:
        searched.append(tuple(kinds))
        return real(qvec, k, allowed, kinds, shift)

    r = HybridRetriever(shop_index, fake_embedder)
    main, question = "Do you ship to Switzerland? How much does express shipping cost?", "Do you ship to Switzerland?"
    shop_index.vector_search_all = spy
    try:
        fused = r.retrieve_many([(main, 1.0), (question, 0.5)], k=4)
        assert searched == [("passage", "question")]  # both kinds in one pass, not once per phrasing
        searched.clear()
        again = [h.chunk.source_id for h in r.retrieve_many([(main, 1.0), (question, 0.5)], k=4)]
    finally:
        del shop_index.vector_search_all
    assert again == [h.chunk.source_id for h in fused]
    # the same as each phrasing retrieved on its own with the main vector, fused
    vec = r.embed_query(main)
    a = {h.chunk.source_id: h.score for h in r.retrieve(main, k=4)}
    b = {h.chunk.source_id: h.score for h in r.retrieve(question, k=4, qvec=vec)}
    for h in fused:
        sid = h.chunk.source_id
        assert h.score == pytest.approx((a.get(sid, 0.0) + 0.5 * b.get(sid, 0.0)) / 1.5)


class _EmbedsAfterTheSearch(HashingEmbedder):
    """Embeds a query only once a keyword search has begun (or 10 s have passed): a retriever that
    searched after embedding, rather than alongside, would have it record False."""

    def __init__(self, searched: threading.Event, fail: bool = False) -> None:
        super().__init__(64)
        self.searched = searched
        self.fail = fail
        self.saw_search: list[bool] = []

    def embed(self, texts: Any, kind: str = "passage") -> np.ndarray:
        if kind == "query":
            self.saw_search.append(self.searched.wait(10))
            if self.fail:
                raise RuntimeError("embedding engine crashed")
        return super().embed(texts, kind=kind)


def _rows_by_position(index: Any) -> dict[int, int]:
    """Each chunk's row in ``index``, by its position in its document (one document)."""
    return {c.position: row for row, c in enumerate(index.get_chunks(list(range(index.n_chunks))))}


def _spy_keyword_search(index: Any, searched: threading.Event, threads: dict[str, str]) -> None:
    """Make ``index.keyword_search_all`` record the thread each query was searched on (the spy is
    an instance attribute: ``del index.keyword_search_all`` restores the method)."""
    real = index.keyword_search_all

    def spy(query: str, k: int, allowed: Any = None) -> Any:
        threads[query] = threading.current_thread().name
        searched.set()
        return real(query, k, allowed)

    index.keyword_search_all = spy


def test_the_keyword_search_runs_while_the_query_is_embedded(shop_index: Any, fake_embedder: Any) -> None:
    searched, threads = threading.Event(), dict[str, str]()
    emb = _EmbedsAfterTheSearch(searched)
    r = HybridRetriever(shop_index, emb)
    q = "How much does express shipping cost?"
    _spy_keyword_search(shop_index, searched, threads)
    try:
        hits = r.retrieve(q, k=4)
        assert emb.saw_search == [True]  # the search had begun while the query was being embedded
        assert threads[q].startswith("kb-keyword")
        # the vector is cached now: nothing to wait for, so the search runs on the request's thread
        searched.clear()
        again = r.retrieve(q, k=4)
        assert emb.saw_search == [True] and threads[q] == threading.current_thread().name
        # a follow-up: every phrasing is searched while the main one is embedded, which happens once
        searched.clear()
        main, asked = "Do you ship to Switzerland? How much does express shipping cost?", "Do you ship to Switzerland?"
        fused = r.retrieve_many([(main, 1.0), (asked, 0.5)], k=4)
        assert emb.saw_search == [True, True]
        assert threads[main].startswith("kb-keyword") and threads[asked].startswith("kb-keyword")
    finally:
        del shop_index.keyword_search_all
    # the same hits as searching after the embedding (the retriever the other tests use)
    plain = HybridRetriever(shop_index, fake_embedder)
    assert [(h.chunk.id, h.score, h.scores) for h in hits] == [(h.chunk.id, h.score, h.scores) for h in again]
    assert [(h.chunk.id, h.score) for h in hits] == [(h.chunk.id, h.score) for h in plain.retrieve(q, k=4)]
    assert [(h.chunk.id, h.score) for h in fused] == [
        (h.chunk.id, h.score) for h in plain.retrieve_many([(main, 1.0), (asked, 0.5)], k=4)
    ]


def test_a_failed_embedding_fails_the_retrieval_and_the_next_one_works(shop_index: Any, fake_embedder: Any) -> None:
    searched, threads = threading.Event(), dict[str, str]()
    emb = _EmbedsAfterTheSearch(searched, fail=True)
    r = HybridRetriever(shop_index, emb)
    _spy_keyword_search(shop_index, searched, threads)
    try:
        with pytest.raises(RuntimeError, match="engine crashed"):
            r.retrieve("How much does express shipping cost?", k=4)
        with pytest.raises(RuntimeError, match="engine crashed"):
            r.retrieve_many([("Do you ship to Switzerland? And express?", 1.0), ("And express?", 0.5)], k=4)
    finally:
        del shop_index.keyword_search_all
    emb.fail = False
    assert [h.chunk.id for h in r.retrieve("How much does express shipping cost?", k=4)] == [
        h.chunk.id for h in HybridRetriever(shop_index, fake_embedder).retrieve("How much does express shipping cost?", k=4)
    ]


def test_the_keyword_search_runs_on_the_request_thread_when_every_worker_is_busy(shop_index: Any) -> None:
    from rag.retrieval import _keyword_pool

    pool, release = _keyword_pool(), threading.Event()
    busy = [pool.submit(release.wait, 10) for _ in range(pool._max_workers)]
    searched, threads = threading.Event(), dict[str, str]()
    emb = _EmbedsAfterTheSearch(searched)
    emb.searched = threading.Event()  # nothing will start the search: do not wait for it
    emb.searched.set()
    r = HybridRetriever(shop_index, emb)
    q = "How much does express shipping cost?"
    _spy_keyword_search(shop_index, searched, threads)
    try:
        hits = r.retrieve(q, k=4)
    finally:
        del shop_index.keyword_search_all
        release.set()
        for f in busy:
            f.result(timeout=10)
    assert hits and threads[q] == threading.current_thread().name  # not left waiting behind the workers


def test_a_follow_up_is_retrieved_as_condensed_and_as_asked(shop_index: Any, fake_embedder: Any) -> None:
    from rag.assistant import Assistant

    calls: list[Any] = []

    class Spy(HybridRetriever):
        def retrieve_many(self, queries: Any, *a: Any, **kw: Any) -> Any:
            calls.append(list(queries))
            return super().retrieve_many(queries, *a, **kw)

    asst = Assistant(lambda: shop_index, fake_embedder, "extractive:")
    spy = Spy(shop_index, fake_embedder)
    q, query = "and to Switzerland?", "and to Switzerland? Do you ship to Austria?"
    hits = asst.retrieve_turn(q, query, spy, k=3)
    assert calls == [[(query, 1.0), (q, 0.5)]]
    assert hits and len(hits) <= 3
    # a first turn is one retrieval
    calls.clear()
    asst.retrieve_turn("Do you ship to Switzerland?", "Do you ship to Switzerland?", spy, k=3)
    assert calls == []
    off = Assistant(lambda: shop_index, fake_embedder, "extractive:", followup_question_weight=0.0)
    off.retrieve_turn(q, query, spy, k=3)
    assert calls == []


def test_last_call_state_is_per_thread_and_keeps_the_main_phrasing(shop_index: Any, fake_embedder: Any) -> None:
    import threading

    r = HybridRetriever(shop_index, fake_embedder)
    main = "Do you ship to Switzerland? How much does express shipping cost?"
    fused = r.retrieve_many([(main, 1.0), ("Do you ship to Switzerland?", 0.5)], k=4)
    primary = r.last_primary
    assert primary is not None and [h.chunk.id for h in primary] == [h.chunk.id for h in r.retrieve(main, k=4)]
    assert r.last_primary is None  # a plain retrieval has no phrasings
    assert fused and r.last_timings["retrieve"] > 0
    seen: dict[str, Any] = {}

    def other() -> None:
        seen["debug"], seen["timings"], seen["primary"] = r.last_debug, r.last_timings, r.last_primary

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == {"debug": None, "timings": {}, "primary": None}  # another request sees nothing of this one


def test_query_vectors_are_cached_and_can_be_dropped(kb_home: Path) -> None:
    emb = _CountingEmbedder(64)
    index = build_kb(kb_home, "shop-qcache", emb, SHOP)
    r = HybridRetriever(index, emb)
    question = "Do you ship to Switzerland?"
    first = r.retrieve(question, k=3)
    again = r.retrieve(question, k=3)  # a customer asking the same thing
    assert emb.batches == [[bare_question(question)]]
    assert [h.chunk.id for h in again] == [h.chunk.id for h in first]
    assert [h.scores for h in again] == [h.scores for h in first]
    r.forget_queries()
    r.retrieve(question, k=3)
    assert emb.batches == [[bare_question(question)], [bare_question(question)]]


def test_query_vectors_are_cached_apart_for_users_of_other_access_groups(kb_home: Path) -> None:
    # QA 2026-12-07: a question staff had just asked was retrieved in 1.6 ms for a user in no group,
    # a new one in 20-30: its timing told which questions staff asked
    emb = _CountingEmbedder(64)
    r = HybridRetriever(build_kb(kb_home, "shop-scoped", emb, SHOP), emb)
    question = "Who approves override codes?"
    r.scope_queries(("staff",))
    r.retrieve(question, k=3)
    r.scope_queries(())  # a user in no group
    r.retrieve(question, k=3)
    assert len(emb.batches) == 2  # embedded again, not read from staff's cache
    r.scope_queries(("staff",))
    r.retrieve(question, k=3)
    r.scope_queries(("staff",))  # another user of the same groups shares them
    r.retrieve(question, k=3)
    assert len(emb.batches) == 2


def test_a_chinese_question_keeps_its_marks_only_where_curated_questions_are_chinese(kb_home: Path) -> None:
    # a knowledge base of Chinese passages (and English curated questions) has no Chinese question
    # form to match: the query is embedded without "？", one token fewer; one with Chinese curated
    # questions embeds it as they were, with the mark
    passages = build_kb(kb_home, "zh-passages", _CountingEmbedder(64), [
        Doc("zh/退货.md", "退货政策", ["收到商品后7天内可无理由退货。"], lang="zh"),
        Doc("faq.csv", "FAQ", [], faq=[("1", "Do you ship abroad?", "Yes, to 30 countries.")]),
    ])
    faq = build_kb(kb_home, "zh-faq", _CountingEmbedder(64), [
        Doc("faq.csv", "常见问题", [], lang="zh", faq=[("1", "可以退货吗？", "收到商品后7天内可无理由退货。")]),
    ])
    assert not passages.holds_cjk_questions() and faq.holds_cjk_questions()
    for index, embedded in ((passages, "退货要几天"), (faq, "退货要几天？")):
        emb = _CountingEmbedder(64)
        HybridRetriever(index, emb).retrieve("退货要几天？", k=2)
        assert emb.batches == [[embedded]]


def test_a_year_in_the_question_ranks_that_years_notice_first(
    kb_home: Path, fake_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # yearly notices that differ in little but their dates: the year the question names decides
    notice = "Online registration for the recommended-student programme closes on {d}; results follow a week later."
    zh = "外语类保送生网上报名：即日起至{d}11:00，初审结果查询在报名截止一周后。"
    docs = [
        Doc("notice-2021.md", "Admissions notice", [notice.format(d="21 December 2021")]),
        Doc("notice-2019.md", "Admissions notice", [notice.format(d="19 December 2019")]),
        Doc("notice-2020.md", "Admissions notice", [notice.format(d="20 December 2020")]),
        Doc("zh-2021.md", "外语类保送生招生简章", [zh.format(d="2021年12月21日")]),
        Doc("zh-2019.md", "外语类保送生招生简章", [zh.format(d="2019年12月19日")]),
        Doc("zh-2020.md", "外语类保送生招生简章", [zh.format(d="2020年12月20日")]),
    ]
    index = build_kb(kb_home, "yearly", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    for year in ("2019", "2020", "2021"):
        hits = r.retrieve(f"When does online registration close in {year}?", k=3)
        assert hits[0].chunk.source == f"notice-{year}.md"
        assert hits[0].score > hits[1].score  # the others were scaled down, not only reordered
        hits = r.retrieve(f"{year}年 外语类保送生网上报名的时间到几月几号？", k=3)
        assert hits[0].chunk.source == f"zh-{year}.md"
        # the years' terms read during the embedding, or from the postings once the vector is
        # cached (the search then runs on this thread): the same hits, scores and evidence
        for q in (f"When does online registration close in {year}?", f"{year}年 外语类保送生网上报名的时间到几月几号？"):
            fresh = HybridRetriever(index, fake_embedder)
            ahead = fresh.retrieve(q, k=3)
            inline = fresh.retrieve(q, k=3)
            assert [(h.chunk.id, h.score, h.scores) for h in ahead] == [(h.chunk.id, h.score, h.scores) for h in inline]
    # an index without keyword postings to ask (a test double, a custom store) has the chunk texts read
    class WithoutCoverage:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name in ("keyword_coverage", "keyword_held", "keyword_search_all"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    plain = HybridRetriever(WithoutCoverage(index), fake_embedder)
    assert plain.retrieve("2020年 外语类保送生网上报名的时间到几月几号？", k=3)[0].chunk.source == "zh-2020.md"
    assert plain.retrieve("When does online registration close in 2019?", k=3)[0].chunk.source == "notice-2019.md"
    # a year that no passage mentions changes neither the order nor the scores
    q = "When does online registration close in 1999?"
    on = r.retrieve(q, k=3)
    monkeypatch.setattr("rag.retrieval.YEAR_MISMATCH_FACTOR", 1.0)
    off = r.retrieve(q, k=3)
    assert [(h.chunk.source, h.score) for h in on] == [(h.chunk.source, h.score) for h in off]


def test_sources_not_mentioning_the_questions_year_are_scaled_down() -> None:
    from rag.retrieval import YEAR_MISMATCH_FACTOR, _prefer_years

    mentions = {"a": False, "b": True, "c": True, "d": False}  # which sources name 2020

    def mentioning(sids: list[str]) -> set[str]:
        return {sid for sid in sids if mentions[sid]}

    fused = {"a": 1.0, "d": 0.95, "b": 0.9, "c": 0.7}
    order = _prefer_years(frozenset({"2020"}), ["a", "d", "b", "c"], fused, mentioning, window=4)
    assert order == ["b", "a", "d", "c"]
    assert fused == {"a": YEAR_MISMATCH_FACTOR, "d": 0.95 * YEAR_MISMATCH_FACTOR, "b": 0.9, "c": 0.7}
    # no top source mentions the year: order and scores stay
    fused = {"a": 1.0, "d": 0.95, "b": 0.9, "c": 0.7}
    assert _prefer_years(frozenset({"1999"}), ["a", "d", "b", "c"], fused, lambda s: set(), 4) == ["a", "d", "b", "c"]
    assert fused == {"a": 1.0, "d": 0.95, "b": 0.9, "c": 0.7}
    # only the top window is looked at
    seen: list[list[str]] = []

    def recorded(sids: list[str]) -> set[str]:
        seen.append(sids)
        return set()

    _prefer_years(frozenset({"2020"}), ["a", "d", "b", "c"], dict(fused), recorded, 2)
    assert seen == [["a", "d"]]


def test_query_years_reads_calendar_years_only() -> None:
    from rag.retrieval import query_years

    assert query_years("2023年 中国人民大学的校长是谁？") == {"2023"}
    assert query_years("the 2019 and 2020 filing deadlines") == {"2019", "2020"}
    assert query_years("call 020-12345 or order 12023, version 2.2020, 3000 items") == frozenset()


def test_comparing_questions_and_the_titles_they_name() -> None:
    from rag.retrieval import comparison_cues, is_comparison, named_titles

    assert is_comparison("数学与应用数学专业与数据计算及应用专业之间有哪些主要的差异？")
    assert is_comparison("What is the difference between Game Mode and Movie Mode?")
    assert is_comparison("Game Mode vs Movie Mode")
    assert not is_comparison("How do I turn on Game Mode?")
    assert not is_comparison("数学与应用数学专业的培养目标是什么？")
    assert comparison_cues("两个专业有哪些差异及共同之处？") == ["差异", "共同"]
    assert comparison_cues("How do Game Mode and Movie Mode differ, and which is similar to Vivid?") == ["differ", "similar"]
    titles = ["数学", "数学与应用数学", "数据计算及应用", "数学学院", "Game Mode", "Movie Mode", "Mode", "TV"]
    # a title inside a longer named one is left out; Chinese titles match as substrings
    assert named_titles("数学与应用数学专业与数据计算及应用专业有何异同？", titles) == ["数学与应用数学", "数据计算及应用"]
    # other scripts match whole words, case-insensitively; titles under four letters never
    assert named_titles("how does game mode differ from movie mode on my TV?", titles) == ["game mode", "movie mode"]
    assert named_titles("Is the Gamemode faster?", ["Game Mode", "Gamemodes"]) == []
    # in the order of the titles given (the best passage's first), whatever the hash seed
    assert named_titles("how does game mode differ from movie mode?", titles[::-1]) == ["movie mode", "game mode"]


def test_a_comparing_question_names_titles_by_what_sets_them_apart() -> None:
    from rag.retrieval import compared_titles, titles_told_apart

    music = ["中国人民大学2016年艺术类（音乐表演）专业招生简章", "中国人民大学2018年艺术类（音乐表演）专业招生简章",
             "中国人民大学2016年艺术类（音乐表演）专业招生简章", "中国人民大学艺术学院简介"]
    q = "中国人民大学2016年和2018年音乐表演专业的招生计划分别是多少人？"
    assert compared_titles(q, music) == music[:2]
    scores = ["2022年天津市录取分数线", "2022年上海市录取分数线", "2021年天津市录取分数线"]
    assert titles_told_apart("2022年天津市和上海市的法学专业最低录取分数分别是多少？", scores) == scores[:2]
    plans = ["Pricing - Starter plan", "Pricing - Pro plan", "Product overview"]
    assert compared_titles("What is the difference between the Starter and Pro plans?", plans) == [
        "pricing - starter plan", "pricing - pro plan"]
    # a word is named whole ("pro" is not in "product"), and a single Chinese character too little
    assert titles_told_apart("Starter or Product plan: which differs?", ["Starter plan", "Product plan"]) == [
        "starter plan", "product plan"]
    assert titles_told_apart("Starter or product plan?", ["Pricing - Starter plan", "Pricing - Pro plan"]) == []
    assert titles_told_apart("湖南和湖北的分数分别是多少？", ["2022年湖南录取分数线", "2022年湖北录取分数线"]) == []
    # titles that differ in more than one place, or in most of their words, are not told apart
    assert titles_told_apart("2016年和2018年的计划分别是多少？", ["2016年招生简章", "2018年录取分数线"]) == []
    assert titles_told_apart("Starter vs Pro?", ["Starter", "Pro"]) == []
    # a question that compares nothing asks about no titles
    assert compared_titles("2016年音乐表演专业招生计划是多少人？", music) == []
    # nor does one that names the differing parts in another sense, and none of what the titles
    # share (a regression hunt's: release notes by "2天 / 3天", shipping prices by the years bought)
    versions = ["版本 2.0 发布说明", "版本 3.0 发布说明", "快递配送时效"]
    assert titles_told_apart("2天送达和3天送达有什么区别？", versions) == []
    assert titles_told_apart("版本2.0和3.0分别新增了什么？", versions) == versions[:2]
    years = ["Shipping prices 2023", "Shipping prices 2024", "Warranty policy"]
    assert compared_titles("I bought in 2023 and it broke in 2024, is each year covered by warranty?", years) == []
    assert compared_titles("How do shipping prices differ between 2023 and 2024?", years) == [
        "shipping prices 2023", "shipping prices 2024"]


def test_sources_a_comparing_question_does_not_name_are_scaled_down() -> None:
    from rag.retrieval import COMPARISON_OTHER_FACTOR, _prefer_named

    title = {"school": "Mathematics school", "a": "Game Mode", "b": "Movie Mode", "c": "Sound"}
    q = "What is the difference between Game Mode and Movie Mode?"
    fused = {"school": 1.0, "c": 0.9, "a": 0.85, "b": 0.8}
    order = _prefer_named(q, ["school", "c", "a", "b"], fused, title.__getitem__, window=4)
    assert order == ["a", "b", "school", "c"]
    assert fused == {"school": COMPARISON_OTHER_FACTOR, "c": 0.9 * COMPARISON_OTHER_FACTOR, "a": 0.85, "b": 0.8}
    # a question that compares nothing, or names fewer than two top sources, keeps order and scores
    for other in ("How do I turn on Game Mode and Movie Mode?", "How does Game Mode differ from the rest?"):
        fused = {"school": 1.0, "c": 0.9, "a": 0.85, "b": 0.8}
        assert _prefer_named(other, ["school", "c", "a", "b"], fused, title.__getitem__, 4) == ["school", "c", "a", "b"]
        assert fused == {"school": 1.0, "c": 0.9, "a": 0.85, "b": 0.8}
    # only the top window's titles are read
    seen: list[str] = []

    def title_of(sid: str) -> str:
        seen.append(sid)
        return title[sid]

    _prefer_named(q, ["school", "c", "a", "b"], dict(fused), title_of, window=2)
    assert seen == ["school", "c"]


def test_a_comparing_question_ranks_the_documents_it_names_first(
    kb_home: Path, fake_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a school's page shares most of the words of a question that compares two of its majors
    docs = [
        Doc("school.md", "数学学院", [
            "数学学院设有数学与应用数学专业和数据计算及应用专业，两个专业的共同之处见各专业页面。"
        ], lang="zh"),
        Doc("math.md", "数学与应用数学", [
            "数学与应用数学专业侧重基础数学研究，与数据计算及应用专业的共同之处是扎实的数学基础。"
        ], lang="zh"),
        Doc("data.md", "数据计算及应用", [
            "数据计算及应用专业侧重数据挖掘与分析，与数学与应用数学专业的主要差异在于人文社科交叉。"
        ], lang="zh"),
        Doc("news.md", "学院新闻", ["数学学院举办本科招生宣讲会，介绍学院的专业设置。"], lang="zh"),
        Doc("library.md", "图书馆", ["图书馆开放时间为每天八点至二十二点。"], lang="zh"),
    ]
    index = build_kb(kb_home, "majors", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    q = "数学与应用数学专业与数据计算及应用专业之间有哪些主要的差异及共同之处？"
    monkeypatch.setattr("rag.retrieval.COMPARISON_OTHER_FACTOR", 1.0)
    assert r.retrieve(q, k=4)[0].chunk.source == "school.md"  # what plain fusion ranks first
    monkeypatch.undo()
    hits = r.retrieve(q, k=4)
    assert {h.chunk.source for h in hits[:2]} == {"math.md", "data.md"}
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    # asking about one of them (or naming both without comparing them) is left as fusion ranks it
    for other in ("数学与应用数学专业的培养目标是什么？", "数学与应用数学专业和数据计算及应用专业在哪个学院？"):
        on = [(h.chunk.source, h.score) for h in r.retrieve(other, k=4)]
        monkeypatch.setattr("rag.retrieval.COMPARISON_OTHER_FACTOR", 1.0)
        assert [(h.chunk.source, h.score) for h in r.retrieve(other, k=4)] == on
        monkeypatch.undo()


def test_a_merged_passage_keeps_the_headings_of_the_sections_it_spans(kb_home: Path, fake_embedder: Any) -> None:
    title = "Returns policy"
    docs = [Doc("returns.pdf", title, [
        "Items must be unused and in their original packaging.",
        "- Gift cards and downloadable software.\n- Items marked as Final Sale.",
        "Open Orders in your account and choose Return item.",
    ], headings=[(title, "2. Condition"), (title, "3. Items that cannot be returned"), (title, "4. How to return")])]
    index = build_kb(kb_home, "heads", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    merged = r.retrieve("items returned unused packaging gift cards final sale return orders", k=1)[0]
    assert merged.text is not None
    # each part that opens a section after another part stands under its heading, and so does a
    # first part in another section than the hit's own chunk (whose section the locator names):
    # "How do I return something?" is answered by the steps merged before the return shipping costs
    assert merged.chunk.position == 1
    assert merged.passage.split("\n")[:4] == [
        "## 2. Condition",
        "Items must be unused and in their original packaging.",
        "## 3. Items that cannot be returned",
        "- Gift cards and downloadable software.",
    ]
    assert "## 4. How to return\nOpen Orders" in merged.passage
    # a passage that starts with the hit's own chunk does not repeat its section's heading
    first = r.retrieve("items unused original packaging gift cards", k=1)[0]
    assert first.chunk.position == 0 and first.text is not None
    assert first.passage.startswith("Items must be unused")
    # a chunk alone that opens with a list stands under its heading too; other chunks do not
    alone = HybridRetriever(index, fake_embedder, merge_neighbours=False)  # one hit per source
    listed = alone.retrieve("gift cards downloadable software final sale", k=1)[0]
    assert listed.chunk.position == 1
    assert listed.passage.startswith("## 3. Items that cannot be returned\n- Gift cards")
    plain = alone.retrieve("unused original packaging", k=1)[0]
    assert plain.chunk.position == 0 and plain.text is None and plain.passage.startswith("Items must be unused")


def test_keyword_search_is_by_what_a_question_is_about_not_how_long(kb_home: Path, fake_embedder: Any) -> None:
    docs = [
        Doc("privacy.md", "Privacy", ["We keep your phone number as long as the account is open, and no longer."]),
        Doc("warranty.md", "Warranty", ["Phones carry a one year warranty."]),
    ]
    index = build_kb(kb_home, "kind", fake_embedder, docs)
    top = index.keyword_search("How long is the warranty on phones?", 2)
    assert [index.get_chunks([r])[0].source for r, _ in top][0] == "warranty.md"
    assert index.keyword_coverage("How long is the warranty on phones?", [[r] for r, _ in top])[0] == 1.0
    shop = build_kb(kb_home, "take", fake_embedder, [
        Doc("faq.md", "Shipping", ["How long does standard shipping take? Standard shipping takes 3 to 5 days."]),
        Doc("refunds.md", "Refunds", ["Refunds are issued within 5 to 7 business days."]),
    ])
    top = shop.keyword_search("How long does a refund take?", 2)
    assert [shop.get_chunks([r])[0].source for r, _ in top] == ["refunds.md"]  # not "takes"


def test_a_how_long_question_gets_the_sources_duration_as_an_excerpt(kb_home: Path, fake_embedder: Any) -> None:
    title = "Warranty policy"
    docs = [Doc("warranty.docx", title, [
        "Repair or replacement of a defective product, including parts and labour. If a repair is not "
        "possible, Acme replaces the product or refunds the purchase price.",
        "Accidental damage such as drops and liquid damage is not covered.",
        "Open a claim under Orders > Get help. Most repairs are completed within 10 business days.",
        "Acme Care+ is bought within 30 days of delivery and adds two accidental damage claims per year.",
    ], headings=[(title, "What the warranty covers"), (title, "What it does not cover"),
                 (title, "How to make a claim"), (title, "Acme Care+")])]
    index = build_kb(kb_home, "excerpt", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder, merge_neighbours=False)
    q = "How long does a repair take?"
    found = r.retrieve(q, k=1)
    assert found[0].chunk.position == 0 and found[0].passage == docs[0].texts[0]  # retrieval: as it was
    hit = r.answer_excerpts(q, found)[0]
    assert hit.chunk.position == 0  # the passage is still about the chunk that matches best ...
    # ... with the source's duration about a repair after it, under its heading (not Acme Care+'s
    # "within 30 days": no repair in it)
    assert hit.passage.split("\n") == [docs[0].texts[0], "## How to make a claim", docs[0].texts[2]]
    assert len(hit.rows) == 2 and hit.rows[0] == found[0].rows[0] and hit.rows[1] not in hit.others
    # a question that asks for no duration, or whose passage holds one, gets the passage alone
    q = "What does a repair include?"
    assert r.answer_excerpts(q, r.retrieve(q, k=1))[0].passage == docs[0].texts[0]
    q = "How long after delivery can Acme Care+ be bought?"
    covered = r.answer_excerpts(q, r.retrieve(q, k=1))[0]
    assert covered.chunk.position == 3 and covered.passage == docs[0].texts[3]
    # a follow-up without words of its own is about the turn as condensed
    q = "How long does it take?"
    assert "10 business days" in r.answer_excerpts(q, found, "How long does a repair take? repair")[0].passage
    assert r.answer_excerpts(q, found)[0].passage == docs[0].texts[0]
    # an excerpt from earlier in the document stands before the passage, which keeps its heading
    first = build_kb(kb_home, "earlier", fake_embedder, [Doc("repairs.md", title, [
        "Most repairs are completed within 10 business days.",
        "Shipping labels are printed at the post office.",
        "Repair of a defective product covers parts and labour.",
    ], headings=[(title, "Turnaround"), (title, "Labels"), (title, "Coverage")])])
    r = HybridRetriever(first, fake_embedder, merge_neighbours=False)
    q = "How long does the repair of a defective product take?"
    hit = r.answer_excerpts(q, r.retrieve(q, k=1))[0]
    assert hit.chunk.position == 2
    assert hit.passage.split("\n") == [
        "## Turnaround", "Most repairs are completed within 10 business days.",
        "## Coverage", "Repair of a defective product covers parts and labour."]


def test_a_may_i_question_gets_the_sources_exception_as_an_excerpt(kb_home: Path, fake_embedder: Any) -> None:
    # "Can I return a gift card?" was answered from the refunds section ("If you paid with a gift
    # card, the refund is issued as a new gift card"), which reads as yes; the exception says no
    from indexes.text import asks_may, negated_terms

    assert asks_may("Can I return a gift card?") and asks_may("能退礼品卡吗？") and asks_may("Do you accept PayPal?")
    assert not asks_may("How can I return it?") and not asks_may("Can I know how long a refund takes?")
    assert negated_terms("Gift cards cannot be returned, sadly.") == {"card", "return"}
    assert negated_terms("特价商品不支持退货。") == {"商品", "支持", "退货"} and not negated_terms("Returns are free.")
    title = "Returns policy"
    docs = [Doc("returns.md", title, [
        "The following items are final sale and cannot be returned: gift cards, engraved jewellery.",
        "Items must be unused and in their original packaging.",
        "Refunds go to the original payment method. If you paid with a gift card, the refund is a new gift card "
        "that you can return to the shop with.",
    ], headings=[(title, "Items that cannot be returned"), (title, "Condition"), (title, "Refunds")])]
    index = build_kb(kb_home, "may", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder, merge_neighbours=False)
    q = "Can I return a gift card?"
    found = [h for h in r.retrieve(q, k=1)]
    assert found[0].chunk.position == 2, found[0].passage  # the refunds section matches best
    hit = r.answer_excerpts(q, found)[0]
    assert hit.passage.split("\n") == ["## Items that cannot be returned", docs[0].texts[0],
                                        "## Refunds", docs[0].texts[2]]
    # a passage that says the exception itself, or a question that asks how, gets no excerpt
    assert r.answer_excerpts("How can I return a gift card?", found)[0].passage == docs[0].texts[2]


def test_the_excerpt_of_the_kind_asked_comes_from_the_section_titled_by_what_is_asked(
    kb_home: Path, fake_embedder: Any
) -> None:
    """ "how long will the refund take?" got the return window ("30 days ... to return an item for
    a refund", a duration that names a refund) as its excerpt, the chunk its source ranked above
    the refunds section: of the chunks that give the kind, one under a heading that names what is
    asked is taken first."""
    from dataclasses import replace

    title = "Returns policy"
    docs = [Doc("returns.pdf", title, [
        "You have 30 days from delivery to return an item for a refund.",
        "Refunds are issued within 5 to 7 business days after inspection.",
        "If an item arrives damaged, we send a replacement or a full refund.",
    ], headings=[(title, "1. Return window"), (title, "6. Refunds"), (title, "8. Damaged items")])]
    index = build_kb(kb_home, "titled", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder, merge_neighbours=False)
    hit = r.retrieve("damaged replacement full refund", k=1)[0]
    assert hit.chunk.position == 2
    row_at = {c.position: row for row, c in zip(hit.others, index.get_chunks(list(hit.others)), strict=True)}
    hit = replace(hit, others=(row_at[0], row_at[1]))  # the return window first, as its source ranked it
    got = r.answer_excerpts("how long will the refund take?", [hit])[0]
    assert got.passage.split("\n") == ["## 6. Refunds", docs[0].texts[1], "## 8. Damaged items", docs[0].texts[2]]
    # with no titled chunk that gives it, the first that gives it is still read
    untitled = replace(hit, others=(row_at[0],))
    assert "30 days" in r.answer_excerpts("how long will the refund take?", [untitled])[0].passage


def test_a_price_asked_of_what_the_turns_before_name_gets_an_excerpt_that_gives_one(
    kb_home: Path, fake_embedder: Any
) -> None:
    """ "How much does that cost?" after "Can I extend it?" after "How long is the warranty on my
    headphones?" found the warranty periods, which give no price, and took no excerpt: "cost" was
    read as what it is about, and the plan that extends the warranty says "$49 service fee". The
    words that ask for a price say what kind of answer is wanted; the topic is the turns'."""
    title = "Warranty policy"
    docs = [Doc("warranty.docx", title, [
        "Headphones carry a one year warranty, and laptops two years.",
        "Acme Care+ is an optional plan. It extends the warranty and adds two claims a year with a $49 fee each.",
    ], headings=[(title, "Warranty periods"), (title, "Acme Care+")])]
    index = build_kb(kb_home, "price", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder, merge_neighbours=False)
    query = "How much does that cost? Can I extend it? How long is the warranty on my headphones?"
    hit = r.retrieve("warranty on my headphones", k=1)[0]
    assert hit.chunk.position == 0 and hit.others
    got = r.answer_excerpts("How much does that cost?", [hit], query)[0]
    assert got.passage.split("\n") == [docs[0].texts[0], "## Acme Care+", docs[0].texts[1]]


def test_a_sentence_that_leans_on_one_naming_the_topic_answers_about_it() -> None:
    """ "It ... adds two claims per year with a $49 service fee each" tells what Acme Care+ costs
    when the sentence before it names Acme Care+; a figure in a sentence that names neither
    itself nor through the one before it answers nothing about it."""
    from rag.retrieval import _answers_kind

    care = frozenset({"care", "cost"})
    plan = "Acme Care+ is an optional protection plan. It adds two claims per year with a $49 service fee each."
    assert _answers_kind("money", care, plan)
    assert not _answers_kind("money", care, "Shipping is slow. It is $4.95.")  # leans on what names neither
    assert not _answers_kind("money", care, "Acme Care+ is optional. Express shipping is $12.95.")  # leans on nothing
    assert _answers_kind("duration", frozenset({"积分"}), "积分在签收后到账。其有效期为 24 个月。")


def test_a_table_split_across_chunks_says_its_header_once_where_they_merge(kb_home: Path, fake_embedder: Any) -> None:
    title = "Privacy policy"
    head = "| Data | Why we use it | How long we keep it |\n|---|---|---|"
    docs = [Doc("privacy.md", title, [
        f"We collect only what we need.\n{head}\n| Order history | Returns and tax records | 7 years |",
        f"{head}\n| Customer service chats | Answering your questions | 2 years |",
    ], headings=[(title, "Personal data"), (title, "Personal data")])]
    index = build_kb(kb_home, "table", fake_embedder, docs)
    hit = HybridRetriever(index, fake_embedder).retrieve("how long do you keep order history and chats", k=1)[0]
    assert hit.passage == (
        f"We collect only what we need.\n{head}\n| Order history | Returns and tax records | 7 years |\n"
        "| Customer service chats | Answering your questions | 2 years |"
    )


def test_a_table_row_the_question_names_is_read_from_another_chunk_of_its_source(
    kb_home: Path, fake_embedder: Any
) -> None:
    # a table split across chunks: the plans' passage, found by "Plus or Max plan" in the family
    # discount's section, held the Max row only, and "How much is the Plus plan?" got the discount
    head = "| Plan | Price per month | Data |\n|---|---|---|"
    title = "Mobile Plans and Pricing"
    docs = [Doc("plans.md", title, [
        "All prices are per month and include VAT.",
        f"{head}\n| Lite | $15 | 5 GB |\n| Plus | $30 | 25 GB |",
        f"{head}\n| Max | $50 | Unlimited |",
        "Add up to 4 extra lines to a Plus or Max plan with the family discount and each extra line gets 20% off "
        "the monthly price of the plan.",
    ], headings=[(title,), (title, "Monthly plans"), (title, "Monthly plans"), (title, "Family discount")])]
    index = build_kb(kb_home, "plans", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    q = "What is the monthly price of the Plus plan?"
    hit = r.retrieve(q, k=1)[0]
    assert hit.chunk.position == 3 and "| Plus |" not in hit.passage  # found by the discount's words
    read = r.answer_excerpts(q, [hit])[0]
    assert "| Plus | $30 | 25 GB |" in read.passage and "20% off" in read.passage
    # a row is named by its first cell and what else the question asks about: "Plus" in "How long is
    # the Care Plus warranty?" names no row of the plans' table
    assert r.answer_excerpts("How long is the Care Plus warranty on the plan?", [hit])[0].passage == hit.passage


def test_an_excerpt_next_to_a_passage_joins_it_as_a_merged_chunk_does(kb_home: Path, fake_embedder: Any) -> None:
    # a passage of a table's first two chunks, and the row the question names in the third: the
    # excerpt repeated the table's header and the sentence the chunker carried over
    head = "| Plan | Price per month |\n|---|---|"
    title = "Plans"
    docs = [Doc("plans.md", title, [
        "All prices include VAT.", f"{head}\n| Lite | $15 |", f"{head}\n| Plus | $30 |", f"{head}\n| Max | $50 |",
        "Prices change on 1 May. Ask us for the new ones.", "Ask us for the new ones. Call 0800 123 456.",
    ], headings=[(title,)] + [(title, "Monthly plans")] * 3 + [(title, "Changes")] * 2)]
    index = build_kb(kb_home, "plans", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    rows = _rows_by_position(index)
    chunk = index.get_chunks([rows[1]])[0]
    text = r._passage(rows[1], chunk, [rows[1], rows[2]])
    assert text is not None and text.count("| Plan |") == 1
    hit = Hit(chunk=chunk, score=1.0, text=text, rows=(rows[1], rows[2]), others=(rows[3],))
    read = r._with_excerpt(hit, index.get_chunks([rows[3]])[0], rows[3])
    assert read.passage.count("| Plan |") == 1 and read.passage.endswith("| Plus | $30 |\n| Max | $50 |")
    # and right before it: the table reads on under one header
    chunk = index.get_chunks([rows[3]])[0]
    hit = Hit(chunk=chunk, score=1.0, text=None, rows=(rows[3],), others=(rows[2],))
    read = r._with_excerpt(hit, index.get_chunks([rows[2]])[0], rows[2])
    assert read.passage == f"{head}\n| Plus | $30 |\n| Max | $50 |" and read.rows == (rows[2], rows[3])
    chunk = index.get_chunks([rows[4]])[0]
    hit = Hit(chunk=chunk, score=1.0, text=None, rows=(rows[4],), others=(rows[5],))
    read = r._with_excerpt(hit, index.get_chunks([rows[5]])[0], rows[5])
    assert read.passage.count("Ask us for the new ones.") == 1 and read.passage.endswith("Call 0800 123 456.")


def test_a_merged_passage_says_the_sentences_chunks_overlap_on_once(kb_home: Path, fake_embedder: Any) -> None:
    # the chunker carries a chunk's last sentences into the next one; merged, they were said twice
    # ("战争、军事冲突、暴乱或武装叛乱" twice in an answer)
    docs = [
        Doc("exclusions.md", "免责条款", [
            "以下情形不予赔付：酒后驾驶。战争、军事冲突、暴乱或武装叛乱。",
            "战争、军事冲突、暴乱或武装叛乱。核爆炸、核辐射或核污染。",
        ]),
        Doc("esim.md", "Switch to eSIM", [
            "2. Open the MyTel app.\n3. Scan the QR code.", "3. Scan the QR code.\n4. Restart the phone.",
        ]),
    ]
    index = build_kb(kb_home, "overlap", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    zh = r.retrieve("酒后驾驶 战争 暴乱 核爆炸 不予赔付", k=1)[0]
    assert zh.passage == "以下情形不予赔付：酒后驾驶。战争、军事冲突、暴乱或武装叛乱。\n核爆炸、核辐射或核污染。"
    en = r.retrieve("open the MyTel app scan the QR code restart the phone", k=1)[0]
    assert en.passage == "2. Open the MyTel app.\n3. Scan the QR code.\n4. Restart the phone."
    # a sentence that only ends as the one before did is no repeat
    from rag.retrieval import _without_overlap

    assert _without_overlap("free. Returns take 5 days.", "Shipping is free.") == "free. Returns take 5 days."
    assert _without_overlap("Returns are free.", "Shipping is free.") == "Returns are free."
    assert _without_overlap("Press OK. Connect the cable.", "Wait for the light. Press OK.") == "Connect the cable."
    assert _without_overlap("不含人为损坏。核爆炸。", "以下不赔：战争。不含人为损坏。") == "核爆炸。"
    # the longest repeat is said once, where the text's first words stand more than once
    assert _without_overlap("Press OK. Press OK again. Wait.", "Hold. Press OK. Press OK again.") == "Wait."
    # a line repeats as a sentence does; a repeat that ends inside a word is none
    assert _without_overlap("Step two\nStep three", "Step one\nStep two") == "Step three"
    assert _without_overlap("Press OKAY now.", "Then: Press OK") == "Press OKAY now."


def test_a_chunk_that_continues_a_sentence_loses_its_mark_where_merged_after_it(kb_home: Path,
                                                                               fake_embedder: Any) -> None:
    from indexes.types import CONTINUES

    docs = [Doc("gifts.md", "Gifts", [
        "Every spring the school gives the children of the mountain villages glasses and",
        f"{CONTINUES}school bags, and this year a set of teaching equipment for their classrooms.",
    ])]
    index = build_kb(kb_home, "cont", fake_embedder, docs)
    merged = HybridRetriever(index, fake_embedder).retrieve("school children glasses bags teaching equipment", k=1)[0]
    assert merged.passage == (  # the mark is gone where the sentence's start stands before it
        "Every spring the school gives the children of the mountain villages glasses and\n"
        "school bags, and this year a set of teaching equipment for their classrooms."
    )
    alone = HybridRetriever(index, fake_embedder, merge_neighbours=False).retrieve("teaching equipment", k=1)[0]
    assert alone.chunk.position == 1 and alone.passage.startswith(CONTINUES)  # the cut is shown as one


def test_script_shift_percentiles_are_numpys_bit_for_bit() -> None:
    from rag.retrieval import SCRIPT_QUANTILES, _percentiles

    rng = np.random.default_rng(7)
    for n in [*range(1, 40), 255, 256, 257]:
        for _ in range(20):
            cos = rng.normal(0.8, 0.05, n).astype(np.float32)
            for qs in (SCRIPT_QUANTILES, (0, 100), (33.3, 66.7)):
                want = np.percentile(cos, qs)
                got = _percentiles(cos, qs)
                assert got.dtype == want.dtype and np.array_equal(got, want), (n, qs, got - want)


def test_a_how_to_passage_that_ends_in_a_step_goes_on_with_the_lists_next_chunk(
    kb_home: Path, fake_embedder: Any
) -> None:
    # "How do I set up my router?" was told steps 1 to 6 of 15: the chunk ended there, and the
    # next one, not retrieved, held steps 7 on
    head = ("Router", "How to set up your router")
    docs = [Doc("router.md", "Router", [
        "1. Unpack the router and set up the cables.\n2. Place the router in the hall.\n3. Plug in the router.",
        "4. Open the Wi-Fi settings on your phone.\n5. Enter the password printed on the label.",
        "The warranty lasts two years.",
    ], headings=[head, head, ("Router", "Warranty")])]
    index = build_kb(kb_home, "router", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    q = "How do I set up the router?"
    rows = _rows_by_position(index)
    hit = Hit(chunk=index.get_chunks([rows[0]])[0], score=1.0, rows=(rows[0],))  # the next chunk not retrieved
    read = r.answer_excerpts(q, [hit])[0]
    assert read.passage.endswith("3. Plug in the router.\n4. Open the Wi-Fi settings on your phone.\n"
                                 "5. Enter the password printed on the label."), read.passage
    # a question that asks no how is not told the rest of the list
    assert r.answer_excerpts("Where do I place the router?", [hit])[0].passage == hit.passage


def test_a_list_a_question_asks_the_members_of_goes_on_with_its_next_chunk(kb_home: Path, fake_embedder: Any) -> None:
    # "What documents do I need?" was told three of the four documents: the chunk ended there, and
    # the next one, not retrieved, held the fourth (QA, a health plan)
    head = ("Member Guide", "How to Submit a Claim")
    docs = [Doc("guide.md", "Member Guide", [
        "Required documents for a member claim:\n- the completed claim form\n- an itemized bill\n- proof of payment",
        "- an English translation of a bill from abroad",
        "The warranty lasts two years.",
    ], headings=[head, head, ("Member Guide", "Warranty")])]
    index = build_kb(kb_home, "claims", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    rows = _rows_by_position(index)
    hit = Hit(chunk=index.get_chunks([rows[0]])[0], score=1.0, rows=(rows[0],))
    read = r.answer_excerpts("What documents do I need?", [hit])[0]
    assert read.passage.endswith("- proof of payment\n- an English translation of a bill from abroad"), read.passage
    # a question for no class is not told the rest of the list
    assert r.answer_excerpts("Is proof of payment needed?", [hit])[0].passage == hit.passage


def test_chinese_list_marks_are_list_items_and_steps() -> None:
    from rag.retrieval import LIST_ITEM, numbered_step

    for line, item in [("1、登录App", "登录App"), ("1.登录App", "登录App"), ("（1）订单未发货前", "订单未发货前"),
                       ("(2)点击", "点击"), ("① 点击", "点击"), ("一、进入订单。", "进入订单。"), ("（三）提交，等待审核", "提交，等待审核"),
                       ("第一步：打开App", "第一步：打开App"), ("第2步 点击", "第2步 点击"), ("1. Open the app", "Open the app"),
                       ("1) 在线", "在线")]:
        m = numbered_step(line)
        assert m is not None and m.group(1) == item, line
    assert LIST_ITEM.match("- 礼品卡") and not numbered_step("- 礼品卡")  # a bullet is no step
    # an English "(1)" opens a clause ("(1) You may cancel within 30 days ..."): it stays a sentence
    # and a few words after "一、" or "（二）" are a section's heading ("五、附则"), "第一步完成后" a sentence
    for line in ["1.5 kg of flour", "2021年起", "一些说明", "1)x", "(1) You may cancel within 30 days.", "（二）黄金会员",
                 "五、附则", "第一步完成后请等待。", "1、2号柜台办理对公业务", "一、二年级学生免收午餐费，三年级收费。"]:
        assert LIST_ITEM.match(line) is None, line


def test_a_numbered_list_run_into_one_line_gets_a_line_per_item() -> None:
    """A Markdown paragraph joins "1、…" lines, which no list syntax marks; so do pasted pages."""
    from rag.retrieval import run_in_list_lines

    assert run_in_list_lines("步骤如下：\n1、登录App。 2、点击“申请退款”。 3、提交。") == (
        "步骤如下：\n1、登录App。\n2、点击“申请退款”。\n3、提交。"
    )
    assert run_in_list_lines("一、进入订单。 二、申请发票。") == "一、进入订单。\n二、申请发票。"
    assert run_in_list_lines("（1）进入详情页。 （2）修改地址。") == "（1）进入详情页。\n（2）修改地址。"
    assert run_in_list_lines("1、登录App 2、找到订单") == "1、登录App\n2、找到订单"  # items without full stops
    assert run_in_list_lines("1、设置为2、3级后保存。2、重启。") == "1、设置为2、3级后保存。\n2、重启。"
    assert run_in_list_lines("Steps: 1. Open the app. 2. Tap Settings.") == "Steps:\n1. Open the app.\n2. Tap Settings."
    assert run_in_list_lines("1. Update the firmware to version 2. 2. Restart the router.") == (
        "1. Update the firmware to version 2.\n2. Restart the router."
    )
    # a list numbered from 1 after other words, as a flattened page writes one under its heading
    assert run_in_list_lines("五、选拔程序 1、初选 材料审核。 2、报到 来校报到。") == "五、选拔程序\n1、初选 材料审核。\n2、报到 来校报到。"
    assert run_in_list_lines("不保修：1）人为损坏；2）自行拆机。") == "不保修：\n1）人为损坏；\n2）自行拆机。"
    assert run_in_list_lines("第一步：打开App 第二步：点击设置") == "第一步：打开App\n第二步：点击设置"
    # the list ends with its last item's first sentence where each item before is one: a note follows
    assert run_in_list_lines("（1）打开详情页；（2）点击“修改地址”。发货后无法修改，请联系快递员。") == (
        "（1）打开详情页；\n（2）点击“修改地址”。\n发货后无法修改，请联系快递员。"
    )
    assert run_in_list_lines("Reset: 1. Unplug it. 2. Hold the button. All settings are erased.") == (
        "Reset:\n1. Unplug it.\n2. Hold the button.\nAll settings are erased."
    )
    # ... and the last item keeps its sentences where an item before it has two
    assert run_in_list_lines("1、登录。进入订单。 2、点击申请。选择原因。") == "1、登录。进入订单。\n2、点击申请。选择原因。"
    # numbers that are no list: inside a sentence, not counting up by one, or not where a list starts
    for text in ["分为1、2、3级，共有1.5万人。", "十一、附则", "（三）考生应为应届生。二、申请程序", "登录App 2、找到订单 3、点击",
                 "1、2号柜台办理对公业务，3、4号柜台办理个人业务。", "一、二年级学生免收午餐费。",
                 "拨打客服热线后，按 1. 查询余额，按 2. 办理挂失。", "五、选拔程序 1.初选 材料审核。 2.报到 来校报到。",
                 "We have version 2. It works. See 3. below",
                 "For billing questions, press 1. For technical support, press 2. For returns, press 3.",
                 "Tier 1. support answers within 24 hours. Tier 2. support answers within 4 hours.",
                 "Between Jan. 1. and Jan. 2. our warehouse is closed.", "Our office is at Suite 1. Floor 2. 100 Harbour Street",
                 "1. Set the timer to 2. 3. Wait until it beeps.", "Read sections 1. and 2. first.",
                 "Subject to paragraphs (1) and (2) of the Right to cancel section, these cannot be returned:",
                 "Step 1. Open the app. Step 2. Tap Settings.", "Discounts apply in order: 1. the annual one, then 2. the student one",
                 "(1) You may cancel within 30 days. (2) After 30 days, you may cancel at any time.",
                 "Call (1) 800 555 0100 or (2) 800 555 0199."]:
        assert run_in_list_lines(text) == text, text


def test_a_how_to_question_gets_the_section_of_steps_its_heading_names_as_an_excerpt(
    kb_home: Path, fake_embedder: Any
) -> None:
    # "How do I cancel my flight?" found the no-show rules (cancelling, flight) and never read the
    # steps under "Cancelling a flight": only a heading that says "How to" was taken to tell how
    title = "Managing your booking"
    docs = [Doc("booking.md", title, [
        "To cancel, follow these steps:\n1. Sign in to My Trips.\n2. Select the booking and click Cancel booking.\n"
        "3. Confirm the cancellation.",
        "If you do not show up for your flight without cancelling, your booking is marked as a no-show. All later "
        "flights on the same booking are cancelled automatically.",
    ], headings=[(title, "Cancelling a flight"), (title, "No-show")])]
    r = HybridRetriever(build_kb(kb_home, "steps", fake_embedder, docs), fake_embedder, merge_neighbours=False)
    hit = r.retrieve("show up without cancelling no-show later flights", k=1)[0]
    assert hit.chunk.position == 1
    assert "Sign in to My Trips" in r.answer_excerpts("How do I cancel my flight?", [hit])[0].passage
    # a section of steps whose heading names nothing asked tells how to do something else
    assert r.answer_excerpts("How do I pay the no-show fee?", [hit])[0].passage == docs[0].texts[1]
    # a follow-up asks how to do it to the turn before's topic ("How do I return one?" after "Do
    # gift cards expire?" was told the return steps, a regression hunt's)
    assert r.answer_excerpts("How do I cancel it?", [hit], "How do I cancel it? no-show")[0].passage == docs[0].texts[1]


def test_a_follow_up_s_answer_of_the_kind_asked_is_about_what_its_pronoun_names(
    kb_home: Path, fake_embedder: Any
) -> None:
    # "how much did it cost when it came out?" after "When did Apple announce the iMac Pro?": the
    # price names the iMac Pro, not "came", and was never read
    docs = [Doc("imac.txt", "iMac", [
        "On June 5, 2017, Apple announced a workstation-class version of the iMac, called the iMac Pro.",
        "The iMac Pro was released for pre-orders on December 14, 2017, with a starting price of $4,999.",
    ], headings=[("iMac", "Announcement"), ("iMac", "Release")])]
    r = HybridRetriever(build_kb(kb_home, "imac", fake_embedder, docs), fake_embedder, merge_neighbours=False)
    hit = r.retrieve("Apple announced a workstation-class version June", k=1)[0]
    assert hit.chunk.position == 0
    q = "how much did it cost when it came out?"
    assert "$4,999" in r.answer_excerpts(q, [hit], f"{q} When did Apple announce the iMac Pro?")[0].passage
    assert r.answer_excerpts(q, [hit])[0].passage == docs[0].texts[0]  # asked first, "it" names nothing


def test_a_passage_opens_with_its_heading_where_the_heading_gives_a_price(kb_home: Path, fake_embedder: Any) -> None:
    docs = [Doc("passes.txt", "State Park Passes", [
        "Valid for one year, this pass provides vehicle entrance to 112 state parks.",
        "Valid for one year, this pass allows admission for up to four people to historic parks.",
    ], headings=[("State Park Passes", "Golden Poppy Vehicle Day Use Annual Pass $125"),
                 ("State Park Passes", "Historian Passport")])]
    r = HybridRetriever(build_kb(kb_home, "passes", fake_embedder, docs), fake_embedder, merge_neighbours=False)
    poppy = r.retrieve("vehicle entrance to 112 state parks", k=1)[0]
    assert poppy.passage.split("\n") == ["## Golden Poppy Vehicle Day Use Annual Pass $125", docs[0].texts[0]]
    historian = r.retrieve("admission for up to four people historic parks", k=1)[0]
    assert historian.passage == docs[0].texts[1]  # a heading that gives no price is not said


def test_a_follow_up_taking_the_kind_before_to_another_subject_reads_the_chunk_that_names_it(
    kb_home: Path, fake_embedder: Any
) -> None:
    # "what about roaming?" after "What is the late fee?" asks for a price (the turn before's kind)
    # of roaming, whose prices stand in a table that never says "roaming" but in its heading: no
    # chunk gave a price that names it, and the late fee was told again (a regression hunt's)
    title = "Mobile plans"
    docs = [Doc("plans.md", title, [
        "A late fee of $8 is charged if the bill is not paid by the due date.",
        "Pack: Europe Day Pass; Price: $10; Validity: 24 hours.",
        "Open the app, tap Account, then Roaming, and choose a pack.",
    ], headings=[(title, "Late payment"), (title, "Roaming packs"), (title, "How to activate roaming")])]
    r = HybridRetriever(build_kb(kb_home, "roam", fake_embedder, docs), fake_embedder, merge_neighbours=False)
    hit = r.retrieve("late fee charged bill not paid due date", k=1)[0]
    assert hit.chunk.position == 0
    q = "what about roaming?"
    passage = r.answer_excerpts(q, [hit], f"{q} What is the late fee?")[0].passage
    assert "## Roaming packs" in passage or "## How to activate roaming" in passage, passage


CARD_TITLE = "社会保障卡办理指南"
CARD_SECTIONS = [
    ((CARD_TITLE, "一、社保卡首次申领", "（四）办理时限"), "首次申领自受理之日起十五个工作日内制卡完成。"),
    ((CARD_TITLE, "二、社保卡挂失"), "社保卡遗失或被盗的，应当立即办理挂失。挂失不收取费用。"),
    ((CARD_TITLE, "三、社保卡补办", "（一）办理条件"), "社保卡已办理正式挂失，或卡片损坏、芯片失效无法使用的，可以申请补办。"),
    ((CARD_TITLE, "三、社保卡补办", "（四）办理时限"), "合作银行网点即时制卡的，当场领取；非即时制卡网点五个工作日内制卡完成。"),
]


def _card_kb(kb_home: Path, fake_embedder: Any) -> Any:
    docs = [Doc("guide.md", CARD_TITLE, [t for _, t in CARD_SECTIONS], headings=[h for h, _ in CARD_SECTIONS])]
    return build_kb(kb_home, "card", fake_embedder, docs)


def test_a_passage_s_heading_line_names_the_sections_its_part_is_in(kb_home: Path, fake_embedder: Any) -> None:
    """"（一）办理条件" merged after the loss-reporting section read as the conditions of reporting a
    loss: the sub-heading repeats under every procedure, and the line before the part names the
    section it is in too ("三、社保卡补办 > （一）办理条件")."""
    from rag.retrieval import section_path

    index = _card_kb(kb_home, fake_embedder)
    r = HybridRetriever(index, fake_embedder)
    chunks = index.get_chunks([0, 1, 2, 3])
    assert section_path(chunks[2]) == "三、社保卡补办 > （一）办理条件"
    assert section_path(chunks[1]) == "二、社保卡挂失"
    text = r._passage(1, chunks[1], [1, 2])
    assert text is not None and "## 三、社保卡补办 > （一）办理条件" in text.split("\n"), text


def test_the_excerpt_of_the_kind_asked_is_the_one_under_headings_naming_more_of_it(
    kb_home: Path, fake_embedder: Any
) -> None:
    """"社保卡补办需要多长时间？" was told "社保卡遗失或被盗的，应当立即办理挂失" (a duration that names 社保卡)
    from the passage found: the chunk under "三、社保卡补办 > （四）办理时限" gives the kind under headings
    that name more of what is asked, and is read too (not the first-application time limit)."""
    from dataclasses import replace

    index = _card_kb(kb_home, fake_embedder)
    r = HybridRetriever(index, fake_embedder, merge_neighbours=False)
    hit = next(h for h in r.retrieve("社保卡遗失或被盗的，应当立即办理挂失", k=4) if h.chunk.position == 1)
    hit = replace(hit, others=(0, 2, 3))
    got = r.answer_excerpts("社保卡补办需要多长时间？", [hit])[0]
    assert "五个工作日内" in got.passage and "十五个工作日" not in got.passage, got.passage
    # the passage that names as much keeps to itself
    first = next(h for h in r.retrieve("首次申领自受理之日起十五个工作日内制卡完成", k=4) if h.chunk.position == 0)
    first = replace(first, others=(1, 2, 3))
    assert r.answer_excerpts("首次申领社保卡要多久？", [first])[0].passage == first.passage


def test_a_follow_up_named_in_passing_reads_the_section_headed_by_what_it_asks(kb_home: Path, fake_embedder: Any) -> None:
    # "What are the opening hours in London?" after Manchester's was told the bank-holiday hours
    # ("The London club keeps its 24-hour opening"), which name all of it in passing, and not the
    # London section (QA, conversations)
    from dataclasses import replace

    title = "Clubs and Opening Hours"
    docs = [sectioned("clubs.md", title, [
        ("London (Shoreditch)", "The London club is open 24 hours a day, 7 days a week."),
        ("Manchester (Deansgate)", "The Manchester club is open from 6am to 11pm."),
        ("Bank holidays", "On bank holidays, the Manchester club opens from 9am to 5pm. The London club keeps its 24-hour opening."),
    ])]
    index = build_kb(kb_home, "clubs", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder, merge_neighbours=False)
    hit = next(h for h in r.retrieve("bank holidays London 24-hour opening", k=3) if h.chunk.position == 2)
    hit = replace(hit, others=(1, 0))
    q = "What are the opening hours in London?"
    got = r.answer_excerpts(q, [hit], f"{q} What are the opening hours in Manchester?")[0]
    assert "open 24 hours a day, 7 days a week" in got.passage, got.passage


def test_a_table_row_named_by_most_of_its_label_is_read_from_another_chunk(kb_home: Path, fake_embedder: Any) -> None:
    # "How much is the non-sterling transaction fee on Plus?" was told the prose about the fee, never
    # the table's row "Non-sterling transaction fee | 2.99% | 1.5% | £0" ("fee" a price word), in
    # another chunk of the same source (QA 2026-12-07)
    head = "| Fee or limit | Basic | Plus | Premier |\n|---|---|---|---|"
    title = "Fees and charges"
    docs = [Doc("fees.md", title, [
        f"{head}\n| Non-sterling transaction fee | 2.99% | 1.5% | £0 |",
        "Cash machines in the UK are free to use. Some independent machines may ask for money.",
        "Statements are sent every month by post or in the app, as you choose.",
        "When you pay in a currency other than sterling we add the non-sterling transaction fee for your tier. "
        "Premier customers pay no non-sterling transaction fee on Plus or other cards abroad.",
    ], headings=[(title, "Tiers"), (title, "Cash"), (title, "Statements"), (title, "Abroad")])]
    index = build_kb(kb_home, "fees", fake_embedder, docs)
    r = HybridRetriever(index, fake_embedder)
    q = "How much is the non-sterling transaction fee on Plus?"
    hit = r.retrieve(q, k=1)[0]
    assert hit.chunk.position == 3 and "1.5%" not in hit.passage
    assert "| 1.5% |" in r.answer_excerpts(q, [hit])[0].passage
    # one word of the label ("transaction") names no row
    assert "| 1.5% |" not in r.answer_excerpts("How much is a transaction abroad on Plus?", [hit])[0].passage


def _features_by_plan(kb_home: Path, fake_embedder: Any) -> tuple[HybridRetriever, dict[int, int], Any]:
    """A table of features by plan (plans as columns) split over three chunks, and two other
    documents: the retriever, each chunk's row by position in the plans' document, the index."""
    head = "| Feature | Free | Team | Enterprise |\n|---|---|---|---|"
    title = "Compare plans"
    docs = [
        Doc("plans.html", title, [
            "Taskhive comes in three plans: Free, Team and Enterprise.",
            f"{head}\n| Price (monthly billing) | $0 | $12 per seat per month | $29 per seat per month |\n"
            "| Price (annual billing) | $0 | $10 per seat per month | $24 per seat per month |",
            f"{head}\n| Maximum seats | 5 members | Up to 250 members | Unlimited |\n"
            "| Storage | 2 GB per workspace | 100 GB per workspace | 1 TB per workspace |",
            f"{head}\n| Support | Community forum | Email support | 24/7 priority support |\n"
            "| Uptime SLA | None | None | 99.9% uptime SLA |",
        ], headings=[(title,)] * 4),
        Doc("notes.md", "Release notes", ["Team workspaces now get 250 GB of storage at no extra cost."]),
        Doc("refunds.md", "Refund policy", ["A downgrade from Enterprise to Team takes effect at the end of the billing period."]),
    ]
    index = build_kb(kb_home, "plans", fake_embedder, docs)
    rows = {c.position: row for row in range(index.n_chunks) for c in index.get_chunks([row]) if c.source == "plans.html"}
    return HybridRetriever(index, fake_embedder), rows, index


def _source_hit(index: Any, source: str, score: float) -> Hit:
    row = next(row for row in range(index.n_chunks) if index.get_chunks([row])[0].source == source)
    return Hit(chunk=index.get_chunks([row])[0], score=score, rows=(row,))


def test_a_transposed_table_s_row_named_by_its_label_and_a_plan_s_header_is_read_and_put_second(
    kb_home: Path, fake_embedder: Any
) -> None:
    # "How much storage does Enterprise get?" was refused (cosine 0.85 under 0.856): the plans'
    # passage, fourth, held the table's Support rows, its Storage row in another chunk, and the
    # refuse check reads the first three (QA 2026-12-07)
    r, rows, index = _features_by_plan(kb_home, fake_embedder)
    support = index.get_chunks([rows[3]])[0]
    plans = Hit(chunk=support, score=0.5, rows=(rows[3],), others=(rows[1], rows[2]))
    hits = [_source_hit(index, "notes.md", 0.9), _source_hit(index, "refunds.md", 0.8), _source_hit(index, "notes.md", 0.7), plans]
    got = r.named_rows("How much storage does Enterprise get?", hits)
    assert [h.chunk.source for h in got] == ["notes.md", "plans.html", "refunds.md", "notes.md"]
    assert "| Storage | 2 GB per workspace |" in got[1].passage and "| Support |" in got[1].passage
    # asked a price, by a price row's label and a plan's header: "How much is Team?" was told a
    # release note's "no extra cost", the price rows in another chunk
    got = r.named_rows("How much is Team?", hits)
    assert got[1].chunk.source == "plans.html" and "| Price (monthly billing) |" in got[1].passage


def test_a_price_row_named_by_a_plan_s_header_is_read_from_another_chunk(kb_home: Path, fake_embedder: Any) -> None:
    # "How much is Team?" was told a release note's "no extra cost": the plans' passage held the
    # Support rows, the price rows in another chunk, named by the price word of their label and
    # the plan's column header, not by the label (QA 2026-12-07)
    r, rows, index = _features_by_plan(kb_home, fake_embedder)
    plans = Hit(chunk=index.get_chunks([rows[3]])[0], score=0.5, rows=(rows[3],), others=(rows[2], rows[1]))
    assert "| Price (monthly billing) |" in r.answer_excerpts("How much is Team?", [plans])[0].passage
    # not where no price is asked
    assert r.answer_excerpts("Is Team billed per seat?", [plans])[0].passage == plans.passage


def test_a_passage_retrieved_after_the_first_few_that_holds_the_row_asked_is_put_second(
    kb_home: Path, fake_embedder: Any
) -> None:
    # "What does the Team plan cost if I pay annually?" was told a downgrade's rule: the plans'
    # passage with the price rows ranked 6th, one passage per document (QA 2026-12-07)
    r, rows, index = _features_by_plan(kb_home, fake_embedder)
    prices = Hit(chunk=index.get_chunks([rows[1]])[0], score=0.3, rows=(rows[1],))
    top = [_source_hit(index, "refunds.md", 0.9), _source_hit(index, "notes.md", 0.8)]
    got = r.named_rows("What does the Team plan cost if I pay annually?", top, [prices])
    assert [h.chunk.source for h in got] == ["refunds.md", "plans.html"]


@pytest.mark.parametrize("question", [
    # what the table does not hold a row of, on a plan it names
    "How do I invite a guest to Enterprise?",
    # a row's label, and what else the question asks the row does not say
    "How is storage counted?",
    "How do I contact support?",
    # the price of something else on that plan (no price row named: "How much does storage cost on Team?")
    "How much does the storage add-on cost?",
    # a question that asks no price names no price row by a plan's header
    "Is Team billed per seat?",
])
def test_no_row_is_read_or_put_second_where_the_question_names_none(
    kb_home: Path, fake_embedder: Any, question: str
) -> None:
    r, rows, index = _features_by_plan(kb_home, fake_embedder)
    plans = Hit(chunk=index.get_chunks([rows[3]])[0], score=0.5, rows=(rows[3],), others=(rows[1], rows[2]))
    hits = [_source_hit(index, "notes.md", 0.9), _source_hit(index, "refunds.md", 0.8), plans]
    got = r.named_rows(question, hits, [Hit(chunk=index.get_chunks([rows[1]])[0], score=0.3, rows=(rows[1],))])
    assert [h.chunk.source for h in got] == ["notes.md", "refunds.md", "plans.html"], question
    assert got[2].passage == plans.passage, question
