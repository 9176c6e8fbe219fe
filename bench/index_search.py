"""Benchmark of the on-disk index (indexes/): build, load and query at N synthetic chunks.

Prints figures and writes bench/results/index_search.json; never passes or fails on time.
Vectors are synthetic (clustered, L2-normalised) so that no model is needed; chunk texts are
synthetic English (Zipf-distributed words) with 10% Chinese chunks, so BM25 sees realistic
posting-list lengths.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/index_search.py --chunks 100000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from indexes.kbase import KnowledgeBase  # noqa: E402
from indexes.types import Chunk, Document, Filters  # noqa: E402
from indexes.vector import FaissVectorIndex, recall_vs_flat  # noqa: E402

ZH_WORDS = "退货 政策 运费 保修 商品 订单 退款 发票 快递 客服 会员 积分 优惠券 地址 签收".split()


def _words(rng: np.random.Generator, n_vocab: int = 20000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=int(rng.integers(3, 9)))) for _ in range(n_vocab)]


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1e3
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", default="bench/results/index_search.json")
    args = ap.parse_args()
    n, dim = args.chunks, args.dim
    rng = np.random.default_rng(0)
    vocab = _words(rng)
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()

    n_docs = max(1, n // 20)
    docs = [Document(id=f"d{i}", source=f"docs/{i}.md", title=f"Doc {i}", lang="en") for i in range(n_docs)]
    chunks: list[Chunk] = []
    word_ids = rng.choice(len(vocab), size=(n, 60), p=zipf)  # one draw: per-row draws with p are slow
    zh_ids = rng.integers(0, len(ZH_WORDS), size=(n, 20))
    for r in range(n):
        d = r % n_docs
        if r % 10 == 9:
            text = "".join(ZH_WORDS[j] for j in zh_ids[r])
            lang = "zh"
        else:
            text = " ".join(vocab[j] for j in word_ids[r])
            lang = "en"
        chunks.append(Chunk(
            id=f"c{r}", doc_id=f"d{d}", source=f"docs/{d}.md", position=r // n_docs, text=text, lang=lang,
            groups=("staff",) if r % 7 == 0 else (), tags=("returns",) if r % 3 == 0 else (),
        ))
    centers = rng.standard_normal((256, dim)).astype(np.float32)
    vecs = centers[rng.integers(0, 256, n)] + 1.0 * rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    qv = centers[rng.integers(0, 256, args.queries)] + 1.0 * rng.standard_normal((args.queries, dim)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    qtexts = [" ".join(rng.choice(vocab[:5000], size=5)) for _ in range(args.queries)]

    out: dict[str, object] = {"chunks": n, "dim": dim, "queries": args.queries, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp), "bench")
        t0 = time.perf_counter()
        w = kb.begin_version("synthetic:384", dim, {})
        w.add_documents(docs, {d.id: d.id for d in docs})
        for i in range(0, n, 10_000):
            w.add_chunks(chunks[i : i + 10_000])
            w.add_vectors([c.id for c in chunks[i : i + 10_000]], "passage", vecs[i : i + 10_000])
        t_write = time.perf_counter() - t0
        manifest = w.finalize()
        kb.publish(w)
        t_build = time.perf_counter() - t0
        t1 = time.perf_counter()
        v = kb.load_live()
        t_load = time.perf_counter() - t1
        out.update(write_s=round(t_write, 2), build_total_s=round(t_build, 2), finalize_s=manifest["build_seconds"],
                   load_s=round(t_load, 2), size_mb=round(kb.status()["size_bytes"] / 2**20, 1),
                   bm25_terms=manifest["bm25"]["terms"])

        # filters -> mask
        ts = []
        for i in range(50):
            f = Filters.of(groups=["public"], tags=["returns"] if i % 2 else None, lang="en" if i % 3 else None)
            t = time.perf_counter()
            v._mask_cache.clear()
            v.allowed_mask(f)
            ts.append(time.perf_counter() - t)
        out["allowed_mask"] = _pct(ts)
        mask = v.allowed_mask(Filters.of(groups=["public"], tags=["returns"]))
        out["mask_share_allowed"] = round(float(mask.mean()), 3) if mask is not None else 1.0
        rare = np.zeros(n, bool)
        rare[rng.choice(n, max(1, n // 100), replace=False)] = True

        for name, allowed in (("none", None), ("filter", mask), ("filter_1pct", rare)):
            ts = []
            for q in qtexts:
                t = time.perf_counter()
                v.keyword_search(q, 10, allowed)
                ts.append(time.perf_counter() - t)
            out[f"bm25_{name}"] = _pct(ts)
        v.close()

        # the flat index scanned as loaded (fp32), as fp16 codes re-scored exactly (from 4,096
        # vectors on), and as the default searches it (auto: from 20,000 vectors an unfiltered
        # search walks the graph the build saved): latency, and how much of the exact top 10 each finds
        found: dict[str, list[list[int]]] = {}
        for scan in ("fp32", "fp16", "auto"):
            t1 = time.perf_counter()
            v = KnowledgeBase(Path(tmp), "bench", flat_scan=scan).load_live()
            out[f"load_{scan}_s"] = round(time.perf_counter() - t1, 2)
            out[f"flat_{scan}_searched_as"] = v.index.info().get("scan")
            found[scan] = []
            for name, allowed in (("none", None), ("filter", mask), ("filter_1pct", rare)):
                ts = []
                for q in qv:
                    t = time.perf_counter()
                    hits = v.vector_search(q, 10, allowed)
                    ts.append(time.perf_counter() - t)
                    found[scan].append([r for r, _ in hits])
                out[f"flat_{scan}_{name}"] = _pct(ts)
            v.close()
        for scan in ("fp16", "auto"):
            out[f"flat_{scan}_same_top10_share"] = round(
                float(np.mean([a == b for a, b in zip(found["fp32"], found[scan], strict=True)])), 4
            )
            out[f"flat_{scan}_recall@10"] = round(
                float(np.mean([len(set(a) & set(b)) / max(1, len(a)) for a, b in zip(found["fp32"], found[scan], strict=True)])), 4
            )

    # IVF at the same size: recall vs flat and latency per nprobe
    ivf = FaissVectorIndex(dim, kind="ivf", nprobe=16).build(vecs)
    out["ivf_nlist"] = ivf.info()["nlist"]
    for nprobe in (4, 16, 64):
        ivf.set_nprobe(nprobe)
        rec = recall_vs_flat(ivf, vecs, qv[:100], k=10)
        ts = []
        for q in qv:
            t = time.perf_counter()
            ivf.search(q, 10)
            ts.append(time.perf_counter() - t)
        out[f"ivf_nprobe{nprobe}"] = {"recall@10": round(rec, 4), **_pct(ts)}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print(json.dumps(out, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
