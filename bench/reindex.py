"""Re-index throughput at scale: figures, not pass/fail. Writes bench/results/reindex.json.

For each corpus size (default 10k, 100k, 1M chunks of ~16 words, 50 chunks per document) a full
`ingest.reindex.reindex` job runs on a synthetic, already parsed corpus (parsing is measured by
bench/ingest.py): batching, checkpointing, the embedding thread, the writer (SQLite chunk store +
raw vectors), FAISS build (flat up to --flat-max, IVF above, trained on a sample), BM25 build,
validation with recall vs flat, atomic publish. Reported per size: chunks/s end to end, the
embedder alone on the same texts (raw chunks/s) and the pipeline's share of it, peak RSS, index
and version size on disk, and the per-stage timings, so one sees how cost grows with size.

Embedders: the real packaged all-MiniLM-L6-v2 runs on a capped number of chunks (--max-real,
default 1000: ~40-200 texts/s on 2 CPU cores); the larger steps use the deterministic hashing
embedder up to --hashing-max chunks and precomputed random unit vectors above (the embedder cost
is then ~0 and the figure is the pipeline's own overhead; the vectors are clustered, 250 per
centre, so that IVF recall means something).

`--gpu` (only where CUDA is present): MiniLM fp16 vs fp32 embedding throughput, and FAISS GPU vs
CPU search QPS on 1M vectors.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/reindex.py            # ~4-6 min on 2 cores
    .venv/bin/python bench/reindex.py --sizes 10000,100000 --max-real 500
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from kb.settings import apply_offline_defaults  # noqa: E402

apply_offline_defaults()

WORDS = (
    "refund shipping parcel invoice warranty battery charger laptop screen return exchange voucher "
    "courier delivery address account password privacy loyalty points member discount coupon order "
    "tracking customs duty insurance repair replacement receipt store online payment card bank "
    "transfer subscription cancel renew upgrade downgrade plan support ticket agent hours weekend "
    "damaged missing late early fee free express standard international domestic gift wrap size"
).split()
PER_DOC = 50


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chunk_text(i: int) -> str:
    r = random.Random(i)
    return f"c{i:08d} " + " ".join(r.choice(WORDS) for _ in range(r.randint(10, 22))) + "."


class PrecomputedEmbedder:
    """Random unit vectors, one per synthetic chunk (the text starts with its number): what a job
    costs when the embedding is already paid for. Implements the Embedder protocol."""

    def __init__(self, n: int, dim: int, seed: int = 0) -> None:
        self.id = f"precomputed:bench-{dim}"
        self.dim = dim
        self.max_tokens = 512
        self.calls = 0
        self.texts_embedded = 0
        # clustered like real embeddings (topics), not uniform on the sphere: uniform random
        # vectors have no neighbourhood structure and make every IVF index look useless
        rng = np.random.default_rng(seed)
        centers = rng.standard_normal((max(1, n // 250), dim), dtype=np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        self.vecs = centers[rng.integers(0, len(centers), n)]
        self.vecs += rng.standard_normal((n, dim), dtype=np.float32) * np.float32(0.6 / np.sqrt(dim))
        self.vecs /= np.linalg.norm(self.vecs, axis=1, keepdims=True)

    def warm_up(self) -> None:
        return None

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        idx = np.fromiter((int(t[1:9]) for t in texts), dtype=np.int64, count=len(texts))
        return self.vecs[idx]


def corpus(n: int) -> Iterator[Any]:
    """ParsedFile objects (the parser's output) for n chunks, 50 per document."""
    from indexes.types import Chunk, Document, sha256_hex
    from ingest.chunking import chunk_id
    from ingest.reindex import ParsedFile

    for d in range(0, n, PER_DOC):
        source = f"docs/d{d // PER_DOC:06d}.md"
        chash = sha256_hex(source + str(n), 32)
        doc = Document(id=sha256_hex(f"{source}\n{chash}", 24), source=source, title="", lang="en")
        chunks = []
        for pos, i in enumerate(range(d, min(n, d + PER_DOC))):
            text = chunk_text(i)
            chunks.append(Chunk(id=chunk_id(doc.id, pos, text), doc_id=doc.id, source=source, position=pos,
                                text=text, lang="en", n_tokens=len(text.split())))
        yield ParsedFile(source, doc, chash, tuple(chunks))


def raw_throughput(embedder: Any, n: int, batch: int) -> float:
    texts = [chunk_text(i) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        embedder.embed(texts[i : i + batch], kind="passage")
    return n / (time.perf_counter() - t0)


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def run_step(n: int, embedder: Any, label: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    from indexes.kbase import KnowledgeBase
    from indexes.vector import default_nlist

    name = f"b{n}-{label.split(':')[0]}"
    nlist = min(args.nlist, default_nlist(n)) if n > args.flat_max else None
    kb = KnowledgeBase(home, name, flat_max=args.flat_max, ann=args.ann, nprobe=args.nprobe, nlist=nlist,
                       keep_versions=1)
    embedder.embed([chunk_text(-1 - i) for i in range(64)], kind="passage")  # warm-up, outside both timings
    gc.collect()
    rss0 = rss_mb()
    msgs: list[str] = []
    t0 = time.perf_counter()
    report = reindex_call(kb, embedder, n, args, msgs)
    wall = time.perf_counter() - t0
    raw_n = min(n, args.raw_max)
    raw = raw_throughput(embedder, raw_n, args.batch_size)
    version = kb.versions_dir / str(report.index_version)
    out = {
        "chunks": n,
        "embedder": label,
        "dim": int(embedder.dim),
        "seconds": round(wall, 2),
        "pipeline_chunks_per_s": round(n / wall, 1),
        "raw_embedder_chunks_per_s": round(raw, 1),
        "raw_measured_on": raw_n,
        "pipeline_vs_raw": round((n / wall) / raw, 3),
        "embed_and_write_chunks_per_s": round(n / report.timings["parse_embed_write"], 1),
        "embed_and_write_vs_raw": round((n / report.timings["parse_embed_write"]) / raw, 3),
        "timings_s": report.to_dict()["timings"],
        "index": {k: report.index.get(k) for k in ("kind", "nlist", "nprobe", "shards", "memory_estimate_bytes",
                                                   "flat_memory_bytes", "size_bytes")},
        "recall_at_10_vs_flat": report.recall_vs_flat,
        "version_bytes_on_disk": dir_size(version),
        "rss_before_mb": round(rss0, 1),
        "rss_after_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "memory_estimate_printed": [m for m in msgs if m.startswith("building")],
    }
    shutil.rmtree(kb.path, ignore_errors=True)
    return out


def reindex_call(kb: Any, embedder: Any, n: int, args: argparse.Namespace, msgs: list[str]) -> Any:
    from ingest.reindex import reindex

    return reindex(kb, None, embedder, documents=corpus(n), batch_size=args.batch_size, use_cache=False,
                   sample_queries=args.sample_queries, progress=msgs.append)


def gpu_section(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"skipped": "torch not installed"}
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    out: dict[str, Any] = {"device": torch.cuda.get_device_name(0)}
    from sentence_transformers import SentenceTransformer

    from indexes.embedders import resolve_st_model

    _id, path = resolve_st_model("all-MiniLM-L6-v2")
    texts = [chunk_text(i) for i in range(args.gpu_texts)]
    for label, half in (("fp32", False), ("fp16", True)):
        model = SentenceTransformer(str(path), device="cuda")
        if half:
            model.half()
        model.encode(texts[:512], batch_size=256)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.encode(texts, batch_size=256, convert_to_numpy=True, normalize_embeddings=True)
        torch.cuda.synchronize()
        out[f"minilm_{label}_texts_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
        del model
    try:
        import faiss
    except ImportError:
        return out
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        out["faiss"] = "faiss has no GPU support here"
        return out
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((1_000_000, 384), dtype=np.float32)
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    xq = xb[rng.choice(len(xb), 1000, replace=False)]
    cpu = faiss.IndexFlatIP(384)
    cpu.add(xb)
    t0 = time.perf_counter()
    _, i_cpu = cpu.search(xq, 10)
    out["faiss_flat_1m_cpu_qps"] = round(len(xq) / (time.perf_counter() - t0), 1)
    res = faiss.StandardGpuResources()
    co = faiss.GpuClonerOptions()
    if hasattr(co, "use_cuvs"):
        co.use_cuvs = False
    gpu = faiss.index_cpu_to_gpu(res, 0, cpu, co)
    gpu.search(xq[:10], 10)
    t0 = time.perf_counter()
    _, i_gpu = gpu.search(xq, 10)
    out["faiss_flat_1m_gpu_qps"] = round(len(xq) / (time.perf_counter() - t0), 1)
    out["faiss_gpu_cpu_top10_agreement"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i_cpu, i_gpu, strict=True)])), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="chunk counts, comma-separated")
    ap.add_argument("--max-real", type=int, default=1000, help="chunks embedded with the real MiniLM (0: skip)")
    ap.add_argument("--hashing-max", type=int, default=10_000, help="largest size embedded with hashing:384")
    ap.add_argument("--dim", type=int, default=384, help="dimension of the precomputed vectors")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--flat-max", type=int, default=200_000)
    ap.add_argument("--ann", default="ivf", choices=["ivf", "ivfpq", "hnsw"])
    ap.add_argument("--nlist", type=int, default=1024, help="IVF lists cap (keeps training short on 2 cores)")
    ap.add_argument("--nprobe", type=int, default=16)
    ap.add_argument("--raw-max", type=int, default=10_000, help="texts for the raw embedder figure")
    ap.add_argument("--sample-queries", type=int, default=50)
    ap.add_argument("--gpu", action="store_true", help="also run the GPU section (needs CUDA)")
    ap.add_argument("--gpu-texts", type=int, default=20_000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "reindex.json"))
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from indexes.embedders import get_embedder

    home = Path(tempfile.mkdtemp(prefix="kb-bench-reindex-"))
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "steps": [],
    }
    try:
        if args.max_real > 0:
            emb = get_embedder("sentence-transformers:all-MiniLM-L6-v2", device="auto")
            emb.warm_up()
            step = run_step(args.max_real, emb, emb.id, args, home)
            step["note"] = "real packaged MiniLM (capped by --max-real)"
            results["real"] = step
            print(json.dumps(step), flush=True)
        for n in (int(x) for x in args.sizes.split(",") if x.strip()):
            if n <= args.hashing_max:
                emb = get_embedder("hashing:384")
                label = emb.id
            else:
                emb = PrecomputedEmbedder(n, args.dim)
                label = emb.id
            step = run_step(n, emb, label, args, home)
            del emb
            gc.collect()
            results["steps"].append(step)
            print(json.dumps(step), flush=True)
        steps = results["steps"]
        if len(steps) > 1:
            base = steps[0]
            results["growth"] = [
                {"chunks": s["chunks"], "x_chunks": round(s["chunks"] / base["chunks"], 1),
                 "x_seconds": round(s["seconds"] / base["seconds"], 1),
                 "seconds_per_1k_chunks": round(1000 * s["seconds"] / s["chunks"], 3),
                 "finalize_share": round((s["timings_s"].get("build_index", 0)) / s["seconds"], 3)}
                for s in steps
            ]
        if args.gpu:
            results["gpu"] = gpu_section(args)
            print(json.dumps(results["gpu"]), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
