"""Rules about the user's pets: species, name, breed and age.

Every rule also sets ``_Clause.entity`` so that a following "She ..." or "It ..." can be
resolved to the pet.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    animal_fields,
    breed_of,
)
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    AGE_END,
    ANIMAL,
    CUT_NP,
    CUT_VALUE,
    I_WE,
    NUM,
    REL_NAME_OPT,
    Clause,
    Entity,
    cased_pair,
    compile_rule,
    cut_at,
    parse_name,
    parse_value,
    pick,
    subject_of,
    valid_name,
)

# --- pets ------------------------------------------------------------------------------

_PET_HAVE = cased_pair(
    rf"{I_WE}{ADV}\s+(?:have|'ve\s+got|have\s+got|got|own|adopted|rescued|keep|share\s+my\s+"
    rf"home\s+with)\s+(?:a|an|one|(?P<count>{NUM}))\s+(?:[\w-]+\s+){{0,2}}?{ANIMAL}"
    r"(?P<pl>s|es)?\b(?:\s*,?\s*(?:named|called)\s+(?P<tail>.+))?"
)
_PET_NAME = [
    compile_rule(rf"\bmy\s+(?:[\w-]+\s+)?{ANIMAL}(?:'s|s')\s+name\s+is\s+(?P<tail>.+)"),
    compile_rule(rf"\bmy\s+(?:[\w-]+\s+)?{ANIMAL}\s+is\s+(?:called|named)\s+(?P<tail>.+)"),
]
_PET_APPOS = cased_pair(
    rf"\bmy\s+(?:[\w-]+\s+)?{ANIMAL},?\s+(?P<name>{{NAME}})"
    r"(?=\s*,|\s+(?:is|was|'s|loves|likes|has|just|and|who|sleeps|eats|turned)\b"
    # or any verb of the third person: "my cat Pixel keeps stealing my chair"
    r"|\s+(?P<verb>(?-i:[a-z]{2,}s))\b)"
)
_PET_IS_A = cased_pair(rf"\bmy\s+{ANIMAL}{REL_NAME_OPT}\s+(?:is|'s)\s+(?:a|an)\s+(?P<tail>.+)")
_PET_AGE = cased_pair(
    rf"\bmy\s+{ANIMAL}{REL_NAME_OPT}\s+(?:is|'s|just\s+turned|turned)\s+(?P<n>{NUM})"
    rf"(?P<unit>\s*(?:years?|yrs?|months?|weeks?)(?:\s+old)?)?{AGE_END}"
)


def r_pets(c: Clause) -> None:
    m = pick(_PET_HAVE, c).search(c.text)
    if m:
        f = animal_fields(m["animal"])
        count = (m["count"] or "").lower()
        plural = bool(m["pl"]) or (count not in ("", "one", "1"))
        if not plural:
            c.add("pet", f["species"], obj=f["animal"], **f)
            if f["animal"] != f["species"]:
                c.add("pet_breed", f["animal"], subject=f"my {f['species']}",
                      **{**f, "animal": f["species"]})  # fmt: skip
        name = ""
        if m["tail"]:
            name, _ = parse_name(m["tail"].replace(" and ", " & "), c.loose)
            if plural and m["tail"]:
                names = re.split(r"\s*(?:,|&|\band\b)\s*", cut_at(m["tail"], CUT_VALUE))
                names = [valid_name(n.strip(), c.loose) for n in names if n.strip()]
                names = [n for n in names if n and n[:1].isupper()]
                if names:
                    joined = (
                        " and ".join(names)
                        if len(names) < 3
                        else (", ".join(names[:-1]) + " and " + names[-1])
                    )
                    animals = f["animal"] + ("es" if f["animal"].endswith("sh") else "s")
                    c.add("pet_names", joined, subject=f"my {animals}",
                          **{**f, "animal": animals})  # fmt: skip
                    name = ""
                    c.entity = Entity("pet", animals, "", True)
            elif name:
                c.add("pet_name", name, subject=f"my {f['animal']}", **f)
        if not plural:
            c.entity = Entity("pet", f["animal"], name)
    for pat in _PET_NAME:
        m = pat.search(c.text)
        if m:
            name, _ = parse_name(m["tail"], c.loose)
            if name:
                f = animal_fields(m["animal"])
                c.add("pet_name", name, subject=f"my {f['animal']}", **f)
                c.entity = Entity("pet", f["animal"], name)
    m = pick(_PET_APPOS, c).search(c.text)
    # typed in lower case, "my dog hates cats" is no dog named "hates": a name read before
    # an unlisted verb must not itself end like one
    if m and m["verb"] and c.loose and m["name"].lower().endswith("s"):
        m = None
    if m:
        name = valid_name(m["name"], c.loose)
        if c.is_new_name(name):
            f = animal_fields(m["animal"])
            c.add("pet_name", name, subject=f"my {f['animal']}", **f)
            c.entity = Entity("pet", f["animal"], name)
    m = pick(_PET_IS_A, c).search(c.text)
    if m:
        _, np = parse_value(m["tail"], CUT_NP, max_words=4)
        breed = breed_of(np) if np else ""
        if breed:
            f = animal_fields(m["animal"])
            name = valid_name(m["name"], c.loose)
            c.add("pet_breed", breed, obj=np, subject=subject_of(f["animal"], name), name=name, **f)
            c.entity = c.entity or Entity("pet", f["animal"], name)
    m = pick(_PET_AGE, c).search(c.text)
    if m:
        f = animal_fields(m["animal"])
        name = valid_name(m["name"], c.loose)
        unit = (m["unit"] or "").strip().lower()
        n = f"{m['n']} {unit.split()[0]}" if unit.startswith(("month", "week")) else m["n"]
        text = f"My {f['animal']} is {n} old." if n != m["n"] else None
        c.add("pet_age", n, subject=subject_of(f["animal"], name), name=name, text=text, **f)
