"""Conversation state (SQLite, outside index versions) and follow-up condensing."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from indexes.text import (
    detect_lang,
    has_cjk,
    only_names_subject,
    outermost,
    query_topic,
    to_simplified,
    tokenize,
    without_request,
)
from kb.stores import open_store
from rag.citations import CITATION_RE, split_answer, strip_markers

Message = dict[str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    answer_id TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    groups TEXT
);
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, id);
"""


def stored_groups(groups: Sequence[str] | None) -> str | None:
    """Access groups as a store keeps them: a JSON list, or NULL for no restriction."""
    return None if groups is None else json.dumps(list(groups))


def read_groups(stored: str | None) -> tuple[str, ...] | None:
    """:func:`stored_groups` read back."""
    return None if stored is None else tuple(json.loads(stored))


def visible(answered_under: Sequence[str] | None, viewer: Sequence[str] | None) -> bool:
    """Whether a conversation turn answered under the access groups ``answered_under`` may be
    shown to a reader of the groups ``viewer``. An answer retrieved under some groups may quote
    any of their documents, so its reader must be in all of them; one retrieved without a
    restriction (``None``), only to a reader without one."""
    if viewer is None:
        return True
    return answered_under is not None and set(answered_under) <= set(viewer)


class ConversationStore:
    """Session history in one SQLite file (``KB_HOME/<kb>/conversations.sqlite``)."""

    def __init__(self, path: Path, max_turns: int = 20) -> None:
        self.path = Path(path)
        self.max_turns = max_turns
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # a damaged file is set aside, not lost, and begun anew (kb.stores)
            conn = open_store(self.path, _SCHEMA, what="conversation database", timeout=10)
            if "groups" not in {r[1] for r in conn.execute("PRAGMA table_info(turns)")}:
                with conn:  # a file from before turns kept their access groups: theirs are unknown
                    conn.execute("ALTER TABLE turns ADD COLUMN groups TEXT")
            self._local.conn = conn
        return conn

    def history(self, session_id: str, limit: int | None = None, viewer: Sequence[str] | None = None) -> list[Message]:
        """The last ``limit`` turns of a session, oldest first, less those a reader of the access
        groups ``viewer`` may not see (:func:`visible`; ``None``: a reader of every group): a
        session asked as staff and then by a user in no group carried the staff answer into the
        condensed query (and to an LLM's condensing prompt)."""
        n = limit or self.max_turns
        rows = self._conn().execute(
            "SELECT role, content, groups FROM turns WHERE session_id=? ORDER BY id DESC LIMIT ?", (session_id, n)
        ).fetchall()
        return [
            {"role": r, "content": c}
            for r, c, g in reversed(rows)
            if visible(read_groups(g), viewer)
        ]

    def append(
        self, session_id: str, role: str, content: str, answer_id: str = "", groups: Sequence[str] | None = None
    ) -> None:
        """Record a turn; ``groups``: the access groups it was asked or answered under (``None``:
        without a restriction)."""
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT INTO turns(session_id, role, content, answer_id, created, groups) VALUES (?,?,?,?,?,?)",
                (session_id, role, content, answer_id, time.time(), stored_groups(groups)),
            )

    def clear(self, session_id: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM turns WHERE session_id=?", (session_id,))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# the pieces of a message that is only small talk: a greeting, thanks, a request for help, an
# acknowledgement or a goodbye, alone or together ("OK, thanks!", "明白了，谢谢", "Hi, I have a
# question"). No need to look anything up, and no context for the next question ("Thanks!" then
# "and for express?" follows the turn before the thanks)
_TALK = {
    "greeting": r"(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening))(?:\s+there)?|你好|您好|嗨|哈喽|早上好|下午好|晚上好|在吗|在不在"
    r"|喂|(?:请问)?有人(?:在|在线)?(?:吗|没|不)|有没有人[啊呀吗]?|客服在吗"
    r"|(?:is\s+)?(?:anyone|anybody|someone|somebody)\s+(?:there|here|around)|(?:are\s+)?you\s+there",
    "thanks": r"(?:thanks|thank\s+you|thx|many\s+thanks|cheers)(?:\s+(?:so|very)\s+much|\s+a\s+lot)?"
    r"|that\s+(?:helped|helps|was\s+helpful)|that'?s\s+(?:helpful|great)|谢谢(?:你|您)?[啦了呀]?|多谢|感谢|谢了|辛苦了",
    "help": r"help\s+me|help\s+please|help|i\s+need\s+help|can\s+you\s+help(?:\s+me)?|帮助|帮帮我|帮我|求助",
    "ack": r"(?:(?:that|it)(?:'s|\s+is|\s+was)\s+|sounds\s+)?(?:ok|okay|fine|good|great|perfect|cool|awesome|nice|interesting)"
    r"|got\s+it|i\s+see|understood|i\s+understand|(?:that\s+)?makes\s+sense|alright|no\s+problem|wow"
    r"|明白了?|知道了|了解|懂了|好的|好吧|好|嗯+|收到|原来如此|有意思|没问题(?!了)",
    # (and the end of what the customer wanted: "没有了，谢谢", "that's all", "nothing else", after an
    # answer or our "anything else?", were searched, and the last answer said again or refused)
    "bye": r"bye|goodbye|bye\s+bye|see\s+you|再见|拜拜"
    r"|(?:(?:no|nope)[\s,]+)?(?:that'?s\s+(?:all|everything)(?:\s+for\s+(?:now|today))?|nothing\s+else|no\s+more\s+questions)"
    r"|没有了|没了|没有(?:其他|别的)的?(?:问题)?了|没(?:有)?问题了|没别的了?",
    # no kind of its own: "Hi, I have a question" is a greeting
    "": r"please|pls|i\s+have\s+a\s+question|(?:a\s+)?quick\s+question|我想问一下|我想咨询一下|请问一下|问一下",
}
# a piece in Latin letters ends a word: "hit" is no "hi", and "okay" is not "ok" + "ay"
_TALK_PIECE = re.compile(
    "|".join(f"(?P<{k or 'filler'}>(?:{v})(?![A-Za-z]))" for k, v in _TALK.items()), re.IGNORECASE
)
_TALK_GAP = re.compile(r"[\s,.!?;:~\-，。！？；：、…]*")
# which reply a message of several kinds gets ("OK, thanks, bye" says goodbye)
_TALK_ORDER = ("bye", "thanks", "greeting", "help", "ack")


def small_talk(text: str) -> str | None:
    """``"greeting"``, ``"thanks"``, ``"help"``, ``"ack"`` or ``"bye"`` when ``text`` is only
    small talk ("Hi!", "Thank you so much", "help", "OK, thanks", "明白了，谢谢"), else None ("Hi,
    how do I return an item?" is a question)."""
    folded = to_simplified(text or "").strip()
    if not folded or len(folded) > 80:
        return None
    kinds: set[str] = set()
    pos = _TALK_GAP.match(folded, 0).end()  # type: ignore[union-attr]
    while pos < len(folded):
        m = _TALK_PIECE.match(folded, pos)
        if m is None:
            return None
        kinds.add(m.lastgroup or "")
        pos = _TALK_GAP.match(folded, m.end()).end()  # type: ignore[union-attr]
    kinds.discard("filler")
    return next((k for k in _TALK_ORDER if k in kinds), None)


# what opens a message before what it asks: small talk ("ok. what about pets?", "好的，那早餐呢？"), or
# a correction of the turn before ("no, I meant the non-refundable rate", "不对，我是说标准价")
# (each piece ends at a mark, "好评返现怎么领" opening with no 好 and "no-show policy" with no "no", and
# a word follows it, "No. 5 perfume" having no opener; or, for a few words that name nothing, at a
# space before a word that asks: "ok what about pets?", not "Great Wall tours", "Hey Dude shoes in
# size 12?" or "Thank you email, can I turn it off?"; what says which thing was meant needs neither:
# "我是说标准价")
_OPENING_MARK = r"\s*[,.!?;:~，。！？；：、…][\s,.!?;:~，。！？；：、…]*(?=[^\W\d_])"
_OPENING_WORD = (
    r"(?:ok|okay|alright|hi|hello|hey|thanks|thank\s+you|sorry|actually)\s+(?=(?:what|how|where|when|why|which|who"
    r"|can|could|do|does|did|is|are|will|would|should|may|i|i'm|we|my|and|so|also|please|tell)\b)"
)
_CORRECTION = r"no|nope|sorry|actually|wait|oops|whoops|my\s+bad|my\s+mistake|不对|不是|错了"
_MEANT = r"i\s+meant?\s|i\s+was\s+asking\s+about\s|i'?m\s+asking\s+about\s|我是说|我说的是|我指的是|我问的是"
_OPENING = re.compile(
    rf"^\W*(?:(?:(?:{_TALK_PIECE.pattern}|{_CORRECTION}){_OPENING_MARK}|{_OPENING_WORD})+(?:{_MEANT})?|(?:{_MEANT}))",
    re.IGNORECASE,
)


_CORRECTS = re.compile(rf"^\W*(?:(?:{_CORRECTION})\W+)?(?:{_MEANT})", re.IGNORECASE)


def corrects(text: str) -> bool:
    """Whether ``text`` corrects the turn before it ("no, I meant Premium", "不对，我是说季卡"): it says
    what that turn meant, and is about what that turn asked."""
    return bool(_CORRECTS.match(to_simplified(text)))


_QUESTION_OPENING = re.compile(r"^\W*(?:what|how|why|when|where|which|who|can|could|do|does|is|are|will|would|should)\b", re.I)
# words before a noun that say nothing of which one is meant (an article, a pronoun, a verb of the
# question): "How much does roaming cost?" corrected to "data roaming" keeps its "does"
_NOT_MODIFIERS = frozenset(
    "the a an my your our their his her its this that these those of for on in to at by with from is are was were "
    "be do does did can could will would should may might must have has had i you we they it he she me us them "
    "how what which who when where why much many any some".split()
)


def corrected_turn(meant: str, before: str) -> str | None:
    """The question ``before`` asked again of what a correction says was ``meant`` ("the prepaid
    plan", "Premium", after "How much is the Max plan?": "How much is the prepaid plan?"), or None
    where it cannot be read so (a correction that asks a question of its own, or one sharing no
    noun and naming no name in place of the one ``before`` names). Carried as a follow-up, the
    corrected question kept its subject: "no, I meant the prepaid plan" was searched with the Max
    plan and told its price (QA 2026-12-07). English only."""
    meant = meant.strip().rstrip(".!?。！？ ")
    words = meant.split()
    if not words or len(words) > 5 or _QUESTION_OPENING.match(meant) or has_cjk(meant) or has_cjk(before):
        return None
    # a noun both name, after another word in each ("the prepaid plan" for "the Max plan")
    for k in range(1, len(words)):
        head, mod = words[k], words[k - 1]
        if mod.lower() in _NOT_MODIFIERS:
            continue
        m = re.search(rf"\b([\w-]+)\s+{re.escape(head)}\b", before, re.I)
        if m and m.group(1).lower() not in _NOT_MODIFIERS and m.group(1).lower() != mod.lower():
            return before[: m.start(1)] + " ".join(words[k - 1 : k + 1]) + before[m.end() :]
    # a name for the one name the question named ("Premium" for "Plus" in "do Plus members get?")
    names = [m for m in re.finditer(r"(?<=\s)[A-Z][\w-]*", before) if m.group(0).lower() not in _NOT_MODIFIERS]
    bare = [w for w in words if w.lower() not in _NOT_MODIFIERS]
    if len(names) == 1 and len(bare) == 1 and bare[0][:1].isupper():
        n = names[0]
        return before[: n.start()] + bare[0] + before[n.end() :]
    return None


def without_opening(text: str) -> str:
    """``text`` without the small talk or correction it opens with ("ok. what about pets?": "what
    about pets?"; "no, I meant the non-refundable rate": "the non-refundable rate"), where something
    is left: said first, they sank the question under the refuse threshold (asked alone, or
    after another turn). ``text`` as it is where nothing else is."""
    m = _OPENING.match(text)
    rest = text[m.end():] if m else text
    return rest if rest.strip(" \t\n,.!?;:，。！？；：、…") else text


# words by which a question leans on the turn before it: a pronoun or "the same", "what about
# ...", "and ..."; in Chinese 它, 这个, a closing 呢, an opening 那 or 还
_FOLLOWUP_EN = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|him|there|one|ones|same|also|else|other|"
    r"more|former|latter|either|neither|both|such|too|instead)\b|^\W*(and|but|so|or|what\s+about|how\s+about|"
    r"what\s+if)\b",
    re.I,
)
_FOLLOWUP_ZH = re.compile(r"它|他们|她们|这个|那个|这些|那些|这种|那种|这样|那样|该|此|其|上述|刚才|前面|同样|呢\W*$|^\W*[那还也]")


