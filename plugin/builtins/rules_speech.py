"""Rules for the shapes of natural speech the slot rules do not cover.

- names given in passing: "Tomasz here", "Benji is my name";
- fears: "I'm terrified of heights";
- the general subject-verb-object reading, the last resort for a statement about the
  user that fits no known slot: "I collect old maps" -> "What do I collect?" -> "old maps"
  (only for verbs in ``lexicon.SVO_VERBS``, whose objects are lasting facts);
- facts said in passing before a question to the bot: "since I'm allergic to shellfish,
  what should I order?" keeps "since I'm allergic to shellfish" (``before_question``).

The word lists are in ``lexicon``, the questions in ``templates_others``; the pipeline in
``rules`` decides when each function runs.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    FAMILY,
    FEAR_WORDS,
    NOT_HERE_NAMES,
    SVO_VERBS,
)
from sleepmem.plugin.builtins.rule_parse import (
    CUT_NP,
    I_AM,
    Clause,
    compile_rule,
    parse_name,
    parse_value,
)

QUESTION_START = re.compile(
    r"^(?:what|what's|whats|where|where's|who|who's|whom|whose|when|why|how|how's|which|"
    r"do|does|did|can|could|would|will|shall|should|is|are|am|was|were|have|has|had|may|"
    r"might|must|tell\s+me|remind\s+me|guess|say|repeat|list|show|give\s+me|describe|"
    r"explain|write|translate|summari[sz]e|forget|delete|ignore)\b",
    re.I,
)
"""A clause that asks or orders rather than states (the rules never read one)."""

# "right?", "isn't it?": the sentence asks the bot to confirm it, so it states nothing new.
_TAG = re.compile(
    r"^(?:right|correct|true|yes|yeah|no|ok|okay|eh|huh|innit|isn't\s+it|don't\s+I|"
    r"(?:isn't|aren't|wasn't|weren't|doesn't|don't|didn't|hasn't|haven't)\s+"
    r"(?:she|he|it|they|we|you)|"
    r"didn't\s+I|am\s+I\s+right|aren't\s+I|or\s+not|remember)\W*$",
    re.I,
)
_CHUNKS = re.compile(r"\s*[,;:]\s+|\s+-\s+")


def before_question(sentence: str) -> str:
    """What a question sentence states before it asks: the chunks (split at commas, colons,
    dashes) before the first one that asks, never the last chunk (it holds the "?").
    "" when the sentence opens with its question or ends in a tag like "right?"."""
    chunks = [c for c in _CHUNKS.split(sentence.strip()) if c]
    if len(chunks) < 2:
        return ""
    if _TAG.match(chunks[-1]):
        # a tag confirms the chunk it follows ("I live in Lisbon, right?" states nothing),
        # not what the sentence said before that ("I'm a midwife, you see, and babies came
        # at once, which is always the way, isn't it?" still says "I'm a midwife")
        chunks = chunks[:-1]
        if len(chunks) < 2:
            return ""
    kept: list[str] = []
    for chunk in chunks[:-1]:
        if QUESTION_START.match(chunk):
            break
        kept.append(chunk)
    return ", ".join(kept)


# Texting drops the subject ("live in Osaka now", "moved to Kobe last week"). Only verbs
# that are never an order to the bot are read this way: "play some jazz" stays a request.
_SUBJECT_DROP = re.compile(
    r"^(?:(?:live|lived)\s+in|moved\s+(?:to|from|back)|grew\s+up\s+in|(?:was\s+)?born\s+"
    r"(?:in|on)|work(?:ed)?\s+(?:as|at|for)|teach|collect|got\s+(?:a|an|two|three|my))\b",
    re.I,
)


def with_subject(clause: str) -> str:
    """ "live in Osaka" -> "I live in Osaka"; other clauses unchanged."""
    if not _SUBJECT_DROP.match(clause):
        return clause
    if clause[:4].lower() == "born":
        return f"I was {clause}"
    return f"I {clause[:1].lower()}{clause[1:]}"


# --- names in passing -------------------------------------------------------------------

_HERE = re.compile(r"^(?P<tail>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*)?)\s+here\b\W*(?:$|[,!.:;-])")
# "my mates all call me Dodo": capitals only, since "my boss calls me lazy" is no name
_CALLED = re.compile(
    r"^(?:(?:all\s+)?(?:my|the|our)\s+)?[\w']+(?:\s+all)?\s+call(?:s)?\s+me\s+(?P<tail>.+)$", re.I
)
_IS_MY_NAME = re.compile(r"^(?P<tail>[^\W\d_][\w'-]*)(?:\s+is|'s)\s+(?:my|the)\s+name\b", re.I)


def r_name_aside(c: Clause) -> None:
    """ "Tomasz here, ...", "Benji is my name", "my mates call me Dodo": the speaker's name."""
    for pat in (_HERE, _IS_MY_NAME, _CALLED):
        m = pat.match(c.text)
        if m and pat is _CALLED:
            if c.loose or "name" in c.kinds():
                return
            name, _ = parse_name(m["tail"], loose=False)
            if name:
                c.add("name", name)
            return
        if not m:
            continue
        words = m["tail"].split()
        if any(w.lower() in NOT_HERE_NAMES or w.lower() in FAMILY for w in words):
            return
        name, rest = parse_name(m["tail"], c.loose)
        if name and not rest.strip() and "name" not in c.kinds():
            c.add("name", name)
        return


