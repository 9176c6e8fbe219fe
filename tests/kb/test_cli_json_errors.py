"""`kb ask --json` and `kb search --json` that fail: the one-line error on stderr and its exit
code as before, and a JSON object on stdout that a script can parse (it got nothing there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kb.conftest import KB, free_port


def _kb(args: list[str], home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        **env: str) -> tuple[int, str, str]:
    from kb.cli import main
    from kb.settings import reset_settings_cache

    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    code = 0  # a command that succeeds returns
    try:
        main(args)
    except SystemExit as ex:
        code = int(ex.code or 0)
    finally:
        reset_settings_cache()
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ask_json_with_the_llm_server_unreachable_prints_the_error_as_json(
    hashing_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _kb(["ask", "How long does standard shipping take?", "--kb", KB, "--json"], hashing_home,
                       monkeypatch, capsys, KB_LLM=f"openai-compatible:http://127.0.0.1:{free_port()}/v1#m",
                       KB_LLM_TIMEOUT_S="5", KB_LLM_FALLBACK="error")
    body = json.loads(out)
    assert rc == 1 and err.startswith("error: cannot reach LLM server") and len(err.strip().splitlines()) == 1
    assert set(body) == {"error", "message", "hint"} and body["message"].startswith("cannot reach LLM server")
    assert body["hint"] and f"{body['message']}; {body['hint']}" == err.strip().removeprefix("error: ")


def test_ask_with_the_llm_server_unreachable_answers_offline_and_says_so(
    hashing_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """KB_LLM_FALLBACK=extractive (the default): the answer, composed offline, marked degraded."""
    llm = {"KB_LLM": f"openai-compatible:http://127.0.0.1:{free_port()}/v1#m", "KB_LLM_TIMEOUT_S": "5"}
    rc, out, err = _kb(["ask", "How long does standard shipping take?", "--kb", KB, "--json"], hashing_home,
                       monkeypatch, capsys, **llm)
    body = json.loads(out)
    assert rc == 0 and body["action"] == "answer" and body["citations"], body
    assert body["fallback"] == "extractive" and body["fallback_reason"] == "llm_unavailable"
    rc, out, err = _kb(["ask", "How long does standard shipping take?", "--kb", KB], hashing_home,
                       monkeypatch, capsys, **llm)
    assert rc == 0 and body["answer"] in out and "fallback: extractive (llm_unavailable)" in out, out


@pytest.mark.parametrize("command", ["ask", "search"])
def test_a_json_command_that_fails_before_it_asks_prints_the_error_as_json(
    command: str, hashing_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _kb([command, "returns", "--kb", "nope", "--json"], hashing_home, monkeypatch, capsys)
    body = json.loads(out)
    assert rc == 1 and err.startswith("error: knowledge base 'nope' has no published index")
    assert body["error"] == "not_found" and body["message"].startswith("knowledge base 'nope'")
    assert body["hint"].startswith("run `kb ingest PATH --kb nope` first")
    rc, out, err = _kb([command, "returns", "--kb", KB, "--json", "--tag", "zz"], hashing_home, monkeypatch, capsys)
    assert rc == 2 and json.loads(out)["error"] == "bad_input" and err.startswith("error: no document has the tag 'zz'")


def test_without_json_an_error_is_its_line_on_stderr_alone(
    hashing_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _kb(["search", "returns", "--kb", "nope"], hashing_home, monkeypatch, capsys)
    assert rc == 1 and out == "" and err.startswith("error: knowledge base 'nope'")


@pytest.mark.parametrize(("args", "message"), [
    (["ask", "--kb", KB, "--json"], "Missing argument 'question'."),
    (["ask", "refund", "--kb", KB, "--k", "3", "--json"], "No such option: --k (Possible options: --kb)"),
    (["search", "--kb", KB, "--json"], "Missing argument 'query'."),
])
def test_a_usage_error_with_json_prints_the_error_as_json_too(
    hashing_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
    message: str,
) -> None:
    # click's usage text went to stderr alone: a script reading --json's stdout got nothing to parse
    rc, out, err = _kb(args, hashing_home, monkeypatch, capsys)
    assert rc == 2 and f"Error: {message}" in err
    assert json.loads(out) == {"error": "usage", "message": message, "hint": f"see 'kb {args[0]} --help'"}


def test_a_question_that_starts_with_a_dash_is_told_how_to_ask_it(
    hashing_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "-5% off?" was read as the option -5, and the usage error said only "No such option: -5"
    rc, out, err = _kb(["ask", "-5% off?", "--kb", KB], hashing_home, monkeypatch, capsys)
    assert rc == 2 and out == ""
    assert err.rstrip().endswith("""hint: put -- before a question that starts with '-': kb ask -- "-5% off?"; or see 'kb ask --help'""")
    # a name that starts with one, to a command that takes names (QA 2026-12-07: "kb delete -old.md"
    # was told about questions)
    rc, out, err = _kb(["delete", "-old.md", "--kb", KB], hashing_home, monkeypatch, capsys)
    assert rc == 2 and err.rstrip().endswith("hint: put -- before a name that starts with '-': kb delete -- -old.md; "
                                             "or see 'kb delete --help'"), err
    rc, out, err = _kb(["ask", "--kb", KB, "--json", "--", "-5% off?"], hashing_home, monkeypatch, capsys)
    assert rc == 0 and json.loads(out)["action"], out
    rc, out, err = _kb(["ask", "x", "--kb", KB, "--lang", "klingon", "--json"], hashing_home, monkeypatch, capsys)
    assert rc == 2 and json.loads(out) == {  # the hint in its field, not in the message ("hint": null)
        "error": "bad_input", "message": "--lang 'klingon' is not a language code",
        "hint": "write an ISO 639-1 code such as en or zh"}