def stands_alone(question: str) -> bool:
    """Whether ``question`` leans on no earlier turn by its words (:data:`_FOLLOWUP_EN`): "Do you
    ship to Canada?" stands alone, "How many languages do they provide assistance in?" does not."""
    return not _FOLLOWUP_EN.search(question) and not _FOLLOWUP_ZH.search(to_simplified(question))


# how a turn that asks something ends, or one of its sentences opens: a question mark, an English
# question word, auxiliary or request verb ("Tell me about ..."), a Chinese question word or particle.
# A bare topic ("Tax rate for LLC") is read as no question: after its refusal, a question about "it"
# is asked as any follow-up is, as it was before that rule
_ASKS_EN = re.compile(
    r"(?:^|[.!?;]\s+)\W*(what|how|why|when|where|which|who|whom|whose|can|could|do|does|did|is|are|was|were|"
    r"will|would|should|shall|may|might|have|has|am|isn't|aren't|doesn't|don't|didn't|can't|won't|wouldn't|"
    r"shouldn't|tell|give|show|explain|describe|list|summari[sz]e|please)\b",
    re.I,
)
# (几 asks "how many", not in "几天前买的", a few days ago)
_ASKS_ZH = re.compile(
    r"吗|呢|什么|怎么|怎样|如何|为什么|为何|多少|多久|多长|哪|几(?![^，。！？,.!?]{0,3}前)|是否|能否|可否|有没有|能不能|可不可以|是不是"
)


