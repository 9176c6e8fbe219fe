"""Write ``indexes/data/t2s.json``: the Traditional Chinese characters the analyzer reads as their
Simplified form (so that "退貨" matches "退货", "積分" matches "积分"), one character for one; and
``indexes/data/s2t.json``, the way back for those characters that have one Traditional form
only (a Simplified question is embedded in Traditional for a knowledge base written in it; 发,
which is 發 or 髮, stays as it is).

    .venv/bin/pip install hanziconv==0.3.2   # the character table (Apache-2.0); not needed at run time
    .venv/bin/python scripts/make_t2s.py

The pairs are hanziconv's character map, less those whose Traditional character is itself in use
in Simplified text: a character counts as in use when, over the words of jieba's dictionary (drawn
from Simplified corpora), its frequency is at least 5% of its Simplified counterpart's. That keeps
著 (著名, 显著; 10% of 着), 乾 (乾隆; 8% of 干), and variant pairs such as 呼/唿, 猛/勐 or 溜/熘 that
the map lists but no Simplified text writes, out of the table; 學, 國, 會, 後 (0.4% of 后) fold.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "indexes" / "data"
IN_USE = 0.05  # a Traditional character this frequent, relative to its Simplified one, is kept as it is


def main() -> None:
    import jieba
    from hanziconv import charmap

    freq: Counter[str] = Counter()
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, count = line.split()[:2]
            for ch in word:
                freq[ch] += int(count)
    pairs = [(t, s) for t, s in zip(charmap.traditional_charmap, charmap.simplified_charmap, strict=True) if t != s]
    table = {t: s for t, s in pairs if freq[t] == 0 or freq[t] < IN_USE * freq[s]}
    forms: dict[str, set[str]] = {}
    for t, s in pairs:
        forms.setdefault(s, set()).add(t)
    # the way back where it is one way only: 发 is 發 or 髮, 台 is 臺, 颱 or 檯, and a wrong guess
    # (hanziconv's 台 -> 颱) would be worse than the Simplified character left as it is
    back = {s: next(iter(ts)) for s, ts in forms.items() if len(ts) == 1 and table.get(next(iter(ts))) == s}
    DATA.mkdir(parents=True, exist_ok=True)
    for name, got in (("t2s.json", table), ("s2t.json", back)):
        text = json.dumps(dict(sorted(got.items())), ensure_ascii=False, indent=0)
        (DATA / name).write_text(text + "\n", encoding="utf-8")
        print(f"{len(got)} of {len(pairs)} pairs -> {DATA / name}")


if __name__ == "__main__":
    main()
