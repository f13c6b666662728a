"""Rules for everyday shapes of speech the slot rules of ``rules_identity`` and
``rules_interests`` do not read: trips planned, teams supported, favourites said
indirectly, the age a birthday brings, languages and studies said another way, hobbies
told as "I go surfing", and family named without "my" ("the wife", "our son Leo").

Each ``r_*`` function takes a ``Clause`` and adds facts to it, as the older rule modules
do; the pipeline in ``rules`` runs them after those. ``everyday_family`` rewrites a
sentence before any rule reads it. Set phrases with a gate word ("nothing beats ramen",
"I'm going to Rome") are rewritten earlier, by ``rule_gate.canonical``.
Word lists: ``lexicon_life``; questions: ``templates_life``.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    ANIMALS,
    FAMILY,
    FAMILY_ADJ,
    FILLER_ADJ,
    JOBS,
    LANGUAGES_LOWER,
    MONTHS,
    head_word,
    looks_like_job,
)
from sleepmem.plugin.builtins.lexicon_life import (
    CHILD_WORDS,
    DRINKS,
    EMOJI_SPORT,
    FAMILY_SLANG,
    FOODS,
    FUTURE_VERBS,
    NOT_PLACES,
    NOT_TEAMS,
    SPORT_CONTEXT,
    SPORT_NAMES,
    TEAM_WORDS,
    THE_FAMILY,
    TRIP_TIME,
)
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    CUT_NP,
    I_AM,
    I_WE,
    MONTH,
    NUM,
    Clause,
    capital_span,
    clean,
    compile_rule,
    parse_place,
    parse_value,
)
from sleepmem.plugin.builtins.rules_interests import languages_in

I_ = re.I

# --- family said without "my" ---------------------------------------------------------


def _alt(words) -> str:  # type: ignore[no-untyped-def]
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_SLANG = re.compile(rf"\b(?P<w>{_alt(FAMILY_SLANG)})\b", I_)
_CHILD = re.compile(r"\b(?:our|my)\s+(?:(?P<little>little)\s+)?(?P<w>girl|boy)\b", I_)
_OUR = re.compile(
    rf"\bour\s+(?=(?:(?:{_alt(FAMILY_ADJ)})\s+)?(?:{_alt([*FAMILY, *ANIMALS])})\b)", I_
)
_THE = re.compile(rf"\bthe\s+(?=(?:{_alt(THE_FAMILY)})\b)", I_)
# "my wife's a nurse", "my dog's 4": the "'s" is "is" before an article or a number,
# a possessive otherwise ("my wife's car")
_IS = re.compile(
    rf"\b(?P<np>my\s+(?:(?:{_alt(FAMILY_ADJ)})\s+)?(?:{_alt([*FAMILY, *ANIMALS])}))'s\s+"
    r"(?=(?:a|an|\d+|now|also|still|only|just|almost|nearly|called|named)\b)",
    I_,
)


def everyday_family(text: str) -> str:
    """ "the wife's a nurse" -> "my wife's a nurse", "our girl Ana" -> "my daughter Ana",
    "hubby" -> "husband": the family words the rules read. "Our" is the teller's too."""
    text = _SLANG.sub(lambda m: FAMILY_SLANG[m["w"].lower()], text)
    text = _CHILD.sub(lambda m: f"my {CHILD_WORDS[m['w'].lower()]}", text)
    text = _OUR.sub("my ", text)
    text = _THE.sub("my ", text)
    return _IS.sub(lambda m: f"{m['np']} is ", text)


# --- trips ------------------------------------------------------------------------------

_TRIP_TIME = re.compile(TRIP_TIME, I_)
_TRAVEL = [
    compile_rule(rf"{I_AM}\s+(?:flying|travell?ing|heading|driving|sailing|off|jetting\s+off|"
                 r"taking\s+a\s+trip)\s+(?:back\s+|out\s+|over\s+)?to\s+(?P<tail>.+)"),
    compile_rule(r"^(?:flying|travell?ing|heading|off)\s+(?:back\s+|out\s+)?to\s+(?P<tail>.+)"),
    compile_rule(r"\bmy\s+(?:next\s+)?(?:trip|holiday|vacation|flight|honeymoon)\s+is\s+"
                 r"(?:to|in)\s+(?P<tail>.+)"),
    compile_rule(rf"{I_WE}\s+(?:have|'ve\s+got|have\s+got|got|(?:have\s+|'ve\s+|just\s+)?booked)\s+(?:a\s+)?"
                 r"(?:trip|holiday|vacation|flight|honeymoon|conference)\s+(?:to|in)\s+"
                 r"(?P<tail>.+)"),
]  # fmt: skip
# "I fly to Rome" is a habit unless it says when: then it is a plan
_TRAVEL_WHEN = compile_rule(rf"{I_WE}{ADV}\s+(?:fly|leave|head|travel)\s+(?:to|for)\s+(?P<tail>.+)")