def asks_something(turn: str) -> bool:
    """Whether a user's ``turn`` asks something: a question ("Do you sell refurbished phones?",
    "what is the warranty on a cruise ship", "保修多久") or a request ("I want to return my boat",
    :func:`~indexes.text.without_request`), not only a statement of what happened ("I bought a
    laptop last week", "我买了一台电脑"), which gives the next question its context."""
    text = to_simplified(turn).strip()
    if text.rstrip("\"'”’」』)）] ").endswith(("?", "？")) or _ASKS_EN.search(text) or _ASKS_ZH.search(text):
        return True
    return without_request(turn) != turn


def things_named(text: str) -> int:
    """How many things ``text`` names: its topic's terms, a Chinese word with the words the analyzer
    indexes within it counted once ("保修期" and its 保修)."""
    return len(outermost(set(tokenize(query_topic(text)))))


def takes_topic_from_before(question: str) -> bool:
    """Whether ``question`` names what it asks about only by leaning on the turn before: it does
    by its words (:func:`stands_alone`), and names at most one thing of its own ("How much does
    that cost?", "How do I cancel it?", "这个要钱吗？"); a question that names another subject
    ("What about returns?", :func:`~indexes.text.only_names_subject`), or more than one thing
    ("Does it cost more for express shipping?"), says what it is about."""
    if only_names_subject(question):
        return False
    # a Chinese word is indexed with the words within it too ("保修期": 保修): one thing (and
    # 什么时候, "when", asks, as 多久 does: its 时候 is no thing named; "送到的时候坏了" keeps its 时候)
    names_one = things_named(to_simplified(question).replace("什么时候", "多久")) <= 1
    # a Chinese question leaves out what it asks about, where English says "it": "什么时候能收到？"
    # after "发票怎么开？" asks when the invoice arrives, and was told when a refund does, whose
    # sentence says 收到
    return names_one and (not stands_alone(question) or has_cjk(question))


