from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from indexes.keyword import PHRASE_WEIGHT, TYPO_MAX_WORDS, BM25Index, HeldTerms
from indexes.text import phrase_terms, tokenize

DOCS = [
    "You can return most items within 30 days for a full refund.",
    "Shipping costs are not refunded.",
    "The warranty covers manufacturing defects for two years.",
    "Refund refund refund: refunds go to the original payment method.",
    "商品在签收后30天内可以申请退货。",
]


def _index(k1: float = 1.2, b: float = 0.75) -> BM25Index:
    return BM25Index.build([tokenize(d) for d in DOCS], k1=k1, b=b)


def test_bm25_matches_the_formula() -> None:
    idx = _index(k1=1.2, b=0.75)
    toks = [tokenize(d) for d in DOCS]
    n = len(DOCS)
    avgdl = sum(map(len, toks)) / n
    term = "warranti"
    df = sum(term in t for t in toks)
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    tf = toks[2].count(term)
    expected = idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(toks[2]) / avgdl))
    assert idx.search(["warranti"], 5) == [(2, pytest.approx(expected, rel=1e-5))]


def test_bm25_ranking_and_parameters() -> None:
    idx = _index()
    hits = idx.search(tokenize("refund"), 10)
    rows = [r for r, _ in hits]
    assert rows[0] == 3 and set(rows) == {0, 1, 3}  # "refunded"/"refunds" stem to "refund"
    assert all(s > 0 for _, s in hits)
    assert hits == sorted(hits, key=lambda x: -x[1])
    # k1 = 0 ignores term frequency: doc 3 no longer wins on repetition alone
    flat_tf = BM25Index.build([tokenize(d) for d in DOCS], k1=0.0, b=0.75).search(tokenize("refund"), 10)
    assert len({round(s, 6) for _, s in flat_tf}) == 1
    assert idx.search(tokenize("退货"), 3)[0][0] == 4
    assert idx.search(["nosuchterm"], 3) == []
    with pytest.raises(ValueError):
        BM25Index.build([["a"]], b=2.0)


def test_bm25_allowed_mask_excludes_rows() -> None:
    idx = _index()
    mask = np.ones(len(DOCS), bool)
    mask[3] = False
    hits = idx.search(tokenize("refund"), 10, allowed=mask)
    assert 3 not in [r for r, _ in hits] and len(hits) == 2
    assert idx.search(tokenize("refund"), 10, allowed=np.zeros(len(DOCS), bool)) == []
    with pytest.raises(ValueError):
        idx.search(["refund"], 3, allowed=np.ones(2, bool))


def test_bm25_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    idx = _index(k1=1.5, b=0.6)
    idx.save(tmp_path / "bm25.npz", tmp_path / "bm25.json")
    back = BM25Index.load(tmp_path / "bm25.npz", tmp_path / "bm25.json")
    assert (back.k1, back.b, back.n_docs) == (1.5, 0.6, len(DOCS))
    for q in ("refund", "warranty defects", "退货 30"):
        assert back.search(tokenize(q), 5) == idx.search(tokenize(q), 5)
    with np.load(tmp_path / "bm25.npz", allow_pickle=False) as z:  # plain numeric arrays only
        assert all(z[k].dtype != object for k in z.files)


def test_empty_index() -> None:
    idx = BM25Index.build([])
    assert idx.search(["x"], 3) == []


PHRASE_DOCS = [
    "Signal information shows the strength of the broadcast.",  # the phrase, kept together
    "Information about accessories. The signal cable is sold separately.",  # both words, apart
    "Picture settings and sound settings.",
]


def _phrase_index(docs: list[str] = PHRASE_DOCS, **kw: float) -> BM25Index:
    return BM25Index.build([tokenize(d) for d in docs], phrases=[phrase_terms(d) for d in docs], **kw)


def test_phrase_terms_reward_words_kept_together() -> None:
    q = "Where do I find signal information?"
    single = BM25Index.build([tokenize(d) for d in PHRASE_DOCS])
    with_phrases = _phrase_index()
    # single terms alone barely separate the two documents; the phrase puts doc 0 clearly first
    s0, s1 = single.scores(tokenize(q))[:2]
    p0, p1 = with_phrases.scores(tokenize(q), phrase_terms(q))[:2]
    assert p0 - p1 > (s0 - s1) + 0.3
    # the phrase adds exactly its weighted BM25 score; unigram scores are unchanged
    assert with_phrases.scores(tokenize(q))[0] == pytest.approx(s0, rel=1e-6)
    assert with_phrases.search(tokenize(q), 3, phrases=phrase_terms(q))[0][0] == 0
    # no phrase weight: the same index scores as single terms only
    flat = _phrase_index(phrase_weight=0.0)
    assert not flat.has_phrases
    assert np.allclose(flat.scores(tokenize(q), phrase_terms(q)), single.scores(tokenize(q)))
    assert PHRASE_WEIGHT > 0 and with_phrases.has_phrases
    # an unknown phrase, or none, changes nothing
    assert np.allclose(with_phrases.scores(["signal"], ["nosuch\x1fpair"]), with_phrases.scores(["signal"]))


