#!/usr/bin/env python
"""Train the default faithfulness scorer (rag/models/support_default.json) and report its
k-fold cross-validated quality beside the lexical peer's.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python scripts/train_scorer.py ../shared/data/begin

The ``lexical`` head (lexical, numeric and style features) is always trained; ``--embedding``
adds an ``embedding`` head (plus MiniLM sentence similarities, used when the knowledge base's
embedder is the one named in the file). On BEGIN the embedding head measured 0.914 vs 0.917 for
the lexical head (10-fold x5 CV), at ~20x the scoring cost, so the shipped file has the lexical
head only. Each is a standardised logistic regression with balanced
class weights (scikit-learn), stored as plain JSON (no pickle). Cross-validation: stratified
k-fold, repeated; in every fold the threshold of both the model and the lexical peer is chosen on
the training part only (best balanced accuracy), then applied to the held-out part, so the
figures are for labels the scorer was not trained on. The shipped threshold is the best one on
the pooled out-of-fold probabilities.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from eval.datasets import FaithfulnessSet, load_dataset  # noqa: E402
from eval.metrics import best_threshold, roc_auc, scorer_quality  # noqa: E402
from kb.settings import DEFAULT_EMBEDDER, apply_offline_defaults  # noqa: E402
from rag.support import (  # noqa: E402
    DEFAULT_MODEL,
    EMBEDDING_FEATURES,
    LEXICAL_FEATURES,
    MODEL_FORMAT,
    _VectorCache,
    embedding_features,
    lexical_features,
)


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit((x - mean) / scale, y)
    return mean, scale, model.coef_[0].copy(), float(model.intercept_[0])


def predict(params: tuple[np.ndarray, np.ndarray, np.ndarray, float], x: np.ndarray) -> np.ndarray:
    mean, scale, coef, b = params
    return 1.0 / (1.0 + np.exp(-(((x - mean) / scale) @ coef + b)))


def cross_validate(
    x: np.ndarray, y: np.ndarray, peer: np.ndarray, c: float, folds: int, repeats: int, seed: int
) -> dict[str, object]:
    from sklearn.model_selection import StratifiedKFold

    model_ba, peer_ba, model_f1, peer_f1 = [], [], [], []
    oof_sum = np.zeros(len(y))
    for r in range(repeats):
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        for tr, te in skf.split(x, y):
            params = fit(x[tr], y[tr], c)
            p_tr, p_te = predict(params, x[tr]), predict(params, x[te])
            oof_sum[te] += p_te
            t, _ = best_threshold(y[tr].tolist(), p_tr.tolist())
            q = scorer_quality(y[te].tolist(), p_te.tolist(), threshold=t)
            model_ba.append(q.balanced_accuracy)
            model_f1.append(q.f1_unsupported)
            tp, _ = best_threshold(y[tr].tolist(), peer[tr].tolist())
            qp = scorer_quality(y[te].tolist(), peer[te].tolist(), threshold=tp)
            peer_ba.append(qp.balanced_accuracy)
            peer_f1.append(qp.f1_unsupported)
    oof = oof_sum / repeats
    return {
        "balanced_accuracy": float(np.mean(model_ba)),
        "balanced_accuracy_std": float(np.std(model_ba)),
        "f1_unsupported": float(np.mean([v for v in model_f1 if v is not None])),
        "roc_auc_oof": roc_auc(y.tolist(), oof.tolist()),
        "lexical_peer_balanced_accuracy": float(np.mean(peer_ba)),
        "lexical_peer_balanced_accuracy_std": float(np.std(peer_ba)),
        "lexical_peer_f1_unsupported": float(np.mean([v for v in peer_f1 if v is not None])),
        "lexical_peer_roc_auc": roc_auc(y.tolist(), peer.tolist()),
        "oof": oof,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", type=Path, help="faithfulness set folders (faithfulness.jsonl)")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    ap.add_argument("--C", type=float, default=0.3, help="inverse L2 strength of the logistic regression")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dry-run", action="store_true", help="report cross-validation only; write nothing")
    ap.add_argument(
        "--features-cache",
        type=Path,
        default=None,
        help="JSON file to read/write computed features (speeds up re-runs; keyed by id)",
    )
    ap.add_argument(
        "--embedding",
        action="store_true",
        help="also train the embedding head (MiniLM sentence similarities; measured no better than the "
        "lexical head on BEGIN and ~20x slower to score, so the shipped model has the lexical head only)",
    )
    args = ap.parse_args(argv)
    apply_offline_defaults()

    items = []
    for d in args.datasets:
        ds = load_dataset(d)
        if not isinstance(ds, FaithfulnessSet):
            ap.error(f"{d} is not a faithfulness set (needs faithfulness.jsonl)")
        items.extend(ds.items)
    y = np.asarray([it.label for it in items], dtype=int)
    print(f"{len(items)} labelled answers ({int(y.sum())} supported / {int((1 - y).sum())} not)")

    embedder = None
    if args.embedding:
        from indexes.embedders import get_embedder

        embedder = get_embedder(args.embedder, device="cpu")
    started = time.perf_counter()
    vectors = _VectorCache(embedder, size=100_000) if embedder is not None else None
    cache: dict[str, dict[str, float]] = {}
    if args.features_cache and args.features_cache.is_file():
        cache = json.loads(args.features_cache.read_text(encoding="utf-8"))
    feats = []
    for it in items:
        # lexical features are cheap and always recomputed; the embedding ones are cached
        f = lexical_features(it.answer, list(it.context))
        if embedder is not None and vectors is not None:
            key = f"{embedder.id}|{it.id}"
            cached = cache.get(key)
            if cached is None or not set(EMBEDDING_FEATURES) <= set(cached):
                cached = embedding_features(it.answer, list(it.context), vectors)
            cache[key] = {k: cached[k] for k in EMBEDDING_FEATURES}
            f.update(cache[key])
        feats.append(f)
    if args.features_cache and embedder is not None:
        args.features_cache.write_text(json.dumps(cache), encoding="utf-8")
    print(f"features in {time.perf_counter() - started:.1f} s")
    peer = np.asarray([f["coverage"] for f in feats])

    heads: dict[str, dict[str, object]] = {}
    report: dict[str, dict[str, object]] = {}
    kinds = [("lexical", LEXICAL_FEATURES)]
    if embedder is not None:
        kinds.insert(0, ("embedding", LEXICAL_FEATURES + EMBEDDING_FEATURES))
    for name, names in kinds:
        x = np.asarray([[f[n] for n in names] for f in feats], dtype=np.float64)
        cv = cross_validate(x, y, peer, args.C, args.folds, args.repeats, args.seed)
        oof = cv.pop("oof")
        threshold, _ = best_threshold(y.tolist(), oof.tolist())  # type: ignore[union-attr]
        mean, scale, coef, b = fit(x, y, args.C)
        heads[name] = {
            "features": list(names),
            "mean": mean.round(6).tolist(),
            "scale": scale.round(6).tolist(),
            "coef": coef.round(6).tolist(),
            "intercept": round(b, 6),
            "threshold": round(float(threshold), 6),
            "embedder": embedder.id if name == "embedding" and embedder is not None else None,
        }
        report[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in cv.items()}
        print(
            f"[{name}] {args.folds}-fold x{args.repeats} CV balanced accuracy "
            f"{cv['balanced_accuracy']:.3f} ± {cv['balanced_accuracy_std']:.3f} "
            f"(F1 unsupported {cv['f1_unsupported']:.3f}, OOF ROC-AUC {cv['roc_auc_oof']:.3f}); "
            f"lexical peer {cv['lexical_peer_balanced_accuracy']:.3f} ± {cv['lexical_peer_balanced_accuracy_std']:.3f} "
            f"(ROC-AUC {cv['lexical_peer_roc_auc']:.3f}); threshold {threshold:.3f}"
        )
    first = next(iter(heads))
    print(f"{first}-head weights (standardised):")
    for n, w in sorted(
        zip(heads[first]["features"], heads[first]["coef"], strict=True),  # type: ignore[call-overload]
        key=lambda t: -abs(t[1]),
    ):
        print(f"  {n:24s} {w:+.3f}")
    if args.dry_run:
        return 0
    out = {
        "format": MODEL_FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trained_on": [str(d.name) for d in args.datasets],
        "n": len(items),
        "C": args.C,
        "cross_validation": {"folds": args.folds, "repeats": args.repeats, "seed": args.seed, **report},
        "heads": heads,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
