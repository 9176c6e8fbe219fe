"""Faithfulness / support scorers: how well is a claim supported by the passages it cites?

``score(claim, passages)`` returns a support probability in [0, 1]. Scorers are chosen by a
``"provider:model"`` spec through :func:`get_scorer`. (The trained default and NLI / LLM-judge
scorers are being added by the eval work; the lexical scorer below is the classic peer.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from indexes.text import tokenize


class SupportScorer(Protocol):
    id: str

    def score(self, claim: str, passages: Sequence[str]) -> float: ...


class LexicalScorer:
    """Share of the claim's content words (stemmed; jieba words for Chinese) found in the passages."""

    id = "lexical"

    def score(self, claim: str, passages: Sequence[str]) -> float:
        words = set(tokenize(claim))
        if not words:
            return 1.0
        ctx: set[str] = set()
        for p in passages:
            ctx.update(tokenize(p))
        return len(words & ctx) / len(words)


def get_scorer(spec: str = "default", embedder: object | None = None) -> SupportScorer:
    if spec in ("lexical", "lexical:", "default"):
        return LexicalScorer()
    from kb.errors import ConfigError

    raise ConfigError(f"unknown faithfulness scorer {spec!r}", "use one of: default, lexical")