def _trip_place(c: Clause, tail: str) -> str:
    tail = tail.strip()
    if c.loose:
        place = parse_place(tail, loose=True)
    else:
        words = tail.split(" ", 1)
        if words[0].lower() == "the" and len(words) > 1:
            tail = words[1]  # "the Alps"
        place = capital_span(tail) if tail[:1].isupper() else ""
        place = parse_place(place, loose=False) if place else ""
    first = place.split()[0].lower() if place else ""
    if not place or first in NOT_PLACES or first in FUTURE_VERBS:
        return ""
    return place


def r_travel(c: Clause) -> None:
    """ "I'm flying to Lisbon next month", "heading to Oslo in May" -> Where am I going?"""
    when_m = _TRIP_TIME.search(c.text)
    for pat in (*_TRAVEL, _TRAVEL_WHEN):
        m = pat.search(c.text)
        if not m or (pat is _TRAVEL_WHEN and not when_m):
            continue
        if c.loose and not when_m and pat is not _TRAVEL[2]:
            return  # typed in lower case, a place is told only by when the trip is
        place = _trip_place(c, m["tail"])
        if not place:
            return
        said = " ".join(when_m[0].lower().split()) if when_m else ""
        trip = next((w for w in ("holiday", "vacation", "honeymoon") if w in c.text.lower()), "")
        when = "" if said.startswith(("on ", "for ")) else said
        c.add("travel", place, when=when, trip=trip)
        return


# --- teams ------------------------------------------------------------------------------

_ROOT_FOR = compile_rule(rf"{I_WE}{ADV}\s+(?:root|cheer)\s+(?:for|on)\s+(?P<tail>.+)")
_SUPPORT = compile_rule(rf"{I_WE}{ADV}\s+(?:support|follow)\s+(?P<tail>.+)")
_FAN_ADJ = (
    r"(?:(?:a|an|the|such\s+a)\s+)?(?:(?:big|huge|massive|die-?hard|diehard|lifelong|"
    r"life-long|loyal|proud|long-?time|true|massive|crazy|mad|total|passionate)\s+)*"
)
_FAN = compile_rule(
    rf"(?:{I_AM}\s+|\b(?:been|always\s+been|have\s+been)\s+|\bI\s+have\s+(?:always\s+)?been\s+|"
    rf"^){_FAN_ADJ}(?P<x>[^\W\d_][\w'.&-]*(?:\s+[^\W\d_][\w'.&-]*){{0,2}}?)\s+"
    r"(?P<role>fan|supporter|season[-\s]ticket\s+holder)\b"
)
_FAN_STOP = {"i", "am", "a", "an", "the", "big", "huge", "been", "my", "so", "such", "of", "not",
             "no", "real", "true", "football", "sports", "sport", "music", "movie"}  # fmt: skip


def _sport(c: Clause) -> str:
    text = c.source.lower()
    for emoji, sport in EMOJI_SPORT.items():
        if emoji in c.source:
            return sport
    return next((s for s in sorted(SPORT_NAMES) if re.search(rf"\b{s}\b", text)), "")


def _sporty(c: Clause) -> bool:
    words = set(re.findall(r"[\w-]+", c.source.lower()))
    return bool(words & SPORT_CONTEXT) or any(e in c.source for e in EMOJI_SPORT)


def _team_like(name: str) -> bool:
    """ "Hanshin Tigers", "Leeds United", "hawks": a plural or a club word names a team."""
    words = name.lower().split()
    last = words[-1] if words else ""
    plural = last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3
    return plural or any(w in TEAM_WORDS for w in words)


def _team_name(c: Clause, tail: str) -> str:
    tail = tail.strip()
    if c.loose:
        _, value = parse_value(tail, CUT_NP, max_words=3)
        return value
    if tail[:4].lower() == "the ":
        tail = tail[4:]
    return capital_span(tail) if tail[:1].isupper() else ""


