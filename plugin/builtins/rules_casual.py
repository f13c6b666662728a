"""Casual typing, read into the forms the slot rules know.

People type "im jaylen btw", "my dogs name is biscuit", "just turned 40 lol", "my sister's
called Maeve isn't she lovely", "we named the cat Miso". The slot rules are written for
tidy sentences; rather than doubling every pattern, this module rewrites the casual shape
into the tidy one, or reads the few shapes that have no tidy twin:

- ``restore_apostrophes``: "dont", "isnt", "shes", "my dogs name" get their apostrophe,
  so a negation is still seen as one and a possessive as a possessive;
- ``drop_tag_comment``: a trailing "isn't she lovely" comments on the statement, it does
  not deny it ("..., isn't she?" alone still asks to confirm and stays a question);
- ``strip_fillers``: "btw", "lol", "tbh" around a clause carry nothing;
- ``with_subject``: subject-less clauses whose verb is never an order ("just turned 40",
  "allergic to shellfish", "also have a tortoise");
- ``rewrite_clause``: "we named the cat Miso", and "Name Kame." / "31 years old." about the
  pet or relative of the sentence before;
- ``r_loose_name``: "im jaylen" typed in lower case, refusing states ("im bored");
- ``refused_allergy``: "i dont eat peanuts, allergic" (a sentence whose negated head the
  gate drops);
- ``presupposed``: "my daughter Nadia would love it" names Nadia even though the clause is
  a wish, so the appositive alone is read.
"""

from __future__ import annotations

import re

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.lexicon import (
    ANIMALS,
    DEMONYMS,
    DIETS,
    FAMILY,
    LANGUAGES_LOWER,
    NOT_HERE_NAMES,
    looks_like_job,
)
from sleepmem.plugin.builtins.lexicon_casual import (
    FILLER_RE,
    NAMING_STOP,
    REFUSE_VERBS,
    STATE_ENDINGS,
    STATE_WORDS,
)
from sleepmem.plugin.builtins.rule_parse import (
    CUT_NP,
    NUM,
    Clause,
    Entity,
    parse_value,
)

I_ = re.I


