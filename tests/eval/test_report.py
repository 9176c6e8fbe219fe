"""The report's pieces without a run: the order of the worst questions, the pairing a compare
says, the warning of a faithfulness set of one label."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eval.datasets import FaithfulnessSet, FaithItem
from eval.harness import environment, evaluate_faithfulness
from eval.report import _badness, compare_reports, render_compare_text, render_html, render_summary_text
from rag.support import LexicalScorer


def test_worst_questions_put_failures_first_and_correct_refusals_last() -> None:
    # an answerable question that was refused came sixth, after correct refusals
    def q(qid: str, answerable: bool, **m: float) -> dict[str, object]:
        return {"id": qid, "answerable": answerable, "metrics": m}

    qs = [
        q("right-refusal-1", False, refusal_accuracy=1.0, handoff_rate=0.0),
        q("good", True, **{"hit@10": 1.0, "mrr@10": 1.0, "faithfulness": 1.0, "correctness_f1": 0.4,
                           "false_refusal_rate": 0.0}),
        q("right-refusal-2", False, refusal_accuracy=1.0, handoff_rate=1.0),
        q("refused", True, **{"hit@10": 1.0, "mrr@10": 1.0, "correctness_f1": 0.0, "false_refusal_rate": 1.0}),
        q("answered-unanswerable", False, refusal_accuracy=0.0),
        q("missed", True, **{"hit@10": 0.0, "mrr@10": 0.0, "faithfulness": 1.0, "correctness_f1": 0.2,
                             "false_refusal_rate": 0.0}),
    ]
    order = [x["id"] for x in sorted(qs, key=_badness)]
    assert order[:4] == ["answered-unanswerable", "refused", "missed", "good"], order
    assert set(order[4:]) == {"right-refusal-1", "right-refusal-2"}


def _run(ids: list[str]) -> dict[str, object]:
    qs = [
        {"id": i, "lang": "en", "answerable": True, "question": "Why?", "gold": ["a.md"], "action": "answer",
         "answer": "Because.", "metrics": {"hit@10": 1.0}}
        for i in ids
    ]
    return {"sets": {"s": {"kind": "qa", "n": len(ids), "retrieval": {"hit@10": 1.0}, "questions": qs}}}


def test_compare_says_how_many_questions_it_paired() -> None:
    # runs of different questions said "nothing got significantly worse"
    a, b = _run([f"a{i}" for i in range(24)]), _run([f"b{i}" for i in range(9)])
    cmp = compare_reports(a, b, n_resamples=200)
    assert cmp["paired"] == {"s": {"a": 24, "b": 9, "common": 0}}
    text = render_compare_text(cmp)
    assert "s (0 of 24/9 question ids in common; the sets differ)" in text
    assert "nothing got significantly worse" not in text
    assert "nothing tested for significance in s: no question in common" in text
    page = render_html(b, compare=cmp)
    assert "s: 0 of 24/9 question ids in common; the sets differ" in page
    same = compare_reports(a, _run([f"a{i}" for i in range(20)]), n_resamples=200)
    text = render_compare_text(same)
    assert "s (20 of 24/20 question ids in common)" in text and "nothing got significantly worse" in text
    # reports without per-question records: nothing to count, nothing said
    bare = {"sets": {"s": {"retrieval": {"hit@10": 1.0}}}}
    assert render_compare_text(compare_reports(bare, bare)).splitlines()[1] == "s"


def test_compare_says_where_the_two_runs_environments_differ() -> None:
    # the same code gave other near-ties on another machine and install: a comparison says so
    env = {"python": "3.11.7", "cpu": "Xeon", "simd": ["avx2", "fma"], "packages": {"numpy": "2.3.1", "faiss-cpu": "1.12.0"}}
    other = {**env, "simd": ["avx2", "fma", "avx512f"], "packages": {"numpy": "2.4.6", "faiss-cpu": "1.12.0", "torch": "2.13.0"}}
    a, b = _run(["q1", "q2"]), _run(["q1", "q2"])
    assert compare_reports({**a, "environment": env}, {**b, "environment": env}, n_resamples=50)["environment"] == []
    cmp = compare_reports({**a, "environment": env}, {**b, "environment": other}, n_resamples=50)
    assert cmp["environment"] == ["simd: ['avx2', 'fma'] -> ['avx2', 'fma', 'avx512f']", "numpy: 2.3.1 -> 2.4.6", "torch: - -> 2.13.0"]
    assert render_compare_text(cmp).splitlines()[1].startswith("the two runs' environments differ: simd:")
    assert compare_reports(a, {**b, "environment": other}, n_resamples=50)["environment"] == []  # one recorded none
    # what a run records
    here = environment()
    assert here["python"].count(".") == 2 and here["packages"]["numpy"] == np.__version__
    assert set(here["simd"]) <= {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"}


def test_a_faithfulness_set_of_one_label_is_warned_about(tmp_path: Path) -> None:
    # all labels 1 scored balanced accuracy 1.000 and said nothing
    items = tuple(
        FaithItem(f"f{i}", "", ("Express shipping costs 15 dollars.",), a, 1)
        for i, a in enumerate(["Express shipping costs 15 dollars.", "It costs 15 dollars.", "Shipping is free."])
    )
    res = evaluate_faithfulness(FaithfulnessSet("ones", tmp_path, items), {"lexical": LexicalScorer()}, n_boot=20)
    assert len(res["warnings"]) == 1
    assert "every label is 1 (supported)" in res["warnings"][0]
    assert "balanced accuracy and ROC AUC mean nothing" in res["warnings"][0]
    text = render_summary_text({"sets": {"ones": res}})
    assert "  warning: every label is 1 (supported)" in text
    mixed = (*items, FaithItem("f9", "", ("Express shipping costs 15 dollars.",), "Penguins fly.", 0))
    assert "warnings" not in evaluate_faithfulness(
        FaithfulnessSet("mixed", tmp_path, mixed), {"lexical": LexicalScorer()}, n_boot=20
    )


def test_the_ragas_export_holds_answered_questions_only(tmp_path: Path) -> None:
    # documented as one row per answered question, it held refusals too, their canned reply as the answer
    import json

    from eval.report import write_ragas

    def q(qid: str, action: str, answer: str) -> dict[str, object]:
        return {"id": qid, "question": f"{qid}?", "action": action, "answer": answer, "references": ["ref"],
                "citations": [{"text": "cited passage"}], "passages": [{"text": "a passage"}]}

    qs = [q("a", "answer", "Thirty days [1]."), q("r", "refuse", "I cannot answer this reliably."),
          q("h", "handoff", "Let me put you through to a colleague."), q("c", "clarify", "Which card do you mean?"),
          q("f", "faq", "Yes, within 30 days."), q("e", "handoff", ""), q("blank", "answer", " ")]
    result = {"sets": {"s": {"kind": "qa", "questions": qs}, "j": {"kind": "faithfulness", "questions": []}}}
    out = tmp_path / "ragas.jsonl"
    assert write_ragas(result, out) == 2
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["set"], r["id"], r["response"]) for r in rows] == [("s", "a", "Thirty days [1]."),
                                                                  ("s", "f", "Yes, within 30 days.")]
    assert rows[0]["contexts"] == ["cited passage"] and rows[0]["reference"] == "ref"


def test_a_document_that_failed_to_ingest_is_named_once_in_the_html_report() -> None:
    # "tariffs.pdf: tariffs.pdf: not a PDF file (no %PDF header)": the error names the file already
    failed = [
        {"source": "tariffs.pdf", "error": "tariffs.pdf: not a PDF file (no %PDF header); re-export it as PDF"},
        {"source": "sub/diagram.png", "error": "diagram.png: unsupported file type .png"},
        {"source": "notes.txt", "error": "cannot read it (permission denied)"},
    ]
    run = _run(["q1"])
    run["sets"]["s"]["ingest_failed"] = failed  # type: ignore[index]
    page = render_html(run)
    items = page.split("failed to ingest")[1].split("</ul>")[0]
    assert items.count("<li>") == 3 and "tariffs.pdf: tariffs.pdf" not in items and "diagram.png: diagram" not in items
    assert "<li>tariffs.pdf: not a PDF file (no %PDF header); re-export it as PDF</li>" in items
    assert "<li>sub/diagram.png: unsupported file type .png</li>" in items
    assert "<li>notes.txt: cannot read it (permission denied)</li>" in items
