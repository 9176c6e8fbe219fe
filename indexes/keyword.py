"""BM25 keyword index over pre-tokenised chunks (the analyzer is :func:`indexes.text.tokenize`).

The per-(term, chunk) BM25 weights are precomputed at build time into a term-major CSR matrix,
so a query is a sum of a few rows plus a top-k: well under a millisecond at 100k chunks. Saved as
``bm25.npz`` (numeric arrays only, loaded with ``allow_pickle=False``) plus ``bm25.json`` (the
vocabulary and parameters). Nothing is pickled.

Scoring: Lucene/BM25 ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``,
``w = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``; a query scores each distinct
query term once.

Phrase terms (:func:`indexes.text.phrase_terms`, adjacent term pairs within a clause) are scored
the same way, with the chunk's term count as its length, and weighted by ``phrase_weight`` (baked
into the stored weights). Their vocabulary can be millions of pairs, so it is stored as sorted
64-bit BLAKE2b keys in ``bm25.npz`` rather than as strings. Format 1 indexes (no phrases) still
load and search on single terms alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

FORMAT = 2
READABLE_FORMATS = (1, 2)
PHRASE_WEIGHT = 0.5  # a phrase match counts half as much as a single term of the same rarity


@lru_cache(maxsize=65_536)
def phrase_key(phrase: str) -> int:
    """The stored key of a phrase term: the first 8 bytes of its BLAKE2b digest, as int64."""
    return int.from_bytes(hashlib.blake2b(phrase.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def _phrase_keys(phrases: Iterable[str]) -> np.ndarray:
    return np.fromiter((phrase_key(p) for p in phrases), dtype=np.int64)


class KeywordIndex(Protocol):
    def search(
        self, tokens: Sequence[str], k: int, allowed: np.ndarray | None = None, phrases: Sequence[str] = ()
    ) -> list[tuple[int, float]]: ...


class _Postings:
    """Term-major CSR of precomputed BM25 weights: row ``t`` holds (chunk, weight) of term ``t``."""

    __slots__ = ("indptr", "indices", "data")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> None:
        if len(indices) != len(data) or (len(indptr) and int(indptr[-1]) != len(data)):
            raise ValueError("BM25 postings arrays do not match")
        self.indptr, self.indices, self.data = indptr, indices, data

    @classmethod
    def empty(cls, n_terms: int) -> _Postings:
        return cls(np.zeros(n_terms + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))

    def add_rows(self, out: np.ndarray, term_ids: Iterable[int]) -> None:
        # (np.add.at adds in the same order, bit for bit, and in half the time of ``out[idx] +=``,
        # which gathers, adds and scatters: 0.09 -> 0.04 ms for a Chinese question's 18,000
        # postings on domainrag, numpy 2.4)
        for tid in term_ids:
            lo, hi = self.indptr[tid], self.indptr[tid + 1]
            np.add.at(out, self.indices[lo:hi], self.data[lo:hi])

    def _find(self, tid: int, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Where term ``tid`` meets chunks ``docs`` (sorted ascending; a term's postings are in
        chunk order, so this is one binary search): (which docs hold it, their posting offsets),
        or None when the term has no postings."""
        lo, hi = int(self.indptr[tid]), int(self.indptr[tid + 1])
        if hi == lo:
            return None
        post = self.indices[lo:hi]
        pos = np.minimum(np.searchsorted(post, docs), hi - lo - 1)
        hit = post[pos] == docs
        return hit, lo + pos[hit]

    def add_at(self, out: np.ndarray, term_ids: Iterable[int], docs: np.ndarray) -> None:
        """``out[i] +=`` the weight of each term in chunk ``docs[i]`` (``docs`` sorted ascending)."""
        for tid in term_ids:
            found = self._find(tid, docs)
            if found is not None:
                hit, at = found
                out[hit] += self.data[at]

    def present(self, term_ids: Sequence[int], docs: np.ndarray) -> np.ndarray:
        """Boolean (len(docs), len(term_ids)): whether chunk ``docs[i]`` (sorted ascending) holds
        term ``term_ids[j]``."""
        out = np.zeros((len(docs), len(term_ids)), dtype=bool)
        for j, tid in enumerate(term_ids):
            found = self._find(tid, docs)
            if found is not None:
                out[:, j] = found[0]
        return out


