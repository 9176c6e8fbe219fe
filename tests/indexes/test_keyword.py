from __future__ import annotations

import math

import numpy as np
import pytest

from indexes.keyword import BM25Index
from indexes.text import tokenize

DOCS = [
    "You can return most items within 30 days for a full refund.",
    "Shipping costs are not refunded.",
    "The warranty covers manufacturing defects for two years.",
    "Refund refund refund: refunds go to the original payment method.",
    "商品在签收后30天内可以申请退货。",
]


def _index(**kw: float) -> BM25Index:
    return BM25Index.build([tokenize(d) for d in DOCS], **kw)


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
