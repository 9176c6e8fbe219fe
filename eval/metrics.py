"""Metric functions: retrieval at source level, answer text overlap, classifier quality,
bootstrap confidence intervals and paired significance tests.

Retrieval metrics take a *ranked list of source ids* (duplicates are dropped, first occurrence
wins, so several chunks of one document count once) or a ranked list of ``(source_id, score)``
pairs. With scores, sources whose scores are equal form a tie group and the metric is its
expected value over every order of the tie (McSherry & Najork, "Computing information retrieval
performance measures efficiently in the presence of tied scores", ECIR 2008), so a retriever gains
nothing from an arbitrary tie-break. Questions without gold (unanswerable) have no retrieval
score: the per-question function returns ``None`` and aggregates leave them out.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

RankedItem = str | tuple[str, float]

# ----------------------------------------------------------------------------- retrieval


def distinct_sources(ranked: Iterable[RankedItem]) -> list[tuple[str, float | None]]:
    """(source, score) in rank order, each source once (its first, i.e. best, occurrence)."""
    seen: set[str] = set()
    out: list[tuple[str, float | None]] = []
    for item in ranked:
        src, score = (item, None) if isinstance(item, str) else (item[0], float(item[1]))
        if src in seen:
            continue
        seen.add(src)
        out.append((src, score))
    return out


def _same_score(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _tie_groups(ranked: Sequence[RankedItem]) -> list[tuple[int, int, int]]:
    """(start, size, relevant-count placeholder) groups of equal score in rank order."""
    items = distinct_sources(ranked)
    groups: list[tuple[int, int, int]] = []
    i = 0
    while i < len(items):
        j = i + 1
        s = items[i][1]
        while s is not None and j < len(items) and _same_score(items[j][1], s):
            j += 1
        groups.append((i, j - i, 0))
        i = j
    return groups


def _groups_with_relevance(ranked: Sequence[RankedItem], gold: set[str]) -> list[tuple[int, int, int]]:
    items = distinct_sources(ranked)
    return [(s, g, sum(1 for src, _ in items[s : s + g] if src in gold)) for s, g, _ in _tie_groups(ranked)]


def _discount(pos: int) -> float:
    return 1.0 / math.log2(pos + 2)  # pos is 0-based


def retrieval_scores(
    ranked: Sequence[RankedItem], gold: Iterable[str], ks: Sequence[int] = (1, 5, 10)
) -> dict[str, float] | None:
    """hit@k, recall@k, mrr@k, ndcg@k for every k in ``ks`` (tie-aware, expected values), or
    ``None`` when there is no gold (unanswerable question: left out of retrieval metrics)."""
    gold_set = set(gold)
    if not gold_set:
        return None
    groups = _groups_with_relevance(ranked, gold_set)
    out: dict[str, float] = {}
    for k in ks:
        p_none_before = 1.0  # probability that no relevant source was ranked above this group
        hit = rel_in_k = rr = dcg = 0.0
        for start, size, m in groups:
            if start >= k:
                break
            c = min(size, k - start)  # how many places of this group fall inside the top k
            if m:
                # hit: P(at least one of the m relevant lands in the c places)
                p_miss_group = comb(size - m, c) / comb(size, c)
                hit += p_none_before * (1.0 - p_miss_group)
                rel_in_k += m * c / size
                dcg += (m / size) * sum(_discount(start + j) for j in range(c))
                # first relevant at position start + j with probability C(size-j-1, m-1) / C(size, m)
                denom = comb(size, m)
                rr += p_none_before * sum(
                    comb(size - j - 1, m - 1) / denom / (start + j + 1) for j in range(c)
                )
                p_none_before = 0.0  # every relevant of later groups ranks below this one
        idcg = sum(_discount(j) for j in range(min(len(gold_set), k)))
        out[f"hit@{k}"] = hit
        out[f"recall@{k}"] = rel_in_k / len(gold_set)
        out[f"mrr@{k}"] = rr
        out[f"ndcg@{k}"] = dcg / idcg if idcg else 0.0
    return out


def hit_at_k(ranked: Sequence[RankedItem], gold: Iterable[str], k: int) -> float | None:
    r = retrieval_scores(ranked, gold, (k,))
    return None if r is None else r[f"hit@{k}"]


def recall_at_k(ranked: Sequence[RankedItem], gold: Iterable[str], k: int) -> float | None:
    r = retrieval_scores(ranked, gold, (k,))
    return None if r is None else r[f"recall@{k}"]


def mrr_at_k(ranked: Sequence[RankedItem], gold: Iterable[str], k: int) -> float | None:
    r = retrieval_scores(ranked, gold, (k,))
    return None if r is None else r[f"mrr@{k}"]


def ndcg_at_k(ranked: Sequence[RankedItem], gold: Iterable[str], k: int) -> float | None:
    r = retrieval_scores(ranked, gold, (k,))
    return None if r is None else r[f"ndcg@{k}"]


RETRIEVAL_KEYS = ("hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def mean_defined(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


# ----------------------------------------------------------------------------- answer text

_CJK_RE = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff\u3040-\u30ff\uac00-\ud7af]"
)
_ARTICLES = {"a", "an", "the"}


def _is_punct(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith(("P", "S"))


def answer_tokens(text: str) -> list[str]:
    """Tokens for answer overlap: SQuAD normalisation for English (lowercase, no punctuation,
    no articles, whitespace words); every CJK character is its own token (character-level F1, as
    in the Chinese reading-comprehension benchmarks); mixed text handles each run by its script."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    word: list[str] = []

    def flush() -> None:
        if word:
            w = "".join(word)
            if w not in _ARTICLES:
                out.append(w)
            word.clear()

    for ch in text:
        if _CJK_RE.match(ch):
            flush()
            out.append(ch)
        elif ch.isspace() or _is_punct(ch):
            flush()
        else:
            word.append(ch)
    flush()
    return out