def _add_team(c: Clause, name: str) -> None:
    name = clean(name)
    if name and name.lower() not in NOT_TEAMS and name.split()[0].lower() not in NOT_TEAMS:
        c.add("team", name if not c.loose else name.title(), sport=_sport(c))


def r_team(c: Clause) -> None:
    """ "I support Leeds", "big Broncos fan", "die-hard Celtic supporter" -> my team."""
    m = _ROOT_FOR.search(c.text)
    if m:
        _add_team(c, _team_name(c, m["tail"]))
        return
    m = _SUPPORT.search(c.text)
    if m:
        name = _team_name(c, m["tail"])
        if name and (_team_like(name) or _sporty(c)):
            _add_team(c, name)
        return
    m = _FAN.search(c.text)
    if not m:
        return
    words = m["x"].split()
    while words and words[0].lower() in _FAN_STOP:
        words.pop(0)
    if not words or any(w.lower() in _FAN_STOP for w in words):
        return
    name = " ".join(words)
    if not c.loose and not all(w[:1].isupper() or w[:1].isdigit() for w in words):
        # "HAWKS GAME! been a hawks fan": the name is capitalised elsewhere in the sentence
        said = rf"\b(?:{re.escape(name.upper())}|{re.escape(name.title())})\b"
        if not re.search(said, c.source):
            return
        name = name.title()
    if m["role"].lower() != "fan" or _team_like(name) or _sporty(c):
        _add_team(c, name)
    elif not c.loose:  # "a big Taylor Swift fan": a taste
        c.add("like", name, obj=name, thing_key=name)


# --- favourites said indirectly ----------------------------------------------------------

_FAV_PLAIN = compile_rule(
    r"^(?P<x>.+?)\s+(?:is|are|'s)\s+(?:definitely\s+|easily\s+|still\s+|always\s+)?my\s+"
    r"(?:(?:all[-\s]time|absolute|very|total|personal|number\s+one|top)\s+)?"
    r"(?:favou?rite|fave|fav)(?:\s+(?P<thing>food|dish|meal|drink|thing|one))?$"
)
_BEST = compile_rule(
    r"^(?P<x>.+?)(?:,\s*|\s+(?:is|are)\s+)(?:the\s+|my\s+)?best\s+(?P<thing>food|dish|meal|"
    r"snack|drink|band|singer|movie|film|book|song|game|city|show|series|dessert)\s+"
    r"(?:ever|on\s+earth|in\s+the\s+world|of\s+all\s+time|there\s+is)\b"
)
_LAST_NP = re.compile(r"^.*\b(?:is|are|was|love|like|want|eat|drink|have)\s+", I_)


def _fav_thing(value: str, said: str) -> str:
    if said and said not in ("thing", "one"):
        return "food" if said in ("dish", "meal", "snack") else said
    head = head_word(value)
    if head in FOODS or value.lower() in FOODS:
        return "food"
    return "drink" if head in DRINKS or value.lower() in DRINKS else ""


def r_favourite_plain(c: Clause) -> None:
    """ "ramen is my all-time favourite", "jollof, best food on earth" -> my favourite."""
    if any(f.slot.startswith("favourite:") for f in c.facts):
        return
    m = _FAV_PLAIN.match(c.text) or _BEST.match(c.text)
    if not m:
        return
    x = _LAST_NP.sub("", m["x"].strip())
    _, value = parse_value(x, max_words=5)
    words = value.split()
    while len(words) > 1 and words[0].lower() in FILLER_ADJ:  # "a proper ramen" -> ramen
        words.pop(0)
    value = " ".join(words)
    if not value or re.match(r"^(?:it|this|that|these|those|they|he|she|you)$", value, I_):
        return
    thing = _fav_thing(value, (m["thing"] or "").lower())
    if thing:
        c.add("favourite", value, thing=thing, thing_key=thing, fav="favourite")
    else:
        c.add("like", value, obj=value, thing_key=value)


# --- the age a birthday brings -------------------------------------------------------------