# the words by which a question points at a thing said before ("How much does that cost?", "这个要钱吗？"):
# :data:`_FOLLOWUP_EN` and :data:`_FOLLOWUP_ZH` less their opening "And" / "那", "also", "more", "呢",
# which join a question to the talk without taking its topic ("And how long does shipping take?")
_POINTS_BACK_EN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|him|same|such)\b", re.I)
# (a word of its own: 该, 此 and 其 stand in 应该, 因此 and 其他 as often as alone, and 它 in 其它)
_POINTS_BACK_ZH = re.compile(r"(?<!其)它|他们|她们|这个|那个|这些|那些|这种|那种|这样|那样|上述|刚才|前面|同样")


def points_back(question: str) -> bool:
    """Whether ``question`` names something said before by a pronoun or demonstrative."""
    return bool(_POINTS_BACK_EN.search(question) or _POINTS_BACK_ZH.search(to_simplified(question)))


# the pronouns by which an earlier turn leaves its topic to the one before it; narrower than
# :data:`_FOLLOWUP_EN`, whose "that", "there", "also" or "more" mostly do not refer back in a
# turn that is carried ("I heard that I can change Cloud Shell's location", "Are there many teams
# in the Midwest?")
_REFERS_BACK_EN = re.compile(
    r"\b(it|its|they|them|their|theirs|he|she|his|her|him|this|these|those)\b"
    # "that" as a pronoun ("How much does that cost?", "What about that?"), not as a conjunction
    # ("I heard that the fee went up") or a relative ("a fee that applies"): the question after
    # "how much does that cost?" lost the topic the turn before it named
    r"|\b(does|do|did|is|was|will|would|can|could|about|for|with|of|on|to)\s+that\b"
    r"(?!\s+(the|a|an|i|you|we|they|it|my|your|our|their|this|these|those|is|was)\b)|\bthat\s*[?!.]*\s*$",
    re.I,
)


