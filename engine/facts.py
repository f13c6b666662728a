"""A fact about a user: what was said, in a form the editor can write into weights.

The editor never sees raw chat text. It sees, per fact, the chat questions whose answer is
the fact (``questions``), declarative prompts that complete to it (``statements``) and the
short answer the model should give (``answer``). ``slot`` names what the fact is about
("home", "pet:dog:name"); a newer fact in the same slot supersedes the older one.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

ACTIVE = "active"
SUPERSEDED = "superseded"
FORGOTTEN = "forgotten"
PENDING = "pending"  # in the ledger, edit not yet written (crash recovery re-edits these)
# Beyond the user's fact budget: kept in the ledger (listed, forgettable), out of the weights.
ARCHIVED = "archived"
STATUSES = (ACTIVE, SUPERSEDED, FORGOTTEN, PENDING, ARCHIVED)


def new_fact_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Fact:
    """One fact about one user.

    text: canonical statement in the user's voice, e.g. "My dog is named Biscuit."
    subject/relation/object: triple form ("my dog", "name", "Biscuit").
    answer: the short answer the model must produce, usually ``object``.
    questions: chat questions (second person from the model's view: "What is my dog's name?").
    statements: declarative prompts that the answer completes ("My dog's name is").
    slot: what the fact is about; facts sharing a slot supersede each other.
    """

    text: str
    subject: str
    relation: str
    object: str
    answer: str
    questions: tuple[str, ...]
    statements: tuple[str, ...] = ()
    slot: str = ""
    source: str = ""
    id: str = field(default_factory=new_fact_id)
    status: str = PENDING
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    extractor: str = ""

    def with_status(self, status: str) -> Fact:
        if status not in STATUSES:
            raise ValueError(f"unknown fact status {status!r}")
        return replace(self, status=status, updated_at=time.time())

    @property
    def slot_key(self) -> str:
        return self.slot or f"{self.subject.lower()}|{self.relation.lower()}"


def explicit(question: str, answer: str, text: str = "") -> Fact:
    """A fact given as its question and answer (the REST API, benchmarks' gold facts): no
    extractor involved; the engine adds the other wordings and contexts when it edits."""
    question, answer = " ".join(question.split()), " ".join(answer.split())
    if not question or not answer:
        raise ValueError("an explicit fact needs a question and an answer")
    slot = "q:" + " ".join(question.casefold().rstrip("?!. ").split())
    return Fact(
        text=text or f"{question} {answer}",
        subject="user",
        relation=question,
        object=answer,
        answer=answer,
        questions=(question,),
        slot=slot,
        source="explicit",
        extractor="explicit",
    )


def slot_writes(
    active: Iterable[Fact], facts: Iterable[Fact]
) -> tuple[list[Fact], list[Fact], list[Fact]]:
    """How ``facts`` from one message land on the ``active`` ones, by slot: returns
    ``(new, superseded, known)``. A fact whose slot holds the same answer is known (nothing
    to write); otherwise the last fact of the message in a slot wins it, and the active
    fact already in that slot is superseded. This is the rule ``Engine.write`` applies."""
    by_slot = {f.slot_key: f for f in active}
    fresh: dict[str, Fact] = {}
    known: list[Fact] = []
    for fact in facts:
        old = by_slot.get(fact.slot_key)
        if old is not None and old.answer.casefold() == fact.answer.casefold():
            known.append(fact)
            continue
        fresh[fact.slot_key] = fact
    superseded = [by_slot[s] for s in fresh if s in by_slot]
    return list(fresh.values()), superseded, known


@dataclass(frozen=True)
class ForgetRequest:
    """A user asking, in plain words, that something be forgotten ("please forget what I
    said about my salary", "I don't live in Osaka anymore").

    topic: what the user named, for the reply ("my salary").
    terms: words or phrases, any of which a fact must mention to be forgotten.
    answer_only: match only facts whose answer is one of ``terms``: "not X anymore" is
        about the value X, not about every fact that mentions it.
    """

    topic: str
    terms: tuple[str, ...]
    answer_only: bool = False
    source: str = ""


_SLOT_GENERIC = {"my", "pet", "family", "q", "name", "age"}


def _mentions(term: str, text: str) -> bool:
    # Word-bounded: "ex" must not find "next" or "Texas".
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text) is not None


def forget_matches(active: Iterable[Fact], request: ForgetRequest) -> list[Fact]:
    """The active facts a plain-words forget request means.

    A fact whose slot names a term ("my:salary" for "salary", "pet:dog:name" for "dog")
    is the user's topic itself, so when any fact matches that way only those go; else the
    facts whose text or answer mention a term (word-bounded, any case), as ``/forget``
    matches a query in a fact's text."""
    active = [f for f in active if f.status not in (SUPERSEDED, FORGOTTEN)]
    terms = [t.casefold().strip() for t in request.terms if t and t.strip()]
    if not terms:
        return []
    if request.answer_only:
        return [f for f in active if f.answer.casefold() in terms]
    by_slot = [
        f
        for f in active
        if any(
            part in terms
            for part in re.split(r"[:|_\s]+", f.slot_key.casefold())
            if part not in _SLOT_GENERIC
        )
    ]
    if by_slot:
        return by_slot
    return [
        f for f in active if any(_mentions(t, f"{f.text}\n{f.answer}".casefold()) for t in terms)
    ]


def describe_forgotten(facts: Iterable[Fact]) -> str:
    """The chat answer for forgotten facts: /forget's, and a forget request's in plain words."""
    return "\n".join(f"Forgot: {f.text} [{f.id}]" for f in facts)
