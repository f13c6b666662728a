"""Built-in plugin: the other questions of a fact given by one question and its answer.

An explicit fact ("Where do I live?" / "Bergen") says nothing about its kind. If the
question is one of the phrasing templates' questions (with any template fields filled,
"What is my {animal}'s name?"), the fact is of that kind and the template's other questions
ask the same thing in other words; they are returned with the same fields filled in.
"""

from __future__ import annotations

import re
from functools import cache

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.phrasing import TEMPLATES, render, template_values
from sleepmem.plugin.hookspecs import hookimpl

_FIELD = re.compile(r"\{(\w+)\}")
# Fields the phrasing derives from a base field; matched text is turned back into the base.
_DERIVED = {"rel_poss": "rel", "animal_poss": "animal", "np_poss": "np"}


def _normal(question: str) -> str:
    return " ".join(question.casefold().replace("’", "'").rstrip(" ?!.").split())


@cache
def _patterns() -> list[tuple[str, re.Pattern[str], tuple[str, ...]]]:
    """(kind, pattern, field names) for every template question, the most literal first."""
    out = []
    for kind, template in TEMPLATES.items():
        for question in template.questions:
            parts = _FIELD.split(_normal(question))
            names = tuple(parts[1::2])
            if any(n not in _DERIVED and n.startswith(("a_", "art")) for n in names):
                continue  # articles are derived from the answer, not stated in the question
            regex = "".join(
                re.escape(part) if i % 2 == 0 else rf"(?P<f{i // 2}>[\w' -]+?)"
                for i, part in enumerate(parts)
            )
            literal = sum(len(part) for part in parts[::2])
            out.append((literal, kind, re.compile(f"^{regex}$"), names))
    # the template that states the most of the question itself wins
    out.sort(key=lambda item: (-item[0], len(item[3])))
    return [(kind, pattern, names) for _, kind, pattern, names in out]


def _unpossess(text: str) -> str:
    return re.sub(r"'s?$", "", text.strip())


@hookimpl
def fact_questions(fact: Fact) -> list[str]:
    if not fact.questions:
        return []
    asked = _normal(fact.questions[0])
    for kind, pattern, names in _patterns():
        m = pattern.match(asked)
        if not m or sum(len(v) for v in m.groups()) * 5 > len(asked) * 2:
            continue  # a template that only matches by stuffing most of it into fields
        fields: dict[str, str] = {}
        for i, name in enumerate(names):
            value = m[f"f{i}"]
            base = _DERIVED.get(name)
            if base:
                fields[base] = _unpossess(value)
            elif name not in ("answer", "object"):
                fields[name] = value
        values = template_values(kind, fact.answer, fact.object or fact.answer, fields)
        rendered = (render(q, values) for q in TEMPLATES[kind].questions)
        return [q for q in rendered if q and _normal(q) != asked]
    return []