# the longest Chinese turn read as naming what it asks about only by leaning on the one before
ELLIPTIC_ZH_CHARS = 12


def refers_back(turn: str) -> bool:
    """Whether an earlier user turn names its topic only by a pronoun ("How does the state pay
    for it?"), or names only another subject ("What about Canada?" after "Do you ship
    internationally?", :func:`~indexes.text.only_names_subject`), or, in Chinese, at most one thing
    (:func:`takes_topic_from_before`), so that the turn before it must be carried too
    (:func:`condense_offline`)."""
    # (a Chinese turn leaves out what it asks about where English says "it": "在几楼？" after "几点？"
    # after "早餐" asks where breakfast is, and was refused, searched as "在几楼？ 几点？". Such a
    # turn is short: a longer one is not analysed, which costs 0.2 ms a turn cold)
    return bool(
        _REFERS_BACK_EN.search(turn) or _FOLLOWUP_ZH.search(to_simplified(turn)) or only_names_subject(turn)
        or (has_cjk(turn) and len(turn.strip()) <= ELLIPTIC_ZH_CHARS and takes_topic_from_before(turn))
    )


# A previous turn longer than this is carried as its rarest terms, not whole (the longest user
# turn in the dev sets' histories has 187 characters)
LONG_TURN_CHARS = 300

# How many turns before the previous one a follow-up may carry, each because the turn after it
# leans on it (:func:`condense_offline`)
LEAN_BACK_TURNS = 2