_TURN = compile_rule(
    rf"{I_WE}{ADV}\s+(?:am\s+|'m\s+)?(?:turn|turning)\s+(?P<n>{NUM})\b(?:\s+(?:years?\s+old))?"
    rf"(?P<rest>.*)"
)
_WHEN = re.compile(
    rf"^\s*(?P<w>in\s+(?P<m>{MONTH})|next\s+(?:week|month|year|\w+day)|this\s+(?:week|month|"
    r"year|summer|winter|spring|autumn|fall)|on\s+\w+day|tomorrow|soon)\b",
    I_,
)


def r_turning(c: Clause) -> None:
    """ "I turn 30 in June" -> How old am I turning? 30; When is my birthday? June."""
    m = _TURN.search(c.text)
    if not m:
        return
    w = _WHEN.match(m["rest"])
    when = " ".join(w["w"].split()) if w else ""
    c.add("turning_age", m["n"].lower(), when=when)
    month = (w["m"] or "").rstrip(".").lower() if w else ""
    if month in MONTHS:
        c.add("birthday", month.capitalize())


# --- languages and studies said another way ----------------------------------------------

_NATIVE_REV = compile_rule(
    r"^(?P<tail>[^\W\d_]+(?:\s+and\s+[^\W\d_]+)?)\s+(?:is|are|was)\s+my\s+(?:native\s+"
    r"(?:language|tongue)|mother\s+tongue|first\s+language|mother\s+language|home\s+language)"
)
_NATIVE_MORE = [
    compile_rule(rf"{I_WE}{ADV}\s+grew\s+up\s+speaking\s+(?P<tail>.+)"),
    compile_rule(rf"{I_AM}\s+(?:a\s+)?native\s+(?P<tail>[^\W\d_]+)\s+speaker"),
    compile_rule(rf"{I_AM}\s+(?:a\s+)?native\s+speaker\s+of\s+(?P<tail>.+)"),
]
_FLUENT = compile_rule(rf"{I_AM}\s+(?:fluent|bilingual|conversational)\s+in\s+(?P<tail>.+)")
_LEARNING_MORE = [
    compile_rule(r"\b(?:I|we)\s+(?:have|'ve)\s+been\s+(?:learning|studying)\s+(?P<tail>.+)"),
    compile_rule(r"^(?:learning|studying)\s+(?P<tail>.+)"),  # "Also learning French."
    compile_rule(rf"{I_WE}{ADV}\s+(?:take|have|started|am\s+taking)\s+(?P<tail>[^\W\d_]+)\s+"
                 r"(?:classes|lessons|courses)\b"),
]  # fmt: skip

# (patterns, the kind an older rule would have found, the slot)
_LANGUAGE_RULES = (
    (_NATIVE_MORE, "native language", "native_language"),
    ([_FLUENT], "speaks", "language"),
    (_LEARNING_MORE, "is learning", "learning_language"),
)


def r_language_more(c: Clause) -> None:
    """ "Tamil is my mother tongue", "I grew up speaking Welsh", "I'm fluent in Czech"."""
    kinds = c.kinds()
    m = _NATIVE_REV.match(c.text)
    if m and m["tail"].split()[0].lower() in LANGUAGES_LOWER and "native language" not in kinds:
        c.add("native_language", languages_in(m["tail"]))
        return
    # the first pattern that matches, unless an older rule already read that kind, decides
    for patterns, kind, slot in _LANGUAGE_RULES:
        for pat in patterns:
            m = pat.search(c.text)
            if m and kind not in kinds:
                langs = languages_in(m["tail"])
                if langs:
                    c.add(slot, langs)
                return


_DEGREE = r"(?:degree|major|phd|ph\.d|doctorate|masters?|master's|bachelor's|bsc|msc|ba|ma)"
_STUDY_MORE = [
    (compile_rule(rf"\bmy\s+{_DEGREE}\s+(?:is|was)\s+in\s+(?P<tail>.+)"), "studies"),
    (compile_rule(rf"{I_AM}\s+doing\s+(?:a|an|my)\s+{_DEGREE}\s+in\s+(?P<tail>.+)"), "studying"),
]
_WENT_TO = compile_rule(
    rf"{I_WE}{ADV}\s+(?:went\s+to|attended|graduated\s+from|studied\s+at)\s+(?:the\s+)?"
    r"(?P<tail>(?-i:[A-Z]).+)"
)
_SCHOOL = re.compile(r"\b(?:University|College|Institute|Polytechnic|Academy|Conservatory|"
                     r"School|Uni|Universit\w+)\b")  # fmt: skip


