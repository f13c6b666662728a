"""Pronouns and names that refer to the pet or relative of the sentence before.

"We got a kitten. I named her Saffi." and "My dog Biscuit ... He is a beagle." are read as
"my cat is called Saffi" and "my dog Biscuit is a beagle" (``resolve``), so the slot rules
see whom a clause is about. The entity comes from the clause before, the user's recent
turns, or a pet or relative memory already knows by name.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import relative_fields
from sleepmem.plugin.builtins.phrasing import slug
from sleepmem.plugin.builtins.rule_parse import I_, Entity

_PRONOUN = re.compile(
    r"^(?P<p>he|she|it|they|his|her|its|their)(?P<s>'s|'re)?\b\s*(?P<rest>.*)$", I_
)


# "I named her Tamal": the pet or child of the sentence before gets its name.
_NAMED_IT = re.compile(
    r"^(?:I|we)\s+(?:(?:already|just|finally|have|had)\s+)?(?:named|called|call|name)\s+"
    r"(?P<p>him|her|it|them)\s+(?P<name>\S.*)$",
    I_,
)


def resolve(clause: str, entity: Entity | None) -> str:
    """Rewrite "He is a beagle." as "my dog Biscuit is a beagle." when the dog came first."""
    if entity is None:
        return clause
    # "Maya's favourite band is ..." is the sister's too
    if entity.name and clause.startswith((entity.name + " ", entity.name + "'s ")):
        return f"my {entity.ref} {clause}"
    m = _NAMED_IT.match(clause)
    # only an entity without a name yet: "My cat Pim had a kitten. I named her ..." names
    # the kitten, not Pim
    if m and not entity.name and (entity.kind == "pet" or m["p"].lower() != "it"):
        return f"my {entity.ref} is called {m['name']}"
    m = _PRONOUN.match(clause)
    if not m:
        return clause
    p = m["p"].lower()
    if entity.kind == "family":
        if p in ("it", "its"):
            return clause
        if (p in ("she", "her") and entity.gender == "m") or (
            p in ("he", "his") and entity.gender == "f"
        ):
            return clause
    if p in ("they", "their") and not entity.plural:
        return clause
    rest = m["rest"]
    if p in ("his", "her", "its", "their"):
        return f"my {entity.ref}'s {rest}" if not entity.plural else f"my {entity.ref}' {rest}"
    ref = f"my {entity.ref} {entity.name}".strip()
    verb = {"'s": " is", "'re": " are"}.get((m["s"] or "").lower(), "")
    return f"{ref}{verb} {rest}".strip()


_MY_KIN = re.compile(
    r"^my\s+(?P<rel>[^\W\d_]+(?:\s+[^\W\d_]+)?)(?P<poss>'s|')?\s+(?P<rest>\S.*)$", I_
)
_RENAMING = re.compile(r"^(?:name\b|(?:is|was)\s+(?:called|named)\b)", I_)


def named_kin(clause: str, names: dict[str, Entity]) -> str:
    """ "my sister lives in Porto" -> "my sister Maya lives in Porto" when memory knows
    exactly one sister, by name: the fact lands in her slot, beside what else is known
    about her, instead of in a second, unnamed sister's."""
    m = _MY_KIN.match(clause)
    if not m:
        return clause
    readings = [(m["rel"], m["poss"] or "", m["rest"])]
    first, *more = m["rel"].split()
    if more and not m["poss"]:  # "my sister lives in": the relation is one word
        readings.append((first, "", f"{more[0]} {m['rest']}"))
    for rel, poss, rest in readings:
        if _RENAMING.match(rest) or rest[:1].isupper():  # renamed, or named already
            continue
        kin = only_relative(names, relative_fields(rel, "")["rel_key"])
        if kin is not None:
            return f"my {rel} {kin.name}{poss} {rest}"
    return clause


def only_relative(names: dict[str, Entity], relation: str) -> Entity | None:
    """The relative of ``relation`` ("sister", or its slot key) memory knows by name, when
    it knows exactly one; None when it knows none or several."""
    key = slug(relation)
    kin = [e for e in names.values() if e.kind == "family" and slug(e.ref) == key]
    return kin[0] if len(kin) == 1 else None
