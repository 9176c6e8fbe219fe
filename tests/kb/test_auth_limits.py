"""API keys, roles, groups, bind check, rate limiter and generation slots (no server)."""

from __future__ import annotations

import threading
import time

import pytest

from kb.auth import KeyStore, Principal, check_bind_host, hash_key, presented_key
from kb.errors import AuthError, BusyError, ConfigError, ForbiddenError, RateLimitError
from kb.service.limits import GenerationSlots, RateLimiter


def test_key_entries_are_hashed_and_checked() -> None:
    store = KeyStore.parse(f"alice:reader:{hash_key('s3cret')}, bob:editor:{hash_key('other')}:sales|support")
    assert store.authenticate("s3cret") == Principal("alice", "reader")
    bob = store.authenticate("other")
    assert bob.role == "editor" and bob.groups == ("sales", "support")
    with pytest.raises(AuthError):
        store.authenticate("wrong")
    with pytest.raises(AuthError):
        store.authenticate(None)
    assert "s3cret" not in repr(store.entries)


@pytest.mark.parametrize(
    "spec",
    ["alice:reader", "alice:boss:" + "0" * 64, "alice:reader:notahash", "a b:reader:" + "0" * 64,
     f"x:reader:{'0' * 64},x:admin:{'1' * 64}",
     # one key under two names and roles: a reader's key authenticated as the admin
     f"alice:reader:{'0' * 64},bob:admin:{'0' * 64}",
     # set, but no key in it: local development mode, every caller an admin
     ",,,"],
)
def test_bad_key_entries_say_how_to_fix(spec: str) -> None:
    with pytest.raises(ConfigError) as err:
        KeyStore.parse(spec)
    assert ";" in err.value.one_line()  # problem; what to do


def test_roles_are_ordered() -> None:
    reader, editor, admin = Principal("r", "reader"), Principal("e", "editor"), Principal("a", "admin")
    editor.require("reader")
    admin.require("editor")
    with pytest.raises(ForbiddenError):
        reader.require("editor")
    with pytest.raises(ForbiddenError):
        editor.require("admin")


def test_groups_are_bounded_by_the_key() -> None:
    restricted = Principal("k", "reader", groups=("sales",))
    assert restricted.effective_groups(None) == ("sales",)
    assert restricted.effective_groups(["sales", "finance"]) == ("sales",)
    assert restricted.effective_groups(["finance"]) == ()
    free_reader = Principal("k", "reader")
    assert free_reader.effective_groups(None) == ()  # only documents without groups
    assert free_reader.effective_groups(["support"]) == ("support",)
    assert Principal("a", "admin").effective_groups(None) is None


def test_presented_key_headers() -> None:
    assert presented_key("Bearer abc", None) == "abc"
    assert presented_key("bearer  abc ", None) == "abc"
    assert presented_key("Basic abc", None) is None
    assert presented_key(None, "xyz") == "xyz"


def test_no_keys_means_loopback_only() -> None:
    empty = KeyStore.parse("")
    assert empty.authenticate(None).role == "admin"
    check_bind_host("127.0.0.1", empty)
    check_bind_host("::1", empty)
    with pytest.raises(ConfigError) as err:
        check_bind_host("0.0.0.0", empty)
    assert "KB_API_KEYS" in str(err.value)
    check_bind_host("0.0.0.0", KeyStore.parse(f"a:admin:{hash_key('k')}"))


def test_token_bucket_refills() -> None:
    rl = RateLimiter(per_min=60, burst=3)
    for _ in range(3):
        rl.hit("a", now=100.0)
    with pytest.raises(RateLimitError) as err:
        rl.hit("a", now=100.0)
    assert err.value.retry_after_s >= 1 and err.value.http_status == 429
    rl.hit("b", now=100.0)  # another caller has its own bucket
    rl.hit("a", now=101.1)  # one token a second


def test_generation_slots_queue_then_busy() -> None:
    slots = GenerationSlots(slots=1, queue=1, wait_s=5)
    slots.acquire()
    got: list[str] = []

    def waiter() -> None:
        slots.acquire()
        got.append("ok")
        slots.release()

    t = threading.Thread(target=waiter)
    t.start()
    deadline = time.monotonic() + 5
    while slots.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slots.waiting == 1
    with pytest.raises(BusyError) as err:  # the queue is full
        slots.acquire()
    assert err.value.http_status == 503 and err.value.retry_after_s > 0
    slots.release()
    t.join(5)
    assert got == ["ok"] and slots.active == 0


