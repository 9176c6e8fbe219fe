"""The harness end to end on a tiny self-made set, through `kb eval` (hashing embedder), plus the
report, compare and CI gate; one integration run with the real embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.datasets import QAItem
from eval.harness import check_citations, score_question
from indexes.embedders import get_embedder
from indexes.kbase import KnowledgeBase
from kb.cli import main as kb_main
from rag.types import Answer, Citation

DOCS = {
    "returns.md": "# Returns\n\nYou can return any product within 30 days of delivery for a full refund. "
    "Items must be unused and in their original packaging.\n",
    "shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days. Express shipping takes 1 business day "
    "and costs 15 dollars.\n",
    "warranty/tv.md": "# TV warranty\n\nEvery television comes with a two-year warranty covering manufacturing defects. "
    "The warranty does not cover damage caused by drops or water.\n",
    "store.txt": "Our store in Springfield opens at 9 am and closes at 6 pm from Monday to Saturday.\n",
}
FAQ = (
    'id,question,answer\n01,How do I reset my password?,"Click ""Forgot password"" on the sign-in page and follow the email link."\n'
    "02,Do you ship abroad?,Yes. We ship to 40 countries; international delivery takes 7 to 14 days.\n"
    "03,如何申请退款？,请在订单页面点击申请退款，三个工作日内处理。\n"
)
QUESTIONS = [
    {
        "id": "q1",
        "question": "How many days do I have to return a product?",
        "answers": ["30 days"],
        "gold": ["returns.md"],
        "lang": "en",
        "answerable": True,
    },
    {
        "id": "q2",
        "question": "How long does express shipping take?",
        "answers": ["1 business day"],
        "gold": ["shipping.md"],
        "lang": "en",
        "answerable": True,
    },
    {
        "id": "q3",
        "question": "Does the TV warranty cover water damage?",
        "answers": ["No"],
        "gold": ["warranty/tv.md"],
        "lang": "en",
        "answerable": True,
    },
    {
        "id": "q4",
        "question": "What about on Saturday?",
        "answers": [],
        "gold": ["store.txt"],
        "lang": "en",
        "answerable": True,
        "history": [
            {"role": "user", "content": "When does the Springfield store open?"},
            {"role": "assistant", "content": "At 9 am."},
        ],
    },
    {
        "id": "q5",
        "question": "How do I reset my password?",
        "answers": ["Click Forgot password on the sign-in page."],
        "gold": ["faq.csv#01"],
        "lang": "en",
        "answerable": True,
    },
    {
        "id": "q6",
        "question": "怎么申请退款？",
        "answers": ["在订单页面点击申请退款"],
        "gold": ["faq.csv#03"],
        "lang": "zh",
        "answerable": True,
    },
    {
        "id": "q7",
        "question": "What is the airspeed velocity of an unladen swallow?",
        "answers": [],
        "gold": [],
        "lang": "en",
        "answerable": False,
    },
]
JUDGED = [
    ("Standard shipping takes 3 to 5 business days.", 1),
    ("Express shipping costs 15 dollars.", 1),
    ("You can return products within 30 days.", 1),
    ("Express shipping is free for members in Paris.", 0),
    ("I love shipping, it is my favourite thing!", 0),
    ("Returns are accepted within 90 days at any Walmart store.", 0),
]


def make_sets(root: Path) -> tuple[Path, Path]:
    qa = root / "tiny-qa"
    for rel, text in DOCS.items():
        p = qa / "docs" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (qa / "docs" / "faq.csv").write_text(FAQ, encoding="utf-8")
    (qa / "questions.jsonl").write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS), encoding="utf-8"
    )
    fs = root / "tiny-judged"
    fs.mkdir()
    ctx = [DOCS["shipping.md"] + DOCS["returns.md"]]
    (fs / "faithfulness.jsonl").write_text(
        "\n".join(
            json.dumps(
                {"id": f"f{i}", "question": "", "context": ctx, "answer": a, "label": y, "source": "tiny"}
            )
            for i, (a, y) in enumerate(JUDGED)
        ),
        encoding="utf-8",
    )
    return qa, fs


@pytest.fixture()
def hashing_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    from kb.settings import reset_settings_cache

    monkeypatch.setenv("KB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    monkeypatch.setenv("KB_LLM", "extractive:")
    monkeypatch.setenv("KB_SCORER", "default")
    reset_settings_cache()
    yield
    reset_settings_cache()


def run_kb(args: list[str]) -> int:
    try:
        kb_main(args)
    except SystemExit as ex:
        return int(ex.code or 0)
    return 0


def test_kb_eval_end_to_end(tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    qa, fs = make_sets(tmp_path / "data")
    out, page, ragas = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "ragas.jsonl"
    rc = run_kb(
        [
            "eval",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--html",
            str(page),
            "--ragas",
            str(ragas),
            "--no-progress",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    res = json.loads(out.read_text(encoding="utf-8"))
    assert set(res["sets"]) == {"tiny-qa", "tiny-judged"}
    q = res["sets"]["tiny-qa"]
    assert q["kind"] == "qa" and q["n"] == 7
    assert set(q["retrieval"]) == {"hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    assert q["retrieval"]["hit@10"] >= 0.8  # 7 documents: the gold source is nearly always retrieved
    for k in (
        "faithfulness",
        "fully_supported",
        "citation_precision",
        "citation_recall",
        "correctness_f1",
        "refusal_accuracy",
        "handoff_rate",
    ):
        assert k in q["answers"], k
        assert 0.0 <= q["answers"][k] <= 1.0
    assert "scorer" not in q
    assert "total" in q["latency_ms"] and q["latency_ms"]["total"]["p95"] >= q["latency_ms"]["total"]["p50"]
    assert set(q["by_lang"]) == {"en", "zh"}
    recs = {r["id"]: r for r in q["questions"]}
    assert "hit@1" not in recs["q7"]["metrics"] and "refusal_accuracy" in recs["q7"]["metrics"]
    assert recs["q4"]["history"][0]["content"].startswith("When does")
    f = res["sets"]["tiny-judged"]
    assert f["kind"] == "faithfulness" and f["n"] == 6
    assert set(f["scorer"]) == {"balanced_accuracy", "f1_unsupported", "roc_auc", "threshold"}
    assert "lexical" in f["scorer_peers"] and "retrieval" not in f
    assert res["settings"]["embedder"] == "hashing:64"
    assert "numpy" in res["environment"]["packages"] and res["environment"]["python"]  # what else moves figures
    text = page.read_text(encoding="utf-8")
    assert (
        text.count("data:image/png;base64,") >= 3
        and "<details>" in text
        and "http" not in text.split("<body>")[0]
    )
    rows = [json.loads(line) for line in ragas.read_text(encoding="utf-8").splitlines()]
    answered = [r["id"] for r in q["questions"] if r["metrics"].get("answer_rate")]
    assert [r["id"] for r in rows] == answered and "q7" not in answered  # (q7: unanswerable, refused)
    assert {"question", "answer", "contexts", "ground_truths"} <= set(rows[0])

    # the gate: a threshold above the measured value fails with one line naming set, metric, value
    capsys.readouterr()
    rates = {**q["retrieval"], **{k: v for k, v in q["answers"].items() if isinstance(v, float)}}
    below = next(k for k, v in rates.items() if 0.0 < v < 1.0)  # a rate a gate of 1 fails on
    rc = run_kb(["eval", str(qa), "--fail-under", f"tiny-qa:{below}=1", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and f"eval gate failed: tiny-qa {below} = " in err and "< 1" in err
    rc = run_kb(["eval", str(fs), "--fail-under", "scorer.balanced_accuracy=0.0", "--json", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0 and json.loads(captured.out)["sets"]["tiny-judged"]["kind"] == "faithfulness"
    rc = run_kb(["eval", str(fs), "--fail-under", "hit@5=0.5", "--no-progress"])
    assert rc == 2 and "was not computed for any evaluated set" in capsys.readouterr().err

    # compare: a run against itself is not worse; a doctored run is
    rc = run_kb(["eval", "--compare", str(out), str(out)])
    assert rc == 0 and "nothing got significantly worse" in capsys.readouterr().out
    worse = json.loads(out.read_text(encoding="utf-8"))
    for rec in worse["sets"]["tiny-qa"]["questions"]:
        if "hit@10" in rec["metrics"]:
            rec["metrics"]["hit@10"] = 0.0
    worse["sets"]["tiny-qa"]["retrieval"]["hit@10"] = 0.0
    bad = tmp_path / "worse.json"
    bad.write_text(json.dumps(worse), encoding="utf-8")
    rc = run_kb(["eval", "--compare", str(out), str(bad)])
    assert rc == 0 and "significantly worse (p < 0.05): tiny-qa:hit@10" in capsys.readouterr().out


def test_a_work_dir_keeps_a_knowledge_base_per_embedder(
    tmp_path: Path, hashing_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `kb eval --work-dir` with KB_EMBEDDER set, then without: the second run found the first's index
    # ("index was built with ... run `kb reindex --kb eval-x`", a command for a KB_HOME it is not)
    from kb.settings import reset_settings_cache

    qa, _ = make_sets(tmp_path / "data")
    work = tmp_path / "work"
    args = ["eval", str(qa), "--work-dir", str(work), "--no-progress", "--out", str(tmp_path / "r.json")]
    assert run_kb(args) == 0, capsys.readouterr().err
    monkeypatch.setenv("KB_EMBEDDER", "hashing:32")
    reset_settings_cache()
    assert run_kb(args) == 0, capsys.readouterr().err
    kbs = sorted(p.name for p in work.iterdir())
    assert kbs[0] == "eval-tiny-qa" and len(kbs) == 2 and kbs[1].startswith("eval-tiny-qa--hashing-32-"), kbs
    assert KnowledgeBase(work, kbs[1]).load_live().embedder_id == "hashing:32"
    capsys.readouterr()
    assert run_kb(args) == 0  # again: its own knowledge base, nothing ingested anew
    assert "ingested 0 new, 0 updated, 5 unchanged" in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == kbs


def test_a_work_dir_keeps_a_knowledge_base_per_folder_of_a_set(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # the eval gate of a second clone, its eval/sets at another path, after a newer chunker: the set's
    # files were read again and failed as files of the names of documents read from the first
    # clone's folder ("faq.csv ... has the name of the document read from /tmp/fresh/...")
    import shutil

    first, _ = make_sets(tmp_path / "a")
    second = tmp_path / "b" / "tiny-qa"
    shutil.copytree(first, second)
    (second / "docs" / "faq.csv").write_text(FAQ + "\n", encoding="utf-8")  # read again, as a new chunker does
    work = tmp_path / "work"
    for qa in (first, second, first):
        rc = run_kb(["eval", str(qa), "--work-dir", str(work), "--no-progress", "--out", str(tmp_path / "r.json")])
        assert rc == 0, capsys.readouterr().err
    kbs = sorted(p.name for p in work.iterdir())
    assert kbs[0] == "eval-tiny-qa" and len(kbs) == 2 and kbs[1].startswith("eval-tiny-qa--"), kbs
    assert "ingested 0 new, 0 updated, 5 unchanged" in capsys.readouterr().err  # the first's, kept
    # a set whose folder moved (the old one gone) keeps the knowledge base
    shutil.rmtree(tmp_path / "b")
    moved = shutil.move(first, tmp_path / "c" / "tiny-qa")
    capsys.readouterr()
    assert run_kb(["eval", str(moved), "--work-dir", str(work), "--no-progress"]) == 0
    assert sorted(p.name for p in work.iterdir()) == kbs
    assert "ingested 0 new, 0 updated, 5 unchanged" in capsys.readouterr().err


def test_bad_dataset_is_a_one_line_error(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    qa, _ = make_sets(tmp_path)
    (qa / "questions.jsonl").write_text(json.dumps(dict(QUESTIONS[0], gold=["nope.md"])), encoding="utf-8")
    rc = run_kb(["eval", str(qa), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "gold id 'nope.md' does not exist in docs/" in err
    rc = run_kb(["eval", str(qa), "--fail-under", "hit5", "--no-progress"])
    assert rc == 2 and "is not METRIC=VALUE" in capsys.readouterr().err
    # refused before any work: a value that is no number or no rate, a set not evaluated, a
    # report path that is a folder, a question the assistant would refuse after the ingest
    (qa / "questions.jsonl").write_text(json.dumps(QUESTIONS[0]), encoding="utf-8")
    for gate, says in (("hit@5=1.2.3", "is not a number"), ("hit@5=2", "is not a rate between 0 and 1"),
                       ("other:hit@5=0.5", "which is not evaluated"),
                       ("hit@3=0.5", "is not a metric kb eval reports"),
                       ("answers.hit@5=0.5", "is not a metric kb eval reports"),
                       ("balanced_accuracy=0.5", "is reported for faithfulness sets only")):
        rc = run_kb(["eval", str(qa), "--fail-under", gate, "--no-progress", "--work-dir", str(tmp_path / "w")])
        assert rc == 2 and says in capsys.readouterr().err, gate
        assert not (tmp_path / "w").exists(), gate  # nothing ingested
    rc = run_kb(["eval", str(qa), "--out", str(tmp_path), "--no-progress"])
    assert rc == 2 and "is a folder" in capsys.readouterr().err
    rc = run_kb(["eval", str(qa), "--html", str(tmp_path), "--no-progress"])
    assert rc == 2 and "e.g. report.html" in capsys.readouterr().err
    # one file for two reports: the HTML page overwrote the JSON without a word
    same = tmp_path / "r" / "run.json"
    for twice in (["--out", str(same), "--html", str(same)],
                  ["--out", str(same), "--ragas", str(tmp_path / "r" / ".." / "r" / "run.json")]):
        rc = run_kb(["eval", str(qa), *twice, "--no-progress", "--work-dir", str(tmp_path / "w")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.count("\n") == 0 and f"{twice[0]} and {twice[2]} name the same file" in err, err
        assert "give each report a file of its own" in err and not (tmp_path / "w").exists()
    rc = run_kb(["eval", str(qa), "--work-dir", str(qa / "questions.jsonl"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and f"--work-dir {qa / 'questions.jsonl'} is a file" in err and "KB_HOME" not in err, err
    # a folder that takes no file (QA 2026-12-07: the whole eval ran, then an internal error)
    rc = run_kb(["eval", str(qa), "--out", "/proc/kb-report.json", "--no-progress", "--work-dir", str(tmp_path / "w")])
    assert rc == 2 and "cannot write a file in /proc" in capsys.readouterr().err and not (tmp_path / "w").exists()
    (qa / "questions.jsonl").write_text(json.dumps(dict(QUESTIONS[0], question="why " * 2000)), encoding="utf-8")
    rc = run_kb(["eval", str(qa), "--no-progress"])
    assert rc == 2 and "KB_MAX_QUESTION_CHARS" in capsys.readouterr().err
    for question in ("\u200b\u0000", "\ud800 refund?"):  # nothing to read; no text at all
        (qa / "questions.jsonl").write_text(json.dumps(dict(QUESTIONS[0], question=question)), encoding="utf-8")
        rc = run_kb(["eval", str(qa), "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "questions.jsonl" in err and err.count("\n") == 0, err


def test_a_bad_llm_spec_fails_before_any_set_is_ingested(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    qa, _ = make_sets(tmp_path / "data")
    work = tmp_path / "work"
    rc = run_kb(["eval", str(qa), "--llm", "nope:x", "--work-dir", str(work), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err.splitlines() == [
        "error: unknown LLM provider 'nope' in 'nope:x'; "
        "use one of extractive, scripted, openai-compatible, openai, transformers"
    ]
    assert not work.exists()  # nothing ingested


class _Lexical:
    id = "lex"
    threshold = 0.5

    def score(self, claim: str, passages: list[str]) -> float:
        words = set(claim.lower().rstrip(".").split())
        ctx = set(" ".join(passages).lower().replace(".", " ").split())
        return len(words & ctx) / len(words)


def _cite(n: int, text: str) -> Citation:
    return Citation(n=n, source=f"s{n}", locator="", title="", text=text, score=1.0)


def test_citation_precision_and_recall_hand_computed() -> None:
    # sentence 1 cites [1][2]: [1] supports it alone, [2] is irrelevant -> 1 of 2 precise
    # sentence 2 cites [2] which supports it; sentence 3 cites nothing -> recall 2/3
    answer = Answer(
        text="red apples grow. [1][2] blue sky above. [2] green grass grows.",
        citations=(_cite(1, "red apples grow here"), _cite(2, "a blue sky above us")),
        confidence=1.0,
        action="answer",
        timings_ms={},
    )
    r = check_citations(answer, _Lexical())
    assert [s["cited"] for s in r["sentences"]] == [[1, 2], [2], []]
    assert r["citation_recall"] == pytest.approx(2 / 3)
    assert r["citation_precision"] == pytest.approx(2 / 3)  # 2 precise of 3 citations
    # faithfulness judges against all cited passages: "green grass grows" is in neither
    assert r["faithfulness"] == pytest.approx(2 / 3) and r["fully_supported"] == 0.0


def test_citation_needed_jointly_counts_as_precise() -> None:
    answer = Answer(
        text="red blue. [1][2]",
        citations=(_cite(1, "red"), _cite(2, "blue")),
        confidence=1.0,
        action="answer",
        timings_ms={},
    )
    # each passage covers half of the sentence: below 0.9 alone, enough together
    strict = _Lexical()
    strict.threshold = 0.9
    r = check_citations(answer, strict)
    assert r["citation_recall"] == 1.0 and r["citation_precision"] == 1.0


def test_a_question_not_answered_scores_no_correctness() -> None:
    # "I cannot answer this reliably, handing you to a human agent" shares words with many references
    # ("You can answer..."): a refusal, hand-off or clarifying question to an answerable question
    # answers nothing and is not scored on its canned text
    item = QAItem("q1", "Can I answer the survey for my agent?", ("Yes, you can answer it for your agent.",),
                  ("doc.md",), "en", True)
    emb = get_embedder("hashing:64")
    canned = "I cannot answer this reliably from the knowledge base; I am handing you to a human agent."
    for action in ("refuse", "handoff", "clarify"):
        ans = Answer(text=canned, citations=(), confidence=0.1, action=action, timings_ms={})
        m = score_question(item, ans, _Lexical(), emb, 1.0)["metrics"]
        assert m["correctness_f1"] == 0.0 and m["correctness_similarity"] == 0.0, (action, m)
        assert m["answer_rate"] == 0.0
    said = Answer(text="Yes, you can answer it for your agent [1].", citations=(_cite(1, "you can answer it"),),
                  confidence=0.9, action="answer", timings_ms={})
    m = score_question(item, said, _Lexical(), emb, 1.0)["metrics"]
    assert m["correctness_f1"] == 1.0 and m["correctness_similarity"] > 0.9


def test_answers_composed_without_the_llm_are_counted() -> None:
    """An LLM's run whose server was down measured the offline composer on those questions: the
    records and the counts say which and how many."""
    from eval.harness import summarise_qa

    item = QAItem("q1", "Can I answer the survey for my agent?", ("Yes, you can answer it for your agent.",),
                  ("doc.md",), "en", True)
    emb = get_embedder("hashing:64")
    records = [
        score_question(item, Answer(text="Yes, you can answer it for your agent [1].",
                                    citations=(_cite(1, "you can answer it"),), confidence=0.9, action="answer",
                                    timings_ms={}, fallback=fallback, fallback_reason=reason), _Lexical(), emb, 1.0)
        for fallback, reason in ((None, None), ("extractive", "llm_timeout"))
    ]
    assert [r["fallback"] for r in records] == [None, "extractive"]
    assert summarise_qa(records, n_boot=10)["counts"]["llm_fallbacks"] == 1
    assert "llm_fallbacks" not in summarise_qa(records[:1], n_boot=10)["counts"]


@pytest.mark.integration
def test_kb_eval_with_the_real_embedder(
    tmp_path: Path, real_embedder: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kb.settings import reset_settings_cache

    monkeypatch.setenv("KB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KB_EMBEDDER", raising=False)
    monkeypatch.setenv("KB_SCORER", "default")
    reset_settings_cache()
    try:
        make_sets(tmp_path / "data")
        out = tmp_path / "r.json"
        rc = run_kb(["eval", str(tmp_path / "data"), "--out", str(out), "--no-progress"])
        assert rc == 0, capsys.readouterr().err
        res = json.loads(out.read_text(encoding="utf-8"))
        q = res["sets"]["tiny-qa"]
        assert q["retrieval"]["hit@5"] >= 0.8
        assert q["answers"]["faithfulness"] >= 0.5
        f = res["sets"]["tiny-judged"]
        assert f["scorer_detail"]["id"] == "default"
        assert f["scorer"]["roc_auc"] >= 0.75
    finally:
        reset_settings_cache()


def test_kb_eval_compare_refuses_what_is_not_a_report_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    for text, says in (("[]", "is not a report of `kb eval` (no 'sets')"), ("{bad", "is not a JSON report")):
        report.write_text(text, encoding="utf-8")
        assert run_kb(["eval", "--compare", str(report), str(report)]) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1


def test_kb_eval_compare_given_one_report_and_an_option_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # QA 2026-12-07: "kb eval --compare run1.json --fail-under hit@5=0.9" read --fail-under as report
    # B and said "--fail-under does not exist"
    report = tmp_path / "run1.json"
    report.write_text('{"sets": {"covid-faq": {"retrieval": {"hit@5": 0.9}}}}', encoding="utf-8")
    assert run_kb(["eval", "--compare", str(report), "--fail-under", "hit@5=0.9"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--compare takes two reports, and --fail-under came where one should be" in err
    assert "kb eval --compare A.json B.json" in err and len(err.splitlines()) == 1


def test_kb_eval_compare_refuses_two_reports_of_no_common_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # nothing compared said "nothing got significantly worse" and exited 0: a CI gate passed
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"sets": {"covid-faq": {"retrieval": {"hit@5": 0.9}}}}', encoding="utf-8")
    b.write_text('{"sets": {"mtrag-un": {"retrieval": {"hit@5": 0.9}}}}', encoding="utf-8")
    assert run_kb(["eval", "--compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert "share no evaluation set (covid-faq against mtrag-un)" in err and len(err.splitlines()) == 1


def test_kb_eval_with_kb_needs_no_docs_and_checks_gold_against_its_sources(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # `kb eval SET --kb NAME` was refused "SET has no docs/ folder", and a gold source the knowledge
    # base does not hold would have read as a retrieval miss
    qa, _ = make_sets(tmp_path / "data")
    assert run_kb(["ingest", str(qa / "docs"), "--kb", "shop"]) == 0, capsys.readouterr().err
    asked = tmp_path / "asked"
    asked.mkdir()
    (asked / "questions.jsonl").write_text((qa / "questions.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "r.json"
    capsys.readouterr()
    rc = run_kb(["eval", str(asked), "--kb", "shop", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0, err
    res = json.loads(out.read_text(encoding="utf-8"))
    assert res["sets"]["asked"]["n"] == 7 and res["settings"]["kb"] == "shop"
    assert res["sets"]["asked"]["retrieval"]["hit@10"] >= 0.8
    wrong = [dict(QUESTIONS[0], gold=["retruns.md"]), dict(QUESTIONS[1], gold=["nowhere.md"]), QUESTIONS[2]]
    (asked / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in wrong), encoding="utf-8")
    rc = run_kb(["eval", str(asked), "--kb", "shop", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0, err
    assert "gold id 'retruns.md' of question 'q1' is not a source of knowledge base 'shop'" in err
    assert "(did you mean 'returns.md'?)" in err and "nor a gold id of 1 more question" in err
    rc = run_kb(["eval", str(asked), "--kb", "nokb", "--no-progress"])
    assert rc != 0 and "knowledge base 'nokb' has no published index" in capsys.readouterr().err


def test_a_document_that_fails_to_ingest_is_printed_and_reported(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was dropped without a word, and its questions counted as retrieval misses
    qa, _ = make_sets(tmp_path / "data")
    (qa / "docs" / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    out = tmp_path / "r.json"
    rc = run_kb(["eval", str(qa), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert any(ln.startswith("  failed: broken.pdf: ") for ln in captured.err.splitlines()), captured.err
    failed = json.loads(out.read_text(encoding="utf-8"))["sets"]["tiny-qa"]["ingest_failed"]
    assert [f["source"] for f in failed] == ["broken.pdf"] and failed[0]["error"]
    assert "ingest failed for 1 document: broken.pdf" in captured.out
    # a question whose gold document failed: an error, not a miss
    asks = [*QUESTIONS, dict(QUESTIONS[0], id="q8", gold=["broken.pdf"])]
    (qa / "questions.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in asks), encoding="utf-8")
    rc = run_kb(["eval", str(qa), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and lines[-1].startswith("error: tiny-qa: 'broken.pdf', gold document of question 'q8' failed"), lines
    assert any(ln.startswith("  failed: broken.pdf: ") for ln in lines)


@pytest.mark.parametrize(
    ("table", "gold", "says"),
    [
        # a row ingestion skipped (no answer): its question was scored a miss, exit 0
        ("id,question,answer\n01,How much is shipping?,Free over 50 euros.\n02,Can I pay by card?,\n",
         "faq.csv#02", "gold id 'faq.csv#02' of question 'q9' is not a source of the knowledge base made of tiny-qa/docs"),
        # no id column: ingestion names the rows by a hash, and the table's name was taken as the gold
        ("question,answer\nHow much is shipping?,Free over 50 euros.\n",
         "faq.csv", "gold id 'faq.csv' of question 'q9' is not a source of the knowledge base made of tiny-qa/docs "
         "(each row of it is a source: 'faq.csv#"),
        # another delimiter: the set's reader saw no id column, ingestion read the rows
        ("id;question;answer\n01;How much is shipping?;Free over 50 euros.\n", "faq.csv#01", None),
    ],
)
def test_kb_eval_checks_faq_gold_ids_against_the_rows_ingestion_made(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str], table: str, gold: str, says: str | None
) -> None:
    qa, _ = make_sets(tmp_path / "data")
    (qa / "docs" / "faq.csv").write_text(table, encoding="utf-8")
    asks: list[dict[str, Any]] = [q for q in QUESTIONS if not any(str(g).startswith("faq.csv") for g in q["gold"])]  # type: ignore[attr-defined]
    asks.append(dict(QUESTIONS[0], id="q9", question="How much is shipping?", gold=[gold]))
    (qa / "questions.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in asks), encoding="utf-8")
    out = tmp_path / "r.json"
    rc = run_kb(["eval", str(qa), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    if says is None:
        assert rc == 0, err
        q9 = next(q for q in json.loads(out.read_text(encoding="utf-8"))["sets"]["tiny-qa"]["questions"] if q["id"] == "q9")
        assert q9["metrics"]["hit@10"] == 1.0
        return
    assert rc == 2, err
    assert says in err.strip().splitlines()[-1], err
    if gold == "faq.csv#02":  # what kb ingest says of the table, kb eval says too
        assert "  warning: faq.csv: 1 row without an answer skipped ('02')" in err, err


def test_kb_eval_of_a_folder_names_the_folders_it_does_not_evaluate(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # parent/b held a misnamed question.jsonl: only the other sets ran, and the gates passed
    qa, _ = make_sets(tmp_path / "data")
    (tmp_path / "data" / "b" / "docs").mkdir(parents=True)
    (tmp_path / "data" / "b" / "question.jsonl").write_text((qa / "questions.jsonl").read_text(encoding="utf-8"))
    (tmp_path / "data" / "c" / "docs").mkdir(parents=True)
    (tmp_path / "data" / "results").mkdir()
    rc = run_kb(["eval", str(tmp_path / "data"), "--limit", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0, err
    warned = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert warned == [
        f"warning: {tmp_path / 'data' / 'b'} is not evaluated: it holds question.jsonl but no questions.jsonl or "
        "faithfulness.jsonl (a set folder holds questions.jsonl + docs/, or faithfulness.jsonl)",
        f"warning: {tmp_path / 'data' / 'c'} is not evaluated: it holds docs/ but no questions.jsonl (a set folder "
        "holds questions.jsonl + docs/, or faithfulness.jsonl)",
    ], err


def test_a_gate_on_a_metric_a_set_has_no_questions_for_says_why(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "use a metric name from the report, e.g. hit@5" of hit@5 itself
    qa, _ = make_sets(tmp_path / "data")
    unans = [q for q in QUESTIONS if not q["answerable"]]
    (qa / "questions.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in unans), encoding="utf-8")
    rc = run_kb(["eval", str(qa), "--fail-under", "tiny-qa:hit@5=0.5", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and "metric 'hit@5' was not computed for tiny-qa: it needs answerable questions" in err, err


def _report(path: Path, hits: dict[str, float]) -> Path:
    """A report of set "s" whose questions have these hit@10 scores."""
    qs = [{"id": i, "metrics": {"hit@10": v}} for i, v in hits.items()]
    mean = sum(hits.values()) / len(hits)
    path.write_text(json.dumps({"sets": {"s": {"kind": "qa", "retrieval": {"hit@10": mean}, "questions": qs}}}),
                    encoding="utf-8")
    return path


def test_compare_fails_on_worse_only_when_asked_and_refuses_a_gate_without_a_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "significantly worse (p < 0.05): ..." exited 0, so no CI job could fail on it; --fail-under
    # with only --compare was ignored
    a = _report(tmp_path / "a.json", {f"q{i}": 1.0 for i in range(30)})
    b = _report(tmp_path / "b.json", {f"q{i}": 0.0 for i in range(30)})
    assert run_kb(["eval", "--compare", str(a), str(b)]) == 0
    assert "significantly worse (p < 0.05): s:hit@10" in capsys.readouterr().out
    assert run_kb(["eval", "--compare", str(a), str(b), "--fail-on-worse"]) == 1
    assert "eval compare failed: significantly worse (p < 0.05): s:hit@10" in capsys.readouterr().err
    assert run_kb(["eval", "--compare", str(a), str(a), "--fail-on-worse"]) == 0
    assert run_kb(["eval", "--compare", str(b), str(a), "--fail-on-worse"]) == 0  # better is no failure
    capsys.readouterr()
    for gate in (["--fail-under", "hit@10=0.5"], ["--fail-over", "handoff_rate=0.5"]):
        assert run_kb(["eval", "--compare", str(a), str(b), *gate]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{gate[0]} gates a run of data sets" in err and "--fail-on-worse" in err and err.count("\n") == 0
    assert run_kb(["eval", "--fail-on-worse", str(tmp_path)]) == 2
    assert "--fail-on-worse needs --compare" in capsys.readouterr().err
    # two runs of different questions: said, and no test to pass
    other = _report(tmp_path / "c.json", {f"x{i}": 1.0 for i in range(9)})
    assert run_kb(["eval", "--compare", str(a), str(other)]) == 0
    out = capsys.readouterr().out
    assert "s (0 of 30/9 question ids in common; the sets differ)" in out
    assert "nothing got significantly worse" not in out and "no question in common" in out
    assert run_kb(["eval", "--compare", str(a), str(other), "--fail-on-worse"]) == 2
    assert "0 of 30/9 question ids in common" in capsys.readouterr().err


def test_lower_is_better_metrics_are_capped_by_fail_over(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # --fail-under false_refusal_rate=0.1 failed a run whose rate was 0 ("0.0000 < 0.1")
    from kb.commands.evaluate import GateError, check_gates, parse_gates

    with pytest.raises(GateError, match=r"a lower false_refusal_rate is better.*--fail-over s:false_refusal_rate=0.1"):
        parse_gates(["s:false_refusal_rate=0.1"])
    with pytest.raises(GateError, match="a lower handoff_rate is better"):
        parse_gates(["answers.handoff_rate=0.1"])
    with pytest.raises(GateError, match=r"a higher hit@5 is better.*--fail-under hit@5=0.8"):
        parse_gates(["hit@5=0.8"], over=True)
    gates = parse_gates(["false_refusal_rate=0.1"], over=True) + parse_gates(["hit@5=0.8"])
    good = {"sets": {"s": {"retrieval": {"hit@5": 0.9}, "answers": {"false_refusal_rate": 0.0}}}}
    assert check_gates(good, gates) == []
    bad = {"sets": {"s": {"retrieval": {"hit@5": 0.7}, "answers": {"false_refusal_rate": 0.25}}}}
    assert check_gates(bad, gates) == [
        "eval gate failed: s false_refusal_rate = 0.2500 > 0.1",
        "eval gate failed: s hit@5 = 0.7000 < 0.8",
    ]
    qa, _ = make_sets(tmp_path / "data")
    rc = run_kb(["eval", str(qa), "--fail-under", "false_refusal_rate=0.1", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--fail-over false_refusal_rate=0.1" in err and err.count("\n") == 0
    rc = run_kb(["eval", str(qa), "--fail-over", "handoff_rate=1", "--fail-over", "tiny-qa:false_refusal_rate=1",
                 "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    rc = run_kb(["eval", str(qa), "--fail-over", "false_refusal_rate=-0", "--fail-over", "handoff_rate=0",
                 "--fail-over", "refusal_accuracy=0.5", "--no-progress"])
    assert rc == 2 and "--fail-over 'refusal_accuracy=0.5': a higher refusal_accuracy" in capsys.readouterr().err


def test_a_gated_run_whose_llm_failed_fails_and_every_report_says_so(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # `kb eval --llm ... --fail-under` with the LLM server down measured the extractive fallback,
    # passed the gate (exit 0) and said so only in the JSON's counts.llm_fallbacks
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on: every call is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = f"openai-compatible:http://127.0.0.1:{port}/v1#down"
    qa, _ = make_sets(tmp_path / "data")
    page = tmp_path / "r.html"
    args = ["eval", str(qa), "--llm", llm, "--no-progress", "--work-dir", str(tmp_path / "w")]
    rc = run_kb([*args, "--html", str(page), "--fail-under", "hit@10=0", "--fail-over", "handoff_rate=1"])
    captured = capsys.readouterr()
    assert rc == 3, captured.err
    said = [ln for ln in captured.out.splitlines() if "composed offline" in ln]
    assert len(said) == 1 and said[0].startswith("  warning: ") and said[0].endswith(
        f"answers were composed offline because the LLM failed: these figures do not measure {llm}"), captured.out
    n, _, m = said[0].split("warning: ")[1].partition(" answers")[0].partition(" of ")
    assert 0 < int(n) <= int(m) <= len(QUESTIONS), said
    assert [ln for ln in captured.err.splitlines() if ln.startswith("eval gate failed")] == [
        f"eval gate failed: tiny-qa: {said[0].split('warning: ')[1]}"
    ], captured.err
    text = page.read_text(encoding="utf-8")
    assert text.count(f"composed offline because the LLM failed: these figures do not measure {llm}") == 2
    # the same gate on the offline composer asked for (KB_LLM=extractive:) passes; a run without a
    # gate reports and exits 0
    assert run_kb(["eval", str(qa), "--no-progress", "--work-dir", str(tmp_path / "w"), "--fail-under", "hit@10=0"]) == 0
    assert "composed offline" not in capsys.readouterr().out
    assert run_kb([*args, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["sets"]["tiny-qa"]["counts"]["llm_fallbacks"] == int(n)
    assert f"warning: tiny-qa: {n} of {m} answers were composed offline" in captured.err
