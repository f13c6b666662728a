"""How each kind of personal fact is asked about and stated: question and prompt templates.

The editor learns a fact from the questions a user would ask later ("Where do I live?") and
from declarative prompts that end right before the answer ("I live in"). The more natural
ways of asking a fact is trained on, the better the model answers unseen phrasings, so each
kind carries several. Both extractors (rules and model) build facts through
``build_fact`` so that the same kind of fact is always phrased the same way, whoever found it.

Templates are ``str.format`` strings. A template that names a field the caller left empty is
skipped (e.g. "How old is {name}?" when the daughter's name is unknown), so optional detail
never produces a broken question.

The templates themselves are data, kept in ``templates`` (facts about the user) and
``templates_others`` (relatives, pets, catch-alls); this module joins them into
``TEMPLATES`` and fills them in.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable, Mapping

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.templates import FAV_EXTRA, USER_TEMPLATES, Template
from sleepmem.plugin.builtins.templates_life import LIFE_TEMPLATES
from sleepmem.plugin.builtins.templates_others import OTHER_TEMPLATES

MAX_QUESTIONS = 8
MIN_QUESTIONS = 4


TEMPLATES: dict[str, Template] = {**USER_TEMPLATES, **OTHER_TEMPLATES, **LIFE_TEMPLATES}
"""Every kind of fact the built-in extractors produce, keyed by kind name."""


_FIELDS = string.Formatter()


def article(word: str) -> str:
    """'a' or 'an' for ``word``; good enough for the nouns people say about themselves."""
    w = word.strip().lower()
    if re.match(r"(?:hour|honest|honou?r|heir)", w):
        return "an"
    if re.match(r"(?:uni|use|usu|ute|eu|ewe|one|once|ukul|ur[aeiou])", w):
        return "a"
    return "an" if w[:1] in ("a", "e", "i", "o", "u") else "a"


def possessive(noun: str) -> str:
    """English possessive of a noun phrase: "sister" -> "sister's", "parents" -> "parents'"."""
    noun = noun.strip()
    if not noun:
        return noun
    return noun + "'" if noun.endswith("s") and not noun.endswith("ss") else noun + "'s"


def slug(value: str, limit: int = 40) -> str:
    """A stable, lower-case key for a free-text value, used inside slots.

    Values with no word characters at all (emoji) get a short hash instead, so that two
    different ones do not share (and supersede each other in) one slot.
    """
    s = re.sub(r"[^\w]+", "_", value.lower(), flags=re.UNICODE).strip("_")
    return s[:limit].rstrip("_") or hashlib.blake2s(value.encode(), digest_size=4).hexdigest()


def _fields_of(template: str) -> list[str]:
    return [name for _, name, _, _ in _FIELDS.parse(template) if name]


# grammatical glue, empty on purpose ("the" unsaid, plural verb, no time or sport said)
_MAY_BE_EMPTY = {"art_", "s", "when_", "sport_"}


def render(template: str, values: Mapping[str, str]) -> str | None:
    """Fill ``template``; None when it needs a value that is empty or missing."""
    for name in _fields_of(template):
        if name not in values or (not values[name] and name not in _MAY_BE_EMPTY):
            return None
    out = template.format_map(values)
    return re.sub(r"\s{2,}", " ", out).strip()


def _literal(items: Iterable[str]) -> list[str]:
    return [" ".join(item.split()) for item in items if isinstance(item, str)]


def _dedupe(items: Iterable[str | None]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def template_values(kind: str, answer: str, obj: str, fields: Mapping[str, str]) -> dict[str, str]:
    v = {k: (val or "") for k, val in fields.items()}
    v["answer"] = answer
    v["object"] = obj
    v["a"] = article(answer)
    v["a_obj"] = article(obj)
    art = v.get("art", "")
    v["art_"] = f"{art} " if art else ""
    v["when_"] = f" {v['when']}" if v.get("when") else ""
    v["sport_"] = f"{v['sport']} " if v.get("sport") else ""
    plural = v.get("plural") == "1"
    v["does"] = "do" if plural else "does"
    v["is"] = "are" if plural else "is"
    v["s"] = "" if plural else "s"
    rel = v.get("rel", "")
    if rel:
        v["rel_poss"] = possessive(rel)
        v["rel_slug"] = slug(v.get("rel_key") or rel)
        v["a_rel"] = article(rel)
        v["who"] = f"{rel} {v['name']}" if v.get("name") else rel
        v["who_poss"] = possessive(v["who"])
        # one slot per named relative or friend: two friends' homes are two facts, and a
        # fact told of "my friend" unnamed stays in the relation's own slot
        v["who_slug"] = v["rel_slug"] + (f":{slug(v['name'])}" if v.get("name") else "")
    if v.get("name"):
        v["name_poss"] = possessive(v["name"])
    animal = v.get("animal", "")
    if animal:
        v["animal_poss"] = possessive(animal)
        v["a_animal"] = article(animal)
        if not v.get("species"):
            v["species"] = animal
    category = v.get("category", "")
    if category and category != animal:
        v["category_poss"] = possessive(category)
    else:
        v["category_poss"] = ""
    if v.get("species"):
        v["species"] = slug(v["species"])
    thing = v.get("thing", "")
    v["thing_slug"] = slug(v.get("thing_key") or thing or obj)
    fav = v.get("fav") or "favourite"
    v["fav"] = fav
    v["fav_alt"] = "favorite" if fav == "favourite" else "favourite"
    np = v.get("np", "")
    if np:
        v["np_poss"] = possessive(np)
        v["np_slug"] = slug(np)
    return v


def build_fact(
    kind: str,
    answer: str,
    *,
    obj: str | None = None,
    subject: str = "I",
    source: str = "",
    extractor: str = "",
    lead_questions: Iterable[str] = (),
    extra_questions: Iterable[str] = (),
    extra_statements: Iterable[str] = (),
    text: str | None = None,
    **fields: str,
) -> Fact | None:
    """Build the Fact for one kind of personal fact, or None if it cannot be phrased.

    answer: the short span the model must say; obj: the fuller value (defaults to answer).
    fields: template values such as rel="sister", name="Clara", animal="dog",
    thing="food", fav="favorite", np="email address", verb="drive", vtype="car",
    art="a", plural="1". ``lead_questions`` come before the template's questions (use them
    when they are more specific than the template's), ``extra_questions`` and
    ``extra_statements`` after the template's own.
    """
    template = TEMPLATES.get(kind)
    answer = (answer or "").strip()
    if template is None or not answer:
        return None
    obj = (obj or answer).strip()
    values = template_values(kind, answer, obj, fields)
    # Caller-supplied questions and statements are literal text (they may come from a model
    # or a user and contain braces); only the templates are formatted.
    questions = [*_literal(lead_questions), *(render(q, values) for q in template.questions)]
    if kind == "favourite":
        extra = FAV_EXTRA.get(fields.get("thing_key") or fields.get("thing", ""), ())
        questions += [render(q, values) for q in extra]
    questions += _literal(extra_questions)
    qs = _dedupe(q for q in questions if q)
    if len(qs) < MIN_QUESTIONS:
        qs = _dedupe([*qs, "What do you remember about me?", "What do you know about me?"])
    rendered = [*(render(s, values) for s in template.statements), *_literal(extra_statements)]
    statements = _dedupe(s for s in rendered if s)
    slot = render(template.slot, values) or ""
    relation = render(template.relation, values) or template.relation
    if text is None:
        text = render(template.text, values) or obj
    text = text.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return Fact(
        text=text[:1].upper() + text[1:],
        subject=subject,
        relation=relation,
        object=obj,
        answer=answer,
        questions=tuple(qs[:MAX_QUESTIONS]),
        statements=tuple(statements[:4]),
        slot=slot,
        source=source,
        extractor=extractor,
    )
