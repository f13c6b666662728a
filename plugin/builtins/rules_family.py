"""Rules about the user's relatives (and friends, neighbours): name, job, workplace, age,
home, where they are from, their favourites and what they play.

Every rule also sets ``_Clause.entity`` so that a following "She ..." or "He ..." can be
resolved to the relative.
"""

from __future__ import annotations

from sleepmem.plugin.builtins.lexicon import (
    FEMALE,
    INSTRUMENTS,
    JOBS,
    MALE,
    PLAYERS,
    PLURAL_FAMILY,
    SPORTS,
    head_word,
    looks_like_job,
    relative_fields,
    singular,
)
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    AGE_END,
    CAP_NAME,
    CUT_NP,
    I_WE,
    NUM,
    REL,
    REL_NAME_OPT,
    Clause,
    Entity,
    cased_pair,
    compile_rule,
    parse_name,
    parse_place,
    parse_value,
    pick,
    subject_of,
    valid_name,
)
from sleepmem.plugin.builtins.rules_work import AT_PLACE, job_np

# --- family ----------------------------------------------------------------------------

_FAM_APPOS = cased_pair(
    rf"\bmy\s+{REL}(?:,\s*|\s+)(?P<name>{{NAME}})"
    r"(?=\s*,|\s+(?:is|was|'s|works|worked|lives|lived|plays|has|had|loves|likes|just|"
    r"recently|also|and|who|turned|turns)\b"
    # or any verb of the third person: "my grandson Idris laughs at me"
    r"|\s+(?P<verb>(?-i:[a-z]{2,}s))\b)"
)
_FAM_APPOS_END = compile_rule(
    rf"\bmy\s+{REL}(?:,\s*|\s+)(?P<name>{CAP_NAME}(?:\s+{CAP_NAME})?)\s*$"
)
_FAM_APPOS_CASED = compile_rule(
    rf"\bmy\s+{REL}\s+(?P<name>{CAP_NAME})\s+(?=(?-i:[a-z]))(?!(?:of|and|or|in|at|from)\b)"
)
_FAM_NAME = [
    compile_rule(rf"\bmy\s+{REL}(?:'s|s')\s+name\s+is\s+(?P<tail>.+)"),
    compile_rule(rf"\bmy\s+{REL}\s+is\s+(?:called|named)\s+(?P<tail>.+)"),
]
_FAM_HAVE = compile_rule(
    rf"{I_WE}{ADV}\s+(?:have|'ve\s+got|have\s+got|got)\s+(?:a|an|one)\s+{REL}"
    r"(?:\s*,?\s+(?:named|called)\s+(?P<tail>.+))?"
)
_FAM_JOB = cased_pair(
    rf"\bmy\s+{REL}{REL_NAME_OPT}\s+(?P<verb>is|was|'s|are|works\s+as|work\s+as|"
    r"is\s+working\s+as|has\s+been|'s\s+been)\s+(?:(?:now|also|currently|still|actually)\s+)?"
    r"(?P<art>a\s+|an\s+)?(?P<tail>.+)"
)
_FAM_WORK_AT = cased_pair(rf"\bmy\s+{REL}{REL_NAME_OPT}\s+works?\s+(?:at|for)\s+(?P<tail>.+)")
_FAM_AGE = cased_pair(
    rf"\bmy\s+{REL}{REL_NAME_OPT}\s+(?:is|are|'s|just\s+turned|turned|turns)\s+"
    rf"(?P<n>{NUM}(?:\s*(?:,|and|&)\s*{NUM})*)"
    rf"(?P<unit>\s*(?:years?|yrs?|months?|weeks?)(?:\s+old)?)?{AGE_END}"
)
_FAM_HOME = cased_pair(
    rf"\bmy\s+{REL}{REL_NAME_OPT}\s+(?:lives?|is\s+living|are\s+living|has\s+lived|"
    r"have\s+lived|(?:just\s+)?moved|is\s+based|are\s+based)\s+(?:in|to)\s+(?P<tail>.+)"
)
_FAM_FROM = cased_pair(
    rf"\bmy\s+{REL}{REL_NAME_OPT}\s+(?:(?:is|was|'s|are|were)\s+(?:originally\s+)?from|"
    r"comes?\s+from|grew\s+up\s+in|(?:was|were)\s+raised\s+in)\s+(?P<tail>.+)"
)
# "my sister's favourite band is", "my friend Aria's fave food is"
_FAM_FAV = cased_pair(
    rf"\bmy\s+{REL}{REL_NAME_OPT}(?:'s|')\s+(?:(?:all[-\s]time|absolute|very)\s+)?"
    r"(?P<fav>favou?rite|fave|fav)\s+(?P<thing>[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*){0,2}?)\s+"
    r"(?:is|are|'s)\s+(?P<tail>.+)"
)
_FAM_PLAYS = cased_pair(rf"\bmy\s+{REL}{REL_NAME_OPT}\s+plays?\s+(?:the\s+)?(?P<tail>.+)")


def _family_entity(c: Clause, rel: str, name: str) -> None:
    base = rel.lower().split()[-1]
    gender = "f" if base in FEMALE else "m" if base in MALE else ""
    c.entity = Entity("family", rel.lower(), name, base in PLURAL_FAMILY, gender)


