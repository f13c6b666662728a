"""``/remember`` statements the rules find no fact in, kept as notes.

"/remember I keep my spare key under the blue pot" fits no slot; it is still stored, as a
note whose answer is its key phrase, asked about with "What do you remember about me?"
and, when the statement has a simple shape, with a question built from it ("What do I
keep?"). ``rules.parse_statement`` runs the rules first and falls back to ``note_fact``.
"""

from __future__ import annotations

import re

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.phrasing import build_fact
from sleepmem.plugin.builtins.rule_parse import NAME, parse_value

I_ = re.I

_REMEMBER_PREFIX = re.compile(r"^/?remember\b\s*:?\s*(?:that\s+)?", I_)
_NOTE_VERB = re.compile(
    r"^(?P<subj>I|we)\s+(?P<verb>have|had|like|love|need|want|own|use|prefer|keep|collect|eat|"
    r"drink|play|study|visit|visited|went\s+to|am|'m|was|know|make|grow|watch|listen\s+to|"
    r"follow|support|teach|wear|take|do)\s+(?P<rest>.+)$",
    I_,
)
_NOTE_IS = re.compile(
    r"^(?P<np>(?:the|my|our)\s+[\w'\s-]{1,40}?)\s+(?P<verb>is|are|was)\s+(?P<rest>.+)$", I_
)
_PRESENT_VERBS = {"have", "like", "love", "need", "want", "own", "use", "prefer", "keep",
                  "collect", "eat", "drink", "play", "study", "know", "make", "grow", "watch",
                  "listen to", "follow", "support", "teach", "wear", "take", "do"}  # fmt: skip


def _lower_first(text: str) -> str:
    """ "The wifi password" -> "the wifi password"; "I" stays "I"."""
    if re.match(r"^I\b", text):
        return text
    return text[:1].lower() + text[1:]


def strip_remember(text: str) -> str:
    """ "remember that I ..." -> "I ..." (the command word and its "that")."""
    return _REMEMBER_PREFIX.sub("", text).strip()


def note_fact(body: str) -> Fact | None:
    """The note for a statement no rule read (``body``: normalised, command word gone)."""
    statement = body if len(body) <= 300 else body[:300].rsplit(" ", 1)[0]
    statement = statement.rstrip(" .!")
    answer, question, prompt = "", "", ""
    m = _NOTE_VERB.match(statement)
    if m:
        verb = m["verb"].lower()
        rest = parse_value(m["rest"], max_words=10)[1] or m["rest"]
        answer = rest
        prompt = f"I {verb}" if verb not in ("'m",) else "I am"
        if verb in _PRESENT_VERBS:
            question = f"What do I {verb}?"
        elif verb in ("visited", "went to"):
            question = "Where did I go?" if verb == "went to" else "What did I visit?"
    else:
        m = _NOTE_IS.match(statement)
        if m:
            np = m["np"].strip()
            answer = parse_value(m["rest"], max_words=10)[1] or m["rest"]
            question = f"What {m['verb'].lower()} {np[0].lower() + np[1:]}?"
            prompt = f"{np[0].upper() + np[1:]} {m['verb'].lower()}"
    if not answer:
        words = statement.split()
        answer = " ".join(words[:12])
    elif answer in statement:
        # the prompt is the statement up to the answer, article included ("I have a")
        prompt = statement[: statement.index(answer)].strip() or prompt
    fact = build_fact(
        "note",
        answer,
        obj=statement,
        source=body[:300],
        extractor=NAME,
        thing_key=statement,
        lead_questions=[question] if question else [],
        extra_statements=[prompt, f"As I told you, {_lower_first(prompt)}"] if prompt else [],
        text=statement[:1].upper() + statement[1:],
    )
    return fact
