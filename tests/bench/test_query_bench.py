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


def test_answer_times_asks_each_question_cold_with_its_history_and_splits_the_turns(bench):
    from types import SimpleNamespace

    from eval.datasets import Message, QAItem

    class Assistant:
        def __init__(self) -> None:
            self.asked: list[tuple[str, object]] = []
            self.forgotten = 0

        def retriever(self):  # type: ignore[no-untyped-def]
            return SimpleNamespace(forget_queries=self.forget)

        def forget(self) -> None:
            self.forgotten += 1

        def ask(self, question, history=None):  # type: ignore[no-untyped-def]
            self.asked.append((question, history))
            total = 10.0 if history is None else 30.0
            return SimpleNamespace(timings_ms={"retrieve": 4.0, "compose": total - 5.0, "total": total})

    first = QAItem("1", "How long is the warranty?", ("Two years.",), ("d1",), "en", True)
    follow = QAItem("2", "And for phones?", ("One year.",), ("d1",), "en", True,
                    history=(Message("user", "How long is the warranty?"),))
    asst = Assistant()
    out = bench.answer_times(asst, [first, follow, first])
    assert asst.forgotten == 3  # every question's vector cold, as the retrieval figures are
    assert asst.asked[1] == ("And for phones?", [{"role": "user", "content": "How long is the warranty?"}])
    assert asst.asked[0][1] is None  # a first turn has no history
    assert out["n"] == 3 and out["retrieve_p50_ms"] == 4.0 and out["compose_p50_ms"] == 5.0 and out["total_p95_ms"] == 28.0
    assert out["total_p50_first_turn_ms"] == 10.0 and out["total_p50_followup_ms"] == 30.0


def test_paired_gap_takes_the_median_paired_difference_and_resamples_whole_questions(bench):
    peer = [20.0, 30.0, 25.0, 40.0]
    same = bench.paired_gap([p + 1.0 for p in peer], peer, [0, 1, 2, 3])
    assert same == {"n_questions": 4, "n_pairs": 4, "median_ms": 1.0, "ci95_ms": [1.0, 1.0]}
    # one question timed three times 5 ms slower, four others even: the pairs' median is 0, and the
    # interval, drawn over questions (not pairs), reaches 5 when that question is drawn often
    ours = [25.0, 25.0, 25.0, 10.0, 10.0, 10.0, 10.0]
    peer = [20.0, 20.0, 20.0, 10.0, 10.0, 10.0, 10.0]
    gap = bench.paired_gap(ours, peer, [0, 0, 0, 1, 2, 3, 4])
    assert gap["n_questions"] == 5 and gap["n_pairs"] == 7 and gap["median_ms"] == 0.0
    assert gap["ci95_ms"][0] == 0.0 and gap["ci95_ms"][1] == 5.0
    assert bench.paired_gap([], [], []) == {"n_questions": 0, "n_pairs": 0, "median_ms": None, "ci95_ms": None}


def test_paired_gap_at_pairs_ours_with_the_peer_on_the_same_samples(bench):
    lat = {"ours": [10.0, 50.0, 12.0], "peer": [9.0, 20.0, 10.0]}
    gap = bench.paired_gap_at(lat, "peer", [0, 1, 2], [0, 2])  # the first turns: samples 0 and 2
    assert gap["n_pairs"] == 2 and gap["median_ms"] == 1.5


def test_a_repeat_below_one_is_refused_before_anything_runs(bench, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["query.py", "--repeat", "0", "--skip-latency"])
    monkeypatch.setattr(bench, "quality", lambda *a: pytest.fail("ran the benchmark"))
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
    assert "--repeat must be at least 1, got 0" in capsys.readouterr().err