# --- fears ------------------------------------------------------------------------------

_FEAR = compile_rule(
    rf"{I_AM}\s+(?:(?:so|really|very|super|deathly|absolutely|quite|a\s+bit|kind\s+of|"
    rf"always\s+been)\s+)*(?:{'|'.join(sorted(FEAR_WORDS))})\s+of\s+(?P<tail>.+)"
)
_PHOBIA = compile_rule(r"\b(?:I|we)\s+(?:have|'ve\s+got)\s+(?:a|an)\s+phobia\s+of\s+(?P<tail>.+)")


def r_fear(c: Clause) -> None:
    for pat in (_FEAR, _PHOBIA):
        m = pat.search(c.text)
        if m:
            _, value = parse_value(m["tail"], CUT_NP, max_words=4)
            if value and not re.match(r"^(?:it|that|this|them|you|him|her)\b", value, re.I):
                c.add("fear", value, thing_key=value)
            return


# --- the general subject-verb-object reading --------------------------------------------

_SVO = compile_rule(
    rf"^(?:I|we)\s+(?:also\s+|really\s+|still\s+|mostly\s+|usually\s+|often\s+)?"
    rf"(?P<verb>{'|'.join(sorted(SVO_VERBS, key=len, reverse=True))})\s+(?P<tail>.+)$"
)
_BAD_OBJECT = re.compile(
    r"^(?:it|that|this|them|you|him|her|me|myself|us|something|anything|everything|"
    r"nothing|stuff|things|a\s+lot|lots|too|so|very|out|up|off|over|back|for|to|with|"
    r"like|about|when|if|because|and|or|such|what|how|wrong|right|well|badly|better|worse|"
    r"fast|hard|more|less|much|again|there|here)\b|^\w+(?:ing|ly)\b",
    re.I,
)
_OWN = re.compile(r"^(?:my|our)\s+own\s+", re.I)


def r_svo(c: Clause) -> None:
    """ "I collect old maps" -> What do I collect? old maps. Runs only when no rule matched."""
    m = _SVO.match(c.text)
    if not m:
        return
    tail = _OWN.sub("", m["tail"].strip())
    if _BAD_OBJECT.match(tail):
        return
    _, value = parse_value(tail, CUT_NP, max_words=4)
    if value and not _BAD_OBJECT.match(value):
        verb = m["verb"].lower()
        c.add("svo", value, verb=verb, thing_key=f"{verb} {value}")