def token_f1(prediction: str, reference: str) -> float:
    p, r = answer_tokens(prediction), answer_tokens(reference)
    if not p or not r:
        return float(p == r)
    common = Counter(p) & Counter(r)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(r)
    return 2 * precision * recall / (precision + recall)


def best_token_f1(prediction: str, references: Sequence[str]) -> float | None:
    """Max token F1 over the reference answers (any one is acceptable); None without references."""
    if not references:
        return None
    return max(token_f1(prediction, r) for r in references)


# ----------------------------------------------------------------------------- classifiers


def confusion(labels: Sequence[int], preds: Sequence[int]) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) with 1 as the positive class."""
    y, p = np.asarray(labels, dtype=int), np.asarray(preds, dtype=int)
    tp = int(((y == 1) & (p == 1)).sum())
    fp = int(((y == 0) & (p == 1)).sum())
    fn = int(((y == 1) & (p == 0)).sum())
    tn = int(((y == 0) & (p == 0)).sum())
    return tp, fp, fn, tn


def balanced_accuracy(labels: Sequence[int], preds: Sequence[int]) -> float:
    """Mean of the recall of each class present in ``labels``."""
    tp, fp, fn, tn = confusion(labels, preds)
    recalls = []
    if tp + fn:
        recalls.append(tp / (tp + fn))
    if tn + fp:
        recalls.append(tn / (tn + fp))
    return float(np.mean(recalls)) if recalls else 0.0


def f1_for_class(labels: Sequence[int], preds: Sequence[int], positive: int = 0) -> float | None:
    """F1 of one class (default 0 = unsupported, the class a faithfulness check must catch); None
    when no label is of that class (there is nothing to catch: 0.0 would read as a scorer that
    catches nothing)."""
    y = np.asarray(labels, dtype=int) == positive
    p = np.asarray(preds, dtype=int) == positive
    if not y.any():
        return None
    tp = int((y & p).sum())
    if tp == 0:
        return 0.0
    precision, recall = tp / int(p.sum()), tp / int(y.sum())
    return 2 * precision * recall / (precision + recall)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve = P(score of a random positive > score of a random negative),
    ties counting one half (Mann-Whitney U with average ranks). None when a class is missing."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=float)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def candidate_thresholds(scores: Sequence[float]) -> list[float]:
    """Midpoints between consecutive distinct scores, plus one below and one above them all."""
    u = np.unique(np.asarray(scores, dtype=float))
    if len(u) == 0:
        return [0.5]
    mids = ((u[1:] + u[:-1]) / 2.0).tolist()
    return [float(u[0]) - 1e-9, *mids, float(u[-1]) + 1e-9]


def best_threshold(
    labels: Sequence[int],
    scores: Sequence[float],
    metric: Callable[[Sequence[int], Sequence[int]], float] = balanced_accuracy,
) -> tuple[float, float]:
    """(threshold, metric value) maximising ``metric`` with "supported" = score >= threshold.
    Among equally good thresholds the middle one of the best run is taken (the widest margin)."""
    s = np.asarray(scores, dtype=float)
    cands = candidate_thresholds(scores)
    vals = [metric(labels, (s >= t).astype(int).tolist()) for t in cands]
    best = max(vals)
    idx = [i for i, v in enumerate(vals) if math.isclose(v, best, rel_tol=1e-12, abs_tol=1e-12)]
    # the longest run of consecutive best candidates, then its middle
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    run = max(runs, key=len)
    t = cands[run[len(run) // 2]]
    return float(t), float(best)


@dataclass(frozen=True)
class ScorerQuality:
    balanced_accuracy: float
    f1_unsupported: float | None  # None when no label is 0
    roc_auc: float | None
    threshold: float
    n: int

    def to_dict(self) -> dict[str, float]:
        out = {"balanced_accuracy": round(self.balanced_accuracy, 4)}
        if self.f1_unsupported is not None:
            out["f1_unsupported"] = round(self.f1_unsupported, 4)
        out["threshold"] = round(self.threshold, 4)
        if self.roc_auc is not None:
            out["roc_auc"] = round(self.roc_auc, 4)
        return out


def scorer_quality(
    labels: Sequence[int], scores: Sequence[float], threshold: float | None = None
) -> ScorerQuality:
    """Quality of a support scorer against human labels at ``threshold`` (chosen on these labels
    to maximise balanced accuracy when not given)."""
    if threshold is None:
        threshold, _ = best_threshold(labels, scores)
    preds = (np.asarray(scores, dtype=float) >= threshold).astype(int).tolist()
    return ScorerQuality(
        balanced_accuracy=balanced_accuracy(labels, preds),
        f1_unsupported=f1_for_class(labels, preds, positive=0),
        roc_auc=roc_auc(labels, scores),
        threshold=float(threshold),
        n=len(labels),
    )


# ----------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.percentile(np.asarray(vals, dtype=float), q)) if vals else None


def bootstrap_ci(
    values: Sequence[float | None],
    stat: Callable[[np.ndarray], float] = np.mean,  # type: ignore[assignment]
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap (1 - alpha) interval of ``stat`` over the defined values."""
    vals = np.asarray([v for v in values if v is not None], dtype=float)
    if len(vals) == 0:
        return None
    if len(vals) == 1:
        return float(vals[0]), float(vals[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(vals), size=(n_resamples, len(vals)))
    samples = np.asarray([stat(vals[row]) for row in idx]) if stat is not np.mean else vals[idx].mean(axis=1)
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_ci_paired(
    labels: Sequence[int],
    scores: Sequence[float],
    fn: Callable[[np.ndarray, np.ndarray], float | None],
    n_resamples: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Bootstrap interval of a statistic of (labels, scores) pairs, e.g. ROC-AUC."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=float)
    if len(y) < 2:
        return None
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(y), size=len(y))
        v = fn(y[idx], s[idx])
        if v is not None:
            vals.append(v)
    if not vals:
        return None
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairedTest:
    mean_a: float
    mean_b: float
    diff: float  # mean_b - mean_a
    ci: tuple[float, float]
    p_value: float
    n: int
    method: str

    def to_dict(self) -> dict[str, object]:
        return {
            "a": self.mean_a,
            "b": self.mean_b,
            "diff": self.diff,
            "ci": list(self.ci),
            "p_value": self.p_value,
            "n": self.n,
            "method": self.method,
        }


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 2000, alpha: float = 0.05, seed: int = 0
) -> PairedTest:
    """Paired bootstrap of mean(b) - mean(a) over the same questions. The p-value is two-sided:
    twice the share of resampled differences on the other side of zero (capped at 1)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or len(x) == 0:
        raise ValueError("paired_bootstrap needs two equally long, non-empty score lists")
    d = y - x
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_resamples, len(d)))
    means = d[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    obs = float(d.mean())
    if obs == 0 and np.all(d == 0):
        p = 1.0
    else:
        p = float(min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean())))
    return PairedTest(
        float(x.mean()), float(y.mean()), obs, (float(lo), float(hi)), p, len(d), "paired bootstrap"
    )


def permutation_test(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 5000, seed: int = 0
) -> PairedTest:
    """Paired sign-flip permutation test of mean(b) - mean(a) (two-sided, with the +1
    correction so p is never 0)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or len(x) == 0:
        raise ValueError("permutation_test needs two equally long, non-empty score lists")
    d = y - x
    obs = float(d.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_resamples, len(d)))
    perm = (signs * d).mean(axis=1)
    p = float((np.sum(np.abs(perm) >= abs(obs) - 1e-12) + 1) / (n_resamples + 1))
    ci = bootstrap_ci(d.tolist(), seed=seed) or (obs, obs)
    return PairedTest(float(x.mean()), float(y.mean()), obs, ci, p, len(d), "sign-flip permutation")