def r_study_more(c: Clause) -> None:
    """ "my degree is in law", "I'm doing a masters in physics", "I went to Oxford
    University" (a school's own word tells it from a place)."""
    for pat, kind in _STUDY_MORE:
        m = pat.search(c.text)
        if m and not any(f.relation in ("studied", "studies") for f in c.facts):
            _, subject = parse_value(m["tail"], CUT_NP, max_words=4)
            if subject:
                c.add(kind, subject)
            return
    m = _WENT_TO.search(c.text)
    if m and not c.loose and "studied at" not in c.kinds():
        span = capital_span(m["tail"])
        if span and _SCHOOL.search(span):
            c.add("university", span)


# --- hobbies told as what the user goes and does -----------------------------------------

_GO_ING = compile_rule(rf"^(?:I|we){ADV}\s+(?:love\s+to\s+|like\s+to\s+)?go\s+(?P<g>[a-z]+ing)\b")
_SPEND_ING = compile_rule(
    rf"{I_WE}{ADV}\s+spend\s+(?:my|our|most\s+of\s+my|all\s+my|most)\s+(?:free\s+time|spare\s+"
    r"time|weekends|evenings|sundays|saturdays|summers|mornings)\s+(?P<g>[a-z]+ing)\b"
)
_NOT_HOBBIES = {"nothing", "something", "everything", "thing", "morning", "evening", "spring",
                "ceiling", "during", "sibling", "king", "wedding", "building"}  # fmt: skip


def r_hobby_go(c: Clause) -> None:
    """ "I go surfing at weekends", "I spend my weekends birdwatching" -> my hobby."""
    if c.facts:
        return
    for pat in (_GO_ING, _SPEND_ING):
        m = pat.search(c.text)
        if m and m["g"].lower() not in _NOT_HOBBIES:
            c.add("hobby", m["g"].lower())
            return


# --- work and places said another way -------------------------------------------------

_BASED = compile_rule(
    rf"^{I_AM}\s+(?:a|an)\s+[^\W\d_][\w\s-]{{0,40}}?\s+(?:based|living|located)\s+"
    r"(?:in|out\s+of)\s+(?P<tail>.+)"
)
_WORK_LIKE = compile_rule(rf"{I_WE}{ADV}\s+work\s+like\s+(?:a\s+|an\s+)?(?P<tail>.+)")
_WAS_JOB = compile_rule(
    r"^I\s+was\s+(?P<art>a|an)\s+(?P<tail>.+?)\s+(?P<span>for\s+(?:\w+\s+){1,2}years|"
    r"for\s+decades|all\s+my\s+(?:working\s+)?life|until\s+I\s+retired|"
    r"before\s+I\s+retired|for\s+most\s+of\s+my\s+life)\b"
)
# "I am from Ukraine, from Kharkiv": the second "from" narrows the first
_FROM_FROM = compile_rule(
    rf"{I_AM}\s+(?:originally\s+)?from\s+[^,;]+?,\s*(?:originally\s+)?from\s+(?P<tail>.+)"
)


def r_work_more(c: Clause) -> None:
    """ "I'm an actuary based in Pune" (home), "I work like chef" (as learners say it),
    "I was a seamstress for forty years" (a past job), "from Ukraine, from Kharkiv"."""
    kinds = c.kinds()
    m = _BASED.search(c.text)
    if m and "lives in" not in kinds:
        place = parse_place(m["tail"], c.loose)
        if place:
            c.add("home", place)
    m = _WORK_LIKE.search(c.text)
    if m and "works as" not in kinds:
        _, job = parse_value(m["tail"], CUT_NP, max_words=3)
        if job and looks_like_job(job) and head_word(job) in JOBS:
            c.add("job", job)
    m = _WAS_JOB.search(c.text)
    if m:
        _, job = parse_value(m["tail"], CUT_NP, max_words=3)
        if job and looks_like_job(job):
            c.add("past_job", job)
    m = _FROM_FROM.search(c.text)
    if m:
        place = parse_place(m["tail"], c.loose)
        if place:
            c.facts = [f for f in c.facts if f.relation != "is from"]
            c.add("origin", place)


RULES = (r_work_more, r_travel, r_team, r_favourite_plain, r_turning, r_language_more, r_study_more,
         r_hobby_go)  # fmt: skip
"""The rules of this module, in the order the pipeline runs them."""
