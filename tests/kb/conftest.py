"""Fixtures of the service tests: a small self-made knowledge base (English and Chinese
documents, one restricted to the ``sales`` group), an app on it through the FastAPI TestClient
(hashing embedder, fast) and a real uvicorn server on a loopback port (packaged MiniLM)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
KB = "acme"
SECRET = "ZEBRA-4471"  # only in the sales-group document

DOCS: dict[str, str] = {
    "returns.md": (
        "# Returns policy\n\n"
        "You can return any unused item within 30 days of delivery for a full refund. "
        "Start a return from the Orders page and print the prepaid return label.\n\n"
        "## Refund timing\n\n"
        "Refunds are paid to the original payment method within 5 business days after the item arrives at our warehouse.\n"
    ),
    "shipping.md": (
        "# Shipping\n\n"
        "Standard shipping takes 3 to 5 business days and is free for orders over 50 dollars. "
        "Express shipping delivers the next business day for a fee of 15 dollars.\n\n"
        "## International orders\n\n"
        "We ship to Canada and Mexico. Customs duties are paid by the recipient.\n"
    ),
    "warranty.md": (
        "# Warranty\n\n"
        "Every kettle and toaster comes with a two-year limited warranty covering manufacturing defects. "
        "The warranty does not cover damage from dropping the appliance or using it with the wrong voltage.\n"
    ),
    "loyalty.zh.md": (
        "# 会员积分\n\n"
        "每消费一元可获得一个积分。积分可以在结账时抵扣现金，一百积分抵扣一元。积分有效期为两年。\n"
    ),
    "sales-playbook.md": (
        "# Sales playbook for enterprise customers\n\n"
        f"The enterprise discount code is {SECRET}. It gives enterprise customers a 40 percent discount "
        "on bulk kettle orders above 500 units.\n"
    ),
}
GROUPS = {"sales-playbook.md": ["sales"]}

NEW_DOC = (
    "gift-cards.md",
    "# Gift cards\n\nGift cards never expire and can be redeemed for kettles and toasters. "
    "A lost gift card can be replaced once if you have the purchase receipt with the card number ORCA-9921.\n",
)


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
        if name in GROUPS:
            meta = {"groups": GROUPS[name]}
            (folder / (name + ".meta.json")).write_text(json.dumps(meta), encoding="utf-8")
    return folder


def build_kb(home: Path, docs: Path, embedder: Any, name: str = KB) -> None:
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import ingest_paths

    report = ingest_paths(KnowledgeBase(home, name), [docs], embedder)
    assert report.ok, report.failed


# the trained default support scorer when its model file is there, else the lexical one
SCORER = "default" if (REPO_ROOT / "rag" / "models" / "support_default.json").is_file() else "lexical"


def make_settings(home: Path, embedder: str, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "scorer": SCORER,
        "home": home,
        "KB_NAME": KB,
        "embedder": embedder,
        "device": "cpu",
        "llm": "extractive:",
        "rate_limit_per_min": 100_000,
    }
    base.update(kw)
    return Settings(**base)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def start(self, ready_timeout: float = 120.0) -> LiveServer:
        import httpx

        self.thread.start()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.server.started:
                try:
                    if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn exited during start-up")
            time.sleep(0.1)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


# --- fast: hashing embedder through TestClient ------------------------------------------------------


@pytest.fixture(scope="module")
def hashing_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from indexes.embedders import get_embedder

    root = tmp_path_factory.mktemp("kbsvc")
    home = root / "home"
    home.mkdir()
    build_kb(home, write_docs(root / "docs"), get_embedder("hashing:64"))
    return home


def make_client(settings: Settings) -> Any:
    from fastapi.testclient import TestClient

    from kb.app import create_app

    app = create_app(settings, warm=False)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture()
def client(hashing_home: Path) -> Iterator[Any]:
    with make_client(make_settings(hashing_home, "hashing:64")) as c:
        yield c


# --- integration: real uvicorn + MiniLM ----------------------------------------------------------------


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Iterator[LiveServer]:
    from kb.app import create_app

    root = tmp_path_factory.mktemp("kblive")
    home = root / "home"
    home.mkdir()
    build_kb(home, write_docs(root / "docs"), real_embedder)
    settings = make_settings(home, "sentence-transformers:all-MiniLM-L6-v2")
    server = LiveServer(create_app(settings)).start()
    server.home = home  # type: ignore[attr-defined]
    yield server
    server.stop()
