"""More ways of asking the questions a fact arrives with, whoever extracted it.

Extractors phrase each fact with their own templates; an explicit fact (``/remember``, the
REST API) may arrive with one question only. An edit trained on one wording answers that
wording and little else, so the engine adds the shapes people actually type around any
question: contractions, no capitals or question mark, a lead-in ("quick question,"), the
question embedded in a request ("Do you remember where I live?"). These are rewrites of
the question's form, not of its meaning: they hold for any fact.
"""

from __future__ import annotations

import re
from typing import TypeVar

from .asking import rephrasings

T = TypeVar("T")

_CONTRACT = (
    (r"\bWhat is\b", "What's"),
    (r"\bWho is\b", "Who's"),
    (r"\bWhere is\b", "Where's"),
    (r"\bHow is\b", "How's"),
    (r"\bWhen is\b", "When's"),
    (r"\bwhat is\b", "what's"),
    (r"\bI am\b", "I'm"),
)
_EXPAND = (
    (r"\bWhat's\b", "What is"),
    (r"\bWho's\b", "Who is"),
    (r"\bWhere's\b", "Where is"),
    (r"\bI'm\b", "I am"),
)

_WH = r"(?P<wh>what|where|who|whom|which \w+|when|how \w+|how|what \w+)"
# "What is my dog called?" -> "what my dog is called"
_BE = re.compile(rf"^{_WH} (?P<be>is|are|was|were) (?P<rest>(?:my|the|our) .+)$", re.I)
# "Where do I live?" -> "where I live"; "What does my sister do?" -> "what my sister does";
# the subject may be a kin word and a name ("my friend Aria") or a possessive chain ("my
# sister's husband"); case-sensitive so a name is told from the verb after it
_SUBJECT = r"(?i:I)|(?i:my) \w+(?:'s \w+)*(?: [A-Z][\w'-]*)*"
_DO = re.compile(rf"^(?i:{_WH}) (?P<do>(?i:do|does)) (?P<subj>{_SUBJECT}) (?P<rest>.+)$")
# "How old am I?" -> "how old I am"
_AM = re.compile(rf"^{_WH} am I(?P<rest> .+)?$", re.I)
# "What can I eat?" -> "what I can eat"
_MODAL = re.compile(rf"^{_WH} (?P<md>can|should|will|would|could) I (?P<rest>.+)$", re.I)

_LEAD_INS = ("Quick question: {q}", "Remind me, {lq}", "Hey, {lq}", "Sorry, {lq}")
_EMBEDDED = ("Do you remember {e}?", "Can you tell me {e}?", "Do you know {e}?", "Tell me {e}.")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if not text.startswith("I ") else text


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def embedded(question: str) -> str | None:
    """The question as an embedded clause ("where I live"), or None for shapes it does not
    know (yes/no questions, "did", anything unusual)."""
    q = question.strip().rstrip("?").strip()
    m = _BE.match(q)
    if m:
        rest = m["rest"].split(" ")
        # "my dog's name" is the subject; a trailing participle/adjective goes after the verb
        tail = []
        if len(rest) > 2 and re.match(r"\w+(ed|en|ing)$|called|named", rest[-1]):
            tail = [rest.pop()]
        return " ".join([m["wh"].lower(), *rest, m["be"].lower(), *tail])
    m = _DO.match(q)
    if m:
        verb, *more = m["rest"].split(" ")
        subj = m["subj"]
        if subj.lower() != "i":
            verb = _third_person(verb)
        return " ".join([m["wh"].lower(), subj, verb, *more])
    m = _AM.match(q)
    if m:
        return f"{m['wh'].lower()} I am{m['rest'] or ''}"
    m = _MODAL.match(q)
    if m:
        return f"{m['wh'].lower()} I {m['md'].lower()} {m['rest']}"
    return None


def variants(question: str) -> list[str]:
    """Other wordings of ``question``, most natural first, without the question itself."""
    q = " ".join(question.split())
    if not q:
        return []
    out: list[str] = []
    for pattern, repl in _CONTRACT + _EXPAND:
        changed = re.sub(pattern, repl, q, count=1)
        if changed != q:
            out.append(changed)
            break
    clause = embedded(q)
    if clause:
        out += [t.format(e=clause) for t in _EMBEDDED]
    lq = _lower_first(q)
    out += [t.format(q=q, lq=lq) for t in _LEAD_INS]
    out.append(q.lower().rstrip("?"))  # typed fast: no capitals, no question mark
    seen = {q.casefold()}
    unique = []
    for text in out:
        if text.casefold() not in seen:
            seen.add(text.casefold())
            unique.append(text)
    return unique


def alternate(first: list[T], second: list[T]) -> list[T]:
    """first[0], second[0], first[1], second[1], ...; the longer list's rest at the end."""
    out: list[T] = []
    for i in range(max(len(first), len(second))):
        out += first[i : i + 1] + second[i : i + 1]
    return out


def wordings(questions: tuple[str, ...] | list[str], n: int) -> list[str]:
    """Up to ``n`` distinct questions: the given ones first, then, for each in turn, other
    words for it (``asking.rephrasings``) alternating with other forms of it (``variants``)."""
    given: list[str] = []
    for q in questions:
        q = " ".join(q.split())
        if q and q.casefold() not in {g.casefold() for g in given}:
            given.append(q)
    out = given[:n]
    pools = [alternate(rephrasings(q), variants(q)) for q in given]
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        for pool in pools:
            if i < len(pool) and pool[i].casefold() not in {o.casefold() for o in out}:
                out.append(pool[i])
                if len(out) >= n:
                    break
        i += 1
    return out
