from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kb.settings import reset_settings_cache
from tests.rag.conftest import SHOP, build_kb


@pytest.fixture()
def cli_env(kb_home: Path, fake_embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    build_kb(kb_home, "shop", fake_embedder, SHOP)
    monkeypatch.setenv("KB_HOME", str(kb_home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    monkeypatch.setenv("KB_NAME", "shop")
    reset_settings_cache()
    from kb.cli import app

    yield app
    reset_settings_cache()


def test_kb_ask_json_shape_and_session(cli_env: Any, kb_home: Path) -> None:
    r = CliRunner().invoke(cli_env, ["ask", "How long does standard shipping take?", "--json", "--session", "s9"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out) >= {"answer", "action", "confidence", "citations", "timings_ms", "session_id"}
    assert out["action"] == "answer" and out["session_id"] == "s9"
    c = out["citations"][0]
    assert set(c) == {"n", "source", "locator", "title", "text", "score"} and c["source"] == "shipping.md"
    assert (kb_home / "shop" / "conversations.sqlite").is_file()


def test_kb_ask_terminal_prints_answer_then_sources(cli_env: Any) -> None:
    r = CliRunner().invoke(cli_env, ["ask", "How long does standard shipping take?"])
    assert r.exit_code == 0, r.output
    assert r.output.index("3 to 5 business days") < r.output.index("Sources:")
    assert "[1] shipping.md" in r.output


def test_kb_search_json(cli_env: Any) -> None:
    r = CliRunner().invoke(cli_env, ["search", "express shipping", "--k", "2", "--json"])
    assert r.exit_code == 0, r.output
    hits = json.loads(r.output)["hits"]
    assert len(hits) <= 2 and hits[0]["source"] == "shipping.md"
    assert set(hits[0]) >= {"source", "locator", "text", "score"}


def test_kb_ask_unknown_kb_is_one_line_error(cli_env: Any) -> None:
    from kb.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["ask", "hello", "--kb", "nope"])
    assert ex.value.code != 0


def test_kb_ask_streams_with_an_llm_backend(cli_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_LLM", "scripted:Standard shipping takes 3 to 5 business days [1]. Parcels fly [4].")
    reset_settings_cache()
    r = CliRunner().invoke(cli_env, ["ask", "How long does standard shipping take?"])
    assert r.exit_code == 0, r.output
    draft, checked = r.output.split("Checked answer:")
    assert "Parcels fly" in draft and "Parcels fly" not in checked
    assert "3 to 5 business days [1]." in checked and "[1] shipping.md" in checked


@pytest.mark.parametrize(
    ("var", "value"),
    [("KB_HANDOFF_THRESHOLD", "abc"), ("KB_FOLLOWUP_QUESTION_WEIGHT", "2"), ("KB_QUERY_CACHE_SIZE", "-1")],
)
def test_a_bad_setting_is_a_one_line_error_naming_its_variable(
    cli_env: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], var: str, value: str
) -> None:
    from kb.cli import main

    monkeypatch.setenv(var, value)
    reset_settings_cache()
    with pytest.raises(SystemExit) as ex:
        main(["ask", "How long does standard shipping take?"])
    assert ex.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: invalid setting ")
    assert f"{var}={value!r}" in err and f"fix or unset {var}" in err


def test_followups_can_be_retrieved_once_for_latency(cli_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.commands.ask import build_assistant
    from kb.settings import get_settings

    monkeypatch.setenv("KB_FOLLOWUP_QUESTION_WEIGHT", "0")
    monkeypatch.setenv("KB_QUERY_CACHE_SIZE", "0")
    reset_settings_cache()
    asst = build_assistant(get_settings(), "shop")
    assert asst.followup_question_weight == 0.0 and asst.query_cache_size == 0
