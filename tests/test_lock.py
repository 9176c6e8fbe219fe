"""constraints.txt (scripts/lock.sh) holds the exact version scripts/install.sh installs of every
dependency pyproject.toml declares: one added without `make lock` would install at whatever
version is newest that day, and the published figures would no longer say what a fresh install
measures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.!]*)$")


def _locked() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = PIN.match(line.strip())
        assert m, f"constraints.txt: {line!r} is not name==version (no paths, URLs or local labels)"
        out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return [r for r in reqs if canonicalize_name(r.name) != canonicalize_name(project["name"])]


def test_every_declared_dependency_is_locked_at_a_version_it_allows() -> None:
    locked = _locked()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is in pyproject.toml but not in constraints.txt: run `make lock`"
        assert SpecifierSet(str(req.specifier)).contains(locked[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={locked[name]}, which pyproject.toml's {req} does not allow"
        )


def test_the_lock_reads_as_pip_constraints() -> None:
    locked = _locked()
    assert len(locked) >= len(_declared())  # the dependencies' own dependencies too
    assert "kb-assistant" not in locked  # the project itself is installed editable, not pinned
    assert locked.get("torch", "").startswith("2.13.0")  # what install.sh installs first and alone
