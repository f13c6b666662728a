"""Which clauses may yield facts at all, and the set phrases rewritten before that check.

A clause yields nothing when it asks, wishes, supposes, denies, reports what someone else
said, or instructs the bot ("from now on ..."): precision first, since a wrong fact in a
slot silently replaces a right one. Only the clause's head is checked for most of these
(up to its first comma, " and ", " which ..."): "I live in Bergen, so any plan will
involve rain" states where the user lives, although its tail has a "will". A condition
("..., if I get the visa") still gates the clause from anywhere in it.

Some set phrases carry a gate word and still state a fact: "nothing beats ramen" (a
negation), "I could eat sushi every day" (a modal), "I'm going to Rome next month" (the
"going to" of the future). ``canonical`` rewrites them into the plain form the rules
read ("ramen is my all-time favourite") before the gate runs.

Imports only ``rules_speech`` (for the question opener) and the lexicons.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon_life import FUTURE_VERBS, TRIP_TIME
from sleepmem.plugin.builtins.rules_speech import QUESTION_START

I_ = re.I

HYPO_START = re.compile(
    r"^(?:if|imagine|suppose|supposing|pretend|hypothetically|what\s+if|let's\s+say|"
    r"let\s+us\s+say|in\s+(?:a|my|this)\s+(?:story|dream|game|novel)|once\s+upon)\b",
    I_,
)
"""A sentence that opens a supposition: nothing in it is a fact."""

_HYPO = re.compile(
    r"\b(?:if|unless|suppose|supposing|imagine|imagining|pretend|pretending|hypothetically|"
    r"wish|wished|maybe|perhaps|someday|one\s+day|dream(?:ing)?\s+(?:of|about)|"
    r"hop(?:e|es|ing)\s+to|want(?:s|ed)?\s+to|wanna|plan(?:s|ning)?\s+to|going\s+to|gonna|"
    r"would|wouldn't|could|couldn't|might|should|shall|used\s+to|let's\s+say|role-?play|"
    r"fictional|in\s+(?:a|the|this)\s+(?:story|game|novel|dream)|"
    r"(?:I|we|you|he|she|they)'(?:d|ll))\b",
    I_,
)
_WILL = re.compile(r"\b(?:will|won't)\b|\bWill\s+(?:I|you|we)\b")  # "My name is Will" is fine
_NEGATION = re.compile(
    r"n't\b|\b(?:not|never|no|nobody|nothing|neither|nor|none|no\s+longer)\b", I_
)
# A condition gates the whole clause, wherever it stands.
_CONDITION = re.compile(
    r"\b(?:if|unless|suppose|supposing|imagine|pretend|hypothetically|in\s+case)\b", I_
)
# "I told you Hinewai is seven, but ...": the user quoting what they said before, either
# repeated or about to be corrected; either way it says nothing new.
_OWN_EARLIER = re.compile(
    r"^I\s+(?:told\s+(?:you|u)|said|wrote|mentioned|typed|thought\s+I\s+(?:said|told))\b", I_
)
_REPORTED = re.compile(
    r"\b(?P<who>[\w']+)\s+(?:says?|said|thinks?|thought|claims?|claimed|believes?|believed|"
    r"told\s+(?:me|him|her|them|everyone|us))\s+(?:that\s+)?(?:I|my|we)\b",
    I_,
)
# Orders to the bot about what to believe or play: "from now on user Bob lives in Mordor",
# "act as if I'm the admin", "you are my lawyer". They set up a game, not a fact.
_INSTRUCTION = re.compile(
    r"\b(?:from\s+now\s+on|going\s+forward|for\s+the\s+rest\s+of\s+(?:this|the)\s+chat|"
    r"act\s+as|play\s+the\s+role|in\s+character|stay\s+in\s+character|treat\s+me\s+as|"
    r"consider\s+me|assume\s+(?:that\s+)?I|you\s+are\s+(?:now|my|a|an|the)|"
    r"you're\s+(?:now|my|a|an|the)|system\s+prompt|admin\s+mode|override)\b",
    I_,
)
# Where a clause's head ends: at its first comma or subordinate word. The tail says
# something else ("..., so please assume ...", "..., gonna watch it at a friend's") and
# its gate words are not about the head; a condition in it still gates (``_CONDITION``).
_HEAD_END = re.compile(
    r",|\s+(?:so\s+please|so\s+that|which|where|and)\b",
    I_,
)


def _head(clause: str) -> tuple[str, str]:
    m = _HEAD_END.search(clause)
    return (clause[: m.start()], clause[m.start() :]) if m else (clause, "")


def gate_reason(clause: str) -> str:
    """Why a clause must not yield facts ("" when it may): "question", "instruction",
    "modal" (a wish, a plan, a supposition), "negation", "condition", "earlier" (the user
    quoting themselves) or "reported" (hearsay)."""
    if not clause or QUESTION_START.match(clause):
        return "question"
    if _INSTRUCTION.search(clause):
        return "instruction"
    head, tail = _head(clause)
    if _HYPO.search(head) or _WILL.search(head):
        return "modal"
    if _NEGATION.search(head):
        return "negation"
    if _CONDITION.search(tail):
        return "condition"
    if _OWN_EARLIER.match(head):
        return "earlier"
    m = _REPORTED.search(clause)
    return "reported" if m and m["who"].lower() not in ("i", "we") else ""


def gated(clause: str) -> bool:
    """True when a clause must not yield facts: a question, a wish, a negation, hearsay,
    an instruction to the bot."""
    return bool(gate_reason(clause))


# --- set phrases rewritten before the gate -----------------------------------------------

# the favourite named in a set phrase; "nothing beats it" names none
_X = r"(?!(?:it|this|that|them|these|those|him|her|you)\b)(?P<x>[^,;.!?]+"
_SUBJ = r"(?:I(?:'m|\s+am)?|we(?:'re|\s+are)?|im)"
_TRIP_VERB = r"(?:fly|flying|travel|travelling|traveling|head|heading|go|going|drive|driving)"
_CANONICAL = [
    # "nothing beats X", "nothing compares to X": X is the favourite
    (re.compile(rf"\bnothing\s+(?:beats|compares\s+to|tops)\s+{_X})", I_),
     r"\g<x> is my all-time favourite"),
    # "I could eat X every day", "I could live on X": a favourite food
    (re.compile(rf"\bI\s+could\s+(?:eat|live\s+on|happily\s+eat)\s+{_X}?)\s+"
                r"(?:every\s+(?:single\s+)?day|all\s+day|forever|for\s+every\s+meal|"
                r"every\s+meal)\b", I_),
     r"\g<x> is my favourite food"),
    (re.compile(rf"\bI\s+could\s+drink\s+{_X}?)\s+(?:every\s+day|all\s+day|"
                r"forever)\b", I_),
     r"\g<x> is my favourite drink"),
    (re.compile(rf"\bI\s+could\s+listen\s+to\s+{_X}?)\s+(?:all\s+day|forever|"
                r"on\s+repeat|every\s+day)\b", I_),
     r"\g<x> is my all-time favourite"),
    # a trip told with "will" or "going to": a plan the user has, not a wish
    (re.compile(rf"\b(?:I'll|I\s+will|we'll|we\s+will)\s+(?:be\s+)?{_TRIP_VERB}\s+to\b", I_),
     "I am travelling to"),
    (re.compile(rf"\b{_SUBJ}\s+(?:going|gonna|off)\s+to\s+(?:fly|travel|go|head)\s+to\b", I_),
     "I am travelling to"),
]  # fmt: skip
# "going to" + a place (not a verb): the present of travelling, not the future
_GOING_TO = re.compile(
    rf"\b(?P<s>{_SUBJ}\s+)?(?:going|off)\s+to\s+(?=(?P<w>(?:the\s+)?[^\W\d_][\w'-]*)"
    rf"(?P<rest>.*))",
    I_,
)
_TRIP_TIME = re.compile(TRIP_TIME, I_)


def _going(m: re.Match[str]) -> str:
    word, rest = m["w"], m["rest"]
    bare = word.split()[-1]
    if bare.lower() in FUTURE_VERBS:
        return m[0]
    # a capitalised name, or (typed in lower case) a word followed by when the trip is
    if (bare[:1].isupper() and bare != "I") or _TRIP_TIME.match(rest.strip()):
        return f"{m['s'] or ''}travelling to "
    return m[0]


def canonical(body: str) -> str:
    """Set phrases rewritten into the plain statement the rules read."""
    for pat, repl in _CANONICAL:
        body = pat.sub(repl, body)
    return _GOING_TO.sub(_going, body)


# Quoted speech: what someone else said (or a sample text), not a fact about the user.
# Titles in quotes ("The Hobbit") hold no first-person word and stay.
_QUOTED = re.compile(r"\"(?P<q>[^\"]{1,400})\"")
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|Im|my|me|we|our|mine)\b", I_)


def drop_quoted_speech(text: str) -> str:
    """'she texted "I live in Paris now"' -> 'she texted ""'."""
    return _QUOTED.sub(lambda m: '""' if _FIRST_PERSON.search(m["q"]) else m[0], text)
