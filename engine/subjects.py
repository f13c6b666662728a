"""Facts about one named person share the value written at the name.

Keys at a name (``editor.name_keys``) are read at the name's token, before the question
says what it asks: "Where does Maya" and "What does Maya" give nearly the same key. With a
target value per fact, two facts about Maya ask the solve to map one key to two values,
and it averages them: neither answer comes back (the same-person probe: 1 of 7 recalled,
benchmarks/same_person_probe_torch_cpu.json). MEMIT's design is the way out: the value at
a subject is one vector, optimised so that every question about the subject is answered
from it, and the layers above read which relation is asked from the tokens after the
name. So the prompts keyed at a name that two or more facts hold form one group of their
own, with one target value (a "subject value") optimised on all of them; each fact keeps
its own value for its prompts keyed at the question's end.

A subject value encodes every answer its facts give, so it is kept under an id naming
them all (``value_id``) and leaves as soon as any of them does (``values.TargetValues``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from .backends.base import EditPrompt
from .facts import Fact
from .prompts import name_in
from .values import SUBJECT


def names(fact: Fact) -> set[str]:
    """The names ``fact``'s questions are about, case-folded ("maya")."""
    found = (name_in(q) for q in fact.questions)
    return {n.casefold() for n in found if n}


@dataclass(frozen=True)
class Subject:
    """A name two or more facts are about, and those facts (indices into the batch)."""

    name: str
    members: tuple[int, ...]

    def value_id(self, facts: Sequence[Fact]) -> str:
        """The id its value is kept under: a new fact about the name makes a new value."""
        return SUBJECT + ",".join(sorted(facts[i].id for i in self.members))


def shared(facts: Sequence[Fact]) -> list[Subject]:
    """The names two or more of ``facts`` are about, in order of first mention."""
    held: dict[str, list[int]] = {}
    for index, fact in enumerate(facts):
        for name in sorted(names(fact)):
            held.setdefault(name, []).append(index)
    return [Subject(name, tuple(ix)) for name, ix in held.items() if len(ix) > 1]


def regrouped(
    prompts: Sequence[EditPrompt], subjects: Sequence[Subject], n_facts: int
) -> list[EditPrompt]:
    """``prompts`` (fact i's in group i) with those keyed at a shared name moved to the
    name's group, ``n_facts`` + its index in ``subjects``."""
    group_of = {s.name: n_facts + j for j, s in enumerate(subjects)}
    out = []
    for p in prompts:
        group = group_of.get(p.at_name.casefold()) if p.at_name else None
        out.append(p if group is None else dataclasses.replace(p, group=group))
    return out


def _about(facts: Sequence[Fact]) -> set[str]:
    """Every name any of ``facts`` is about."""
    return set().union(*(names(f) for f in facts))


def overlap(new: Sequence[Fact], held: Sequence[Fact]) -> bool:
    """Whether a fact of ``new`` is about a name a fact of ``held`` is about: the held
    facts' update then holds the name's old value and must be solved again with the new."""
    told = _about(new)
    return any(told & names(f) for f in held)


def with_namesakes(chosen: Sequence[Fact], facts: Sequence[Fact]) -> list[Fact]:
    """``chosen`` and every other fact of ``facts`` about a name one of them is about, in
    ``facts``' order: written together they give the name the value it has in an edit of
    all ``facts``, not one made on some of its facts only."""
    ids, told = {f.id for f in chosen}, _about(chosen)
    return [f for f in facts if f.id in ids or names(f) & told]