def test_phrase_index_round_trip_and_format_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    idx = _phrase_index()
    idx.save(tmp_path / "bm25.npz", tmp_path / "bm25.json")
    back = BM25Index.load(tmp_path / "bm25.npz", tmp_path / "bm25.json")
    assert back.has_phrases and back.phrase_weight == PHRASE_WEIGHT
    for q in ("signal information", "sound settings", "strength of the broadcast"):
        assert back.search(tokenize(q), 3, phrases=phrase_terms(q)) == idx.search(tokenize(q), 3, phrases=phrase_terms(q))
    # an index written before phrase terms existed (format 1: no phrase arrays) still loads and
    # searches on single terms
    import json

    old = BM25Index.build([tokenize(d) for d in PHRASE_DOCS])
    np.savez(tmp_path / "old.npz", indptr=old.terms.indptr, indices=old.terms.indices, data=old.terms.data,
             doc_len=old.doc_len)
    terms = sorted(old.vocab, key=old.vocab.__getitem__)
    meta = {"format": 1, "k1": 1.2, "b": 0.75, "n_docs": len(PHRASE_DOCS), "terms": terms}
    (tmp_path / "old.json").write_text(json.dumps(meta), encoding="utf-8")
    legacy = BM25Index.load(tmp_path / "old.npz", tmp_path / "old.json")
    assert not legacy.has_phrases
    q = "signal information"
    assert legacy.search(tokenize(q), 3, phrases=phrase_terms(q)) == old.search(tokenize(q), 3)
    meta["format"] = 99
    (tmp_path / "old.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match="format"):
        BM25Index.load(tmp_path / "old.npz", tmp_path / "old.json")


def test_doc_freq() -> None:
    idx = _index()
    assert idx.doc_freq("refund") == 3 and idx.doc_freq("nosuchterm") == 0


def test_scores_of_rows_match_the_full_scores() -> None:
    idx = _phrase_index(PHRASE_DOCS + DOCS)
    for q in ("signal information", "refund within 30 days", "退货", "nothing matches"):
        full = idx.scores(tokenize(q), phrase_terms(q))
        for rows in ([0], [3, 1, 6], [6, 0, 6, 2], list(range(idx.n_docs))[::-1], []):
            got = idx.scores_of(tokenize(q), rows, phrase_terms(q))
            assert got.dtype == np.float32 and len(got) == len(rows)
            np.testing.assert_allclose(got, full[rows], rtol=1e-6)


def test_coverage_is_the_share_of_query_terms_a_passage_holds() -> None:
    docs = PHRASE_DOCS + DOCS
    idx = _phrase_index(docs)
    terms = [set(tokenize(d)) for d in docs]
    for q in ("signal information", "refund within 30 days of delivery", "退货 的 期限", "nothing matches", ""):
        qt = set(tokenize(q))
        groups = [[0], [3, 1], [6, 0, 2], list(range(idx.n_docs)), []]
        got = idx.coverage(tokenize(q), groups)
        want = [len(qt & set().union(*(terms[r] for r in g))) / len(qt) if qt and g else 0.0 for g in groups]
        assert got == pytest.approx(want)
        # a term the corpus never saw still counts in the denominator
        if qt:
            assert idx.coverage(tokenize(q) + ["zzzunseen"], [list(range(idx.n_docs))])[0] < 1.0


def test_held_terms_give_every_row_s_coverage_from_one_pass() -> None:
    docs = PHRASE_DOCS + DOCS
    idx = _phrase_index(docs)
    groups = [[0], [3, 1], [6, 0, 2], list(range(idx.n_docs)), []]
    for q in ("signal information", "refund within 30 days of delivery", "退货 的 期限", "nothing matches", ""):
        toks = tokenize(q)
        for extra in ([], ["zzzunseen"]):  # an unseen term counts in the denominator
            held = idx.held(toks + extra)
            assert held is not None and held.masks.shape == (idx.n_docs,)
            assert held.coverage(groups) == idx.coverage(toks + extra, groups)  # the same floats
    # a pasted document: more known terms than an int64 has bits is left to coverage()
    many = [f"w{i}" for i in range(HeldTerms.MAX_TERMS + 1)]
    wide = BM25Index.build([many, many[:10]])
    assert wide.held(many) is None
    held = wide.held(many[:-1])  # 63 terms: every bit of a positive int64
    assert held is not None and held.coverage([[0], [1]]) == wide.coverage(many[:-1], [[0], [1]]) == [1.0, 10 / 63]


def test_a_negated_question_ranks_the_negated_section_first() -> None:
    """"What does the warranty not cover?" is answered by the section that says what the warranty
    does not cover, although the one that says what it covers repeats its words more often."""
    docs = [
        "What the warranty covers. The warranty covers repairs and the warranty covers parts.",
        "What the warranty does not cover: accidental damage and normal wear.",
    ]
    idx = _phrase_index(docs)
    q = "What does the warranty not cover?"
    assert idx.search(tokenize(q), 2, phrases=phrase_terms(q))[0][0] == 1
    # asked what it covers, the section that says so stays first
    q = "What does the warranty cover?"
    assert idx.search(tokenize(q), 2, phrases=phrase_terms(q))[0][0] == 0


@pytest.mark.parametrize(("typed", "meant"), [
    ("retrun", "return"), ("warrenty", "warranty"), ("refnud", "refund"), ("manufacturng", "manufacturing"),
    ("defectss", "defects"), ("originl", "original"),
])
def test_a_word_the_corpus_does_not_know_is_read_as_the_one_it_is_a_typo_of(typed: str, meant: str) -> None:
    idx = _index()
    assert idx.correct(tuple(tokenize(typed))) == tuple(tokenize(meant))
    assert idx.search(idx.correct(tuple(tokenize(f"{typed} policy"))), 3)  # found by it


@pytest.mark.parametrize("word", [
    "costs",  # known: left as it is
    "cost",  # too short to guess: "mask" is one edit from "task"
    "bicycle",  # nothing one edit from it
    "签收后",  # not in Latin letters
    "drefund",  # a typo rarely starts a word: "border" is no "order"
])
def test_a_word_known_short_or_far_is_left_as_it_is(word: str) -> None:
    idx = _index()
    toks = tuple(tokenize(word))
    assert idx.correct(toks) == toks


def test_a_word_the_corpus_does_not_know_is_read_as_its_synonyms_it_does() -> None:
    # "How much does the Pro plan cost?" against a knowledge base that says "Price" and "fee", never
    # "cost": the question's word matched nothing, and the pricing table was not found by it
    idx = BM25Index.build([tokenize(d) for d in (
        "Price per user: 15 dollars on Pro.", "There is no setup fee.", "Prices exclude VAT.", "Delivery takes 3 days.")])
    assert idx.correct(tuple(tokenize("How much does the Pro plan cost?"))) == tuple(tokenize("How much does the Pro plan price")) + ("fee",)
    assert idx.search(idx.correct(tuple(tokenize("cost per user"))), 1)[0][0] == 0
    assert idx.correct(tuple(tokenize("shipping time"))) == tuple(tokenize("delivery time"))
    # a word the corpus knows is searched as asked, and a word of no group is left to the typo reading
    both = BM25Index.build([tokenize(d) for d in ("Shipping costs 5 euros.", "The price is 10 euros.")])
    assert both.correct(tuple(tokenize("cost"))) == ("cost",)
    assert idx.correct(tuple(tokenize("bicycle"))) == tuple(tokenize("bicycle"))


def test_of_two_words_one_edit_away_the_commoner_is_taken() -> None:
    idx = BM25Index.build([tokenize(d) for d in ("banter", "banner", "banner", "other")])
    assert idx.correct(tuple(tokenize("banher"))) == ("banner",)  # one edit from both; "banner" is in two chunks


def test_typo_reading_is_bounded_by_a_words_length_and_a_querys_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # each unknown word costs the stemming of every word one edit from it: a question of one
    # 4,000-letter "word" took 28 s
    import indexes.text

    idx = _index()
    stemmed: list[int] = []
    real = indexes.text.stem_words

    def counted(words: Any) -> Any:
        stemmed.append(len(words))
        return real(words)

    monkeypatch.setattr(indexes.text, "stem_words", counted)
    long = ("r" + "x" * 3999,)
    assert idx.correct(long) == long and not stemmed
    typed = tuple(tokenize("retrun " * 3 + "warrenty refnud originl manufacturng defectss"))
    read = idx.correct(typed)
    # each word once; the first five unknown words are read, the sixth is not
    assert len(stemmed) == TYPO_MAX_WORDS
    assert read == tuple(tokenize("return " * 3 + "warranty refund original manufacturing defectss"))