def condense_offline(
    question: str,
    history: Sequence[Message],
    idf: Callable[[str], float] | None = None,
    max_terms: int = 6,
    *,
    dense_reads: bool = True,
) -> str:
    """A stand-alone query without a model: the question plus the previous user turn (the largest
    single gain on follow-ups, ../shared/notes/baselines-dev.md), and, where that turn names its
    topic only by a pronoun (:func:`refers_back`), the turns it leans on, at most
    :data:`LEAN_BACK_TURNS` more. When the embedder cannot read
    the question's language (``dense_reads=False``: BM25 carries the query alone) and it is
    Chinese, the question plus the rarest terms of earlier user turns instead: a whole turn
    drowns a short Chinese follow-up in BM25, while a dense encoder reads the whole turn better
    (domainrag follow-ups with multilingual-e5-small: hit@5 0.67 with the turn, 0.42 with terms).
    A previous turn of more than :data:`LONG_TURN_CHARS` (a pasted e-mail or order list) is
    carried as terms too: whole, 15 KB of it drowned the question ("How long do I have to return
    an item?" was refused) and took 4 s to embed.
    ``idf(term)`` ranks terms by rarity when given (the index's BM25 statistics).
    Only earlier turns in the question's language are carried, unless there are none and the
    question leans on the turn before by its words (:func:`stands_alone`): a customer who turns from English to Chinese
    asks something new, and "How long do I have to return an item?" joined to "积分有效期是多久？"
    made the points rules hold too few of the query's words to be answered; "那会员呢？" ("and for
    members?") after it asks about returns all the same."""
    lang = detect_lang(question)
    said = [
        m["content"]
        for m in history
        if m.get("role") == "user" and m.get("content", "").strip() and not small_talk(m["content"])
    ]
    users = [t for t in said if detect_lang(t) == lang]
    if not users and not stands_alone(question):
        # a question that leans on the turn before by its words ("那会员呢？" after "How long do I
        # have to return an item?"), when none was asked in its language, carries the last one
        users = said
    if not users:
        return question
    # a question that names nothing ("How long do I have?", "要多久？") after a follow-up, which
    # may not name its topic either ("What do I need to send?"), is about what the last answer
    # said: its first sentence is carried after the turn it answered. After a first turn, which
    # had to say what it was about, that turn is enough, and carrying its answer carries any
    # sentence that answer was wrong to lead with
    answered = last_answer(question, history) if len(said) > 1 and not tokenize(query_topic(question)) else ""
    if (lang != "zh" or dense_reads) and len(users[-1]) <= LONG_TURN_CHARS:
        carried = [users[-1]]
        # a correction carried as the turn it corrects, asked of what was meant ("Can I roam with
        # it?" after "no, I meant the prepaid plan" after "How much is the Max plan?" was searched
        # with the Max plan too, and told the Max plan's roaming first)
        fixed = corrected_turn(without_opening(users[-1]), users[-2]) if len(users) > 1 and corrects(users[-1]) else None
        if fixed:
            return " ".join(t for t in (question, fixed, answered) if t)
        # a carried turn that leans on the one before it ("How does the state pay for it?" after
        # "What does it cover?" after "What is MediCal?") does not name its topic: the turn it
        # leans on is carried too, newest first
        for earlier in reversed(users[-1 - LEAN_BACK_TURNS : -1]):
            # (so does a correction: "do they roll over?" after "no, I meant Premium" after "How many
            # guest passes do Plus members get?" was searched without the guest passes, and refused)
            if not (refers_back(carried[-1]) or corrects(carried[-1])) or len(earlier) > LONG_TURN_CHARS:
                break
            carried.append(earlier)
        if answered and things_named(" ".join(carried)) > 2:
            # the turns carried name the topic themselves ("金卡会员呢？" and "运费多少钱？" before
            # "要多久？"): the answer's sentence (a row of the fees table) only brought that answer
            # back, where the delivery time was asked
            answered = ""
        return " ".join(t for t in (question, *carried, answered) if t)
    q_terms = set(tokenize(question))
    seen: dict[str, float] = {}
    for turn_i, turn in enumerate(reversed([*users[-3:], answered] if answered else users[-3:])):
        for t in tokenize(turn):
            if t in q_terms or len(t) < 2:
                continue
            rarity = idf(t) if idf is not None else float(len(t))
            score = rarity / (1 + 0.5 * turn_i)  # the previous turn counts most
            seen[t] = max(seen.get(t, 0.0), score)
    extra = sorted(seen, key=lambda t: -seen[t])[:max_terms]
    return question + (" " + " ".join(extra) if extra else "")


def last_answer(question: str, history: Sequence[Message]) -> str:
    """The first sentence of the last reply in ``history``, without its [n] markers, when that
    reply answered from the knowledge base (it cites passages; a refusal, a clarifying question or
    small talk does not) in ``question``'s language; "" otherwise. "How long do I have?" after
    "What do I need to send?" after "My order arrived damaged" asks about what that answer said
    ("Contact customer service within 48 hours of delivery with photos of the item ..."), which
    neither user turn names: joined to the turn before alone, it was answered with how long a
    password-reset link is valid."""
    if not history or history[-1].get("role") != "assistant":
        return ""
    reply = history[-1].get("content", "")
    if not CITATION_RE.search(reply) or detect_lang(reply) != detect_lang(question):
        return ""
    text = strip_markers(next(iter(split_answer(reply)), ""))
    return text if len(text) <= LONG_TURN_CHARS else ""