def r_family(c: Clause) -> None:
    found_name = ""
    rel = ""
    m = pick(_FAM_APPOS, c).search(c.text)
    # typed in lower case, "my sister hates cats" is no sister named "hates" (see pets)
    if m and m["verb"] and c.loose and m["name"].lower().endswith("s"):
        m = None
    m = m or _FAM_APPOS_END.search(c.text)
    # a capitalised name after the relative is a name whatever follows it, in the grammar
    # many learners and hurried typists use: "My boyfriend Tomas think I work too much"
    m = m or (None if c.loose else _FAM_APPOS_CASED.search(c.text))
    if m:
        # "my sister Maya's favourite band": her name is Maya
        name = valid_name(m["name"].removesuffix("'s"), c.loose)
        if name:
            rel, found_name = m["rel"], name
    for pat in _FAM_NAME:
        m = pat.search(c.text)
        if m:
            name, _ = parse_name(m["tail"], c.loose)
            if name:
                rel, found_name = m["rel"], name
    m = _FAM_HAVE.search(c.text)
    if m:
        rel = m["rel"]
        if m["tail"]:
            found_name, _ = parse_name(m["tail"], c.loose)
        _family_entity(c, rel, found_name)
    if rel and found_name:
        f = relative_fields(rel, found_name)
        if not f["plural"] and c.is_new_name(found_name):
            c.add("family_name", found_name, subject=f"my {f['rel']}", **f)
        _family_entity(c, rel, found_name)

    m = pick(_FAM_JOB, c).search(c.text)
    if m:
        name = valid_name(m["name"], c.loose) or (found_name if m["rel"] == rel else "")
        job, rest = job_np(m["tail"])
        verb = m["verb"].lower()
        # without an article ("my husband is electrician", as many learners say it) only a
        # listed job counts: "my sister is nurse" yes, "my sister is lovely" no
        listed = not m["art"] and head_word(job) in JOBS and len(job.split()) <= 2
        if job and ("work" in verb or (m["art"] and looks_like_job(job)) or listed):
            f = relative_fields(m["rel"], name)
            subj = subject_of(f["rel"], name)
            c.add("family_job", job, subject=subj, **f)
            instrument = PLAYERS.get(head_word(job))
            if instrument:
                c.add("family_instrument", instrument, subject=subj, **f)
            at = AT_PLACE.match(rest)
            if at:
                _, place = parse_value(at["tail"], CUT_NP, max_words=5)
                if place:
                    c.add("family_workplace", place, subject=subj, **f)
            _family_entity(c, m["rel"], name)
    m = pick(_FAM_WORK_AT, c).search(c.text)
    if m:
        name = valid_name(m["name"], c.loose)
        art, place = parse_value(m["tail"], CUT_NP, max_words=5)
        # "he works for big company": no article, no capital, no name of a workplace
        if place and (art or c.loose or place[:1].isupper()):
            f = relative_fields(m["rel"], name)
            c.add("family_workplace", place, subject=subject_of(f["rel"], name), art=art, **f)
            _family_entity(c, m["rel"], name)
    m = pick(_FAM_AGE, c).search(c.text)
    if m:
        name = valid_name(m["name"], c.loose)
        f = relative_fields(m["rel"], name)
        unit = (m["unit"] or "").strip().lower()
        if unit.startswith(("month", "week")):
            n = f"{m['n']} {unit.split()[0]}"
            c.add("family_age", n, subject=subject_of(f["rel"], name),
                  text=f"My {f['rel']} is {n} old.", **f)  # fmt: skip
        else:
            c.add("family_age", m["n"], subject=subject_of(f["rel"], name), **f)
        _family_entity(c, m["rel"], name)
    # where they live and where they are from: a place after the relative, read alike
    for pattern, kind in ((_FAM_HOME, "family_home"), (_FAM_FROM, "family_origin")):
        m = pick(pattern, c).search(c.text)
        if m:
            name = valid_name(m["name"], c.loose)
            place = parse_place(m["tail"], c.loose)
            if place:
                f = relative_fields(m["rel"], name)
                c.add(kind, place, subject=subject_of(f["rel"], name), **f)
                _family_entity(c, m["rel"], name)
    m = pick(_FAM_FAV, c).search(c.text)
    if m:
        name = valid_name(m["name"], c.loose)
        thing = " ".join(m["thing"].lower().split())
        _, value = parse_value(m["tail"], max_words=6)
        if value:
            f = relative_fields(m["rel"], name)
            fav = "favorite" if m["fav"].lower() == "favorite" else "favourite"
            c.add("family_favourite", value, subject=subject_of(f["rel"], name), thing=thing,
                  thing_key=singular(thing), fav=fav, **f)  # fmt: skip
            _family_entity(c, m["rel"], name)
    m = pick(_FAM_PLAYS, c).search(c.text)
    if m:
        name = valid_name(m["name"], c.loose)
        _, thing = parse_value(m["tail"], CUT_NP, max_words=3)
        f = relative_fields(m["rel"], name)
        subj = subject_of(f["rel"], name)
        if thing.lower() in INSTRUMENTS:
            c.add("family_instrument", thing.lower(), subject=subj, **f)
        elif thing.lower() in SPORTS:
            c.add("family_sport", thing.lower(), subject=subj, **f)
        _family_entity(c, m["rel"], name)
