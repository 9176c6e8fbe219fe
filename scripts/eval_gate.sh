#!/usr/bin/env bash
# CI quality gate: a small eval on the dev sets in ../shared/data and on the project's own sets in
# eval/sets, with the extractive backend and the default settings; fails (exit 1, one line per
# metric) when a metric drops below the thresholds below, set just under the quality measured when
# they were last raised (see the comments). Without ../shared/data only eval/sets is gated.
#
#   bash scripts/eval_gate.sh            (KB_EVAL_DATA=... to point elsewhere,
#                                         KB_EVAL_WORK=... to keep the eval knowledge bases)
#
# ~40 questions per QA set (an evenly spaced subsample, so unanswerable questions stay in) and
# all 500 BEGIN labels. The knowledge bases are kept in $KB_EVAL_WORK, so a re-run only
# re-ingests what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${KB_EVAL_DATA:-../shared/data}"
OWN=eval/sets  # the project's own sets (eval/sets/README.md): gated with or without the dev sets
if [ ! -d "$DATA" ]; then
    echo "eval gate: $DATA not found (set KB_EVAL_DATA to the dev sets); gating the project's own sets only"
fi
KB=${KB_BIN:-.venv/bin/kb}
WORK="${KB_EVAL_WORK:-${TMPDIR:-/tmp}/kb-eval-gate}"
mkdir -p "$WORK"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} KB_LLM=extractive: KB_SCORER=default
unset KB_EMBEDDER KB_RERANKER

# set -> "metric=threshold ...", each a little under the value measured on the gate's own subsample
# (commented; measured 2026-11-23 with the extractive backend and default settings, i.e. the
# multilingual-e5-small embedder).
declare -A GATES=(
    # hit@5 0.950, mrr@10 0.858, faithfulness 1.000, citation_recall 0.974 (40 of 240 questions;
    # citation_recall 1.000 since 2026-12-03, when a quoted FAQ answer began to cite every sentence)
    # correctness_f1 (token F1 against the reference answers; 2026-12-04, after an answer that keeps
    # to one curated entry began to say it whole): 0.716
    [covid-faq]="hit@5=0.92 mrr@10=0.82 faithfulness=0.95 citation_recall=0.90 correctness_f1=0.69"
    # hit@5 0.950, mrr@10 0.749, faithfulness 1.000 (40 of 201 questions)
    # correctness_f1 0.514 (2026-12-04)
    [emanual-qa]="hit@5=0.92 mrr@10=0.72 faithfulness=0.95 correctness_f1=0.49"
    # hit@5 1.000, mrr@10 0.930, faithfulness 1.000, refusal_accuracy 0.778 (7 of the 9 unanswerable)
    # correctness_f1 0.311 (2026-12-04). Ingested fresh on 2026-12-05: hit@5 1.000, mrr@10 0.946,
    # correctness_f1 0.334, refusal_accuracy 0.556 (5 of the 9), and 0.556 too at 1072e46, the code
    # before that day's changes: the 0.778 was read off a knowledge base the gate's work dir kept
    # from older code, until the chunker's version moved (structure-v4) and it was read again. On
    # all of mtrag-un's 28 unanswerable questions it is 0.571, as on 2026-12-04.
    [mtrag-un]="hit@5=0.95 mrr@10=0.90 faithfulness=0.95 refusal_accuracy=0.5 correctness_f1=0.29"
    # hit@5 0.800, mrr@10 0.589, faithfulness 1.000 (40 of 120 questions, ingested fresh; 0.593 on a
    # knowledge base kept from older code). 2026-12-03, after Chinese began to be matched by its
    # characters too: was 0.800 / 0.562; 0.775 / 0.552 before a comparing
    # question's named documents were ranked first, 0.750 / 0.559 before a year named in the
    # question became a ranking constraint, and 0.700 / 0.544 before follow-ups were retrieved as
    # condensed and as asked.
    # correctness_f1 0.173 (2026-12-04, after a Chinese answer began to keep to the best passage)
    # 2026-12-06 (session 66), after score sheets flattened one cell to a line became tables:
    # hit@5 0.800, mrr@10 0.576 (a near-tie between other pages swapped as the keyword index's
    # statistics moved), correctness_f1 0.180 (the rows asked for, with their headers); 0.192
    # since session 67, a row said by the columns the question names
    [domainrag]="hit@5=0.77 mrr@10=0.55 faithfulness=0.95 correctness_f1=0.18"
    # all 500 labels (scoring them takes seconds): balanced accuracy 0.931, ROC-AUC 0.976 (in-sample:
    # the shipped scorer was trained on these labels; its 10-fold CV figure is 0.917)
    [begin]="scorer.balanced_accuracy=0.90 scorer.roc_auc=0.95"
    # the project's own Chinese FAQ banks (eval/sets; 2026-12-03, ingested fresh): hit@5 1.000,
    # mrr@10 0.874, faithfulness 1.000 (40 of 95 questions); hit@5 0.952, mrr@10 0.923,
    # faithfulness 1.000, refusal_accuracy 0.667 (all 27: 4 of the 6 off-topic questions refused)
    # correctness_f1 0.853 and 0.879 (2026-12-04, after a Chinese answer began to keep to the best
    # passage)
    # refusal_accuracy 0.333 on the credit-card FAQ's 40 (2 of its 6 off-topic questions; 0.167
    # until a curated entry under the FAQ threshold was judged by its passage, 2026-12-06: 9 of all
    # 15 refused instead of 3), correctness_f1 0.839
    [zh-card-faq]="hit@5=0.95 mrr@10=0.80 faithfulness=0.95 refusal_accuracy=0.3 correctness_f1=0.83"
    [zh-shop-faq]="hit@5=0.90 mrr@10=0.85 faithfulness=0.95 refusal_accuracy=0.5 correctness_f1=0.85"
)
QA_LIMIT=${KB_EVAL_LIMIT:-40}

