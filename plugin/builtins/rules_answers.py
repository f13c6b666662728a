"""Bare answers to the bot's own question: "What's your name?" -> "Mika." is a name.

A short reply holds no "my name is", so the slot rules cannot read it; the question the
bot asked just before (the last assistant turn of ``ExtractContext.history``) says what
it answers. Only a few questions are read (name, where from, where living, job, age),
and only a short reply whose first piece is a plausible value: "lisbon, why?" answers,
"why do you ask?" or "not telling" does not. The bot's text itself never becomes a fact;
it only names the slot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.lexicon import NOT_HERE_NAMES, looks_like_job
from sleepmem.plugin.builtins.lexicon_life import NOT_ANSWERS, NOT_PLACES
from sleepmem.plugin.builtins.rule_gate import gated
from sleepmem.plugin.builtins.rule_parse import NUM, Clause, parse_name, parse_place
from sleepmem.plugin.builtins.rules_speech import QUESTION_START

I_ = re.I
MAX_REPLY_CHARS = 80  # a longer message says more than an answer; the rules read it

# The questions a bot asks, by the kind of fact their answer is.
_ASKED = [
    ("name", re.compile(
        r"\b(?:what(?:'s|\s+is)\s+your\s+(?:first\s+|full\s+)?name|who\s+am\s+I\s+"
        r"(?:talking|speaking|chatting)\s+(?:to|with)|what\s+(?:should|shall|can|may)\s+I\s+"
        r"call\s+you|(?:may|can)\s+I\s+(?:ask|have|get|know)\s+your\s+name|"
        r"how\s+should\s+I\s+call\s+you|your\s+name)\b", I_)),
    ("origin", re.compile(r"\bwhere\s+(?:are\s+you|do\s+you\s+come)\s+(?:originally\s+)?from\b",
                          I_)),
    ("home", re.compile(
        r"\b(?:where\s+do\s+you\s+live|where\s+are\s+you\s+(?:based|living|located)|"
        r"(?:which|what)\s+(?:city|town)\s+(?:do\s+you\s+live\s+in|are\s+you\s+in))\b", I_)),
    ("job", re.compile(
        r"\b(?:what\s+do\s+you\s+do\s+for\s+(?:a\s+living|work)|what(?:'s|\s+is)\s+your\s+"
        r"(?:job|profession|occupation)|what\s+(?:kind\s+of\s+)?work\s+do\s+you\s+do|"
        r"what\s+do\s+you\s+do)\b", I_)),
    ("age", re.compile(r"\b(?:how\s+old\s+are\s+you|what(?:'s|\s+is)\s+your\s+age)\b", I_)),
]  # fmt: skip
_KIND_RELATION = {"name": "name", "origin": "is from", "home": "lives in", "job": "works as",
                  "age": "is aged"}  # fmt: skip
# What a reply may open with before its value: "it's Mika", "from Porto", "a nurse".
_LEAD = re.compile(
    r"^(?:it's|its|it\s+is|I'm|Im|I\s+am|I\s+live\s+in|I'm\s+from|Im\s+from|I\s+am\s+from|"
    r"originally|from|in|just|call\s+me|name's|my\s+name's|my\s+name\s+is|a|an|I'm\s+a|Im\s+a|"
    r"I\s+work\s+as|I'm\s+an|um|uh|well|oh|haha|lol)\b\s*",
    I_,
)
_PIECE = re.compile(r"\s*(?:[,.!?;:()]|\s-\s|\s(?:and|but|lol|haha|btw|though|why|you)\b)")
_AGE = re.compile(rf"^(?P<n>{NUM})(?:\s*(?:years?\s+old|years?|yrs?|y/?o))?$", I_)


def asked(history: Sequence[tuple[str, str]]) -> str:
    """The kind of fact the bot's last turn asked for, or ""."""
    try:
        role, text = history[-1]
    except (IndexError, TypeError, ValueError):
        return ""
    if role != "assistant" or not isinstance(text, str) or "?" not in text:
        return ""
    # the question the reply ends with, not one quoted earlier in it
    last = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()[-400:]) if s.endswith("?")]
    if not last:
        return ""
    return next((kind for kind, pat in _ASKED if pat.search(last[-1])), "")


def _piece(message: str) -> str:
    text = message.strip()
    for _ in range(3):
        text = _LEAD.sub("", text).strip()
    m = _PIECE.search(text)
    return (text[: m.start()] if m else text).strip(" '\"*")


def bare_answer(
    message: str, history: Sequence[tuple[str, str]], found: Sequence[Fact]
) -> list[Fact]:
    """The fact a short reply gives to the bot's question; [] when it gives none or the
    rules already read the same kind of fact in it."""
    kind = asked(history)
    text = message.strip()
    if not kind or not text or len(text) > MAX_REPLY_CHARS or QUESTION_START.match(text):
        return []
    if any(f.relation == _KIND_RELATION[kind] for f in found):
        return []
    piece = _piece(text)
    words = piece.split()
    if not words or len(words) > 3 or gated(piece):
        return []
    if any(w.lower() in NOT_ANSWERS for w in words):
        return []
    c = Clause(piece, source=text[:300], loose=True)
    if kind == "age":
        m = _AGE.match(piece)
        if m:
            c.add("age", m["n"].lower())
    elif kind == "job":
        if looks_like_job(piece):
            c.add("job", piece.lower())
    elif kind == "name":
        if not any(w.lower() in NOT_HERE_NAMES for w in words):
            name, rest = parse_name(piece, loose=True)
            if name and not rest.strip() and not any(ch.isdigit() for ch in name):
                c.add("name", name)
    else:
        place = parse_place(piece, loose=True)
        if place and place.lower() not in NOT_PLACES and not any(ch.isdigit() for ch in place):
            c.add(kind, place)
    return c.facts