class HeldTerms:
    """Which of a query's distinct terms each chunk holds: bit ``j`` of ``masks[row]`` for the
    ``j``-th term the index knows (term-id order), from one pass over those terms' postings. What
    :meth:`BM25Index.coverage` reads for a few rows, for every row at once: a keyword search run
    while the query is being embedded leaves the coverage of the passages it shows a lookup."""

    __slots__ = ("masks", "n_distinct")

    MAX_TERMS = 63  # bits of an int64 that stay positive

    def __init__(self, masks: np.ndarray, n_distinct: int) -> None:
        self.masks, self.n_distinct = masks, int(n_distinct)

    def coverage(self, groups: Sequence[Sequence[int]]) -> list[float]:
        """:meth:`BM25Index.coverage` of the same query: for each group of chunk rows, the share
        of the query's distinct terms that at least one of them holds."""
        if not self.n_distinct:
            return [0.0] * len(groups)
        rows = sorted({int(r) for g in groups for r in g})
        held = dict(zip(rows, self.masks[rows].tolist(), strict=True))
        out = []
        for g in groups:
            mask = 0
            for r in g:
                mask |= held[int(r)]
            out.append(mask.bit_count() / self.n_distinct)
        return out


def _weigh(
    docs: list[np.ndarray], n_terms: int, doc_len: np.ndarray, k1: float, b: float, scale: float = 1.0
) -> _Postings:
    """BM25 weights of every (term, chunk) pair; ``doc_len`` is each chunk's length in terms."""
    n_docs = len(docs)
    if n_docs == 0 or n_terms == 0:
        return _Postings.empty(n_terms)
    counts = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n_docs)
    if not counts.any():
        return _Postings.empty(n_terms)
    # (term, doc) pairs with their term frequency, term-major then doc order
    all_terms = np.concatenate(docs).astype(np.int64)
    all_docs = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    uniq, tf_counts = np.unique(all_terms * n_docs + all_docs, return_counts=True)
    del all_terms, all_docs
    t_of = uniq // n_docs
    d_of = (uniq % n_docs).astype(np.int32)
    df = np.bincount(t_of, minlength=n_terms).astype(np.float64)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    avgdl = float(doc_len.mean()) or 1.0
    tf = tf_counts.astype(np.float64)
    norm = k1 * (1.0 - b + b * doc_len[d_of] / avgdl)
    data = (scale * idf[t_of] * tf * (k1 + 1.0) / (tf + norm)).astype(np.float32)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_of, minlength=n_terms), out=indptr[1:])
    return _Postings(indptr, d_of, data)


# Typo tolerance: a query word the corpus does not know, in Latin letters and at least this long,
# is read as the corpus word one edit from it ("retrun", "pasword", "warrenty", "manufacturng").
# Shorter words have too many neighbours at one edit: at five letters (as stemmed) the dev sets'
# questions read "sewers" as "severe", "chilled" as "child", "shall" as "small".
TYPO_MIN_LEN = 6

# ... and at most this long, and this many of them in one query: each costs the stemming of every
# word one edit from it (54 x its length + 25), and a question of one 4,000-letter "word" took 28 s
# (a word of 25 letters or more is a pasted code or a string of keys, not a misspelt word;
# "internationalization" has 20)
TYPO_MAX_LEN = 24
TYPO_MAX_WORDS = 5