qa_sets=()
qa_gates=()
f_sets=()
f_gates=()
for s in covid-faq emanual-qa mtrag-un domainrag begin zh-card-faq zh-shop-faq; do
    dir="$DATA/$s"
    [ -d "$OWN/$s" ] && dir="$OWN/$s"
    if [ ! -d "$dir" ]; then
        echo "eval gate: $s not found under $DATA; not gated"
        continue
    fi
    if [ -f "$dir/faithfulness.jsonl" ]; then
        f_sets+=("$dir")
        for g in ${GATES[$s]}; do f_gates+=(--fail-under "$s:$g"); done
    else
        qa_sets+=("$dir")
        for g in ${GATES[$s]}; do qa_gates+=(--fail-under "$s:$g"); done
    fi
done
if [ ${#qa_sets[@]} -eq 0 ] && [ ${#f_sets[@]} -eq 0 ]; then
    echo "eval gate: skipped (no known set under $DATA)"
    exit 0
fi

start=$(date +%s)
status=0
if [ ${#f_sets[@]} -gt 0 ]; then
    "$KB" eval "${f_sets[@]}" --out "$WORK/scorer.json" --no-progress "${f_gates[@]}" || status=1
fi
if [ ${#qa_sets[@]} -gt 0 ]; then
    # an evenly spaced subsample of $QA_LIMIT questions per set (unanswerable ones included)
    "$KB" eval "${qa_sets[@]}" --limit "$QA_LIMIT" --work-dir "$WORK/kbs" --out "$WORK/report.json" \
        --html "$WORK/report.html" --no-progress "${qa_gates[@]}" || status=1
fi
if [ $status -ne 0 ]; then
    echo "eval gate: FAILED after $(( $(date +%s) - start )) s (reports in $WORK)"
    exit 1
fi
echo "eval gate: passed in $(( $(date +%s) - start )) s (reports in $WORK)"
