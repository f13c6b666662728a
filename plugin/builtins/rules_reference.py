"""Facts said by pointing back, or taken for granted by a question, restated as the plain
sentences the slot rules already read.

People rarely say "My hobby is climbing." They say what they did and then point at it:

- "went climbing again today, that's kind of my thing" / "baking is my thing"
  -> "My hobby is climbing." / "My hobby is baking."
- "Making ramen tonight. My favourite." / "I cook varenyky, this is my favourite food"
  -> "My favourite food is ramen."
- "is it normal to be this scared of spiders??" / "why am i so afraid of the dark"
  -> "I am scared of spiders." (the question asks about the fear; it does not doubt it)
- "I listen always Caetano Veloso, he is my favourite singer" -> "My favourite singer is
  Caetano Veloso."
- "you could say that I spend my weekends hiking" (a fact handed over for a letter the bot
  drafts) -> "I spend my weekends hiking."

``restate`` returns such sentences for a message's sentences; the pipeline in ``rules``
reads them like any other and keeps what fills a slot the message did not already fill.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sleepmem.plugin.builtins.lexicon_casual import NOT_ACTIVITIES
from sleepmem.plugin.builtins.rule_parse import CUT_NP, parse_value

I_ = re.I

# --- "that's my thing" ----------------------------------------------------------------

_MY_THING = re.compile(
    r"(?P<subj>[^,.;!?]{2,50}?)(?:\s+(?:is|are)|'s|s)\s+(?:kind\s+of\s+|kinda\s+|sort\s+of\s+|"
    r"sorta\s+|totally\s+|really\s+|just\s+|very\s+much\s+)?my\s+(?:thing|jam|passion)\b",
    I_,
)
_LEADING_FILLER = re.compile(r"^(?:(?:honestly|tbh|ngl|lol|yeah|ok|okay|really|well)\s+)+", I_)
_POINTER = re.compile(r"^(?:and\s+|but\s+|so\s+)?(?:that|this|it)$", I_)
_GERUND = re.compile(r"\b[a-z]{3,}ing\b", I_)


def _activity_before(text: str) -> str:
    """The last activity named by a word in -ing in ``text`` ("go skateboarding" ->
    "skateboarding"), or ""."""
    words = [w for w in _GERUND.findall(text) if w.lower() not in NOT_ACTIVITIES]
    return words[-1].lower() if words else ""


def _my_thing(sentence: str, before: str) -> str | None:
    m = _MY_THING.search(sentence)
    if not m:
        return None
    subj = m["subj"].strip()
    # only the last few words before "is my thing" are its subject
    subj = re.split(r"[,;:]\s*|\s+-\s+|\s+(?:and|but|so)\s+", subj)[-1].strip()
    subj = _LEADING_FILLER.sub("", subj)
    if _POINTER.match(subj):
        activity = _activity_before(sentence[: m.end("subj")]) or _activity_before(before)
    elif re.fullmatch(r"[a-z]{3,}ing(?:\s+[a-z]+){0,2}", subj, I_) and not re.match(
        r"(?:going|doing|being|having|getting)\b", subj, I_
    ):
        activity = subj.lower()
    else:
        return None
    return f"My hobby is {activity}." if activity else None


# --- "my favourite." after what was just named ------------------------------------------

_FAV_BACK = re.compile(
    r"(?:^|[,;:]\s*|\s-\s)(?:and\s+)?(?:(?:this|that|it)\s*(?:'s|s|is|was)\s+)?(?:my|our)\s+"
    r"(?:all[- ]?time\s+|absolute\s+|total\s+|forever\s+)?(?:fav(?:ou?rite)?|fave)"
    r"(?:\s+(?P<thing>food|dish|meal|snack|dessert|drink|book|novel)s?)?"
    r"(?:\s+(?:since|ever|of\s+all\s+time|by\s+far|honestly|tbh|lol)\b[^.!?]*)?\W*$",
    I_,
)
# what one cooks, eats or drinks names a food or drink; what one reads, a book
_CONSUME = re.compile(
    r"\b(?P<verb>cook(?:ing)?|mak(?:e|ing)|eat(?:ing)?|bak(?:e|ing)|order(?:ing)?|having|"
    r"grab(?:bing)?|drink(?:ing)?|sipping|read(?:ing)?|rereading|re-reading)\s+"
    r"(?:some\s+|a\s+|an\s+|the\s+|more\s+|another\s+)?(?P<np>[^,.;!?]+)",
    I_,
)
_THING_OF_VERB = (("drink", "drink"), ("sipp", "drink"), ("read", "book"))
_NOT_NP_END = re.compile(
    r"\s+(?:again|tonight|today|tomorrow|now|later|for\s+(?:dinner|lunch|breakfast)|"
    r"with\b.*|at\b.*|because\b.*|since\b.*|for\b.*)$",
    I_,
)


def _favourite_back(sentence: str, before: str) -> str | None:
    m = _FAV_BACK.search(sentence)
    if not m:
        return None
    head = sentence[: m.start()]
    consumed = list(_CONSUME.finditer(head)) or list(_CONSUME.finditer(before))
    if not consumed:
        return None
    last = consumed[-1]
    np_text = _NOT_NP_END.sub("", last["np"].strip())
    _, value = parse_value(np_text, CUT_NP, max_words=4)
    if not value or re.match(r"(?:it|that|this|them|something|stuff)\b", value, I_):
        return None
    verb = last["verb"].lower()
    implied = next((thing for stem, thing in _THING_OF_VERB if verb.startswith(stem)), "food")
    thing = (m["thing"] or implied).lower()
    return f"My favourite {thing} is {value}."


# "I listen to Caetano Veloso, he is my favourite singer": a person named just before
_FAV_PERSON = re.compile(
    r"\b(?:he|she|they)\s*(?:'s|is|are|was)\s+(?:(?:also|definitely|honestly|easily|still)\s+)?"
    r"(?:my|our)\s+(?:all[- ]?time\s+|absolute\s+)?(?:fav(?:ou?rite)?|fave)\s+"
    r"(?P<thing>singer|band|artist|musician|author|writer|poet|player|actor|actress|director|"
    r"painter|composer|rapper|comedian|footballer|athlete|youtuber|streamer|chef)\b",
    I_,
)
_PERSON = re.compile(
    r"(?-i:[A-Z][\w'-]+(?:\s+(?:[A-Z][\w'-]+|de|da|do|dos|van|von|del|la|le|di|bin|al)){0,3})"
)
_NOT_PERSON_TEXT = "I I'm In The My On At And But So Oh Also Then When Have Did Do Is"
_NOT_PERSON = frozenset(_NOT_PERSON_TEXT.split())


def _favourite_person(sentence: str, before: str) -> str | None:
    m = _FAV_PERSON.search(sentence)
    if not m:
        return None
    for text in (sentence[: m.start()], before):
        names = [n for n in _PERSON.findall(text) if n.split()[0] not in _NOT_PERSON]
        if names:
            return f"My favourite {m['thing'].lower()} is {names[-1]}."
    return None


# --- facts dictated for a letter or a profile ---------------------------------------------

_DICTATED = re.compile(
    r"\b(?:you\s+(?:could|can|should|might)\s+)?(?:say|mention|write|add|note|put|include|"
    r"state)\s+that\s+(?P<rest>(?:I|my)\b.+)$",
    I_,
)


def _dictated(sentence: str, before: str) -> list[str]:
    """ "you could say that I spend my weekends birdwatching, and that my favourite book is
    X": the user's own facts, handed over for a text the bot is writing."""
    m = _DICTATED.search(sentence)
    if not m:
        return []
    return [f"{part.strip(' ,.')}." for part in re.split(r",?\s+and\s+that\s+", m["rest"])]


