"""Write ``indexes/data/t2s.json``: the Traditional Chinese characters the analyzer reads as their
Simplified form (so that "退貨" matches "退货", "積分" matches "积分"), one character for one.

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

OUT = Path(__file__).resolve().parent.parent / "indexes" / "data" / "t2s.json"
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
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dict(sorted(table.items())), ensure_ascii=False, indent=0)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"{len(table)} of {len(pairs)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
