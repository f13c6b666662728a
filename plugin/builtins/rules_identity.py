"""Rules about who the user is and who they live with: name, places, dates, work, family, pets.

Each ``_r_*`` function takes a ``_Clause``, matches its patterns and adds facts to it; the
pipeline in ``rules`` runs them in a fixed order. Family and pet rules also set
``_Clause.entity`` so that a following "She ..." or "He ..." can be resolved.
Split from ``rules_interests`` by topic only; the two do not import each other.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    DEMONYMS,
    DETERMINERS,
    DIETS,
    FAMILY,
    FEMALE,
    INSTRUMENTS,
    JOBS,
    LANGUAGES,
    MALE,
    NOT_NAMES,
    PLAYERS,
    PLURAL_FAMILY,
    PROGRAMMING_LOWER,
    SPORTS,
    _breed_of,
    _head,
    animal_fields,
    looks_like_business,
    looks_like_job,
    relative_fields,
)
from sleepmem.plugin.builtins.rule_parse import (
    _ADV,
    _AGE_END,
    _ANIMAL,
    _CAP_NAME,
    _CUT_NP,
    _CUT_VALUE,
    _I,
    _IAM,
    _NUM,
    _PLACE_IN,
    _REL,
    _REL_NAME_OPT,
    _YEAR,
    _capital_span,
    _Clause,
    _clean,
    _cut,
    _drop_fillers,
    _Entity,
    _pair,
    _parse_date,
    _parse_name,
    _parse_place,
    _pick,
    _rx,
    _smart_title,
    _strip_det,
    _value,
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


# --- work and business -----------------------------------------------------------------

_WORK_AS = _rx(
    rf"{_I}{_ADV}\s+(?:work|am\s+working|'m\s+working|have\s+worked|'ve\s+(?:been\s+)?"
    r"work(?:ed|ing)|am\s+employed|'m\s+employed|earn\s+my\s+living|make\s+a\s+living)"
    rf"{_ADV}\s+as\s+(?P<tail>.+)"
)
_I_AM_A = _rx(rf"{_IAM}\s+(?P<art>a|an)\s+(?P<tail>.+)")
_MY_JOB = _rx(
    r"\bmy\s+(?:job|profession|occupation|day\s+job|line\s+of\s+work|work)\s+is\s+(?:as\s+)?"
    r"(?P<art>a\s+|an\s+)?(?P<tail>.+)"
)
_STATUS_JOB = _rx(
    rf"^{_IAM}\s+(?P<s>retired|unemployed|self-employed|between\s+jobs|a\s+stay-at-home\s+"
    r"(?:mom|mum|dad|parent)|a\s+homemaker)\b"
)
_WORK_AT = _rx(
    rf"{_I}{_ADV}\s+(?:work|am\s+working|'m\s+working|am\s+employed|'m\s+employed|"
    r"have\s+a\s+job)\s+(?:at|for|with)\s+(?P<tail>.+)"
)
_AT_PLACE = _rx(r"^\s*(?:at|for)\s+(?P<tail>.+)")
_AS_JOB = _rx(r"\bas\s+(?P<art>a|an)\s+(?P<tail>.+)")
_WORK_IN = _rx(rf"{_I}{_ADV}\s+work\s+in\s+(?P<tail>.+)")


def _job_np(tail: str) -> tuple[str, str]:
    """(job, what follows it) for "nurse at a children's hospital" -> ("nurse", "at a ...")."""
    _, rest = _strip_det(tail.strip())
    np = _clean(_cut(rest, _CUT_NP))
    words = np.split()
    if not words or len(words) > 5:
        return "", ""
    return np, rest[len(np) :]


_NOT_WORKPLACES = {"home", "myself", "me", "work", "it", "them", "night", "nights", "weekends"}


def _workplace(c: _Clause, tail: str) -> None:
    text = _clean(_cut(tail, _CUT_VALUE))
    art, rest = _strip_det(text)
    span = _capital_span(rest) if not c.loose else ""
    if span and rest.startswith(span):
        c.add("workplace", span, art=art)
        return
    np = _clean(_cut(rest, _CUT_NP))
    if np and np.lower() not in _NOT_WORKPLACES and len(np.split()) <= 5:
        c.add("workplace", np, art=art)


def _add_job(c: _Clause, job: str, rest: str = "") -> None:
    """A job, plus the instrument a "cellist" plays (asked as "Which instrument do I play?")
    and the workplace when ``rest`` goes on with "at <place>"."""
    c.add("job", job)
    instrument = PLAYERS.get(_head(job))
    if instrument:
        c.add("instrument", instrument)
    at = _AT_PLACE.match(rest)
    if at:
        _workplace(c, at["tail"])


def _r_job(c: _Clause) -> None:
    m = _WORK_AS.search(c.text)
    if m:
        job, rest = _job_np(m["tail"])
        if job:
            _add_job(c, job, rest)
        return
    m = _STATUS_JOB.search(c.text)
    if m:
        c.add("job", _strip_det(m["s"])[1])
        return
    m = _I_AM_A.search(c.text)
    if m:
        job, rest = _job_np(m["tail"])
        if job and _head(job) in DIETS:
            c.add("diet", job)
        elif job and looks_like_job(job):
            _add_job(c, job, rest)
        return
    m = _MY_JOB.search(c.text)
    if m:
        job, _ = _job_np(m["tail"])
        if job and (m["art"] or looks_like_job(job)):
            _add_job(c, job)
        return
    m = _WORK_AT.search(c.text)
    if m:
        _workplace(c, m["tail"])
        as_job = _AS_JOB.search(m["tail"])
        if as_job:
            job, _ = _job_np(as_job["tail"])
            if job:
                _add_job(c, job)
        return
    m = _WORK_IN.search(c.text)
    if m:
        tail = m["tail"].strip()
        first = tail.split()[0].strip(",.").lower() if tail.split() else ""
        if not first or first in PROGRAMMING_LOWER:
            return
        if first in DETERMINERS or (tail[:1].isupper() and not c.loose):
            _workplace(c, tail)
            return
        _, field_ = _value(tail, _CUT_NP, max_words=4)
        if field_:
            c.add("work_field", field_)


_OWN = _rx(
    rf"{_I}{_ADV}\s+(?:own|run|have|started|opened|founded|manage|co-own|co-founded|"
    r"set\s+up)\s+(?:(?:my|our)\s+own\s+|(?P<art>a|an|the|my|our)\s+)(?P<tail>.+)"
)


def _r_business(c: _Clause) -> None:
    m = _OWN.search(c.text)
    if not m:
        return
    _, np = _value(m["tail"], _CUT_NP, max_words=4)
    if np and looks_like_business(np):
        c.add("business", _drop_fillers(np), obj=np)


# --- family ----------------------------------------------------------------------------

_FAM_APPOS = _pair(
    rf"\bmy\s+{_REL}(?:,\s*|\s+)(?P<name>{{NAME}})"
    r"(?=\s*,|\s+(?:is|was|'s|works|worked|lives|lived|plays|has|had|loves|likes|just|"
    r"recently|also|and|who|turned|turns)\b"
    # or any verb of the third person: "my grandson Idris laughs at me"
    r"|\s+(?P<verb>(?-i:[a-z]{2,}s))\b)"
)
_FAM_APPOS_END = _rx(rf"\bmy\s+{_REL}(?:,\s*|\s+)(?P<name>{_CAP_NAME}(?:\s+{_CAP_NAME})?)\s*$")
_FAM_NAME = [
    _rx(rf"\bmy\s+{_REL}(?:'s|s')\s+name\s+is\s+(?P<tail>.+)"),
    _rx(rf"\bmy\s+{_REL}\s+is\s+(?:called|named)\s+(?P<tail>.+)"),
]
_FAM_HAVE = _rx(
    rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got|got)\s+(?:a|an|one)\s+{_REL}"
    r"(?:\s*,?\s+(?:named|called)\s+(?P<tail>.+))?"
)
_FAM_JOB = _pair(
    rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+(?P<verb>is|was|'s|are|works\s+as|work\s+as|"
    r"is\s+working\s+as|has\s+been|'s\s+been)\s+(?:(?:now|also|currently|still|actually)\s+)?"
    r"(?P<art>a\s+|an\s+)?(?P<tail>.+)"
)
_FAM_WORK_AT = _pair(rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+works?\s+(?:at|for)\s+(?P<tail>.+)")
_FAM_AGE = _pair(
    rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+(?:is|are|'s|just\s+turned|turned|turns)\s+"
    rf"(?P<n>{_NUM}(?:\s*(?:,|and|&)\s*{_NUM})*)"
    rf"(?P<unit>\s*(?:years?|yrs?|months?|weeks?)(?:\s+old)?)?{_AGE_END}"
)
_FAM_HOME = _pair(
    rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+(?:lives?|is\s+living|are\s+living|has\s+lived|"
    r"have\s+lived|(?:just\s+)?moved|is\s+based|are\s+based)\s+(?:in|to)\s+(?P<tail>.+)"
)
_FAM_PLAYS = _pair(rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+plays?\s+(?:the\s+)?(?P<tail>.+)")


def _subject(kind_word: str, name: str) -> str:
    return f"my {kind_word} {name}".strip()


def _valid_name(name: str | None, loose: bool) -> str:
    if not name:
        return ""
    name = _smart_title(name) if loose else name
    return "" if name.lower() in NOT_NAMES or name.lower() in FAMILY else name


def _family_entity(c: _Clause, rel: str, name: str) -> None:
    base = rel.lower().split()[-1]
    gender = "f" if base in FEMALE else "m" if base in MALE else ""
    c.entity = _Entity("family", rel.lower(), name, base in PLURAL_FAMILY, gender)


def _r_family(c: _Clause) -> None:
    found_name = ""
    rel = ""
    m = _pick(_FAM_APPOS, c).search(c.text)
    # typed in lower case, "my sister hates cats" is no sister named "hates" (see pets)
    if m and m["verb"] and c.loose and m["name"].lower().endswith("s"):
        m = None
    m = m or _FAM_APPOS_END.search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        if name:
            rel, found_name = m["rel"], name
    for pat in _FAM_NAME:
        m = pat.search(c.text)
        if m:
            name, _ = _parse_name(m["tail"], c.loose)
            if name:
                rel, found_name = m["rel"], name
    m = _FAM_HAVE.search(c.text)
    if m:
        rel = m["rel"]
        if m["tail"]:
            found_name, _ = _parse_name(m["tail"], c.loose)
        _family_entity(c, rel, found_name)
    if rel and found_name:
        f = relative_fields(rel, found_name)
        if not f["plural"] and c.is_new_name(found_name):
            c.add("family_name", found_name, subject=f"my {f['rel']}", **f)
        _family_entity(c, rel, found_name)

    m = _pick(_FAM_JOB, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose) or (found_name if m["rel"] == rel else "")
        job, rest = _job_np(m["tail"])
        verb = m["verb"].lower()
        # without an article ("my husband is electrician", as many learners say it) only a
        # listed job counts: "my sister is nurse" yes, "my sister is lovely" no
        listed = not m["art"] and _head(job) in JOBS and len(job.split()) <= 2
        if job and ("work" in verb or (m["art"] and looks_like_job(job)) or listed):
            f = relative_fields(m["rel"], name)
            subj = _subject(f["rel"], name)
            c.add("family_job", job, subject=subj, **f)
            instrument = PLAYERS.get(_head(job))
            if instrument:
                c.add("family_instrument", instrument, subject=subj, **f)
            at = _AT_PLACE.match(rest)
            if at:
                _, place = _value(at["tail"], _CUT_NP, max_words=5)
                if place:
                    c.add("family_workplace", place, subject=subj, **f)
            _family_entity(c, m["rel"], name)
    m = _pick(_FAM_WORK_AT, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        art, place = _value(m["tail"], _CUT_NP, max_words=5)
        # "he works for big company": no article, no capital, no name of a workplace
        if place and (art or c.loose or place[:1].isupper()):
            f = relative_fields(m["rel"], name)
            c.add("family_workplace", place, subject=_subject(f["rel"], name), art=art, **f)
            _family_entity(c, m["rel"], name)
    m = _pick(_FAM_AGE, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        f = relative_fields(m["rel"], name)
        unit = (m["unit"] or "").strip().lower()
        if unit.startswith(("month", "week")):
            n = f"{m['n']} {unit.split()[0]}"
            c.add("family_age", n, subject=_subject(f["rel"], name),
                  text=f"My {f['rel']} is {n} old.", **f)  # fmt: skip
        else:
            c.add("family_age", m["n"], subject=_subject(f["rel"], name), **f)
        _family_entity(c, m["rel"], name)
    m = _pick(_FAM_HOME, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        place = _parse_place(m["tail"], c.loose)
        if place:
            f = relative_fields(m["rel"], name)
            c.add("family_home", place, subject=_subject(f["rel"], name), **f)
            _family_entity(c, m["rel"], name)
    m = _pick(_FAM_PLAYS, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        _, thing = _value(m["tail"], _CUT_NP, max_words=3)
        f = relative_fields(m["rel"], name)
        subj = _subject(f["rel"], name)
        if thing.lower() in INSTRUMENTS:
            c.add("family_instrument", thing.lower(), subject=subj, **f)
        elif thing.lower() in SPORTS:
            c.add("family_sport", thing.lower(), subject=subj, **f)
        _family_entity(c, m["rel"], name)


# --- pets ------------------------------------------------------------------------------

_PET_HAVE = _pair(
    rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got|got|own|adopted|rescued|keep|share\s+my\s+"
    rf"home\s+with)\s+(?:a|an|one|(?P<count>{_NUM}))\s+(?:[\w-]+\s+){{0,2}}?{_ANIMAL}"
    r"(?P<pl>s|es)?\b(?:\s*,?\s*(?:named|called)\s+(?P<tail>.+))?"
)
_PET_NAME = [
    _rx(rf"\bmy\s+(?:[\w-]+\s+)?{_ANIMAL}(?:'s|s')\s+name\s+is\s+(?P<tail>.+)"),
    _rx(rf"\bmy\s+(?:[\w-]+\s+)?{_ANIMAL}\s+is\s+(?:called|named)\s+(?P<tail>.+)"),
]
_PET_APPOS = _pair(
    rf"\bmy\s+(?:[\w-]+\s+)?{_ANIMAL},?\s+(?P<name>{{NAME}})"
    r"(?=\s*,|\s+(?:is|was|'s|loves|likes|has|just|and|who|sleeps|eats|turned)\b"
    # or any verb of the third person: "my cat Pixel keeps stealing my chair"
    r"|\s+(?P<verb>(?-i:[a-z]{2,}s))\b)"
)
_PET_IS_A = _pair(rf"\bmy\s+{_ANIMAL}{_REL_NAME_OPT}\s+(?:is|'s)\s+(?:a|an)\s+(?P<tail>.+)")
_PET_AGE = _pair(
    rf"\bmy\s+{_ANIMAL}{_REL_NAME_OPT}\s+(?:is|'s|just\s+turned|turned)\s+(?P<n>{_NUM})"
    rf"(?P<unit>\s*(?:years?|yrs?|months?|weeks?)(?:\s+old)?)?{_AGE_END}"
)


def _r_pets(c: _Clause) -> None:
    m = _pick(_PET_HAVE, c).search(c.text)
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
            name, _ = _parse_name(m["tail"].replace(" and ", " & "), c.loose)
            if plural and m["tail"]:
                names = re.split(r"\s*(?:,|&|\band\b)\s*", _cut(m["tail"], _CUT_VALUE))
                names = [_valid_name(n.strip(), c.loose) for n in names if n.strip()]
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
                    c.entity = _Entity("pet", animals, "", True)
            elif name:
                c.add("pet_name", name, subject=f"my {f['animal']}", **f)
        if not plural:
            c.entity = _Entity("pet", f["animal"], name)
    for pat in _PET_NAME:
        m = pat.search(c.text)
        if m:
            name, _ = _parse_name(m["tail"], c.loose)
            if name:
                f = animal_fields(m["animal"])
                c.add("pet_name", name, subject=f"my {f['animal']}", **f)
                c.entity = _Entity("pet", f["animal"], name)
    m = _pick(_PET_APPOS, c).search(c.text)
    # typed in lower case, "my dog hates cats" is no dog named "hates": a name read before
    # an unlisted verb must not itself end like one
    if m and m["verb"] and c.loose and m["name"].lower().endswith("s"):
        m = None
    if m:
        name = _valid_name(m["name"], c.loose)
        if c.is_new_name(name):
            f = animal_fields(m["animal"])
            c.add("pet_name", name, subject=f"my {f['animal']}", **f)
            c.entity = _Entity("pet", f["animal"], name)
    m = _pick(_PET_IS_A, c).search(c.text)
    if m:
        _, np = _value(m["tail"], _CUT_NP, max_words=4)
        breed = _breed_of(np) if np else ""
        if breed:
            f = animal_fields(m["animal"])
            name = _valid_name(m["name"], c.loose)
            c.add("pet_breed", breed, obj=np, subject=_subject(f["animal"], name), name=name, **f)
            c.entity = c.entity or _Entity("pet", f["animal"], name)
    m = _pick(_PET_AGE, c).search(c.text)
    if m:
        f = animal_fields(m["animal"])
        name = _valid_name(m["name"], c.loose)
        unit = (m["unit"] or "").strip().lower()
        n = f"{m['n']} {unit.split()[0]}" if unit.startswith(("month", "week")) else m["n"]
        text = f"My {f['animal']} is {n} old." if n != m["n"] else None
        c.add("pet_age", n, subject=_subject(f["animal"], name), name=name, text=text, **f)
