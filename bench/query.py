"""Query-path benchmark (figures, not pass/fail); writes bench/results/query.json.

1. Retrieval quality: hit@5 / MRR@10 on every retrieval set under --data (../shared/data), side
   by side in one run: the product (condensing + HybridRetriever), plain BM25, dense-only and a
   fixed-RRF hybrid (k=60) over the product's chunks, and the typical LangChain pipeline
   (RecursiveCharacterTextSplitter(1000, 200) + langchain_community's FAISS vector store +
   similarity_search(k=20), over the same embedder). Peers use only the last user turn (as in
   ../shared/notes/baselines-dev.md); ours condenses and retrieves a follow-up as condensed and
   as asked (Assistant.retrieve_turn), so on multi-turn sets it embeds more text per query;
   langchain-condensed is the LangChain pipeline searched with that same condensed text. Its
   query-vector cache is emptied before every question: each is measured cold. Every system
   embeds with the same engine, so besides its p50 each row gives its p50 after the query
   embedding (what the pipeline adds to it), and first turns and follow-ups apart; ours also
   gives, on first turns, each retrieval stage's p50/p95 (RetrievalDebug.stages_ms). The systems
   run in a new random order for each question, and ours is compared with the LangChain pipeline
   question by question (the median of the paired differences, with a 95% bootstrap interval over
   the questions: first turns against it as asked, follow-ups against it given our condensed
   text and as asked); --repeat N times every question N times.
   Then every question of each set is answered whole (Assistant.ask with its history, extractive
   backend): p50/p95 per stage and in all, and of first turns and follow-ups apart (--skip-answers
   leaves it out). Real passages: the composer embeds its candidate sentences, whose length the
   synthetic corpus below does not have.
2. Latency: p50/p95 per stage and end to end of the extractive path on synthetic indexes of
   10k and 100k chunks (synthetic text from a Zipf vocabulary and random unit vectors: search
   cost does not depend on what the vectors mean; queries are embedded with the real model).

    OPENBLAS_NUM_THREADS=1 python bench/query.py [--limit 40] [--home DIR] [--sizes 10000,100000]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pin_threads() -> None:
    import faiss

    faiss.omp_set_num_threads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def provider(index: Any) -> Callable[[], Any]:
    """An Assistant's ``index_provider`` that always returns ``index``."""
    return lambda: index


def pct(xs: list[float], q: float) -> float | None:
    """The ``q``-th percentile, rounded; None (JSON null) for no samples (a set without follow-ups)."""
    return round(float(np.percentile(xs, q)), 2) if xs else None


class QueryEmbedClock:
    """The embedder, with the time spent embedding queries clocked (``lap()`` returns it since the
    last lap). Every system here embeds its queries with the same engine, so a system's retrieval
    time minus its lap is what its pipeline adds to the embedding: the part a design can change."""

    def __init__(self, embedder: Any) -> None:
        self._inner = embedder
        self._ms = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed(self, texts: Any, kind: str = "passage") -> Any:
        if kind != "query":
            return self._inner.embed(texts, kind=kind)
        t = time.perf_counter()
        try:
            return self._inner.embed(texts, kind=kind)
        finally:
            self._ms += (time.perf_counter() - t) * 1000

    def lap(self) -> float:
        ms, self._ms = self._ms, 0.0
        return ms


def mean_of(xs: list[float | None]) -> float | None:
    """The mean of the defined values, rounded; None when there are none."""
    got = [x for x in xs if x is not None]
    return round(float(np.mean(got)), 4) if got else None


T = TypeVar("T")


def by_turn(xs: Sequence[T], follow: Sequence[bool]) -> tuple[list[T], list[T]]:
    """``xs`` split into (first turns, follow-ups) by ``follow``, each question's flag."""
    first = [x for x, f in zip(xs, follow, strict=True) if not f]
    return first, [x for x, f in zip(xs, follow, strict=True) if f]


