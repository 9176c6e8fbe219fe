"""Metric functions against hand-computed examples."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from eval.metrics import (
    answer_tokens,
    balanced_accuracy,
    best_threshold,
    best_token_f1,
    bootstrap_ci,
    f1_for_class,
    mean_defined,
    paired_bootstrap,
    percentile,
    permutation_test,
    retrieval_scores,
    roc_auc,
    scorer_quality,
    token_f1,
)

L2_3 = 1 / math.log2(3)  # discount of rank 2
L2_5 = 1 / math.log2(5)  # discount of rank 4


def test_duplicates_collapse_to_one_source() -> None:
    r = retrieval_scores(["a.md", "b.md", "a.md", "c.md"], ["c.md"], ks=(1, 2, 5, 10))
    assert r is not None
    assert r["hit@1"] == 0 and r["hit@2"] == 0  # c.md is the 3rd *distinct* source
    assert r["hit@5"] == 1 and r["recall@5"] == 1
    assert r["mrr@10"] == pytest.approx(1 / 3)
    assert r["ndcg@10"] == pytest.approx(0.5)  # 1/log2(4) over an ideal of 1


def test_several_gold_recall_and_ndcg() -> None:
    r = retrieval_scores(["a", "b", "c", "d"], ["b", "d"], ks=(1, 3, 10))
    assert r is not None
    assert r["hit@1"] == 0 and r["recall@1"] == 0
    assert r["hit@3"] == 1 and r["recall@3"] == pytest.approx(0.5)
    assert r["recall@10"] == 1
    assert r["mrr@10"] == pytest.approx(0.5)
    assert r["ndcg@10"] == pytest.approx((L2_3 + L2_5) / (1 + L2_3))


def test_tie_of_two_counts_half() -> None:
    r = retrieval_scores([("a", 1.0), ("b", 1.0)], ["b"], ks=(1, 10))
    assert r is not None
    assert r["hit@1"] == pytest.approx(0.5)
    assert r["recall@1"] == pytest.approx(0.5)
    assert r["mrr@10"] == pytest.approx(0.75)
    assert r["ndcg@10"] == pytest.approx(0.5 * (1 + L2_3))
    # the order inside a tie does not matter
    assert retrieval_scores([("b", 1.0), ("a", 1.0)], ["b"], ks=(1, 10)) == r


def test_tie_group_crossing_the_cutoff() -> None:
    ranked = [("x", 2.0), ("a", 1.0), ("b", 1.0), ("c", 1.0)]
    r = retrieval_scores(ranked, ["b", "c"], ks=(2, 10))
    assert r is not None
    assert r["hit@2"] == pytest.approx(2 / 3)  # one place of three, two of them relevant
    assert r["recall@2"] == pytest.approx(1 / 3)
    assert r["mrr@10"] == pytest.approx(2 / 3 * 1 / 2 + 1 / 3 * 1 / 3)


def _brute_force(ranked: list[tuple[str, float]], gold: list[str], k: int) -> dict[str, float]:
    """Average of the untied metric over every order of every tie group."""
    groups: list[list[str]] = []
    for _score, grp in itertools.groupby(ranked, key=lambda x: x[1]):
        groups.append([s for s, _ in grp])
    totals: dict[str, float] = {}
    count = 0
    for orders in itertools.product(*[list(itertools.permutations(g)) for g in groups]):
        flat = [s for g in orders for s in g]
        r = retrieval_scores(flat, gold, ks=(k,))
        assert r is not None
        for key, v in r.items():
            totals[key] = totals.get(key, 0.0) + v
        count += 1
    return {key: v / count for key, v in totals.items()}


def test_tie_aware_equals_average_over_orders() -> None:
    rng = random.Random(7)
    for _ in range(40):
        n = rng.randint(1, 6)
        scores = sorted((rng.choice([0.1, 0.5, 0.9]) for _ in range(n)), reverse=True)
        ranked = [(f"s{i}", s) for i, s in enumerate(scores)]
        gold = rng.sample([f"s{i}" for i in range(n)] + ["missing"], rng.randint(1, min(3, n + 1)))
        k = rng.randint(1, 5)
        got = retrieval_scores(ranked, gold, ks=(k,))
        want = _brute_force(ranked, gold, k)
        assert got is not None
        for key in want:
            assert got[key] == pytest.approx(want[key]), (ranked, gold, k, key)


def test_empty_retrieval_scores_zero() -> None:
    r = retrieval_scores([], ["a"])
    assert r is not None
    assert all(v == 0 for v in r.values())


def test_unanswerable_questions_are_left_out() -> None:
    assert retrieval_scores(["a", "b"], []) is None
    per_q = [retrieval_scores(["a"], ["a"]), retrieval_scores(["a"], []), retrieval_scores(["b"], ["a"])]
    assert mean_defined(r["hit@1"] if r else None for r in per_q) == pytest.approx(0.5)
    assert mean_defined([None, None]) is None


def test_token_f1_english() -> None:
    assert answer_tokens("The cat, sat!") == ["cat", "sat"]
    assert token_f1("The cat sat", "a cat sat down") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0
    assert token_f1("", "cat") == 0.0
    assert token_f1("dog", "cat") == 0.0


def test_token_f1_chinese_is_character_level() -> None:
    assert answer_tokens("汉语、法语 and English") == ["汉", "语", "法", "语", "and", "english"]
    assert token_f1("汉语、法语、英语", "汉语和英语") == pytest.approx(8 / 11)
    assert best_token_f1("2010年", ["2010", "2010年"]) == 1.0
    assert best_token_f1("x", []) is None


def test_classifier_metrics() -> None:
    labels, preds = [1, 1, 0, 0, 0], [1, 0, 0, 0, 1]
    assert balanced_accuracy(labels, preds) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert f1_for_class(labels, preds, positive=0) == pytest.approx(2 / 3)
    # no unsupported label: nothing to catch, no F1 (0.0 would read as a scorer that catches nothing)
    assert f1_for_class([1, 1], [1, 1], positive=0) is None
    assert f1_for_class([1, 0], [1, 1], positive=0) == 0.0
    assert roc_auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(0.875)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_best_threshold_and_quality() -> None:
    t, ba = best_threshold([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.8])
    assert t == pytest.approx(0.45) and ba == 1.0
    q = scorer_quality([0, 0, 1, 1, 0], [0.1, 0.2, 0.7, 0.8, 0.75])
    # best: threshold between 0.75 and 0.8 (BA 0.75) ties with 0.45 (BA (1 + 2/3) / 2 = 0.833)
    assert q.balanced_accuracy == pytest.approx(5 / 6)
    assert q.threshold == pytest.approx(0.45)
    assert q.roc_auc == pytest.approx(5 / 6)
    fixed = scorer_quality([0, 1], [0.3, 0.6], threshold=0.7)
    assert fixed.balanced_accuracy == 0.5 and fixed.f1_unsupported == pytest.approx(2 / 3)
    # a set whose answers are all supported has no unsupported answer to catch: no F1, no AUC,
    # rather than an F1 of 0.000 that reads as a scorer that misses them all
    none = scorer_quality([1, 1, 1], [0.9, 0.8, 0.4], threshold=0.5)
    assert none.f1_unsupported is None and none.roc_auc is None
    assert set(none.to_dict()) == {"balanced_accuracy", "threshold"}


def test_bootstrap_ci() -> None:
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5)
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([None, 1.0]) == (1.0, 1.0)
    vals = [0, 1] * 50
    lo, hi = bootstrap_ci(vals)  # type: ignore[misc]
    assert lo < 0.5 < hi and hi - lo < 0.3
    assert bootstrap_ci(vals, seed=3) == bootstrap_ci(vals, seed=3)


def test_paired_tests() -> None:
    a = [0.0, 1.0, 0.0, 1.0, 0.0] * 8
    b = [1.0, 1.0, 1.0, 1.0, 0.0] * 8
    for t in (paired_bootstrap(a, b), permutation_test(a, b)):
        assert t.diff == pytest.approx(0.4)
        assert t.p_value < 0.01
        assert t.ci[0] > 0
    same = paired_bootstrap(a, a)
    assert same.diff == 0 and same.p_value == 1.0
    assert permutation_test(a, a).p_value == 1.0


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([], 50) is None