def _alt(words: frozenset[str] | list[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)  # longest first: "guinea pig" before "pig"
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


_EMOJI = r"[\U0001F000-\U0001FAFF\u2600-\u27BF]"
EMOJI_RUN = re.compile(rf"\s*{_EMOJI}+[\s{_EMOJI[1:-1]}]*")
"""A run of emoji: in texting it ends a clause as a full stop would."""

# --- apostrophes ------------------------------------------------------------------------

_NEG_AUX = re.compile(
    r"\b(?P<a>do|does|did|is|was|are|were|could|would|should|have|has|had|must|need|ai)nt\b",
    I_,
)
_NO_APOSTROPHE = [
    (re.compile(r"\bcant\b", I_), "can't"),
    (re.compile(r"\bwont\b", I_), "won't"),
    (re.compile(r"\bshes\b", I_), "she's"),
    (re.compile(r"\bhes\b", I_), "he's"),
    (re.compile(r"\bthats\b", I_), "that's"),
    (re.compile(r"\btheyre\b", I_), "they're"),
]
_OWNER = _alt([*FAMILY, *ANIMALS])
# "my dogs name", "my moms birthday": a possessive typed without its apostrophe
_POSSESSIVE = re.compile(
    rf"\b(?P<my>my|our)\s+(?P<w>(?:[\w-]+\s+)?(?:{_OWNER}))s\s+(?=(?:name|names|birthday|bday|"
    r"age|job)\b)",
    I_,
)


def restore_apostrophes(text: str) -> str:
    """ "i dont eat meat" -> "i don't eat meat", "my dogs name" -> "my dog's name"."""
    text = _NEG_AUX.sub(lambda m: f"{m['a']}n't", text)
    for pat, repl in _NO_APOSTROPHE:
        text = pat.sub(repl, text)
    return _POSSESSIVE.sub(lambda m: f"{m['my']} {m['w']}'s ", text)


# --- tags, fillers, missing subjects ----------------------------------------------------

# "isn't she lovely", "don't you think he's great": a comment after the statement. A bare
# tag ("isn't she?") has no words after the pronoun and is left to the question reader.
_TAG_COMMENT = re.compile(
    r"(?:\s*,\s*|\s+)(?:isn't|aren't|wasn't|weren't|don't|doesn't|didn't|haven't|hasn't|"
    r"ain't|innit)\s+(?:she|he|it|they|you|that|this)\s+\w[^.!?]*[!?.]*$",
    I_,
)


def drop_tag_comment(sentence: str) -> str:
    return _TAG_COMMENT.sub("", sentence)


_LEAD_FILLER = re.compile(rf"^(?:{FILLER_RE}|yo+|ya+y+|heyy+|ok+|okay+)\b[\s,!.:;-]*", I_)
_TAIL_FILLER = re.compile(rf"(?:[\s,!.:;-]+(?:{FILLER_RE}))+[\s!.]*$", I_)


def strip_fillers(clause: str) -> str:
    """ "tbh im jaylen btw lol" -> "im jaylen"."""
    for _ in range(3):
        new = _LEAD_FILLER.sub("", clause).strip()
        if new == clause:
            break
        clause = new
    return _TAIL_FILLER.sub("", clause).strip()


_ANIMAL_ALT = _alt(ANIMALS)
_SUBJECT_DROP = [
    (re.compile(rf"^(?:just\s+|finally\s+)?turned\s+(?={NUM}\b)", I_), "I "),
    (re.compile(rf"^turning\s+(?={NUM}\b)", I_), "I am "),
    (re.compile(r"^(?:(?:very|really|super|severely|quite|so)\s+)?allergic\s+to\s", I_),
     "I am "),
    (re.compile(r"^(?:based|living)\s+in\s", I_), "I am "),
    (re.compile(r"^(?:just\s+|recently\s+|finally\s+)moved\s+(?:in)?to\s", I_), "I "),
    (re.compile(rf"^(?:also\s+)?(?:have|got)\s+(?:a|an|one|two|three)\s+(?:[\w-]+\s+)?"
                rf"(?:{_ANIMAL_ALT})s?\b", I_), "I "),
]  # fmt: skip


def with_subject(clause: str) -> str:
    """ "just turned 40" -> "I just turned 40"; other clauses unchanged."""
    for pat, subject in _SUBJECT_DROP:
        if pat.match(clause):
            return subject + clause[:1].lower() + clause[1:]
    return clause


# --- clauses about something named before ------------------------------------------------

_REF = _alt([*FAMILY, *ANIMALS])
_NAMED_THE = re.compile(
    r"^(?:I|we)\s+(?:(?:just|finally|already|have|had|ended\s+up)\s+)*(?:named|called|"
    rf"name|call)\s+(?:the|my|our)\s+(?P<w>(?:[\w-]+\s+)?(?:{_REF}))\s+(?P<name>\S.*)$",
    I_,
)
_BARE_NAME = re.compile(r"^(?:name|named|called|name\s+is)\s*:?\s+(?P<name>\S.*)$", I_)
_BARE_AGE = re.compile(
    rf"^(?:age\s*:?\s*)?(?P<n>{NUM})\s*(?:years?|yrs?|y/?o)(?:\s+old)?$|^age\s*:?\s*(?P<m>{NUM})$",
    I_,
)


def rewrite_clause(clause: str, entity: Entity | None) -> str:
    """ "we named the cat Miso" -> "my cat is called Miso"; with a pet or relative named
    just before, "Name Kame" -> "my tortoise is called Kame", "31 years old" -> "my
    tortoise is 31 years old"."""
    m = _NAMED_THE.match(clause)
    if m and m["name"].split()[0].lower() not in NAMING_STOP:
        return f"my {m['w']} is called {m['name']}"
    if entity is None:
        return clause
    m = _BARE_NAME.match(clause)
    if m and not entity.name and not entity.plural:
        return f"my {entity.ref} is called {m['name']}"
    m = _BARE_AGE.match(clause)
    if m:
        return f"my {entity.ref} {entity.name} is {m['n'] or m['m']} years old".replace("  ", " ")
    return clause


# --- a name typed in lower case ----------------------------------------------------------

_I_AM_WORD = re.compile(r"^I\s+am\s+(?P<w>[^\W\d_][\w'-]*)$")


def is_state(word: str) -> bool:
    """Whether "im <word>" says a state, a mood, a job or a nationality, not a name."""
    low = word.lower()
    return (
        low in STATE_WORDS
        or low in NOT_HERE_NAMES
        or low in FAMILY
        or low in LANGUAGES_LOWER
        or low in DIETS
        or low.capitalize() in DEMONYMS
        or looks_like_job(low)
        or (len(low) > 4 and low.endswith(STATE_ENDINGS))
        or len(low) < 2
    )


def r_loose_name(c: Clause) -> None:
    """ "im jaylen", "hi im priya": a lower-case "I am <one word>" that is no state, mood,
    job, nationality or language ("im bored", "im nurse", "im irish" name nobody)."""
    if not c.loose or "name" in c.kinds():
        return
    m = _I_AM_WORD.match(c.text.strip())
    if m and not is_state(m["w"]):
        word = m["w"]
        c.add("name", word[:1].upper() + word[1:])


# --- the allergen of a refusal ------------------------------------------------------------

_REFUSED = re.compile(
    r"\b(?:I\s+)?(?:can't|cannot|don't|do\s+not|never|won't)\s+(?:ever\s+)?"
    rf"(?:{_alt(REFUSE_VERBS)})\s+(?P<x>[^,;.!?]+?)\s*(?:[,;.!-]+\s*|\s+)"
    r"(?:(?:because|cause|cuz|coz|since|as)\s+)?(?:I\s+am\s+|I'm\s+)?"
    r"(?:(?:very|really|super|severely|deathly|so)\s+)?allergic\b(?!\s+to)",
    I_,
)


def refused_allergy(body: str, source: str) -> list[Fact]:
    """ "i dont eat peanuts, allergic" -> What am I allergic to? peanuts."""
    m = _REFUSED.search(body)
    if not m:
        return []
    _, value = parse_value(m["x"], CUT_NP, max_words=4)
    if not value or re.match(r"^(?:it|that|this|them|any|anything)$", value, I_):
        return []
    c = Clause(body, source=source, loose=False)
    c.add("allergy", value)
    return c.facts


# --- names presupposed by a wish or a negation ---------------------------------------------

_APPOSITIVE = re.compile(
    rf"\bmy\s+(?P<w>(?:[\w-]+\s+)?(?:{_REF}))\s+(?P<name>(?-i:[A-Z\u00C0-\u00DE][\w'-]+))"
    r"(?=\s+(?-i:[a-z])|\s*[,;]|\s*$)",
    I_,
)


def presupposed(clause: str) -> list[str]:
    """ "my daughter Nadia would like it" -> ["my daughter is called Nadia"]: a wish or a
    denial about someone named still names them. Only capitalised names count."""
    return [f"my {m['w']} is called {m['name']}" for m in _APPOSITIVE.finditer(clause)]
