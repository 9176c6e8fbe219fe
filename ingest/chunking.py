"""Structure-aware chunking.

- FAQ rows: one chunk per entry, never split ("Q: ...\\nA: ...", question/answer/faq_id set).
- Documents: sections under a heading path; small adjacent blocks of one section merged, long ones
  split on sentence boundaries (English and Chinese) to at most ``chunk_tokens`` tokens of the
  embedder *including* the title/heading prefix that ``Chunk.embed_text()`` prepends, with
  ``chunk_overlap`` tokens of sentence overlap; tables kept whole as Markdown where they fit,
  else split by rows with the header repeated.
- Chunk id = hash(document id, position, text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indexes.text import QUESTION_FORM, TABLE_ROW, TABLE_RULE, split_sentences
from indexes.types import CONTINUES, Chunk, Document, sha256_hex
from ingest.cleaning import is_cjk
from ingest.loaders import PROSE_END, Element, FaqRow

# a list item whose text carries its number ("1. Sign in", "2) Select")
NUMBERED_ITEM = re.compile(r"\(?\d{1,3}[.)]\s")

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ChunkSettings:
    chunk_tokens: int = 128
    chunk_overlap: int = 16

    def as_dict(self) -> dict[str, Any]:
        # v2: Chinese punctuation kept as written, and the CONTINUES mark; v3: a small table packed
        # with its section's text, a list item numbered in its text without a bullet; v4: a plain-
        # text heading on the line just above its paragraph read as a heading; v5: a PDF's sentence
        # cut by a page break read as one; v6: a table's piece cut to fit begins with the table's
        # header, an FAQ entry in another language than its sheet's is of its own language, and a
        # release note's "Changed: ..." line above its text is a heading; v7: a wide table's row that
        # does not fit with its header is a piece of its own with it, and a number's comma or colon
        # is no place to cut; v8: a PDF's numbered list keeps its numbers, a PDF's ruled table is a
        # Markdown table, a policy's "第五条 ..." line (DOCX, TXT) and a notice's dated entry (TXT) are
        # headings; v9: a Markdown file's table flattened one cell to a line is a Markdown table
        # (ingest.loaders.cell_lines_as_tables), and a short paragraph above a table cut into
        # pieces heads every piece; v10: such a table's rows of one group's values say the
        # sub-headers they fall under, each row a sentence; v12 (v11 was only tried): an image
        # inside a line of text (an <img>, Markdown's ![alt](src)) is read as its label, not as the
        # end of a paragraph (ingest.loaders.image_label); v13: a web page's text after an accordion
        # is the enclosing section's, not the last answer's, a sub-list numbered again inside a
        # numbered item is read as its bullets, a page nested past 128 levels keeps its text, and a
        # workbook's hidden sheets are left out; v14: a WordPress theme's furniture is left out;
        # v15: a plain-text notice's dated entry the partitioner took for text is a heading all the
        # same (ingest.loaders._entry_lines_as_headings); v16: a bullet's sub-bullets (Markdown,
        # HTML, DOCX) each open with the bullet's term, "Billing manager: Can see invoices", not
        # flat bullets of the list (ingest.loaders._nested_folded); v17: a web page's title is
        # without its site's name (ingest.loaders._without_site_name). A knowledge base built by an
        # earlier one is chunked again on its next ingest; cached embeddings are reused.
        # "question_form": how curated questions are embedded (indexes.text.QUESTION_FORM; a
        # knowledge base embedded in an earlier form is embedded again on its next ingest)
        return {
            "chunker": "structure-v17",
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "question_form": QUESTION_FORM,
        }


def chunk_id(doc_id: str, position: int, text: str) -> str:
    return sha256_hex(f"{doc_id}\n{position}\n{text}", 32)


def _doc_fields(doc: Document) -> dict[str, Any]:
    meta = doc.metadata or {}
    return {
        "groups": tuple(meta.get("groups", ()) or ()),
        "tags": tuple(meta.get("tags", ()) or ()),
        "valid_from": meta.get("valid_from"),
        "valid_to": meta.get("valid_to"),
        "lang": doc.lang,
    }


# --------------------------------------------------------------------------------------------
# FAQ


def chunk_faq(doc: Document, rows: Sequence[FaqRow], count_tokens: TokenCounter | None = None) -> list[Chunk]:
    base = _doc_fields(doc)
    title = doc.title
    out: list[Chunk] = []
    for pos, row in enumerate(rows):
        text = f"Q: {row.question}\nA: {row.answer}"
        fields = dict(base)
        rmeta = row.metadata or {}
        if rmeta.get("groups"):
            fields["groups"] = tuple(rmeta["groups"])
        if rmeta.get("lang"):  # an entry of a sheet of two languages, in the other one
            fields["lang"] = rmeta["lang"]
        tags = list(fields["tags"]) + list(rmeta.get("tags", ()) or ())
        if rmeta.get("category"):
            tags.append(str(rmeta["category"]))
        fields["tags"] = tuple(dict.fromkeys(tags))
        chunk = Chunk(
            id=chunk_id(doc.id, pos, text),
            doc_id=doc.id,
            source=doc.source,
            position=pos,
            text=text,
            title=title,
            faq_id=row.faq_id,
            question=row.question,
            answer=row.answer,
            kind="faq",
            n_tokens=count_tokens(text) if count_tokens else 0,
            **fields,
        )
        out.append(chunk)
    return out


# --------------------------------------------------------------------------------------------
# documents


@dataclass
class _Unit:
    text: str
    tokens: int
    page: int | None
    block: int  # index of the block it came from (units of one block join with a space)
    cont: bool = False  # a piece of a sentence after its first piece (the sentence was split)


class _Packer:
    """Packs sentence units of one section into chunks under a token budget, with overlap."""

    def __init__(self, budget: int, overlap: int, count: TokenCounter) -> None:
        self.budget = max(8, budget)
        self.overlap = max(0, min(overlap, self.budget // 2))
        self.count = count
        self.chunks: list[tuple[str, int | None]] = []
        self.current: list[_Unit] = []
        self.tokens = 0
        self.fresh = 0  # units added since the last emitted chunk (the rest is overlap)

    def add(self, unit: _Unit) -> None:
        if unit.tokens > self.budget:
            for i, piece in enumerate(_hard_split(unit.text, self.budget, self.count)):
                self.add(_Unit(piece, self.count(piece), unit.page, unit.block, cont=unit.cont or i > 0))
            return
        if self.current and self.tokens + unit.tokens > self.budget:
            self._emit(keep_overlap=True)
            # overlap units plus the new one must fit
            while self.current and self.tokens + unit.tokens > self.budget:
                self.tokens -= self.current.pop(0).tokens
        self.current.append(unit)
        self.tokens += unit.tokens
        self.fresh += 1

    def _emit(self, keep_overlap: bool) -> None:
        if not self.current:
            return
        # a chunk that opens with a sentence's later piece says so (:data:`CONTINUES`)
        mark = CONTINUES if self.current[0].cont else ""
        self.chunks.append((mark + _join_units(self.current), self.current[0].page))
        self.fresh = 0
        if keep_overlap and self.overlap:
            tail: list[_Unit] = []
            n = 0
            for u in reversed(self.current):
                if n + u.tokens > self.overlap:
                    break
                tail.insert(0, u)
                n += u.tokens
            self.current, self.tokens = tail, n
        else:
            self.current, self.tokens = [], 0

    def finish(self) -> list[tuple[str, int | None]]:
        if self.current and self.fresh:
            self._emit(keep_overlap=False)
        self.current, self.tokens = [], 0
        return self.chunks


def _join_units(units: Sequence[_Unit]) -> str:
    out = ""
    prev_block: int | None = None
    for u in units:
        if not out:
            out = u.text
        elif u.block != prev_block:
            out += "\n" + u.text
        elif _cjk_boundary(out[-1], u.text[0]):
            out += u.text
        else:
            out += " " + u.text
        prev_block = u.block
    return out


def _cjk_boundary(a: str, b: str) -> bool:
    return is_cjk(a) or is_cjk(b)


# a paragraph of at most this many tokens, not ended as a sentence is, just above a table that is cut
# into pieces heads every piece, as a heading would (chunk_elements); a sentence there ("All prices
# are per user per month.") is text an answer may quote
TABLE_LEAD_MAX = 32
# A table row that does not fit the budget with the table's header is a piece of its own with the
# header while the two fit this many budgets (a seven-column benefits table: a 61-token header and
# 64-token rows); a longer row is cut as text.
WIDE_ROW_FACTOR = 2


def _hard_split(text: str, budget: int, count: TokenCounter) -> list[str]:
    """A 'sentence' longer than the budget: split at clause punctuation, then words / characters.
    A line break after the punctuation stays where the pieces join: "请按以下方式办理挂失：" and
    the list item "1. 登录…" on the next line were joined into one line, which read the "1." as
    the end of a sentence."""
    # (not inside a number: "$7,000" was cut and joined again as "$7, 000", "10:30" as "10: 30")
    parts = [p for p in re.split(r"(?:(?<=[，、：；;])|(?<=[,:])(?!\d))[ \t]*", text) if p.strip()]
    if len(parts) == 1:
        parts = [p for p in text.split(" ") if p] if " " in text.strip() else list(text)
    pieces: list[str] = []
    cur = ""
    for part in parts:
        glue = "" if not cur or part[0].isspace() or _cjk_boundary(cur[-1], part[0]) else " "
        joined = cur + glue + part if cur else part
        if cur and count(joined) > budget:
            pieces.append(cur)
            cur = part.lstrip()
        else:
            cur = joined
    if cur:
        pieces.append(cur)
    out: list[str] = []
    for p in pieces:
        if count(p) > budget and len(p) > 1:
            half = len(p) // 2
            out += _hard_split(p[:half], budget, count) + _hard_split(p[half:], budget, count)
        else:
            out.append(p)
    return out


def _prefix(title: str, heading_path: Sequence[str]) -> str:
    head = [title] if title else []
    head += [h for h in heading_path if h and h != title]
    return " > ".join(head)


def chunk_elements(
    doc: Document,
    elements: Sequence[Element],
    count_tokens: TokenCounter,
    chunk_tokens: int = 128,
    chunk_overlap: int = 16,
) -> list[Chunk]:
    """Chunks of one document. ``count_tokens`` is the embedder's (``embedder.count_tokens``)."""
    base = _doc_fields(doc)
    title = doc.title
    raw: list[tuple[str, tuple[str, ...], int | None, str]] = []  # text, heading path, page, kind
    stack: list[tuple[int, str]] = []
    blocks: list[Element] = []
    prefix_cache: dict[tuple[str, ...], int] = {}

    def path_now() -> tuple[str, ...]:
        return tuple(t for _, t in stack)

    def fit_path(path: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
        """Heading path and the tokens its prefix costs; long paths are shortened so that at least
        half of the budget is left for text."""
        if path in prefix_cache:
            return path, prefix_cache[path]
        p = path
        while True:
            pre = _prefix(title, p)
            n = count_tokens(pre + "\n") if pre else 0
            if n <= chunk_tokens // 2 or not p:
                break
            p = p[1:]
        prefix_cache[path] = n
        return p, n

    def flush() -> None:
        if not blocks:
            return
        path, pre_tokens = fit_path(path_now())
        budget = chunk_tokens - pre_tokens - 2  # [CLS]/[SEP] style specials
        packer = _Packer(budget, chunk_overlap, count_tokens)
        for bi, el in enumerate(blocks):
            # an item numbered in its text ("1. Sign in", a Word list typed by hand) keeps its number
            text = f"- {el.text}" if el.kind == "list_item" and not NUMBERED_ITEM.match(el.text) else el.text
            n = count_tokens(text)
            if n <= packer.budget:
                packer.add(_Unit(text, n, el.page, bi))
                continue
            for sent in split_sentences(text) or [text]:
                sent = sent.strip()
                if sent:
                    packer.add(_Unit(sent, count_tokens(sent), el.page, bi))
        kind = "table" if all(el.kind == "table" for el in blocks) else "text"
        for text, page in packer.finish():
            raw.append((text, path, page, kind))
        blocks.clear()

    def add_table(el: Element, lead: str = "") -> None:
        path, pre_tokens = fit_path((*path_now(), lead) if lead else path_now())
        budget = chunk_tokens - pre_tokens - 2
        if count_tokens(el.text) <= budget:
            raw.append((el.text, path, el.page, "table"))
            return
        lines = el.text.split("\n")
        header, rows = lines[:2], lines[2:]
        head = "\n".join(header)
        head_n = count_tokens(head)
        cur: list[str] = []
        cur_n = head_n
        for row in rows:
            n = count_tokens(row)
            if head_n + n > budget:
                if cur:
                    raw.append((head + "\n" + "\n".join(cur), path, el.page, "table"))
                    cur, cur_n = [], head_n
                if head_n + n <= WIDE_ROW_FACTOR * budget:
                    # a wide table's row is a piece of its own, with the header, over the budget: a
                    # row alone ("| Bronze | $7,000 / $14,000 | $60 | $100 | $500 | 40% | 60% |")
                    # says nothing of which amount is the deductible and which the specialist copay
                    raw.append((head + "\n" + row, path, el.page, "table"))
                    continue
                for piece in _hard_split(row, budget, count_tokens):  # one row alone is too big: as text
                    raw.append((piece, path, el.page, "table"))
                continue
            if cur and cur_n + n > budget:
                raw.append((head + "\n" + "\n".join(cur), path, el.page, "table"))
                cur, cur_n = [], head_n
            cur.append(row)
            cur_n += n
        if cur:
            raw.append((head + "\n" + "\n".join(cur), path, el.page, "table"))

    for el in elements:
        if el.kind == "heading":
            flush()
            while stack and stack[-1][0] >= el.level:
                stack.pop()
            stack.append((el.level, el.text))
        elif el.kind == "table":
            _, pre_tokens = fit_path(path_now())
            if count_tokens(el.text) <= chunk_tokens - pre_tokens - 2:
                # a table that fits is packed with its section's text, as a paragraph is: alone,
                # "| Standard | 5 to 7 business days |" said neither what it lists nor where, and
                # the section's lead-in ("We offer two shipping speeds within the United States")
                # went to another chunk
                blocks.append(el)
            else:
                # a short paragraph just above a table too big for one chunk is its caption, and
                # heads every piece as a heading does: alone it was a chunk that named the table
                # ("2020年浙江省录取分数线 … 各专业录取分数线") and the pieces did not, so the caption's
                # chunk was found for "2020年浙江省法学的最低分" and said none of the rows
                lead = ""
                if (
                    blocks
                    and blocks[-1].kind == "paragraph"
                    and not PROSE_END.search(blocks[-1].text)
                    and count_tokens(blocks[-1].text) <= TABLE_LEAD_MAX
                ):
                    lead = blocks.pop().text
                flush()
                add_table(el, lead)
        else:
            blocks.append(el)
    flush()
    if not raw:  # headings only (e.g. a section stub of a manual): its headings are its text
        heads = [el.text for el in elements if el.kind == "heading"]
        if heads:
            raw.append(("\n".join(dict.fromkeys(heads)), (), elements[0].page, "text"))

    out: list[Chunk] = []
    for pos, (text, path, page, kind) in enumerate(raw):
        chunk = Chunk(
            id=chunk_id(doc.id, pos, text),
            doc_id=doc.id,
            source=doc.source,
            position=pos,
            text=text,
            title=title,
            heading_path=path,
            page=page,
            kind=kind,
            **base,
        )
        n = count_tokens(chunk.embed_text())
        out.append(_with_tokens(chunk, n))
    return _enforce_limit(out, count_tokens, chunk_tokens, doc)


def _with_tokens(chunk: Chunk, n: int) -> Chunk:
    from dataclasses import replace

    return replace(chunk, n_tokens=n)


def _boundary_units(text: str) -> list[str]:
    """``text`` cut before each of its lines and sentences, each piece with the line break or
    space before it, so that the pieces joined are ``text`` again."""
    units: list[str] = []
    for li, line in enumerate(text.split("\n")):
        at = 0
        for s in split_sentences(line):
            start = line.find(s, at)
            if start < 0:
                continue  # not found as written: it stays in the piece before
            # (the line break, or the space, before a sentence starts its piece)
            head = ("\n" if li else "") + line[:start] if at == 0 else line[at:start]
            units.append(head + s)
            at = start + len(s)
        if at == 0:
            units.append(("\n" if li else "") + line)
        elif line[at:]:
            units[-1] += line[at:]
    return units


def _boundary_split(text: str, budget: int, count: TokenCounter) -> list[str] | None:
    """``text`` cut into the fewest pieces of at most ``budget`` tokens at its line breaks and
    sentence ends, the pieces about as long as each other; None where one line or sentence alone
    is over the budget. "Bags heavier than 32 kg ... must be sent as cargo." lost its last words
    to a chunk of their own ("...as cargo."): the list was a few tokens over, and it was cut where
    the tokens ran out."""
    units = _boundary_units(text)
    sizes = [count(u.strip()) for u in units]
    if len(units) < 2 or max(sizes) > budget or "".join(units) != text:
        return None
    heads = _table_heads(units)
    head_sizes = {h: count(h) for h in set(heads) if h}
    total = sum(sizes)
    for pieces in range(max(2, -(-total // budget)), len(units) + 1):
        # each piece ends at the cut nearest its share of the text
        target = total / pieces
        out: list[str] = []
        cur, n = "", 0
        for u, k, head in zip(units, sizes, heads, strict=True):
            if cur.strip() and (n + k > budget or n + k / 2 > target):
                out.append(cur)
                cur, n = u.lstrip("\n"), 0
                if head:
                    # a piece that begins inside a table begins with its header: "| Price (billed
                    # annually) | $6.40 | $13.60 | Custom |" alone said which plan costs what
                    cur, n = head + "\n" + cur, head_sizes[head]
            else:
                cur += u
            n += k
        out.append(cur)
        if all(count(p) <= budget for p in out):
            return [p.strip() for p in out if p.strip()]
    return None


def _table_heads(units: Sequence[str]) -> list[str]:
    """For each of ``units`` (:func:`_boundary_units`) that is a row of a Markdown table below its
    header and rule lines, those two lines; "" for any other unit (the header and rule included)."""
    lines = [u.strip() for u in units]
    heads: list[str] = []
    head = ""
    for i, line in enumerate(lines):
        rule, row = bool(TABLE_RULE.match(line)), bool(TABLE_ROW.match(line))
        if not row and not rule:
            head = ""  # out of the table
        elif not rule and i + 1 < len(lines) and TABLE_RULE.match(lines[i + 1]):
            head = line + "\n" + lines[i + 1]  # a header: the rows under it read it
            row = False
        heads.append(head if row and not rule else "")
    return heads


def _wide_row(chunk: Chunk, limit: int) -> bool:
    """Whether ``chunk`` is one row of a wide table under its header (see :data:`WIDE_ROW_FACTOR`),
    which stays whole over the limit."""
    lines = chunk.text.split("\n")
    return (
        chunk.kind == "table" and len(lines) == 3 and bool(TABLE_RULE.match(lines[1]))
        and chunk.n_tokens <= WIDE_ROW_FACTOR * limit
    )


def _enforce_limit(chunks: list[Chunk], count: TokenCounter, limit: int, doc: Document) -> list[Chunk]:
    """Sums of sentence counts can differ slightly from the count of the joined text: split the
    rare chunk that ends up over the limit (at its line breaks and sentence ends where they allow:
    :func:`_boundary_split`), and renumber."""
    if all(c.n_tokens <= limit or _wide_row(c, limit) for c in chunks):
        return chunks
    from dataclasses import replace

    fixed: list[Chunk] = []
    for c in chunks:
        if c.n_tokens <= limit or _wide_row(c, limit):
            fixed.append(c)
            continue
        overhead = c.n_tokens - count(c.text)
        budget = max(8, limit - overhead - 2)
        whole = _boundary_split(c.text, budget, count)
        if whole is not None:
            fixed.extend(replace(c, text=piece) for piece in whole)
            continue
        for i, piece in enumerate(_hard_split(c.text, budget, count)):
            fixed.append(replace(c, text=CONTINUES + piece if i and not piece.startswith(CONTINUES) else piece))
    return [replace(c, n_tokens=count(c.embed_text())) for c in _renumbered(fixed, doc)]


def _renumbered(chunks: list[Chunk], doc: Document) -> list[Chunk]:
    """``chunks`` numbered from 0 in order, each with the id of its new place."""
    from dataclasses import replace

    return [replace(c, position=pos, id=chunk_id(doc.id, pos, c.text)) for pos, c in enumerate(chunks)]


def chunk_loaded(loaded: Any, count_tokens: TokenCounter, settings: ChunkSettings) -> tuple[list[Chunk], tuple[str, ...]]:
    """Chunks of a :class:`~ingest.loaders.LoadedFile`, and the file's warnings: its loader's, and
    one where its chunks repeated one another (:func:`without_repeats`; an FAQ's duplicate
    entries are warned of when its table is read)."""
    if loaded.is_faq:
        return chunk_faq(loaded.document, loaded.faq_rows, count_tokens), tuple(loaded.warnings)
    chunks, repeated = without_repeats(chunk_elements(
        loaded.document, loaded.elements, count_tokens, settings.chunk_tokens, settings.chunk_overlap
    ), loaded.document)
    return chunks, (*loaded.warnings, repeated) if repeated else tuple(loaded.warnings)


def without_repeats(chunks: list[Chunk], doc: Document) -> tuple[list[Chunk], str | None]:
    """``chunks`` less each that repeats an earlier one word for word under the same headings,
    renumbered, and a warning that says how many went. A page of one word repeated (1 MB on one
    line) made 1,731 chunks with one vector: they filled every candidate list, and the return
    window fell out of the top 3 for "How long do I have to return an item?" (QA)."""
    seen: set[tuple[tuple[str, ...], str]] = set()
    kept: list[Chunk] = []
    for c in chunks:
        key = (c.heading_path, " ".join(c.text.split()))
        if key not in seen:
            seen.add(key)
            kept.append(c)
    if len(kept) == len(chunks):
        return chunks, None
    gone = len(chunks) - len(kept)
    return _renumbered(kept, doc), (f"{doc.source}: {gone} of its {len(chunks)} chunks repeat another word for word under the same "
                 "heading; each is indexed once")