def test_generation_slot_wait_times_out() -> None:
    slots = GenerationSlots(slots=1, queue=4, wait_s=0.05)
    slots.acquire()
    with pytest.raises(BusyError):
        slots.acquire()
    slots.release()
    with slots.slot():
        assert slots.active == 1
    assert slots.active == 0


def test_a_burst_of_quick_answers_waits_for_the_slots_instead_of_being_refused() -> None:
    """30 questions at once, each answered in about 15 ms: with the queue at 16, 10 got a 503,
    though the last would have waited about 0.1 s."""
    from kb.settings import Settings

    defaults = Settings()
    slots = GenerationSlots(defaults.generation_slots, defaults.generation_queue)
    start = threading.Barrier(30)
    refused: list[str] = []

    def ask() -> None:
        start.wait()
        try:
            with slots.slot():
                time.sleep(0.015)
        except BusyError as err:
            refused.append(str(err))

    threads = [threading.Thread(target=ask) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert refused == [] and slots.active == 0 and slots.waiting == 0
    assert slots.answer_s is not None and 0.01 < slots.answer_s < 1.0  # measured


def test_requests_wait_only_as_long_as_the_slots_serve_them_within_the_wait() -> None:
    """Slow answers (an LLM's seconds) let fewer wait: a request whose wait would pass wait_s is
    told at once, not after waiting it out."""
    slots = GenerationSlots(slots=1, queue=32, wait_s=2.0)
    assert slots.may_wait() == 32  # nothing measured yet
    slots.release(slots.acquire() - 0.9)  # an answer of 0.9 s
    assert slots.may_wait() == 2  # one slot serves two within 2 s
    taken = slots.acquire()
    got: list[str] = []

    def waiter() -> None:
        with slots.slot():
            got.append("ok")

    threads = [threading.Thread(target=waiter) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while slots.waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    with pytest.raises(BusyError) as err:
        slots.acquire()
    assert time.monotonic() - t0 < 0.5 and "2 requests waiting fill them for about 2 s" in str(err.value)
    slots.release(taken)
    for t in threads:
        t.join(5)
    assert got == ["ok", "ok"] and slots.active == 0
    assert slots.may_wait() > 2  # the quick answers since brought the measured time down


def test_cli_refuses_public_bind_without_keys_and_makes_keys(tmp_path: object) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    kb_bin = str(Path(sys.executable).parent / "kb")
    env = {k: v for k, v in os.environ.items() if k != "KB_API_KEYS"}
    r = subprocess.run([kb_bin, "serve", "--host", "0.0.0.0", "--port", "1"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "KB_API_KEYS" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([kb_bin, "keys", "new", "desk", "--role", "editor", "--group", "sales"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
    entry = KeyStore.parse(lines["entry"]).authenticate(lines["key"].strip())
    assert entry == Principal("desk", "editor", groups=("sales",))


@pytest.mark.parametrize(
    ("args", "groups", "claimed"),
    [
        ([], (), ()),  # a reader: documents without groups, whatever user.groups claims
        (["--any-group"], None, ("staff",)),  # a backend that signs its users in names their groups
        (["--group", "sales"], ("sales",), ()),
        (["--role", "editor"], None, ("staff",)),
        (["--role", "editor", "--public"], (), ()),
    ],
)
def test_kb_keys_new_makes_a_reader_key_that_cannot_claim_groups_unless_asked(
    args: list[str], groups: tuple[str, ...] | None, claimed: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """A reader key made as the README showed let whoever held it (the web chat keeps it in the
    browser) send user.groups ["staff"] and read the staff documents."""
    from kb.auth import KeyStore
    from kb.cli import main

    main(["keys", "new", "web", *args])
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    who = KeyStore.parse(lines["entry"]).authenticate(lines["key"].strip())
    assert who.groups == groups
    assert who.effective_groups(["staff"]) == claimed


def test_kb_keys_new_refuses_contradicting_restrictions(capsys: pytest.CaptureFixture[str]) -> None:
    from kb.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["keys", "new", "web", "--public", "--any-group"])
    assert ex.value.code == 2 and "contradict" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("group", "says"),
    [("", "error: --group needs a group name"), ("a|b", "error: --group 'a|b' holds ':', '|' or ','")],
)
def test_kb_keys_new_refuses_a_blank_group_or_one_that_breaks_the_entry(
    group: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # an empty $GROUP made a key restricted to documents in no group; "a|b" two groups
    from kb.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["keys", "new", "desk", "--group", "sales", "--group", group])
    assert ex.value.code == 2
    out = capsys.readouterr()
    assert out.err.startswith(says) and len(out.err.strip().splitlines()) == 1 and "entry:" not in out.out


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [("KB_LLM", "nope:", "nope"), ("KB_RERANKER", "cross-encoder:/missing/model", "does not exist"),
     ("KB_EMBEDDER", "bogus:x", "bogus"), ("KB_LLM", "transformers:/missing/model.gguf", "does not exist"),
     ("KB_LLM", "openai-compatible:http://[::1/v1#m", "no valid server URL")],
)
def test_serve_refuses_a_bad_model_spec_before_it_listens(tmp_path: object, var: str, value: str, says: str) -> None:
    # it started, answered /healthz "ok", and every question with the configuration error
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.kb.conftest import free_port

    kb_bin = str(Path(sys.executable).parent / "kb")
    env = {**{k: v for k, v in os.environ.items() if k != "KB_API_KEYS"}, var: value, "KB_HOME": str(tmp_path)}
    r = subprocess.run([kb_bin, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True,
                       timeout=60)
    err = r.stderr.strip()
    assert r.returncode != 0 and says in err and "serving on" not in err and len(err.splitlines()) == 1, err


def _serve_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], home: object,
                   argv: list[str]) -> tuple[int, str]:
    """``kb serve ARGV`` in this process, on ``home``, where it must stop before it builds the app."""
    from pathlib import Path

    import uvicorn

    import kb.app
    import kb.settings
    from kb.cli import main
    from tests.kb.conftest import make_settings

    def started(*args: object, **kw: object) -> None:
        raise AssertionError("it went on to start the server")

    monkeypatch.setattr(kb.settings, "get_settings", lambda: make_settings(Path(str(home)), "hashing:64"))
    monkeypatch.setattr(kb.app, "create_app", started)
    monkeypatch.setattr(uvicorn, "run", started)
    with pytest.raises(SystemExit) as ex:
        main(["serve", *argv])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "serving on" not in err, err
    return int(ex.value.code or 0), err


def test_serve_refuses_a_kb_that_is_not_published_and_names_those_that_are(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kb serve --kb acem` started, and /readyz said "no published knowledge base" to whoever looked."""
    from pathlib import Path

    home = Path(str(tmp_path))
    for name in ("acme", "beta"):
        (home / name).mkdir()
        (home / name / "CURRENT").write_text("v1\n", encoding="utf-8")
    (home / "draft" / "versions").mkdir(parents=True)  # never published: not offered
    code, err = _serve_refused(monkeypatch, capsys, home, ["--kb", "acme", "--kb", "acem"])
    assert code == 1 and err == f"error: knowledge base 'acem' not found under KB_HOME ({home}); available: acme, beta"
    (home / "empty").mkdir()
    code, err = _serve_refused(monkeypatch, capsys, home / "empty", ["--kb", "acme"])
    assert code == 1 and err.endswith("none is published there; run `kb ingest PATH --kb acme` first, or set KB_HOME")


def test_serve_refuses_a_port_in_use_before_it_loads_anything(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed "serving on", loaded the models, then uvicorn logged "[Errno 98] address already
    in use" among four other lines and exited 3."""
    import socket

    from kb.commands.serve import check_port_free
    from tests.kb.conftest import free_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = _serve_refused(monkeypatch, capsys, tmp_path, ["--port", str(port)])
    assert code == 1 and err == f"error: port {port} on 127.0.0.1 is in use; pick another with --port"
    check_port_free("127.0.0.1", 0)  # any free port
    port = free_port()
    check_port_free("127.0.0.1", port)
    with socket.socket() as after:  # the check let go of the port it tried
        after.bind(("127.0.0.1", port))
        after.listen()
