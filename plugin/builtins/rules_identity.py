"""Rules about who the user is: name, home and origin, birth dates and age.

Each ``_r_*`` function takes a ``_Clause``, matches its patterns and adds facts to it; the
pipeline in ``rules`` runs them in a fixed order. Work is in ``rules_work``, relatives in
``rules_family``, pets in ``rules_pets``; tastes and activities in ``rules_interests``.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    DEMONYMS,
    FAMILY,
    LANGUAGES,
    NOT_NAMES,
)
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    AGE_END,
    I_AM,
    I_WE,
    NUM,
    PLACE_IN,
    YEAR,
    Clause,
    clean,
    compile_rule,
    parse_date,
    parse_name,
    parse_place,
)

# --- name, places, dates ---------------------------------------------------------------

_NAME_IS = [
    compile_rule(r"\bmy\s+(?:full\s+|first\s+|real\s+|given\s+)?name\s+is\s+(?P<tail>.+)"),
    compile_rule(r"\bmy\s+name's\s+(?P<tail>.+)"),
    compile_rule(r"^name's\s+(?P<tail>.+)"),
    compile_rule(r"(?:^|\b(?:you\s+can|just|everyone|people|they|friends|my\s+friends)\s+)"
        r"call(?:s)?\s+me\s+(?P<tail>.+)"),
    compile_rule(r"\bI\s+go\s+by\s+(?P<tail>.+)"),
]  # fmt: skip
_I_AM_NAME = compile_rule(r"^I(?:'m|\s+am|m)\s+(?P<tail>.+)$")


def r_name(c: Clause) -> None:
    for pat in _NAME_IS:
        m = pat.search(c.text)
        if m:
            name, _ = parse_name(m["tail"], c.loose)
            if name:
                c.add("name", name)
            return
    m = _I_AM_NAME.match(c.text)
    if m and not c.loose:
        name, rest = parse_name(m["tail"], loose=False)
        if not name or clean(rest) or name in DEMONYMS or name in LANGUAGES:
            return
        if name.lower().split()[0] in FAMILY or name.lower() in NOT_NAMES:
            return
        c.add("name", name)


_HOME = [
    compile_rule(rf"{I_WE}{ADV}\s+(?:live|am\s+living|'m\s+living|are\s+living|'re\s+living|"
        r"have\s+(?:been\s+)?(?:living|lived)|'ve\s+(?:been\s+)?(?:living|lived)|reside|"
        r"am\s+based|'m\s+based|are\s+based|'re\s+based|am\s+settled|'m\s+settled)"
        rf"{ADV}\s+(?:in|out\s+of)\s+(?P<tail>.+)"),
    compile_rule(rf"{I_WE}{ADV}\s+(?:have\s+|'ve\s+|had\s+)?(?:just\s+|recently\s+|finally\s+)?"
        r"(?:moved|relocated)\s+(?:back\s+)?(?:to|into)\s+(?P<tail>.+)"),
    compile_rule(r"\bmy\s+(?:home\s+city|current\s+city|city|home)\s+(?:is|'s)\s+(?:now\s+)?"
        r"(?:in\s+)?(?P<tail>.+)"),
]  # fmt: skip


def r_home(c: Clause) -> None:
    for pat in _HOME:
        m = pat.search(c.text)
        if m:
            place = parse_place(m["tail"], c.loose)
            if place:
                c.add("home", place)
            return


_HOMETOWN = [
    (compile_rule(rf"{I_WE}{ADV}\s+(?:grew\s+up|was\s+raised|were\s+raised|was\s+brought\s+up|"
         r"spent\s+my\s+childhood|was\s+born\s+and\s+(?:raised|bred))\s+in\s+(?P<tail>.+)"),
     "hometown"),
    (compile_rule(r"\b(?:and|but)\s+grew\s+up\s+in\s+(?P<tail>.+)"), "hometown"),
    (compile_rule(r"\bmy\s+home\s*town\s+(?:is|was)\s+(?P<tail>.+)"), "hometown"),
    (compile_rule(rf"{I_AM}\s+(?:originally\s+)?from\s+(?P<tail>.+)"), "origin"),
    (compile_rule(rf"{I_WE}{ADV}\s+(?:originally\s+)?come\s+from\s+(?P<tail>.+)"), "origin"),
]  # fmt: skip
_BORN = compile_rule(r"\bI\s+was\s+born\s+(?P<prep>in|on|at)\s+(?P<tail>.+)")
_YEAR_AT = re.compile(rf"^(?P<y>{YEAR})\b")


def r_places_of_origin(c: Clause) -> None:
    for pat, kind in _HOMETOWN:
        m = pat.search(c.text)
        if m:
            place = parse_place(m["tail"], c.loose)
            if place:
                c.add(kind, place)
            break
    m = _BORN.search(c.text)
    if not m:
        return
    tail = m["tail"]
    date, year = parse_date(tail)
    if date and (date != year):
        c.add("birth_date", date)
    ym = _YEAR_AT.match(tail)
    if ym or year:
        c.add("birth_year", year or ym["y"])  # type: ignore[index]
        place = PLACE_IN.search(tail)
        if place:
            c.add("birthplace", place["p"])
        return
    if not date:
        place = parse_place(tail, c.loose)
        if place:
            c.add("birthplace", place)


_BIRTHDAY = compile_rule(
    r"\bmy\s+(?:birthday|bday|b-day)(?:\s+is|'s)\s+(?:on\s+|in\s+)?(?P<tail>.+)"
)
_DOB = compile_rule(r"\bmy\s+(?:date\s+of\s+birth|birth\s*date|DOB)\s+is\s+(?P<tail>.+)")
_AGE = [
    compile_rule(rf"{I_AM}\s+(?P<n>{NUM})(?:\s*(?:years?|yrs?)(?:\s+old)?|\s*y/?o)?{AGE_END}"),
    compile_rule(rf"\bI\s+(?:just\s+)?turned\s+(?P<n>{NUM}){AGE_END}"),
    compile_rule(rf"\bmy\s+age\s+is\s+(?P<n>{NUM}){AGE_END}"),
]


def r_dates(c: Clause) -> None:
    for pat, kind in ((_BIRTHDAY, "birthday"), (_DOB, "birth_date")):
        m = pat.search(c.text)
        if m:
            date, year = parse_date(m["tail"])
            if date:
                c.add(kind, date)
                if year and kind == "birth_date":
                    c.add("birth_year", year)
    for pat in _AGE:
        m = pat.search(c.text)
        if m:
            c.add("age", m["n"].replace("  ", " "))
            return
