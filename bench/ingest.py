"""Ingest benchmark (figures, not pass/fail).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/ingest.py [--sets emanual-qa domainrag]
        [--limit-docs N] [--embedder sentence-transformers:all-MiniLM-L6-v2] [--device auto]

For each set of ../shared/data (its docs/ copied to a temporary folder, optionally subsampled):
- a full ingest into a fresh knowledge base: documents/s, chunks/s, time split (load+chunk,
  embed, write);
- the raw embedder throughput on exactly the same texts (passage texts of the new chunks and FAQ
  questions), same embedder object, same batch size, same process; the ratio pipeline/raw
  (target >= 0.9 of the raw chunks/s);
- an incremental re-ingest after changing 1% of the documents (target < 5% of the full time);
- peak RSS and index size on disk.
Prints the figures and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import kb.settings  # noqa: E402,F401  (offline env before any model import)
from indexes.embedders import get_embedder  # noqa: E402
from indexes.kbase import KnowledgeBase  # noqa: E402
from ingest.pipeline import EMBED_BLOCK, ingest_paths  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_set(name: str, limit: int | None, embedder, chunk_tokens: int, overlap: int, work: Path,  # type: ignore[no-untyped-def]
              background: bool = True) -> dict:
    src = DATA / name / "docs"
    files = sorted(p for p in src.rglob("*") if p.is_file())
    if limit:
        files = files[:limit]
    docs = work / name / "docs"
    for f in files:
        dest = docs / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    home = work / name / "home"
    kb = KnowledgeBase(home, name)

    t0 = time.perf_counter()
    full = ingest_paths(kb, [docs], embedder, max_file_mb=50, chunk_tokens=chunk_tokens, chunk_overlap=overlap,
                        background_embed=background)
    t_full = time.perf_counter() - t0

    index = kb.load_live()
    chunks = index.get_chunks(list(range(index.n_chunks)))
    texts = [c.embed_text() for c in chunks] + [c.question for c in chunks if c.question]
    index.close()
    calls0 = embedder.calls
    t1 = time.perf_counter()
    for start in range(0, len(texts), EMBED_BLOCK):  # the pipeline's block size
        embedder.embed(texts[start : start + EMBED_BLOCK], kind="passage")
    t_raw = time.perf_counter() - t1
    assert embedder.calls > calls0

    # incremental: change 1% of the documents (at least one)
    n_change = max(1, len(files) // 100)
    changed = sorted(p for p in docs.rglob("*") if p.is_file())[:: max(1, len(files) // n_change)][:n_change]
    for p in changed:
        with p.open("a", encoding="utf-8") as fh:
            fh.write("\n\nThis paragraph was added for the incremental benchmark.\n")
    t2 = time.perf_counter()
    inc = ingest_paths(kb, [docs], embedder, max_file_mb=50, chunk_tokens=chunk_tokens, chunk_overlap=overlap,
                       background_embed=background)
    t_inc = time.perf_counter() - t2

    version_dir = home / name
    size = dir_size(home)
    n_texts = len(texts)
    out = {
        "set": name,
        "background_embed": background,
        "documents": full.added,
        "failed": len(full.failed),
        "chunks": full.chunks,
        "texts_embedded": full.texts_embedded,
        "full_ingest_s": round(t_full, 3),
        "docs_per_s": round(full.added / t_full, 2),
        "chunks_per_s": round(full.chunks / t_full, 2),
        "time_split_s": {k: round(v, 3) for k, v in full.timings.items()},
        "raw_embed_s": round(t_raw, 3),
        "raw_texts_per_s": round(n_texts / t_raw, 2),
        "pipeline_texts_per_s": round(n_texts / t_full, 2),
        "pipeline_over_raw": round(t_raw / t_full, 3),
        "incremental_changed_docs": len(changed),
        "incremental_s": round(t_inc, 3),
        "incremental_over_full": round(t_inc / t_full, 4),
        "incremental_report": {k: inc.to_dict()[k] for k in ("added", "updated", "unchanged", "deleted")},
        "incremental_texts_embedded": inc.texts_embedded,
        "kb_dir_bytes": size,
        "kb_dir_mb": round(size / 1024 / 1024, 2),
        "kb_dir": str(version_dir),
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="+", default=["emanual-qa", "domainrag"])
    ap.add_argument("--limit-docs", type=int, default=None)
    ap.add_argument("--embedder", default=kb.settings.DEFAULT_EMBEDDER)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk-tokens", type=int, default=128)
    ap.add_argument("--chunk-overlap", type=int, default=16)
    ap.add_argument("--sequential-embed", action="store_true",
                    help="embed after loading instead of in a background thread while files load")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest.json")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 1
    embedder = get_embedder(args.embedder, device=args.device, batch_size=args.batch_size)
    t = time.perf_counter()
    embedder.warm_up()
    warm = time.perf_counter() - t
    results = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        for name in args.sets:
            r = bench_set(name, args.limit_docs, embedder, args.chunk_tokens, args.chunk_overlap, Path(tmp),
                          background=not args.sequential_embed)
            r.pop("kb_dir")
            results.append(r)
            print(json.dumps(r, ensure_ascii=False, indent=1))
    summary = {
        "embedder": embedder.id,
        "device": getattr(embedder, "device", args.device),
        "batch_size": args.batch_size,
        "limit_docs": args.limit_docs,
        "warm_up_s": round(warm, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sets": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"peak RSS {summary['peak_rss_mb']} MB; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