# --- a state a question takes for granted ------------------------------------------------

_STATE = r"(?P<state>scared|afraid|terrified|frightened|petrified|allergic)\s+(?P<prep>of|to)"
_PRESUPPOSED = [
    re.compile(
        r"\b(?:is\s+it|it's|its)\s+(?:normal|weird|ok|okay|strange|bad|silly|dumb|crazy|"
        r"common|stupid|irrational|embarrassing)\s+(?:to\s+be|that\s+I(?:'m|\s+am|m))\s+"
        rf"(?:(?:this|so|that|really|super|still)\s+)?{_STATE}\s+(?P<x>[^?.!,]+)",
        I_,
    ),
    re.compile(
        rf"\bwhy\s+am\s+I\s+(?:(?:so|this|always|still|really)\s+)*{_STATE}\s+(?P<x>[^?.!,]+)",
        I_,
    ),
]


def _presupposed(sentence: str) -> str | None:
    # typed without its "?" a question is still one: "why am i so afraid of the dark lol"
    for pat in _PRESUPPOSED:
        m = pat.search(sentence)
        if m:
            return f"I am {m['state'].lower()} {m['prep'].lower()} {m['x'].strip()}."
    return None


# "asking for a friend": the question is about someone else
_FOR_SOMEONE = re.compile(r"\basking\s+for\s+(?:a|my|our)\b", I_)


def restate(sentences: Sequence[str]) -> list[str]:
    """Plain sentences for what ``sentences`` (one message, in order) say by pointing back
    or take for granted in a question."""
    out: list[str] = []
    for_someone = any(_FOR_SOMEONE.search(s) for s in sentences)
    for i, sentence in enumerate(sentences):
        before = sentences[i - 1] if i else ""
        for reader in (_my_thing, _favourite_back, _favourite_person):
            said = reader(sentence, before)
            if said:
                out.append(said)
        out.extend(_dictated(sentence, before))
        said = None if for_someone else _presupposed(sentence)
        if said:
            out.append(said)
    return out