# words a customer asks by that a knowledge base may write otherwise, as analysed (stemmed): a
# question's word the corpus never uses is searched as those of its group the corpus does use
# ("How much does the Pro plan cost?" against a table whose row says "Price"). A word the corpus
# uses is searched as asked: only an unknown word, which matches nothing, is read so.
SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"cost", "price", "fee", "charg"}),
    frozenset({"deliveri", "ship"}),
    frozenset({"warranti", "guarante"}),
    frozenset({"coupon", "voucher"}),
)
_SYNONYM_GROUP = {w: group for group in SYNONYMS for w in group}

_LATIN_WORD = re.compile(r"[a-z]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit_words(word: str) -> set[str]:
    """Every word one deletion, swap of neighbouring letters, substitution or insertion away
    from ``word`` (Damerau-Levenshtein distance 1)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS if c != b[0]}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


class BM25Index:
    def __init__(
        self,
        vocab: dict[str, int],
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        n_docs: int,
        doc_len: np.ndarray,
        k1: float,
        b: float,
        *,
        phrase_keys: np.ndarray | None = None,
        phrases: _Postings | None = None,
        phrase_weight: float = 0.0,
        analyzer: str = "",
    ) -> None:
        self.vocab = vocab
        # how the chunks were analysed, beyond :func:`indexes.text.tokenize`'s first version: "t2s"
        # (Traditional Chinese read as Simplified); a query is analysed the same way
        self.analyzer = analyzer
        self.terms = _Postings(indptr, indices, data)
        self.n_docs = int(n_docs)
        self.doc_len = doc_len
        self.k1 = float(k1)
        self.b = float(b)
        # sorted int64 keys of the phrase terms, aligned with the rows of ``phrases``
        self.phrase_keys = np.zeros(0, np.int64) if phrase_keys is None else phrase_keys
        self.phrases = phrases or _Postings.empty(0)
        self.phrase_weight = float(phrase_weight) if len(self.phrase_keys) else 0.0
        if len(self.phrases.indptr) != len(self.phrase_keys) + 1:
            raise ValueError("BM25 phrase arrays do not match their keys")

    @property
    def has_phrases(self) -> bool:
        return len(self.phrase_keys) > 0

    def _synonyms_known(self, term: str) -> list[str]:
        """The words of ``term``'s group (:data:`SYNONYMS`) that the corpus knows, most frequent first."""
        group = _SYNONYM_GROUP.get(term, ())
        return sorted((w for w in group if w != term and w in self.vocab), key=lambda w: (-self.doc_freq(w), w))

    def correct(self, tokens: Sequence[str], synonyms: bool = True) -> tuple[str, ...]:
        """``tokens`` (analysed as :func:`indexes.text.tokenize` analyses them) with each word the
        corpus does not know, in Latin letters and TYPO_MIN_LEN or longer, read as the corpus
        word that a word one edit from it stems to ("manufacturng" -> "manufacturing" ->
        "manufactur") and that begins with the same letter, the most frequent where several are;
        a word with none stays as it is (it matches nothing). On the dev sets' questions: 9 read
        so, "sheduled", "serached", "acoount", "transmittet" and "neighbours" among them, and one
        misread ("decendants" as "depend"). Only an unknown word costs anything: a few hundred
        stemmings, for the first TYPO_MAX_WORDS of TYPO_MAX_LEN letters or fewer.

        A word the corpus does not know that has synonyms it knows (:data:`SYNONYMS`: "cost" in a
        knowledge base that says "price" and "fee") is read as them instead, unless ``synonyms``
        is false."""
        from indexes.text import stem_words

        read: dict[str, str] = {}  # each unknown word read once
        out = list(tokens)
        extra: list[str] = []
        for i, t in enumerate(out):
            if t in self.vocab:
                continue
            alike = self._synonyms_known(t) if synonyms else []
            if alike:
                out[i] = alike[0]
                extra.extend(w for w in alike[1:] if w not in out and w not in extra)
                continue
            if not TYPO_MIN_LEN <= len(t) <= TYPO_MAX_LEN or not _LATIN_WORD.fullmatch(t):
                continue
            if t not in read:
                if len(read) == TYPO_MAX_WORDS:
                    continue
                # the first letter as typed: a typo rarely starts a word ("border" is not "order")
                found = {w for w in stem_words(sorted(one_edit_words(t))) if w in self.vocab and w[:1] == t[:1]}
                read[t] = max(sorted(found), key=self.doc_freq) if found else t
            out[i] = read[t]
        return tuple(out + extra)

    def doc_freq(self, term: str, allowed: np.ndarray | None = None) -> int:
        """How many chunks contain ``term`` (0 when the corpus does not know it); of the rows
        ``allowed`` (a chunk-row mask) only, where given."""
        tid = self.vocab.get(term)
        if tid is None:
            return 0
        lo, hi = int(self.terms.indptr[tid]), int(self.terms.indptr[tid + 1])
        return hi - lo if allowed is None else int(np.count_nonzero(allowed[self.terms.indices[lo:hi]]))

    # -- build ---------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        docs: Iterable[Sequence[str]],
        k1: float = 1.2,
        b: float = 0.75,
        phrases: Iterable[Sequence[str]] | None = None,
        phrase_weight: float = PHRASE_WEIGHT,
    ) -> BM25Index:
        """``docs``: the token list of each chunk, in chunk-row order; ``phrases``: each chunk's
        phrase terms (:func:`indexes.text.phrase_terms`), or None for single terms only."""
        builder = BM25Builder(phrase_weight=phrase_weight)
        if phrases is None:
            for toks in docs:
                builder.add(toks)
        else:
            for toks, ph in zip(docs, phrases, strict=True):
                builder.add(toks, ph)
        return builder.build(k1=k1, b=b)

    # -- search --------------------------------------------------------------------------------
    def _term_rows(self, tokens: Sequence[str]) -> list[int]:
        vocab = self.vocab
        # in term-id order: scores are float sums, and a set's order changes with the hash seed
        return sorted({vocab[t] for t in tokens if t in vocab})

    def _phrase_rows(self, phrases: Sequence[str]) -> list[int]:
        if not self.has_phrases or not phrases:
            return []
        keys = np.unique(_phrase_keys(set(phrases)))
        pos = np.searchsorted(self.phrase_keys, keys)
        pos = np.minimum(pos, len(self.phrase_keys) - 1)
        return [int(p) for p in pos[self.phrase_keys[pos] == keys]]

    def scores(self, tokens: Sequence[str], phrases: Sequence[str] = ()) -> np.ndarray:
        """Dense BM25 score of every chunk (float32, length n_docs): each distinct query term
        once, plus each distinct query phrase the index knows (weighted by ``phrase_weight``)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        self.terms.add_rows(out, self._term_rows(tokens))
        self.phrases.add_rows(out, self._phrase_rows(phrases))
        return out

    def scores_of(self, tokens: Sequence[str], rows: Sequence[int], phrases: Sequence[str] = ()) -> np.ndarray:
        """The BM25 scores of the chunks at ``rows`` only (float32, in the order given): the same
        values as ``scores(...)[rows]`` without scoring the whole index."""
        docs = np.asarray(rows, dtype=np.int64)
        order = np.argsort(docs, kind="stable")
        acc = np.zeros(len(docs), dtype=np.float32)  # in sorted-row order
        if len(docs):
            self.terms.add_at(acc, self._term_rows(tokens), docs[order])
            self.phrases.add_at(acc, self._phrase_rows(phrases), docs[order])
        out = np.empty_like(acc)
        out[order] = acc
        return out

    def coverage(self, tokens: Sequence[str], groups: Sequence[Sequence[int]]) -> list[float]:
        """For each group of chunk rows (a passage, possibly merged from several chunks), the share
        of the distinct query ``tokens`` that at least one of its chunks holds. Read from the
        postings, so a passage's text is never analysed again at query time (jieba on ten
        passages was most of a Chinese query's retrieval time)."""
        distinct = set(tokens)
        if not distinct:
            return [0.0] * len(groups)
        term_ids = self._term_rows(tokens)
        rows = np.unique(np.fromiter((r for g in groups for r in g), dtype=np.int64))
        if not term_ids or not len(rows):
            return [0.0] * len(groups)
        # per row, the query terms it holds; a passage is a few rows, so its share is counted in
        # Python (per-group numpy calls cost more than the counting)
        held = dict(zip(rows.tolist(), self.terms.present(term_ids, rows).tolist(), strict=True))
        out = []
        for g in groups:
            parts = [held[int(r)] for r in g]
            out.append(sum(map(any, zip(*parts, strict=True))) / len(distinct) if parts else 0.0)
        return out

    def held(self, tokens: Sequence[str]) -> HeldTerms | None:
        """For every chunk, which of the distinct query ``tokens`` it holds (:class:`HeldTerms`);
        None when the index knows more than :attr:`HeldTerms.MAX_TERMS` of them (a pasted
        document, not a question: :meth:`coverage` counts those)."""
        term_ids = self._term_rows(tokens)
        if len(term_ids) > HeldTerms.MAX_TERMS:
            return None
        masks = np.zeros(self.n_docs, dtype=np.int64)
        indptr, indices = self.terms.indptr, self.terms.indices
        for j, tid in enumerate(term_ids):
            masks[indices[indptr[tid] : indptr[tid + 1]]] |= np.int64(1 << j)
        return HeldTerms(masks, len(set(tokens)))

    def search(
        self, tokens: Sequence[str], k: int, allowed: np.ndarray | None = None, phrases: Sequence[str] = ()
    ) -> list[tuple[int, float]]:
        """Top ``k`` (chunk row, score) with score > 0, best first; ``allowed``: boolean mask over
        chunk rows (False rows are never returned)."""
        return self.search_all(tokens, k, allowed, phrases)[0]

    def search_all(
        self, tokens: Sequence[str], k: int, allowed: np.ndarray | None = None, phrases: Sequence[str] = ()
    ) -> tuple[list[tuple[int, float]], np.ndarray]:
        """:meth:`search`'s top ``k``, and the score of every chunk it ranked them among (float32,
        length n_docs, 0 for rows ``allowed`` excludes): the values :meth:`scores_of` gives, for
        a caller that wants more than the top without a second pass over the postings."""
        if allowed is not None and len(allowed) != self.n_docs:
            raise ValueError(f"allowed mask has {len(allowed)} rows, index has {self.n_docs}")
        s = self.scores(tokens, phrases)
        if k <= 0 or self.n_docs == 0:
            return [], s
        if allowed is not None:
            s[~allowed] = 0.0
        cand = np.flatnonzero(s > 0)
        if len(cand) == 0:
            return [], s
        if len(cand) > k:
            part = np.argpartition(-s[cand], k - 1)[:k]
            cand = cand[part]
        order = np.lexsort((cand, -s[cand]))  # score desc, then row asc (deterministic)
        return [(int(cand[i]), float(s[cand[i]])) for i in order], s

    # -- persistence ---------------------------------------------------------------------------
    def save(self, npz_path: Path, json_path: Path) -> None:
        with open(npz_path, "wb") as f:
            np.savez(
                f,
                indptr=self.terms.indptr,
                indices=self.terms.indices,
                data=self.terms.data,
                doc_len=self.doc_len,
                phrase_keys=self.phrase_keys,
                phrase_indptr=self.phrases.indptr,
                phrase_indices=self.phrases.indices,
                phrase_data=self.phrases.data,
            )
            f.flush()
            os.fsync(f.fileno())
        terms = [""] * len(self.vocab)
        for t, i in self.vocab.items():
            terms[i] = t
        meta = {
            "format": FORMAT,
            "k1": self.k1,
            "b": self.b,
            "n_docs": self.n_docs,
            "phrase_weight": self.phrase_weight,
            "analyzer": self.analyzer,
            "terms": terms,
        }
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(cls, npz_path: Path, json_path: Path) -> BM25Index:
        with open(json_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("format") not in READABLE_FORMATS:
            raise ValueError(f"unknown BM25 index format {meta.get('format')!r}")
        with np.load(npz_path, allow_pickle=False) as z:
            indptr, indices, data, doc_len = z["indptr"], z["indices"], z["data"], z["doc_len"]
            phrase_keys = phrases = None
            if "phrase_keys" in z.files:
                phrase_keys = z["phrase_keys"]
                phrases = _Postings(z["phrase_indptr"], z["phrase_indices"], z["phrase_data"])
        terms: list[str] = meta["terms"]
        if len(indptr) != len(terms) + 1 or len(doc_len) != meta["n_docs"] or len(indices) != len(data):
            raise ValueError("BM25 arrays do not match the vocabulary")
        vocab = {t: i for i, t in enumerate(terms)}
        return cls(
            vocab, indptr, indices, data, meta["n_docs"], doc_len, meta["k1"], meta["b"],
            phrase_keys=phrase_keys, phrases=phrases, phrase_weight=float(meta.get("phrase_weight", 0.0)),
            analyzer=str(meta.get("analyzer", "")),
        )


class BM25Builder:
    """Collects chunk token lists one at a time (e.g. while a version is being written, so the
    analysis overlaps with embedding), then builds a :class:`BM25Index`."""

    def __init__(self, phrase_weight: float = PHRASE_WEIGHT) -> None:
        self.vocab: dict[str, int] = {}
        self.phrase_vocab: dict[str, int] = {}
        self.phrase_weight = float(phrase_weight)
        self._docs: list[np.ndarray] = []
        self._phrase_docs: list[np.ndarray] = []

    @property
    def n_docs(self) -> int:
        return len(self._docs)

    @staticmethod
    def _ids(vocab: dict[str, int], items: Sequence[str]) -> np.ndarray:
        setdefault = vocab.setdefault
        return np.array([setdefault(t, len(vocab)) for t in items], dtype=np.int32)

    def add(self, tokens: Sequence[str], phrases: Sequence[str] = ()) -> None:
        self._docs.append(self._ids(self.vocab, tokens))
        self._phrase_docs.append(self._ids(self.phrase_vocab, phrases))

    def build(self, k1: float = 1.2, b: float = 0.75) -> BM25Index:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={k1}, b={b})")
        n_docs = len(self._docs)
        doc_len = np.fromiter((len(d) for d in self._docs), dtype=np.float32, count=n_docs)
        terms = _weigh(self._docs, len(self.vocab), doc_len, k1, b)
        phrase_keys, phrases = None, None
        if self.phrase_vocab and self.phrase_weight > 0:
            # phrase rows reordered by key, so that a query finds them with a binary search
            keys = _phrase_keys(self.phrase_vocab)  # dict order = phrase id order
            order = np.argsort(keys, kind="stable")
            if len(np.unique(keys)) != len(keys):  # a 64-bit collision: merge by re-mapping ids
                keys, remap = np.unique(keys, return_inverse=True)
                docs = [remap[d].astype(np.int32) for d in self._phrase_docs]
            else:
                rank = np.empty_like(order)
                rank[order] = np.arange(len(order))
                keys = keys[order]
                docs = [rank[d].astype(np.int32) for d in self._phrase_docs]
            phrase_keys = keys
            phrases = _weigh(docs, len(keys), doc_len, k1, b, scale=self.phrase_weight)
        return BM25Index(
            self.vocab, terms.indptr, terms.indices, terms.data, n_docs, doc_len, k1, b,
            phrase_keys=phrase_keys, phrases=phrases, phrase_weight=self.phrase_weight,
        )
