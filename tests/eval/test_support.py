"""Faithfulness scorers: the shipped JSON model loads and scores, features, the registry, the NLI
cross-encoder wiring (a tiny CrossEncoder built in the test) and the LLM judge (scripted LLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.errors import ConfigError
from rag.support import (
    DEFAULT_MODEL,
    EMBEDDING_FEATURES,
    LEXICAL_FEATURES,
    LexicalScorer,
    LLMJudgeScorer,
    NLIScorer,
    TrainedScorer,
    get_scorer,
    lexical_features,
    load_model,
)

CTX = ["Express shipping takes 1 business day and costs 15 dollars. Standard shipping is free."]


def test_shipped_model_is_json_and_loads() -> None:
    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    assert data["format"] == "kb-support-logreg/1"
    heads = load_model(str(DEFAULT_MODEL))
    assert heads["lexical"].features == LEXICAL_FEATURES
    cv = data["cross_validation"]["lexical"]
    # measured on labels the model was not trained on: beats the lexical peer
    assert cv["balanced_accuracy"] > cv["lexical_peer_balanced_accuracy"] + 0.02


def test_default_scorer_separates_supported_from_invented(fake_embedder: object) -> None:
    s = get_scorer("default", fake_embedder)
    assert isinstance(s, TrainedScorer) and s.threshold == 0.5
    assert s.head_name == "lexical"
    good = s.score("Express shipping takes 1 business day.", CTX)
    bad = s.score("Express shipping takes 3 weeks and is free in Paris, I think.", CTX)
    assert 0.0 <= bad < 0.5 <= good <= 1.0
    assert s.score("...", CTX) == 1.0 and s.score("Anything.", []) == 0.0


def test_a_sentence_quoted_with_a_link_is_supported(fake_embedder: object) -> None:
    # mtrag-un: a sentence quoted whole from its passage scored 0.50 and its twin 0.46 (dropped),
    # the "?" of the address it links to read as a question
    page = (
        "To learn more about security controls across IBM Cloud, see [How do I know that my data is "
        "safe?](https://cloud.ibm.com/docs/overview?topic=overview-security).\n## Data encryption"
    )
    claim = page.split("\n")[0]
    assert get_scorer("default", fake_embedder).score(claim, [page, CTX[0]]) > 0.9


def _embedding_model(path: Path, embedder_id: str) -> Path:
    """The shipped lexical head plus an embedding head that only looks at emb_max_sentence."""
    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    feats = list(LEXICAL_FEATURES + EMBEDDING_FEATURES)
    coef = [0.0] * len(feats)
    coef[feats.index("emb_max_sentence")] = 5.0
    data["heads"]["embedding"] = {
        "features": feats,
        "mean": [0.5] * len(feats),
        "scale": [1.0] * len(feats),
        "coef": coef,
        "intercept": 0.0,
        "threshold": 0.5,
        "embedder": embedder_id,
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_embedding_head_is_used_with_its_embedder_only(tmp_path: Path, fake_embedder: object) -> None:
    from indexes.embedders import get_embedder

    model = _embedding_model(tmp_path / "m.json", "hashing:64")
    s = get_scorer(f"trained:{model}", fake_embedder)
    assert s.head_name == "embedding"  # type: ignore[attr-defined]
    same = s.score("Express shipping takes 1 business day and costs 15 dollars.", CTX)
    other = s.score("Penguins live in Antarctica.", CTX)
    assert same > 0.5 > other
    s2 = get_scorer(f"trained:{model}", get_embedder("hashing:128"))
    assert s2.head_name == "lexical"  # type: ignore[attr-defined]


@pytest.mark.integration
def test_default_scorer_with_minilm(real_embedder: object) -> None:
    s = get_scorer("default", real_embedder)
    assert s.score("Express shipping takes one business day.", CTX) > s.score(
        "Shipping to Mars takes a year.", CTX
    )


def test_features() -> None:
    f = lexical_features("Express shipping costs 20 dollars in Paris.", CTX)
    assert set(f) == set(LEXICAL_FEATURES)
    assert f["novel_numbers"] == 1.0  # 20 is not in the context (15 is)
    assert f["novel_capitalised"] == 1.0  # Paris
    assert 0 < f["coverage"] < 1
    f2 = lexical_features("Express shipping takes 1 business day.", CTX)
    assert f2["coverage"] == 1.0 and f2["trigram_precision"] == 1.0 and f2["novel_numbers"] == 0.0
    neg = lexical_features("Standard shipping is not free.", CTX)
    assert neg["negation_mismatch"] == 1.0
    zh = lexical_features("退货需要三十天。", ["退货需要三十天内申请。"])
    assert zh["coverage"] == 1.0 and zh["bigram_precision"] == 1.0


def test_model_file_errors(tmp_path: Path, fake_embedder: object) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        get_scorer(f"trained:{tmp_path / 'none.json'}", fake_embedder).score("a b", ["a b"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a kb-support-logreg/1 file"):
        get_scorer(f"trained:{bad}", fake_embedder).score("a b", ["a b"])
    only_emb = _embedding_model(tmp_path / "emb.json", "sentence-transformers:all-MiniLM-L6-v2")
    data = json.loads(only_emb.read_text(encoding="utf-8"))
    del data["heads"]["lexical"]
    only_emb.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="needs embedder sentence-transformers:all-MiniLM-L6-v2"):
        get_scorer(f"trained:{only_emb}", fake_embedder).score("a b", ["a b"])


def test_registry() -> None:
    assert isinstance(get_scorer("lexical"), LexicalScorer)
    assert get_scorer("lexical").threshold == pytest.approx(0.79)
    assert isinstance(get_scorer("nli:/some/path"), NLIScorer)
    assert isinstance(get_scorer("llm-judge:scripted:yes"), LLMJudgeScorer)
    with pytest.raises(ConfigError, match="unknown faithfulness scorer"):
        get_scorer("magic")
    with pytest.raises(ConfigError, match="names no model"):
        get_scorer("nli:")


def test_llm_judge_with_a_scripted_llm() -> None:
    from rag.llm import ScriptedLLM

    llm = ScriptedLLM(["Yes.", "no", "maybe"])
    judge = LLMJudgeScorer("scripted:", llm=llm)
    assert judge.score("Express shipping costs 15 dollars.", CTX) == 1.0
    assert judge.score("Express shipping is free.", CTX) == 0.0
    assert judge.score("Something.", CTX) == 0.0 and judge.unparsed == 1
    prompt = llm.calls[0][0]["content"]
    assert "Express shipping costs 15 dollars." in prompt and CTX[0] in prompt
    assert get_scorer("llm-judge:scripted:yes").score("x y", ["x y"]) == 1.0


def _tiny_cross_encoder(path: Path, num_labels: int, bias: list[float]) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "shipping", "free", "is", "express", "the"]
    (path / "vocab.txt").parent.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizer(str(path / "vocab.txt"))
    labels = {1: {0: "LABEL_0"}, 3: {0: "contradiction", 1: "entailment", 2: "neutral"}}[num_labels]
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=64,
        id2label=labels,  # num_labels is len(id2label) (not a config field in transformers 5)
        label2id={v: k for k, v in labels.items()},
    )
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))


def test_nli_scorer_wiring_with_a_tiny_cross_encoder(tmp_path: Path) -> None:
    three = tmp_path / "nli3"
    _tiny_cross_encoder(three, 3, [0.0, 8.0, 0.0])  # always "entailment"
    s = get_scorer(f"nli:{three}")
    assert s.score("express shipping is free", ["shipping is free", "the express"]) > 0.99
    one = tmp_path / "hhem"
    _tiny_cross_encoder(one, 1, [-8.0])  # HHEM-style single logit: never consistent
    assert get_scorer(f"nli:{one}").score("express shipping is free", ["shipping is free"]) < 0.01
    with pytest.raises(ConfigError, match="cannot load NLI cross-encoder"):
        get_scorer(f"nli:{tmp_path / 'missing'}").score("a", ["b"])


def test_negation_is_read_as_words_and_a_word_for_word_quote_keeps_the_passages() -> None:
    # 特别 (special), 区别 (difference), 非常 (very), 未来 (future), 不同 (different) negate nothing
    pairs = [("特别招生计划的报名时间与去年相同。", "专项招生计划的报名时间与去年相同"), ("两者的区别非常小。", "两者的差异很小"),
             ("未来三年内有效。", "此后三年内有效"), ("不同专业的要求不同。", "各专业的要求各异")]
    for claim, context in pairs:
        assert lexical_features(claim, [context])["negation_mismatch"] == 0.0, claim
    said = "所有专业都接受申请。"
    for negated in ("别担心，所有专业都不接受申请。", "所有专业都没有接受申请。", "所有专业都未接受申请。"):
        assert lexical_features(negated, [said])["negation_mismatch"] == 1.0, negated
    # a page read as one sentence whose lines the passage keeps apart: the claim stands in it word for
    # word, so the negation is the passage's own ("高考特别" on a menu line; "不" of a list item)
    page = ["名单 序号 1 第一中学 2 第二中学 分享到：\n优势专业 高考特别 圆梦计划 不限地区"]
    claim = "名单 序号 1 第一中学 2 第二中学 分享到：优势专业 高考特别 圆梦计划 不限地区"
    assert lexical_features(claim, page)["negation_mismatch"] == 0.0
    assert lexical_features("Standard shipping is not free.", CTX)["negation_mismatch"] == 1.0


ROAMING_COSTS = (
    "## What it costs\n- Unlimited plan: roaming in Zone 1 is included at no extra cost.\n"
    "- Essential and Plus plans: roaming in Zone 1 costs £2.50 a day with an EU Roam Pass.\n"
    "- Zone 3: no passes are available. You pay per use at the rates in our Price Guide.\n"
    "A day runs from midnight to midnight UK time."
)


def test_each_clause_of_a_list_said_in_one_sentence_keeps_its_own_negation() -> None:
    # a QA round's "How much is the EU Roam Pass?" was handed off: the costs list, said as one
    # sentence, was held whole to the line sharing most of its words, which says no "no"
    said = ("What it costs: Unlimited plan: roaming in Zone 1 is included at no extra cost; Essential and Plus plans: "
            "roaming in Zone 1 costs £2.50 a day with an EU Roam Pass; Zone 3: no passes are available — You pay per "
            "use at the rates in our Price Guide.")
    assert lexical_features(said, [ROAMING_COSTS])["negation_mismatch"] == 0.0
    # a clause that negates what its own line does not is still caught, whichever clause it is
    lost = said.replace("costs £2.50 a day", "does not cost £2.50 a day")
    assert lexical_features(lost, [ROAMING_COSTS])["negation_mismatch"] == 1.0


@pytest.mark.parametrize(("claim", "asks"), [
    ("Is express shipping free?", True),
    ("Is it free? Standard shipping is free.", True),
    ("运费谁出？质量问题由商城承担。", True),
    # a label that ends in a question mark asks nothing: a list of steps read as one sentence
    ("On the sign-in page, click Forgot password?; Enter your email address.", False),
    ('Click "Forgot password?" and enter your email.', False),
    ("点击“忘记密码？”，然后输入邮箱。", False),
    ("On the sign-in page, click Forgot password? and follow the link.", False),
    # nor does the "?" that starts an address's query string
    ("For details, see [Data safety](https://cloud.example.com/docs/overview?topic=overview-security).", False),
    ("Open www.example.com/help?lang=en to read more.", False),
    ("Is it at https://example.com/help?lang=en?", True),
])
def test_a_claim_asks_where_a_question_mark_ends_a_sentence(claim: str, asks: bool) -> None:
    # "Resetting your password: On the sign-in page, click Forgot password?; Enter your email ..."
    # was dropped as unsupported (0.27 against 0.84 without the label's mark)
    assert lexical_features(claim, CTX)["question"] == (1.0 if asks else 0.0)