def paired_gap(ours: Sequence[float], peer: Sequence[float], question: Sequence[int], *,
               n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """How much longer ours takes than ``peer`` on the same questions: the median of the paired
    differences (one per question and repetition; ``question`` says whose), with a 95% bootstrap
    interval that resamples whole questions, so that it holds for the question sample as well as
    for the machine's noise. A difference of p50s moves by a millisecond or two between runs of
    this machine; a paired one, measured in the same moments, far less."""
    diffs = np.asarray(ours, dtype=float) - np.asarray(peer, dtype=float)
    if not len(diffs):
        return {"n_questions": 0, "n_pairs": 0, "median_ms": None, "ci95_ms": None}
    whose = np.asarray(question)
    groups = [diffs[whose == q] for q in dict.fromkeys(question)]
    rng = np.random.default_rng(seed)
    boot = [float(np.median(np.concatenate([groups[i] for i in rng.integers(len(groups), size=len(groups))])))
            for _ in range(n_boot)]
    return {"n_questions": len(groups), "n_pairs": len(diffs), "median_ms": round(float(np.median(diffs)), 3),
            "ci95_ms": [round(float(np.percentile(boot, 2.5)), 3), round(float(np.percentile(boot, 97.5)), 3)]}


def paired_gap_at(lat: dict[str, list[float]], peer: str, question: Sequence[int], at: Sequence[int]) -> dict[str, Any]:
    """:func:`paired_gap` of ours and ``peer`` over the latency samples ``at``."""
    return paired_gap([lat["ours"][i] for i in at], [lat[peer][i] for i in at], [question[i] for i in at])


def ours_turn(asst: Any, retriever: Any, index: Any, question: str, hist: list[dict[str, str]]) -> list[Any]:
    """Our retrieval for one turn: condensed with its history, retrieved as the product does
    (Assistant.retrieve_turn)."""
    query = asst.condense(question, hist, index)  # the question itself when there is no history
    return asst.retrieve_turn(question, query, retriever, k=10)


def dense_search(index: Any, embedder: Any, text: str) -> list[tuple[int, float]]:
    """The dense-only peer: the text embedded, a flat search of the passage vectors."""
    return index.vector_search(embedder.embed([text], kind="query")[0], 100, kind="passage")


def stage_pcts(stages: dict[str, list[float]]) -> dict[str, float | None]:
    """Each stage's p50 and p95 ms, as ``<stage>_p50_ms`` and ``<stage>_p95_ms``."""
    return {f"{k}_p{q}_ms": pct(v, q) for k, v in stages.items() for q in (50, 95)}


def answer_times(asst: Any, items: Sequence[Any]) -> dict[str, Any]:
    """Each of ``items`` answered whole (``asst.ask``, with the item's history), its query vector
    cold; the composer keeps the sentence vectors of the answers before, as a running service
    does. The p50/p95 ms of each stage and in all, and of whole answers on first turns and on
    follow-ups apart."""
    stages: dict[str, list[float]] = {}
    follow: list[bool] = []
    for item in items:
        asst.retriever().forget_queries()
        hist = [m.to_dict() for m in item.history]
        answer = asst.ask(item.question, history=hist or None)
        follow.append(bool(hist))
        for key, ms in answer.timings_ms.items():
            stages.setdefault(key, []).append(ms)
    first, later = by_turn(stages.get("total", []), follow)
    return {
        "n": len(follow),
        **stage_pcts(stages),
        **{f"total_p{q}_first_turn_ms": pct(first, q) for q in (50, 95)},
        **{f"total_p{q}_followup_ms": pct(later, q) for q in (50, 95)},
    }


def distinct(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def rrf(lists: list[list[str]], k: int = 60) -> list[str]:
    score: dict[str, float] = {}
    for lst in lists:
        for rank, sid in enumerate(lst):
            score[sid] = score.get(sid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(score, key=lambda s: -score[s])


# --- the LangChain peer ------------------------------------------------------------------------


def langchain_chunks(docs_dir: Path) -> list[tuple[str, str]]:
    """(source id, chunk text) as TextLoader/CSVLoader + RecursiveCharacterTextSplitter(1000, 200)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    out: list[tuple[str, str]] = []
    for p in sorted(docs_dir.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(docs_dir).as_posix()
        if p.suffix.lower() == ".csv":
            with p.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    text = "\n".join(f"{k}: {v}" for k, v in row.items())
                    for piece in splitter.split_text(text):
                        out.append((f"{rel}#{row.get('id', '')}", piece))
        elif p.suffix.lower() in (".md", ".txt"):
            for piece in splitter.split_text(p.read_text(encoding="utf-8", errors="replace")):
                out.append((rel, piece))
    return out


PEER_EMBED_BATCH = 64


class LangChainPeer:
    """The typical LangChain pipeline, with LangChain's own classes: the chunks above as
    ``Document``s, ``langchain_community.vectorstores.FAISS`` (its default flat L2 index) over the
    same embedder behind LangChain's ``Embeddings`` interface, and ``similarity_search(k=20)``.
    Passage vectors come from the shared embedding cache so that building the peer is cheap."""

    def __init__(self, docs_dir: Path, embedder: Any, cache: Any) -> None:
        import warnings

        from langchain_core.embeddings import Embeddings

        with warnings.catch_warnings():  # "langchain-community is being sunset": still the typical pipeline
            warnings.simplefilter("ignore", DeprecationWarning)
            from langchain_community.vectorstores import FAISS

        class SameEmbedder(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return embedder.embed(texts, kind="passage").tolist()

            def embed_query(self, text: str) -> list[float]:
                return embedder.embed([text], kind="query")[0].tolist()

        chunks = langchain_chunks(docs_dir)
        texts = [t for _, t in chunks]
        got = cache.get_many(embedder.id, texts)
        missing = [i for i in range(len(texts)) if i not in got]
        # in batches, each cached as it is done: its 1,000-character chunks take ~0.2 s each on one
        # core (English; Chinese ones several times that), so a large set takes long enough to show
        # progress, and an interrupted build resumes where it stopped
        t0 = time.perf_counter()
        for b in range(0, len(missing), PEER_EMBED_BATCH):
            part = missing[b : b + PEER_EMBED_BATCH]
            vecs = embedder.embed([texts[i] for i in part], kind="passage")
            cache.put_many(embedder.id, [texts[i] for i in part], vecs)
            for j, i in enumerate(part):
                got[i] = vecs[j]
            done = b + len(part)
            print(f"  langchain peer: embedded {done}/{len(missing)} chunks "
                  f"({time.perf_counter() - t0:.0f}s; the rest come from the cache)", file=sys.stderr, flush=True)
        self.n_chunks = len(texts)
        self.store = None if not texts else FAISS.from_embeddings(
            [(texts[i], np.asarray(got[i], dtype=np.float32).tolist()) for i in range(len(texts))],
            SameEmbedder(),
            metadatas=[{"source": src} for src, _ in chunks],
        )

    def search(self, query: str, k: int = 20) -> list[str]:
        if self.store is None:
            return []
        docs = self.store.similarity_search(query, k=k)
        return distinct([d.metadata["source"] for d in docs])


def faq_threshold(pairs: list[tuple[float, bool]], precision: float = 0.95) -> dict[str, Any]:
    """The lowest cosine(query, curated question) at which the top FAQ entry is right for at
    least ``precision`` of the questions above it (how KB's faq_threshold is calibrated)."""
    pairs = sorted(pairs, key=lambda x: -x[0])
    best = None
    right = 0
    for i, (score, ok) in enumerate(pairs, start=1):
        right += ok
        if right / i >= precision:
            best = (score, i)
    if best is None:
        return {"threshold": None, "n": len(pairs)}
    return {"threshold": round(best[0], 4), "covered": round(best[1] / len(pairs), 4), "n": len(pairs),
            "top1_accuracy": round(sum(ok for _, ok in pairs) / len(pairs), 4)}


# --- retrieval quality -------------------------------------------------------------------------


def turns_text(row: dict[str, Any]) -> str:
    """A row's first-turn and follow-up figures, as the log says them; a kind of turn the set has
    none of is said so ("follow-ups Nonems, Nonems after the embedding, hit@5 None", of a set
    without follow-ups)."""
    parts = []
    for label, key in (("first turns", "first_turn"), ("follow-ups", "followup")):
        if row[f"p50_{key}_ms"] is None:
            parts.append(f"no {label}")
            continue
        parts.append(f"{label} {row[f'p50_{key}_ms']}ms, {row[f'p50_after_embed_{key}_ms']}ms after the "
                     f"embedding, hit@5 {row[f'hit@5_{key}']}")
    return "; ".join(parts)


def retrieval_sets(data: Path) -> list[str]:
    """The names of the retrieval (QA) sets under ``data``, as --sets names them."""
    from eval.datasets import QUESTIONS_FILE, find_datasets

    return [p.name for p in find_datasets(data) if (p / QUESTIONS_FILE).is_file()]


def quality(args: argparse.Namespace, embedder: Any) -> list[dict[str, Any]]:
    """The retrieval figures of every set (module docstring, 1), its knowledge bases built in
    --home, or in a temporary folder removed afterwards, on an error too: each run left its
    ``kb-bench-*`` in $TMPDIR, a set's index and embedding cache each."""
    if args.home:
        return quality_in(Path(args.home), args, embedder)
    with tempfile.TemporaryDirectory(prefix="kb-bench-", ignore_cleanup_errors=True) as tmp:
        return quality_in(Path(tmp), args, embedder)


def quality_in(home: Path, args: argparse.Namespace, embedder: Any) -> list[dict[str, Any]]:
    from eval.datasets import QASet, find_datasets, load_dataset
    from eval.metrics import hit_at_k, mrr_at_k
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import ingest_paths
    from rag.assistant import Assistant
    from rag.retrieval import HybridRetriever
    from rag.support import get_scorer

    rows: list[dict[str, Any]] = []
    for path in find_datasets(Path(args.data)):
        ds = load_dataset(path, limit=args.limit)
        if not isinstance(ds, QASet):
            continue
        if args.sets and ds.name not in args.sets.split(","):
            continue
        kb = KnowledgeBase(home, ds.name)
        t = time.perf_counter()
        ingest_paths(kb, [ds.docs_dir], embedder)
        ingest_s = time.perf_counter() - t
        index = kb.load_live(expected_embedder=embedder.id)
        index.warm_up()  # as the service readies a version before serving it
        clock = QueryEmbedClock(embedder)
        ours = HybridRetriever(index, clock)
        asst = Assistant(provider(index), clock, "extractive:", get_scorer("default", embedder))
        t = time.perf_counter()
        lc = LangChainPeer(ds.docs_dir, clock, kb.embedding_cache) if not args.no_langchain else None
        lc_build_s = time.perf_counter() - t
        # langchain-condensed: the same LangChain pipeline searched with our condensed query (the
        # question plus the previous user turn) instead of the last turn: what condensing costs
        # and buys any pipeline, apart from what our retriever adds
        systems = ["ours", "bm25", "dense", "hybrid-rrf"] + (["langchain-naive", "langchain-condensed"] if lc else [])
        ranked: dict[str, list[list[str]]] = {s: [] for s in systems}
        lat: dict[str, list[float]] = {s: [] for s in systems}
        embed_ms: dict[str, list[float]] = {s: [] for s in systems}  # of lat: embedding the query
        golds: list[tuple[str, ...]] = []
        follow: list[bool] = []  # whether the question is a follow-up (has history)
        faq_cal: list[tuple[float, bool]] = []
        stages: dict[str, list[float]] = {}  # ours, first turns: where the retrieval's time goes
        timed_q: list[int] = []  # whose question each latency sample is (the repetitions too)
        items = [item for item in ds.items if item.answerable]
        order_rng = np.random.default_rng(0)
        for rep in range(args.repeat):
            for qi, item in enumerate(items):
                hist = [m.to_dict() for m in item.history]
                runs: dict[str, Callable[[], Any]] = {
                    "ours": partial(ours_turn, asst, ours, index, item.question, hist),
                    "bm25": partial(index.keyword_search, item.question, 100),
                    "dense": partial(dense_search, index, clock, item.question),
                }
                if lc is not None:
                    # our condensed text, given to the peer off the clock (ours condenses on its own)
                    condensed = asst.condense(item.question, hist, index)
                    runs["langchain-naive"] = partial(lc.search, item.question, 20)
                    runs["langchain-condensed"] = partial(lc.search, condensed, 20)
                # in a new order for every question: no system always runs first, after another's work
                names = list(runs)
                out = {}
                for i in order_rng.permutation(len(names)):
                    system = names[i]
                    if system == "ours":
                        ours.forget_queries()  # every question cold: no cached vector of a repeated question
                    clock.lap()
                    t = time.perf_counter()
                    out[system] = runs[system]()
                    lat[system].append((time.perf_counter() - t) * 1000)
                    embed_ms[system].append(clock.lap())
                lat["hybrid-rrf"].append(lat["bm25"][-1] + lat["dense"][-1])
                embed_ms["hybrid-rrf"].append(embed_ms["dense"][-1])
                timed_q.append(qi)
                hits = out["ours"]
                if not hist and ours.last_debug is not None:
                    for stage, ms in ours.last_debug.stages_ms.items():
                        stages.setdefault(stage, []).append(ms)
                if rep:
                    continue  # the rankings are the same every time
                golds.append(item.gold)
                follow.append(bool(hist))
                if hits and hits[0].chunk.kind == "faq":
                    faq_cal.append((hits[0].scores.get("qdense", 0.0), hits[0].chunk.source_id in item.gold))
                ranked["ours"].append([h.chunk.source_id for h in hits])
                for s in ("bm25", "dense"):
                    ranked[s].append(distinct([c.source_id for c in index.get_chunks([r for r, _ in out[s]])]))
                ranked["hybrid-rrf"].append(rrf([ranked["bm25"][-1], ranked["dense"][-1]]))
                for s in ("langchain-naive", "langchain-condensed"):
                    if s in out:
                        ranked[s].append(out[s])
        timed_follow = [follow[qi] for qi in timed_q]
        for s in systems:
            hits5 = [hit_at_k(r, g, 5) for r, g in zip(ranked[s], golds, strict=True)]
            mrr10 = [mrr_at_k(r, g, 10) for r, g in zip(ranked[s], golds, strict=True)]
            after = [x - e for x, e in zip(lat[s], embed_ms[s], strict=True)]
            lat_first, lat_follow = by_turn(lat[s], timed_follow)
            after_first, after_follow = by_turn(after, timed_follow)
            embed_first, embed_follow = by_turn(embed_ms[s], timed_follow)
            hits5_first, hits5_follow = by_turn(hits5, follow)
            h = [x for x in hits5 if x is not None]
            m = [x for x in mrr10 if x is not None]
            rows.append({
                "set": ds.name, "system": s, "n": len(h),
                "hit@5": round(float(np.mean(h)), 4) if h else None,
                "mrr@10": round(float(np.mean(m)), 4) if m else None,
                "p50_ms": pct(lat[s], 50), "p95_ms": pct(lat[s], 95),
                # first turns and follow-ups apart: we condense a follow-up with the previous turn and
                # embed that (longer) text; the naive peers embed the last turn alone
                "p50_first_turn_ms": pct(lat_first, 50),
                "p50_followup_ms": pct(lat_follow, 50),
                # what the system adds to its query embedding (the same engine for all of them)
                "p50_after_embed_first_turn_ms": pct(after_first, 50),
                "p50_after_embed_followup_ms": pct(after_follow, 50),
                # and the embedding itself (ours embeds a question without its closing marks)
                "p50_embed_first_turn_ms": pct(embed_first, 50),
                "p50_embed_followup_ms": pct(embed_follow, 50),
                "hit@5_first_turn": mean_of(hits5_first),
                "hit@5_followup": mean_of(hits5_follow),
            })
            print(f"{ds.name:12s} {s:16s} n={len(h):4d} hit@5={rows[-1]['hit@5']} mrr@10={rows[-1]['mrr@10']} "
                  f"p50={rows[-1]['p50_ms']}ms p95={rows[-1]['p95_ms']}ms ({turns_text(rows[-1])})", flush=True)
        if lc is not None:
            first_t, later_t = by_turn(range(len(timed_follow)), timed_follow)
            rows.append({"set": ds.name, "system": "_ours_vs_langchain", "repeat": args.repeat,
                         "first_turn": paired_gap_at(lat, "langchain-naive", timed_q, first_t),
                         "followup_vs_condensed": paired_gap_at(lat, "langchain-condensed", timed_q, later_t),
                         "followup_vs_naive": paired_gap_at(lat, "langchain-naive", timed_q, later_t)})
            print(ds.name, "ours less the LangChain pipeline, median of paired differences [95% CI] ms:", ", ".join(
                f"{k} {v['median_ms']} {v['ci95_ms']} (n={v['n_questions']})"
                for k, v in rows[-1].items() if isinstance(v, dict) and v["n_pairs"]), flush=True)
        if not args.skip_answers:
            rows.append({"set": ds.name, "system": "_ours_answers", **answer_times(asst, ds.items)})
            print(ds.name, "ours, whole answers, p50 / p95 ms:", ", ".join(
                f"{k} {rows[-1][f'{k}_p50_ms']} / {rows[-1][f'{k}_p95_ms']}"
                for k in ("retrieve", "compose", "check", "total") if f"{k}_p50_ms" in rows[-1]), flush=True)
        if stages:
            rows.append({"set": ds.name, "system": "_ours_stages_first_turn", **stage_pcts(stages)})
            print(ds.name, "ours, first turns, p50 ms per stage:",
                  ", ".join(f"{k} {pct(v, 50)}" for k, v in stages.items()), flush=True)
        if faq_cal:
            rows.append({"set": ds.name, "system": "_faq_calibration", **faq_threshold(faq_cal)})
            print(ds.name, "faq calibration", rows[-1], flush=True)
        rows.append({"set": ds.name, "system": "_build", "ingest_s": round(ingest_s, 1),
                     "langchain_build_s": round(lc_build_s, 1), "chunks": index.n_chunks,
                     "langchain_chunks": lc.n_chunks if lc else None})
    return rows


# --- latency at scale --------------------------------------------------------------------------


def synthetic_index(home: Path, n: int, dim: int, embedder_id: str, seed: int = 0) -> Any:
    from indexes.kbase import KnowledgeBase
    from indexes.types import Chunk, Document, sha256_hex

    rng = np.random.default_rng(seed)
    words = ("return refund order ship delivery warranty account password payment card invoice price "
             "discount remote screen picture sound channel app network update battery charge cable setting "
             "menu power mode colour brightness volume speaker subscription plan cancel upgrade store pickup "
             "exchange damage repair replace policy days business customer service support contact").split()
    vocab = words + [f"term{i}" for i in range(5000)]
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    p /= p.sum()
    kb = KnowledgeBase(home, f"synthetic-{n}")
    w = kb.begin_version(embedder_id, dim, {"synthetic": True})
    n_docs = max(1, n // 10)
    docs = [Document(id=sha256_hex(f"d{i}"), source=f"doc{i:06d}.md", title=f"Document {i}", lang="en")
            for i in range(n_docs)]
    w.add_documents(docs, {d.id: d.id for d in docs})
    batch = 10000
    for start in range(0, n, batch):
        chunks = []
        for j in range(start, min(n, start + batch)):
            sents = []
            for _ in range(4):
                toks = rng.choice(len(vocab), size=12, p=p)
                sents.append(" ".join(vocab[t] for t in toks).capitalize() + ".")
            d = docs[j % n_docs]
            chunks.append(Chunk(id=sha256_hex(f"c{j}"), doc_id=d.id, source=d.source, position=j // n_docs,
                                text=" ".join(sents), title=d.title))
        w.add_chunks(chunks)
        vecs = rng.standard_normal((len(chunks), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        w.add_vectors([c.id for c in chunks], "passage", vecs)
    w.finalize()
    kb.publish(w)
    index = kb.load_live()
    index.warm_up()  # as the service readies a version before serving it (10k chunks: preloaded)
    return index


LATENCY_QUERIES = [
    "how do I get a refund for a damaged order", "what is the warranty on the remote battery",
    "change the picture mode brightness", "cancel my subscription plan", "delivery days for store pickup",
    "reset network settings after an update", "payment card declined at checkout",
    "contact customer service support", "exchange policy for sale items", "charge cable not working",
]


def latency(args: argparse.Namespace, embedder: Any) -> list[dict[str, Any]]:
    """The latency figures on synthetic indexes (module docstring, 2), built in a temporary folder
    removed afterwards, on an error too: each run left its ``kb-bench-lat-*`` in $TMPDIR."""
    with tempfile.TemporaryDirectory(prefix="kb-bench-lat-", ignore_cleanup_errors=True) as tmp:
        return latency_in(Path(tmp), args, embedder)


def latency_in(home: Path, args: argparse.Namespace, embedder: Any) -> list[dict[str, Any]]:
    from rag.assistant import Assistant
    from rag.support import get_scorer

    queries = LATENCY_QUERIES
    out = []
    for n in [int(x) for x in args.sizes.split(",") if x]:
        t = time.perf_counter()
        index = synthetic_index(home, n, embedder.dim, embedder.id)
        build_s = time.perf_counter() - t
        asst = Assistant(provider(index), embedder, "extractive:", get_scorer("default", embedder),
                         refuse_threshold=0.0, handoff_threshold=0.0)
        for q in queries[:2]:
            asst.ask(q)  # warm up
        stages: dict[str, list[float]] = {}
        for i in range(args.reps):
            a = asst.ask(queries[i % len(queries)] + ("" if i < len(queries) else f" {i}"))
            for key, v in a.timings_ms.items():
                stages.setdefault(key, []).append(v)
        row = {"chunks": n, "build_s": round(build_s, 1), "reps": args.reps, **stage_pcts(stages)}
        out.append(row)
        print(json.dumps(row), flush=True)
        index.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=None, help="questions per set (evenly spaced subsample)")
    ap.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    ap.add_argument("--home", default="", help="KB_HOME to reuse between runs (default: a temp dir)")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1,
                    help="time every dev-set question this many times (the paired gap's interval narrows)")
    ap.add_argument("--no-langchain", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-answers", action="store_true", help="measure retrieval only on the dev sets")
    ap.add_argument("--embedder", default="", help="embedder spec (default: KB_EMBEDDER or the project default)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "query.json"))
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.sets and not args.skip_quality:
        # a name that matches no set ran nothing and exited 0 without a word ("--sets covid_faq")
        from kb.errors import KBError

        try:
            known = retrieval_sets(Path(args.data))
        except KBError as ex:
            ap.error(f"--data {args.data}: {ex}")
        asked = [name.strip() for name in args.sets.split(",") if name.strip()]
        unknown = [name for name in asked if name not in known]
        if unknown:
            ap.error(f"--sets: no retrieval set named {', '.join(map(repr, unknown))} in {args.data}; "
                     f"its sets: {', '.join(known) or 'none'}")
        args.sets = ",".join(asked)
    pin_threads()
    from indexes.embedders import get_embedder
    from kb.settings import get_settings

    embedder = get_embedder(args.embedder or get_settings().embedder, device="cpu")
    embedder.warm_up()
    from eval.harness import environment

    # (the packages and CPU the figures were measured with: eval.harness.environment)
    result: dict[str, Any] = {
        "limit": args.limit, "embedder": embedder.id, "cpus": os.cpu_count(), "environment": environment(),
    }
    if not args.skip_quality:
        result["quality"] = quality(args, embedder)
    if not args.skip_latency:
        result["latency"] = latency(args, embedder)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
