"""Corrections that name the old value: "it's 1986, not 1988", "Larissa, not Marissa",
"switched from MTN to Vodafone", "Biscuit is 4 not 3".

A correction like these often says nothing about which fact it corrects; the old value
does. ``by_value`` finds the known fact (``ExtractContext.known``) whose answer is the old
value and returns a copy holding the new one, in the same slot, so ``facts.slot_writes``
supersedes the old fact. ``known_entities`` turns known pet and relative names into
entities, so "Biscuit is 4 now" is read as "my dog Biscuit is 4 now".
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable

from sleepmem.engine.facts import PENDING, Fact, new_fact_id
from sleepmem.plugin.builtins.lexicon import FEMALE, MALE
from sleepmem.plugin.builtins.rule_parse import NAME, Entity
from sleepmem.plugin.builtins.rule_resolve import only_relative

_VALUE = r"[\w'.:/&+-]+(?:\s+[\w'.:/&+-]+){0,3}?"
# "..., not X": what comes before is the new value, told apart from its lead-in by the
# last verb or punctuation ("I write wrong: is Larissa, not Marissa" -> Larissa).
_NOT_OLD = re.compile(
    r"^(?P<head>.*?\w)[\s,]+(?:and\s+|but\s+)?not\s+(?P<old>[^,;:!?]+?)"
    r"\s*(?:anymore|any\s+more|lol|haha)?\s*[.!)]*$",
    re.I,
)
# a short new value that is no state: "left MTN, still happy now" names no new employer
_NEW_NAME = (
    r"(?!(?:still|much|so|very|all|happy|better|fine|good|free|unemployed|jobless|home|"
    r"retired|single|done|busy|here|there|it|that|this)\b)[\w'.&+-]+(?:\s+[\w'.&+-]+)?"
)
_END = r"(?=\s*(?:[,;.!]|$))"  # the new value ends at punctuation: "Mirta, sorry"
_LEAD_IN = re.compile(r"(?:[:,;=]\s*|\b(?:is|'s|was|are|am|were|be|now)\s+)", re.I)
_SWAPS = (
    # "not Marissa but Larissa", "not 3, 4"
    re.compile(
        r"^not\s+(?P<old>[^,;]+?)\s*(?:,|\s+but|\s+rather|\s+it's|\s+it\s+is)\s*"
        rf"(?:but\s+|rather\s+|it's\s+|it\s+is\s+)?(?P<new>{_VALUE}){_END}",
        re.I,
    ),
    # "(switched|moved|changed) from MTN to Vodafone", "Moshi -> Mochi"
    re.compile(rf"\bfrom\s+(?P<old>{_VALUE})\s+to\s+(?P<new>{_VALUE}){_END}", re.I),
    re.compile(rf"^(?P<old>{_VALUE})\s*(?:->|=>|→)\s*(?P<new>{_VALUE}){_END}", re.I),
    # "its Vodafone now, switched from O2": the new value said first, the old one after
    re.compile(
        rf"^(?:it's\s+|its\s+|it\s+is\s+)?(?P<new>{_VALUE})\s+now\s*[,;.!-]*\s*(?:I\s+|we\s+)?"
        r"(?:just\s+)?(?:switched|moved|changed|swapped|went|came)\s+(?:over\s+)?"
        rf"(?:away\s+)?from\s+(?P<old>{_VALUE}){_END}",
        re.I,
    ),
    # "not at Vodafone anymore, I'm at MTN now", "no longer in Graz - Linz now"
    re.compile(
        r"^(?:I\s+am\s+|I'm\s+|we\s+are\s+)?(?:not|no\s+longer)\s+(?:at|with|in|working\s+"
        rf"(?:at|for))\s+(?P<old>{_VALUE})(?:\s+(?:anymore|any\s+more))?\s*(?:[,;.!]|\s-)\s*"
        r"(?:(?:I\s+am|I'm|im|we\s+are|we're)\s+)?(?:(?:at|with|in|working\s+(?:at|for))\s+)?"
        rf"(?P<new>{_NEW_NAME}(?:\s+[\w'.&+-]+)?)\s+now{_END}",
        re.I,
    ),
    # "left MTN on Friday. Vodafone now": the old value left, the new one "now"
    re.compile(
        rf"\b(?:left|quit|ditched|dropped|switched\s+from|moved\s+from|changed\s+from)\s+"
        rf"(?P<old>{_VALUE})(?:\s+[^.!?;,]*)?[.!;,]\s*(?:it's\s+|its\s+|now\s+(?:at|with|in)\s+)?"
        rf"(?P<new>{_NEW_NAME})\s+now{_END}",
        re.I,
    ),
    # "Vodafone instead of MTN"
    re.compile(
        rf"(?:^|\s)(?P<new>[\w'.:/-]+)\s+(?:instead\s+of|rather\s+than)\s+(?P<old>{_VALUE})"
        r"\s*[.!]*$",
        re.I,
    ),
)
_OLD_WORDS = 4
_ARTICLE = re.compile(r"^(?:a|an|the|my|our)\s+", re.I)


def _bare(value: str) -> str:
    return _ARTICLE.sub("", value.strip(" .,!'\"")).strip()


def _with_answer(fact: Fact, old: str, new: str, source: str) -> Fact:
    """``fact`` saying ``new`` where it said ``old``: same slot and questions, new id."""

    def swap(text: str) -> str:
        return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, text, flags=re.I)

    if fact.answer[:1].isupper() and new[:1].islower():
        new = new[:1].upper() + new[1:]  # "mochi" for "Moshi": typed casually, a name still
    answer = new if fact.answer.casefold() == old.casefold() else swap(fact.answer)
    now = time.time()
    return dataclasses.replace(
        fact,
        text=swap(fact.text),
        object=swap(fact.object),
        answer=answer,
        statements=tuple(swap(s) for s in fact.statements),
        source=source[:300],
        id=new_fact_id(),
        status=PENDING,
        created_at=now,
        updated_at=now,
        extractor=NAME,
    )


def _holding(known: Iterable[Fact], old: str) -> list[Fact]:
    exact = [f for f in known if f.answer.casefold() == old.casefold()]
    if exact:
        return exact
    word = re.compile(rf"(?<!\w){re.escape(old)}(?!\w)", re.I)
    return [f for f in known if word.search(f.answer)]


def _pairs(text: str) -> list[tuple[str, str]]:
    """(old, new) candidates a sentence offers, most specific first."""
    out: list[tuple[str, str]] = []
    m = _NOT_OLD.match(text)
    if m:
        head = m["head"]
        cuts = list(_LEAD_IN.finditer(head))
        new = head[cuts[-1].end() :] if cuts else head
        old_words = m["old"].split()[:_OLD_WORDS]
        for n in range(len(old_words), 0, -1):
            old = " ".join(old_words[:n])
            words = new.split()
            # "going to Aberdeen, not Helsinki": as many words as the old value has
            pick = " ".join(words[-n:]) if len(words) > n + 1 else new
            out.append((old, pick))
    for pattern in _SWAPS:
        m = pattern.search(text)
        if m:
            old_words = m["old"].split()[:_OLD_WORDS]
            # "instead of the Fiat these days": the longest start memory knows wins
            out += [(" ".join(old_words[:n]), m["new"]) for n in range(len(old_words), 0, -1)]
    return out


def by_value(sentence: str, known: Iterable[Fact], source: str = "") -> list[Fact]:
    """The corrected copy of the known fact that ``sentence`` corrects by naming the old
    value; [] when it names none that memory holds (the other rules still read it)."""
    known = list(known)
    if not known:
        return []
    text = sentence.strip()
    for old, new in _pairs(text):
        old, new = _bare(old), _bare(new)
        if not old or not new or old.casefold() == new.casefold() or len(new.split()) > 4:
            continue
        holders = _holding(known, old)
        if len(holders) == 1:  # two facts with that value: which one is meant is unknown
            return [_with_answer(holders[0], old, new, source or text)]
    return []


_NAMED_SLOT = re.compile(r"^(?P<kind>pet|family):(?P<ref>[\w -]+):name$")


def known_entities(known: Iterable[Fact]) -> dict[str, Entity]:
    """Pets and relatives memory knows by name, keyed by the name in lower case."""
    out: dict[str, Entity] = {}
    for fact in known:
        m = _NAMED_SLOT.match(fact.slot_key)
        if not m or not fact.answer:
            continue
        ref = m["ref"]
        gender = "f" if ref in FEMALE else "m" if ref in MALE else ""
        kind = "pet" if m["kind"] == "pet" else "family"
        out[fact.answer.casefold()] = Entity(kind=kind, ref=ref, name=fact.answer, gender=gender)
    return out


_PERSON_SLOT = re.compile(r"^family:(?P<ref>[\w -]+):(?!favourite:)(?P<name>[\w-]+):(?P<kind>.+)$")


def on_unnamed_slots(
    facts: list[Fact], known: Iterable[Fact], names: dict[str, Entity]
) -> list[Fact]:
    """A fact about a named relative ("family:sister:maya:job") lands in the slot of the
    one memory holds for the relative unnamed ("family:sister:job", told before her name
    was) when she is the only one of that relation memory knows by name (``names``, from
    ``known_entities``): "my sister is a doctor now" then supersedes "my sister is a nurse"
    as it did before it had a name."""
    held = {f.slot_key for f in known}
    out = []
    for fact in facts:
        m = _PERSON_SLOT.match(fact.slot_key)
        unnamed = f"family:{m['ref']}:{m['kind']}" if m else ""
        if m and unnamed in held and only_relative(names, m["ref"]) is not None:
            fact = dataclasses.replace(fact, slot=unnamed)
        out.append(fact)
    return out


_NOT_TAIL = re.compile(r"(?<=\w)\s+not\s+(?:a\s+|an\s+|the\s+)?[\w'.-]+(?:\s+[\w'.-]+)?\s*$", re.I)
_KEEPS_NOT = re.compile(
    r"\b(?:am|is|are|was|were|do|does|did|have|has|had|can|will|could|would|should|I|we|and|"
    r"or|but|it|that|this|they|he|she|why|just|really|if|definitely|certainly|probably|maybe|"
    r"still|whether)\s+not\b",
    re.I,
)


def drop_not_tail(clause: str) -> str:
    """ "Biscuit is 4 not 3" -> "Biscuit is 4": the rejected value after a stated one goes,
    but "I am not tall" keeps its "not" (the clause is negated, and gated as such)."""
    m = _NOT_TAIL.search(clause)
    if not m or _KEEPS_NOT.search(clause):
        return clause
    return clause[: m.start()]