# a model's reply that declines or apologises instead of rewriting the question
_DECLINES = re.compile(
    r"(?i)\b(?:sorry|apologi[sz]e|unfortunately|as an ai\b|i (?:cannot|can't|can not|am unable|'m unable|am not able)"
    r"|unable to (?:help|assist|answer|comply))|抱歉|对不起|很遗憾|(?:无法|不能)(?:回答|帮助|帮忙|提供|协助)"
)


# "there" as a place ("How long does delivery take there?"), not as "there is" ("Is there a fee?",
# "Are there customs fees?", "isn't there"), and 那里 / 那边 / 那儿
_THERE = re.compile(
    r"(?:\b(\w+)\s+)?\bthere\b(?!\s*(?:is|are|was|were|'s|'re|will|would|must|should|may|might|could|can|be|been"
    r"|seems?|exists?)\b)",
    re.IGNORECASE,
)
_THERE_ZH = re.compile(r"那里|那边|那儿|那裡|那邊|那兒")


def names_a_place_before(question: str) -> bool:
    """Whether ``question`` names a place said before by "there" or 那里."""
    return bool(_THERE_ZH.search(question)) or any(
        (m.group(1) or "").lower() not in ("is", "are", "was", "were", "be", "been", "t") for m in _THERE.finditer(question)
    )


def usable_rewrite(rewrite: str, question: str, history: Sequence[Message]) -> bool:
    """Whether a model's stand-alone form of ``question`` can be searched for: not empty, not
    far longer than a question, not a refusal or an apology (that the question does not make
    itself), sharing a content word with the question or the conversation, and, where the
    question leans on the turn before, naming a word the question does not. "Sorry, I cannot
    help with that." was searched for, and the question refused; "How long does delivery take
    there?" after "Do you ship to Canada?" came back as it was, and was searched without Canada."""
    if len(rewrite) < 3 or len(rewrite) > max(200, 3 * len(question)):
        return False
    if _DECLINES.search(to_simplified(rewrite)) and not _DECLINES.search(to_simplified(question)):
        return False
    words, asked = set(tokenize(rewrite)), set(tokenize(question))
    if history and words <= asked:
        # the follow-up itself (or less of it): stand-alone only where the question stood alone.
        # It leans back by a pronoun ("How much does it cost?"), "there" as a place (not "Is
        # there a fee?") or 那里, or by naming only another subject ("What about Canada?")
        if points_back(question) or refers_back(question) or names_a_place_before(question):
            return False
    said = asked.union(*(tokenize(m.get("content", "")) for m in history))
    return bool(said.intersection(words))


def condense_with_llm(
    question: str, history: Sequence[Message], llm: Any, lang: str, **kw: Any
) -> str | None:
    """Ask the LLM backend for a stand-alone question; None when its reply is not one
    (:func:`usable_rewrite`), for the caller to condense offline. ``kw`` goes to
    ``llm.generate`` (``deadline``)."""
    from rag.compose import condense_messages

    history = history[-6:]
    out = llm.generate(condense_messages(question, history, lang), max_tokens=96, **kw).strip()
    out = out.splitlines()[0].strip() if out else ""
    # (without the label a model may write before it: gemma-3-270m's "User: How long does delivery
    # take there?" counted "user" as the word that made it stand alone, and was searched without Canada)
    out = _REWRITE_LABEL.sub("", out).strip().strip('"“”「」').strip()
    return out if usable_rewrite(out, question, history) else None


# a label a model writes before its rewrite: a chat role, "Stand-alone question:", "改写后的问题："
_REWRITE_LABEL = re.compile(
    r"^\W*(?:(?:user|human|customer|assistant|q|question|query|rewritten(?:\s+question)?|stand[\s-]?alone(?:\s+question)?"
    r"|standalone(?:\s+question)?|follow[\s-]?up(?:\s+question)?)\s*[:：]\s*"
    r"|(?:用户|客户|问题|改写后的问题|独立问题|完整问题)\s*[:：]\s*)+",
    re.IGNORECASE,
)
