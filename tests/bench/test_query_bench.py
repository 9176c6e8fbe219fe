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


def _tiny_set(root: Path) -> Path:
    """A retrieval set of two documents and two first-turn questions (no follow-ups), and a
    faithfulness set beside it."""
    import json

    qa = root / "tiny"
    (qa / "docs").mkdir(parents=True)
    (qa / "docs" / "returns.md").write_text("# Returns\n\nYou can return a product within 30 days.\n", encoding="utf-8")
    (qa / "docs" / "shipping.md").write_text("# Shipping\n\nExpress shipping takes one day.\n", encoding="utf-8")
    questions = [
        {"id": "q1", "question": "How long do I have to return a product?", "answers": ["30 days"],
         "gold": ["returns.md"], "lang": "en", "answerable": True},
        {"id": "q2", "question": "How fast is express shipping?", "answers": ["one day"],
         "gold": ["shipping.md"], "lang": "en", "answerable": True},
    ]
    (qa / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions), encoding="utf-8")
    (root / "judged").mkdir()
    (root / "judged" / "faithfulness.jsonl").write_text(json.dumps(
        {"id": "f1", "question": "", "context": ["a"], "answer": "a", "label": 1}), encoding="utf-8")
    return root


def test_the_benchmark_removes_its_temporary_knowledge_bases_on_an_error_too(bench, tmp_path, monkeypatch, capsys):
    # every run left kb-bench-* and kb-bench-lat-* in $TMPDIR, a set's index and embedding cache each
    import argparse
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    data = _tiny_set(tmp_path / "data")
    emb = HashingEmbedder(dim=16)
    args = argparse.Namespace(data=str(data), limit=None, sets="", home="", repeat=1, no_langchain=True,
                              skip_answers=False, sizes="40", reps=2)
    rows = bench.quality(args, emb)
    assert {r["system"] for r in rows} >= {"ours", "bm25", "_ours_answers", "_build"}
    assert bench.latency(args, emb)[0]["chunks"] == 40
    assert list(temp.iterdir()) == []
    # a set without follow-ups said "follow-ups Nonems, Nonems after the embedding, hit@5 None"
    said = [ln for ln in capsys.readouterr().out.splitlines() if "hit@5=" in ln]
    assert said and all("None" not in ln and ln.endswith("; no follow-ups)") for ln in said), said

    # a --home of the user's is theirs to keep
    home = tmp_path / "home"
    bench.quality(argparse.Namespace(**{**vars(args), "home": str(home), "skip_answers": True}), emb)
    assert (home / "tiny").is_dir()

    def fails(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("interrupted")

    monkeypatch.setattr(bench, "answer_times", fails)
    monkeypatch.setattr(bench, "stage_pcts", fails)
    for run in (bench.quality, bench.latency):
        with pytest.raises(RuntimeError, match="interrupted"):
            run(args, emb)
        assert list(temp.iterdir()) == [], run


def test_turns_text_says_a_kind_of_turn_the_set_has_none_of(bench):
    row = {"p50_first_turn_ms": 12.5, "p50_after_embed_first_turn_ms": 2.5, "hit@5_first_turn": 0.75,
           "p50_followup_ms": None, "p50_after_embed_followup_ms": None, "hit@5_followup": None}
    assert bench.turns_text(row) == "first turns 12.5ms, 2.5ms after the embedding, hit@5 0.75; no follow-ups"


def test_sets_that_name_no_set_are_refused_naming_the_sets(bench, tmp_path, monkeypatch, capsys):
    # --sets with a typo ran nothing and exited 0 without a word
    data = _tiny_set(tmp_path / "data")
    monkeypatch.setattr(bench, "quality", lambda *a: pytest.fail("ran the benchmark"))
    for sets in ("tiny,nope", "judged"):
        monkeypatch.setattr(sys, "argv", ["query.py", "--data", str(data), "--sets", sets, "--skip-latency",
                                          "--embedder", "hashing:16", "--out", str(tmp_path / "q.json")])
        with pytest.raises(SystemExit) as exit_info:
            bench.main()
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.endswith(f"--sets: no retrieval set named {sets.split(',')[-1]!r} in {data}; its sets: tiny"), err
    asked: list[str] = []
    monkeypatch.setattr(bench, "quality", lambda args, emb: asked.append(args.sets) or [])
    monkeypatch.setattr(sys, "argv", ["query.py", "--data", str(data), "--sets", " tiny ", "--skip-latency",
                                      "--embedder", "hashing:16", "--out", str(tmp_path / "q.json")])
    bench.main()
    assert asked == ["tiny"]
