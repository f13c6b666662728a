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
    _ADV,
    _AGE_END,
    _I,
    _IAM,
    _NUM,
    _PLACE_IN,
    _YEAR,
    _Clause,
    _clean,
    _parse_date,
    _parse_name,
    _parse_place,
    _rx,
)

# --- name, places, dates ---------------------------------------------------------------

_NAME_IS = [
    _rx(r"\bmy\s+(?:full\s+|first\s+|real\s+|given\s+)?name\s+is\s+(?P<tail>.+)"),
    _rx(r"\bmy\s+name's\s+(?P<tail>.+)"),
    _rx(r"^name's\s+(?P<tail>.+)"),
    _rx(r"(?:^|\b(?:you\s+can|just|everyone|people|they|friends|my\s+friends)\s+)"
        r"call(?:s)?\s+me\s+(?P<tail>.+)"),
    _rx(r"\bI\s+go\s+by\s+(?P<tail>.+)"),
]  # fmt: skip
_I_AM_NAME = _rx(r"^I(?:'m|\s+am|m)\s+(?P<tail>.+)$")


def _r_name(c: _Clause) -> None:
    for pat in _NAME_IS:
        m = pat.search(c.text)
        if m:
            name, _ = _parse_name(m["tail"], c.loose)
            if name:
                c.add("name", name)
            return
    m = _I_AM_NAME.match(c.text)
    if m and not c.loose:
        name, rest = _parse_name(m["tail"], loose=False)
        if not name or _clean(rest) or name in DEMONYMS or name in LANGUAGES:
            return
        if name.lower().split()[0] in FAMILY or name.lower() in NOT_NAMES:
            return
        c.add("name", name)


_HOME = [
    _rx(rf"{_I}{_ADV}\s+(?:live|am\s+living|'m\s+living|are\s+living|'re\s+living|"
        r"have\s+(?:been\s+)?(?:living|lived)|'ve\s+(?:been\s+)?(?:living|lived)|reside|"
        r"am\s+based|'m\s+based|are\s+based|'re\s+based|am\s+settled|'m\s+settled)"
        rf"{_ADV}\s+(?:in|out\s+of)\s+(?P<tail>.+)"),
    _rx(rf"{_I}{_ADV}\s+(?:have\s+|'ve\s+|had\s+)?(?:just\s+|recently\s+|finally\s+)?"
        r"(?:moved|relocated)\s+(?:back\s+)?(?:to|into)\s+(?P<tail>.+)"),
    _rx(r"\bmy\s+(?:home\s+city|current\s+city|city|home)\s+(?:is|'s)\s+(?:now\s+)?"
        r"(?:in\s+)?(?P<tail>.+)"),
]  # fmt: skip


def _r_home(c: _Clause) -> None:
    for pat in _HOME:
        m = pat.search(c.text)
        if m:
            place = _parse_place(m["tail"], c.loose)
            if place:
                c.add("home", place)
            return


_HOMETOWN = [
    (_rx(rf"{_I}{_ADV}\s+(?:grew\s+up|was\s+raised|were\s+raised|was\s+brought\s+up|"
         r"spent\s+my\s+childhood|was\s+born\s+and\s+(?:raised|bred))\s+in\s+(?P<tail>.+)"),
     "hometown"),
    (_rx(r"\b(?:and|but)\s+grew\s+up\s+in\s+(?P<tail>.+)"), "hometown"),
    (_rx(r"\bmy\s+home\s*town\s+(?:is|was)\s+(?P<tail>.+)"), "hometown"),
    (_rx(rf"{_IAM}\s+(?:originally\s+)?from\s+(?P<tail>.+)"), "origin"),
    (_rx(rf"{_I}{_ADV}\s+(?:originally\s+)?come\s+from\s+(?P<tail>.+)"), "origin"),
]  # fmt: skip
_BORN = _rx(r"\bI\s+was\s+born\s+(?P<prep>in|on|at)\s+(?P<tail>.+)")
_YEAR_AT = re.compile(rf"^(?P<y>{_YEAR})\b")


def _r_places_of_origin(c: _Clause) -> None:
    for pat, kind in _HOMETOWN:
        m = pat.search(c.text)
        if m:
            place = _parse_place(m["tail"], c.loose)
            if place:
                c.add(kind, place)
            break
    m = _BORN.search(c.text)
    if not m:
        return
    tail = m["tail"]
    date, year = _parse_date(tail)
    if date and (date != year):
        c.add("birth_date", date)
    ym = _YEAR_AT.match(tail)
    if ym or year:
        c.add("birth_year", year or ym["y"])  # type: ignore[index]
        place = _PLACE_IN.search(tail)
        if place:
            c.add("birthplace", place["p"])
        return
    if not date:
        place = _parse_place(tail, c.loose)
        if place:
            c.add("birthplace", place)


_BIRTHDAY = _rx(r"\bmy\s+(?:birthday|bday|b-day)(?:\s+is|'s)\s+(?:on\s+|in\s+)?(?P<tail>.+)")
_DOB = _rx(r"\bmy\s+(?:date\s+of\s+birth|birth\s*date|DOB)\s+is\s+(?P<tail>.+)")
_AGE = [
    _rx(rf"{_IAM}\s+(?P<n>{_NUM})(?:\s*(?:years?|yrs?)(?:\s+old)?|\s*y/?o)?{_AGE_END}"),
    _rx(rf"\bI\s+(?:just\s+)?turned\s+(?P<n>{_NUM}){_AGE_END}"),
    _rx(rf"\bmy\s+age\s+is\s+(?P<n>{_NUM}){_AGE_END}"),
]


def _r_dates(c: _Clause) -> None:
    for pat, kind in ((_BIRTHDAY, "birthday"), (_DOB, "birth_date")):
        m = pat.search(c.text)
        if m:
            date, year = _parse_date(m["tail"])
            if date:
                c.add(kind, date)
                if year and kind == "birth_date":
                    c.add("birth_year", year)
    for pat in _AGE:
        m = pat.search(c.text)
        if m:
            c.add("age", m["n"].replace("  ", " "))
            return
