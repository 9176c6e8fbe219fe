"""Dataset loading: the README format, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import (
    FaithfulnessSet,
    QASet,
    find_datasets,
    list_source_ids,
    load_dataset,
    match_gold,
)
from kb.errors import DatasetError

Q_OK = {
    "id": "q1",
    "question": "How long is the warranty?",
    "answers": ["two years"],
    "gold": ["policies/warranty.md"],
    "lang": "en",
    "answerable": True,
}


def _qa_set(root: Path, records: list[dict] | None = None, raw: bytes | None = None) -> Path:
    d = root / "myset"
    (d / "docs" / "policies").mkdir(parents=True)
    (d / "docs" / "policies" / "warranty.md").write_text("# Warranty\nTwo years.\n", encoding="utf-8")
    (d / "docs" / "notes.txt").write_text("plain text doc\n", encoding="utf-8")
    (d / "docs" / "faq.csv").write_text(
        'id,question,answer\n0001,"Can I return it?","Yes, within 30 days."\n0002,"退货吗？","可以，三十天内。"\n',
        encoding="utf-8",
    )
    if raw is None:
        recs = records if records is not None else [Q_OK]
        raw = ("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n").encode("utf-8")
    (d / "questions.jsonl").write_bytes(raw)
    return d


def _err(path: Path) -> str:
    with pytest.raises(DatasetError) as ei:
        load_dataset(path)
    msg = str(ei.value)
    assert "\n" not in msg
    return msg


def test_loads_a_qa_set_with_every_feature(tmp_path: Path) -> None:
    recs = [
        Q_OK,
        {
            "id": "q2",
            "question": "退货吗",
            "answers": [],
            "gold": ["faq.csv#0002", "notes.txt"],
            "lang": "zh",
            "answerable": True,
            "history": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "您好"}],
        },
        {
            "id": "q3",
            "question": "Who is the CEO?",
            "answers": [],
            "gold": [],
            "lang": "en",
            "answerable": False,
        },
    ]
    ds = load_dataset(_qa_set(tmp_path, recs))
    assert isinstance(ds, QASet) and ds.name == "myset" and ds.kind == "qa"
    assert [q.id for q in ds.items] == ["q1", "q2", "q3"]
    assert ds.items[1].history[1].role == "assistant" and ds.items[1].gold == ("faq.csv#0002", "notes.txt")
    assert ds.items[2].answerable is False
    assert ds.source_ids == {"policies/warranty.md", "notes.txt", "faq.csv#0001", "faq.csv#0002"}


def test_limit_keeps_an_evenly_spaced_subsample(tmp_path: Path) -> None:
    recs = [dict(Q_OK, id=f"q{i}") for i in range(10)]
    ds = load_dataset(_qa_set(tmp_path, recs), limit=3)
    assert [q.id for q in ds.items] == ["q0", "q3", "q6"] and ds.n_total == 10


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"question": None}, "missing field 'question'"),
        ({"gold": "policies/warranty.md"}, "'gold' must be a list of strings"),
        ({"answers": [1]}, "'answers' must be a list of strings"),
        ({"lang": "fr"}, "'lang' must be one of en, zh"),
        ({"answerable": "yes"}, "'answerable' must be true or false"),
        ({"gold": []}, "answerable question with empty 'gold'"),
        ({"gold": ["warranty.md"]}, "gold id 'warranty.md' does not exist in docs/"),
        ({"gold": ["faq.csv#0009"]}, "no row of faq.csv has id '0009'"),
        ({"gold": ["faq.csv"]}, "name one FAQ row as faq.csv#<id>"),
        ({"history": [{"role": "bot", "content": "hi"}]}, "history[0] must be"),
    ],
)
def test_bad_records_name_line_field_and_fix(tmp_path: Path, change: dict, expected: str) -> None:
    rec = dict(Q_OK)
    for k, v in change.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    msg = _err(_qa_set(tmp_path, [dict(Q_OK, id="q0"), rec]))
    assert expected in msg
    assert "questions.jsonl line 2 (id 'q1')" in msg


def test_a_gold_id_two_rows_share_is_an_error_naming_the_set(tmp_path: Path) -> None:
    # ingestion stores the second row as "0001-2": the gold id named either row, and a question
    # answered by the second was scored a miss at rank 1; and the line error named no set
    d = _qa_set(tmp_path)
    with (d / "docs" / "faq.csv").open("a", encoding="utf-8") as f:
        f.write('0001,"Can I exchange it?","Yes, within 14 days."\n')
    (d / "questions.jsonl").write_text(json.dumps(dict(Q_OK, gold=["faq.csv#0001"])) + "\n", encoding="utf-8")
    msg = _err(d)
    assert msg.startswith(f"{d / 'questions.jsonl'} line 1 (id 'q1'): gold id 'faq.csv#0001' names more than one row"), msg
    assert "give each row of faq.csv an id of its own" in msg
    (d / "questions.jsonl").write_text(json.dumps(dict(Q_OK, gold=["faq.csv#0002"])) + "\n", encoding="utf-8")
    ds = load_dataset(d)
    assert isinstance(ds, QASet) and ds.items[0].gold == ("faq.csv#0002",)


def test_unanswerable_with_gold_is_an_error(tmp_path: Path) -> None:
    msg = _err(_qa_set(tmp_path, [dict(Q_OK, answerable=False)]))
    assert "'gold' must be empty when answerable is false" in msg


def test_duplicate_ids(tmp_path: Path) -> None:
    assert "duplicate id (first on line 1)" in _err(_qa_set(tmp_path, [Q_OK, Q_OK]))


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    raw = (json.dumps(Q_OK) + '\n\n{"id": "q2", oops}\n').encode()
    msg = _err(_qa_set(tmp_path, raw=raw))
    assert "questions.jsonl line 3: invalid JSON" in msg
    msg = _err(_qa_set(tmp_path / "b", raw=b"[1, 2]\n"))
    assert "line 1: expected a JSON object, got a list" in msg


def test_wrong_encoding(tmp_path: Path) -> None:
    raw = (
        json.dumps(Q_OK) + "\n" + json.dumps(dict(Q_OK, id="q2", question="退货吗"), ensure_ascii=False)
    ).encode("gbk")
    msg = _err(_qa_set(tmp_path, raw=raw))
    assert "is not UTF-8" in msg and "line 2" in msg and "re-save the file as UTF-8" in msg


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    ds = load_dataset(_qa_set(tmp_path, raw=b"\xef\xbb\xbf" + json.dumps(Q_OK).encode()))
    assert ds.items[0].id == "q1"


def test_line_separators_inside_json_strings_are_text(tmp_path: Path) -> None:
    # U+2028, U+2029 and U+0085 may stand unescaped in a JSON string; a record is not cut at them
    question = "How long is the warranty?\u2028In years\u2029please\u0085thanks"
    raw = (json.dumps(dict(Q_OK, question=question), ensure_ascii=False) + "\r\n").encode("utf-8")
    ds = load_dataset(_qa_set(tmp_path, raw=raw))
    assert [i.question for i in ds.items] == [question]


def test_a_set_named_by_a_relative_path_keeps_its_folder_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _qa_set(tmp_path)
    monkeypatch.chdir(d)
    assert load_dataset(Path(".")).name == "myset"
    monkeypatch.chdir(d / "docs")
    assert load_dataset(Path("..")).name == "myset"
    f = _faith_set(tmp_path / "f", [F_OK])
    monkeypatch.chdir(f)
    assert load_dataset(Path(".")).name == f.name


def test_a_gold_id_in_another_unicode_form_names_the_file_on_disk(tmp_path: Path) -> None:
    # a file saved on macOS is named in decomposed form ("cafe" + U+0301), its gold id typed in
    # composed form: the set was refused ("gold id 'café.md' does not exist in docs/")
    import unicodedata

    d = _qa_set(tmp_path)
    on_disk = unicodedata.normalize("NFD", "café.md")
    (d / "docs" / on_disk).write_text("# Café\nOpen daily.\n", encoding="utf-8")
    typed = unicodedata.normalize("NFC", "café.md")
    assert typed != on_disk
    (d / "questions.jsonl").write_text(json.dumps(dict(Q_OK, gold=[typed, "policies/warranty.md"])) + "\n",
                                       encoding="utf-8")
    ds = load_dataset(d)
    assert isinstance(ds, QASet)
    # scored against what the retriever returns: the name on disk
    assert ds.items[0].gold == (on_disk, "policies/warranty.md")
    (d / "questions.jsonl").write_text(json.dumps(dict(Q_OK, gold=["cafe.md"])) + "\n", encoding="utf-8")
    assert "gold id 'cafe.md' does not exist in docs/" in _err(d)


def test_faq_csv_not_utf8(tmp_path: Path) -> None:
    d = _qa_set(tmp_path)
    (d / "docs" / "faq.csv").write_bytes("id,question,answer\n1,退货吗,可以\n".encode("gbk"))
    assert "faq.csv is not UTF-8" in _err(d)


def test_csv_without_id_column_is_one_document(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "prices.csv").write_text("item,price\nA,1\n", encoding="utf-8")
    (docs / ".hidden.md").write_text("x", encoding="utf-8")
    assert list_source_ids(docs) == {"prices.csv"}


def _faith_set(root: Path, records: list[dict]) -> Path:
    d = root / "judged"
    d.mkdir(parents=True)
    (d / "faithfulness.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    return d


F_OK = {
    "id": "f1",
    "question": "",
    "context": ["The sky is blue."],
    "answer": "The sky is blue.",
    "label": 1,
    "source": "mine",
}


def test_loads_a_faithfulness_set(tmp_path: Path) -> None:
    recs = [
        F_OK,
        dict(F_OK, id="f2", label=0, answer="天是绿的", history=[{"role": "user", "content": "hi"}]),
    ]
    ds = load_dataset(_faith_set(tmp_path, recs))
    assert isinstance(ds, FaithfulnessSet) and ds.kind == "faithfulness"
    assert [i.label for i in ds.items] == [1, 0] and ds.items[1].history[0].content == "hi"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"label": 2}, "'label' must be 0 or 1, got 2"),
        ({"label": True}, "'label' must be 0 or 1, got true"),
        ({"context": "The sky"}, "'context' must be a list of strings"),
        ({"context": []}, "'context' is empty"),
        ({"answer": None}, "missing field 'answer'"),
    ],
)
def test_bad_faithfulness_records(tmp_path: Path, change: dict, expected: str) -> None:
    rec = dict(F_OK)
    for k, v in change.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    msg = _err(_faith_set(tmp_path, [rec]))
    assert expected in msg and "faithfulness.jsonl line 1" in msg


def test_not_a_dataset(tmp_path: Path) -> None:
    assert "is not a dataset" in _err(tmp_path)
    assert "does not exist" in _err(tmp_path / "nope")
    d = tmp_path / "noquestions"
    (d / "docs").mkdir(parents=True)
    (d / "questions.jsonl").write_text("", encoding="utf-8")
    assert "holds no documents" in _err(d)


def test_find_datasets_in_a_parent_folder(tmp_path: Path) -> None:
    _qa_set(tmp_path)
    _faith_set(tmp_path, [F_OK])
    assert [p.name for p in find_datasets(tmp_path)] == ["judged", "myset"]
    with pytest.raises(DatasetError):
        find_datasets(tmp_path / "judged" / "x")


def test_shared_dev_sets_load(shared_data: Path) -> None:
    for d in find_datasets(shared_data):
        ds = load_dataset(d)
        assert ds.items


def test_a_set_asked_of_a_knowledge_base_needs_no_docs(tmp_path: Path) -> None:
    # `kb eval SET --kb NAME` was refused "SET has no docs/ folder"; its gold ids are checked
    # against the knowledge base's sources instead (kb eval's match_kb_gold)
    d = tmp_path / "asked"
    d.mkdir()
    recs = [Q_OK, dict(Q_OK, id="q2", gold=["cafe\u0301.md"]), dict(Q_OK, id="q3", gold=["gone.md"])]
    (d / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    assert "has no docs/ folder" in _err(d)
    ds = load_dataset(d, with_docs=False)
    assert isinstance(ds, QASet) and len(ds.items) == 3 and not ds.source_ids
    held, unknown = match_gold(ds, ["policies/warranty.md", "caf\u00e9.md", "faq.csv#0001"])
    assert [i.gold for i in held.items[:2]] == [("policies/warranty.md",), ("caf\u00e9.md",)]  # the name it holds
    assert [(i.id, g) for i, g in unknown] == [("q3", "gone.md")]


def test_every_gold_id_not_in_docs_is_named_in_one_line_with_the_source_meant(tmp_path: Path) -> None:
    # the error named the first bad id alone ("check its spelling"): a set with several misspelt
    # ids took as many runs to mend, and the source meant was not suggested
    from eval import datasets

    recs = [
        dict(Q_OK, id="q0", gold=["policies/warranty.md"]),
        dict(Q_OK, id="q1", gold=["policies/waranty.md"]),
        dict(Q_OK, id="q2", gold=["faq.csv#001"]),
        dict(Q_OK, id="q3", gold=["faq.csv"]),
        dict(Q_OK, id="q4", gold=["nowhere/at-all.pdf", "policies/waranty.md"]),
        dict(Q_OK, id="q5", gold=["policies/waranty.md"]),
    ]
    d = _qa_set(tmp_path, recs)
    msg = _err(d)
    assert msg.startswith(f"{d / 'questions.jsonl'}: 4 gold ids do not exist in docs/: "), msg
    assert (
        "'policies/waranty.md' (line 2, id 'q1', and 2 more questions: did you mean 'policies/warranty.md'?), "
        "'faq.csv#001' (line 3, id 'q2': no row of faq.csv has id '001', did you mean 'faq.csv#0001' or 'faq.csv#0002'?), "
        "'faq.csv' (line 4, id 'q3': an FAQ table, whose rows are the sources), "
        "'nowhere/at-all.pdf' (line 5, id 'q4'); "
    ) in msg, msg
    assert msg.endswith("check their spelling")
    # one bad id: its line and question first, and the fix
    (d / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in recs[:2] + recs[5:]), encoding="utf-8")
    msg = _err(d)
    assert msg.startswith(f"{d / 'questions.jsonl'} line 2 (id 'q1'): gold id 'policies/waranty.md' does not "
                          "exist in docs/ (did you mean 'policies/warranty.md'?) (1 more question names it too); "
                          "a gold id is a path relative to docs/"), msg
    # many: the first ten named, the rest counted
    many = [dict(Q_OK, id=f"q{i}", gold=[f"missing-{i}.md"]) for i in range(datasets.NAMED_UNKNOWN_GOLD + 3)]
    (d / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in many), encoding="utf-8")
    msg = _err(d)
    assert f": {len(many)} gold ids do not exist" in msg and "'missing-9.md' (line 10, id 'q9')" in msg
    assert "missing-10.md" not in msg and ", and 3 more; " in msg, msg
