"""The query benchmark's own arithmetic: its figures are published, so the clock that splits a
system's time into "query embedding" and "what the pipeline adds" must count only what it says."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from indexes.embedders import HashingEmbedder

BENCH = Path(__file__).resolve().parents[2] / "bench" / "query.py"


@pytest.fixture(scope="module")
def bench():
    # the script pins BLAS/OpenMP threads in os.environ when imported: keep that out of the
    # environment of the tests that follow (they start servers and subprocesses)
    saved_env, saved_path = dict(os.environ), list(sys.path)
    spec = importlib.util.spec_from_file_location("bench_query", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


class SlowEmbedder(HashingEmbedder):
    """Query embeddings take >= 20 ms, passage embeddings >= 30 ms."""

    def embed(self, texts, kind="passage"):
        time.sleep(0.02 if kind == "query" else 0.03)
        return super().embed(texts, kind=kind)


def test_clock_counts_query_embeddings_only_and_lap_resets(bench):
    inner = SlowEmbedder(dim=16)
    clock = bench.QueryEmbedClock(inner)
    assert clock.dim == 16 and clock.id == inner.id  # everything else is the embedder's own
    clock.embed(["a passage"], kind="passage")
    assert clock.lap() == 0.0
    v = clock.embed(["a question"], kind="query")
    assert np.allclose(v, inner.embed(["a question"], kind="query"))
    clock.embed(["another", "two"], kind="query")
    first = clock.lap()
    assert first >= 40.0  # two query calls of >= 20 ms each
    assert clock.lap() == 0.0


def test_clock_counts_a_failed_embedding(bench):
    class Failing(HashingEmbedder):
        def embed(self, texts, kind="passage"):
            time.sleep(0.01)
            raise RuntimeError("engine failed")

    clock = bench.QueryEmbedClock(Failing(dim=8))
    with pytest.raises(RuntimeError):
        clock.embed(["q"], kind="query")
    assert clock.lap() >= 10.0


def test_mean_of_and_pct_skip_missing_groups(bench):
    assert bench.mean_of([True, False, None, True]) == pytest.approx(0.6667)
    assert bench.mean_of([None]) is None and bench.mean_of([]) is None
    assert bench.pct([], 50) is None
    assert bench.pct([1.0, 3.0], 50) == 2.0


def test_the_langchain_peer_caches_each_batch_so_an_interrupted_build_resumes(
    bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexes.kbase import EmbeddingCache

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"p{i}.md").write_text(f"Page {i} says how refunds work, part {i}.", encoding="utf-8")
    monkeypatch.setattr(bench, "PEER_EMBED_BATCH", 2)
    seen: list[int] = []

    class FailsOnThirdBatch(HashingEmbedder):
        def embed(self, texts, kind="passage"):
            if kind == "passage":
                seen.append(len(texts))
                if len(seen) == 3:
                    raise RuntimeError("interrupted")
            return super().embed(texts, kind=kind)

    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    with pytest.raises(RuntimeError, match="interrupted"):
        bench.LangChainPeer(docs, FailsOnThirdBatch(dim=16), cache)
    assert seen == [2, 2, 1]
    peer = bench.LangChainPeer(docs, FailsOnThirdBatch(dim=16), cache)  # embeds the last chunk only
    assert seen == [2, 2, 1, 1] and peer.n_chunks == 5
    assert peer.search("Page 3 says how refunds work, part 3.", k=5)[0] == "p3.md"
