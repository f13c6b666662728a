"""Rules about what the user does: music, sport, learning, languages, reading, study,
diet, nationality, counts and hobbies.

Each ``_r_*`` function takes a ``_Clause``, matches its patterns and adds facts to it; the
pipeline in ``rules`` runs them in a fixed order. Tastes are in ``rules_tastes``, the
commute in ``rules_transport``, the generic "My <thing> is <value>." fallback in
``rules_generic``. ``languages_in`` is public: ``rules_life`` reads languages the same way.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    DEMONYMS,
    LANGUAGES_LOWER,
    PROGRAMMING_LANGUAGES,
    PROGRAMMING_LOWER,
    SPORTS,
    head_word,
    instrument_in,
)
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    CUT_NP,
    CUT_VALUE,
    I_,
    I_AM,
    I_WE,
    NUM,
    PUNCT,
    YEAR,
    Clause,
    capital_span,
    clean,
    compile_rule,
    cut_at,
    parse_value,
    strip_det,
)
from sleepmem.plugin.builtins.rules_tastes import taste_value

# --- music, sport, learning, languages, reading ------------------------------------------

_PLAY = compile_rule(rf"{I_WE}{ADV}\s+play{ADV}\s+(?P<the>the\s+)?(?P<tail>.+)")
_LEARN_PLAY = compile_rule(
    rf"{I_AM}\s+(?:learning|trying\s+to\s+learn|teaching\s+myself)\s+(?:how\s+)?to\s+play\s+"
    r"(?:the\s+)?(?P<tail>.+)"
)
_LESSONS = compile_rule(
    rf"{I_WE}{ADV}\s+(?:take|have|am\s+taking|'m\s+taking|started)\s+(?P<tail>[\w-]+(?:\s+[\w-]+)?)"
    r"\s+lessons\b"
)
_LEARN = compile_rule(
    rf"{I_AM}\s+(?:learning|trying\s+to\s+learn|teaching\s+myself|studying)\s+(?P<tail>.+)"
)
_LEARN_JUNK = re.compile(
    r"^(?:a\s+lot|so\s+much|lots|more|things|stuff|new\s+things|how|about|from|that|it|"
    r"for|a\s+bit|something|everything)\b",
    I_,
)


def r_music_sport(c: Clause) -> None:
    m = _LEARN_PLAY.search(c.text)
    if m:
        _, np = parse_value(m["tail"], CUT_NP, max_words=3)
        inst = instrument_in(np) if np else ""
        if inst:
            c.add("learning_instrument", inst)
        elif np:
            c.add("learning", np, thing=np)
        return
    m = _LESSONS.search(c.text)
    if m:
        inst = instrument_in(m["tail"])
        if inst:
            c.add("learning_instrument", inst)
        return
    m = _PLAY.search(c.text)
    if m:
        _, np = parse_value(m["tail"], CUT_NP, max_words=3)
        if not np:
            # "I play the violin the old way": a long tail may still open with the instrument
            inst = instrument_in(clean(m["tail"].split()[0])) if m["tail"].split() else ""
            if inst:
                c.add("instrument", inst, obj=inst)
            return
        inst = instrument_in(np)
        low = np.lower()
        if inst:
            more = re.match(
                r"^(?:the\s+)?[\w-]+(?:\s+[\w-]+)?\s+and\s+(?:the\s+)?(?P<b>[\w-]+(?:\s+[\w-]+)?)",
                m["tail"].strip(),
                I_,
            )
            second = instrument_in(parse_value(more["b"], CUT_NP, 2)[1]) if more else ""
            if second and second != inst:
                inst = f"{inst} and {second}"
            c.add("instrument", inst, obj=np)
        elif low in SPORTS or head_word(np) in SPORTS:
            c.add("sport", low, thing_key=low)
        elif not c.loose and not m["the"] and np[:1].isupper():
            c.add("sport", np, thing_key=np)
        return
    m = _LEARN.search(c.text)
    if m and not _LEARN_JUNK.match(m["tail"].strip()):
        tail = m["tail"].strip()
        langs = _languages(tail)
        if langs:
            c.add("learning_language", langs)
            return
        first = tail.split()[0].lower() if tail.split() else ""
        if first in PROGRAMMING_LOWER:
            c.add("learning", clean(tail.split()[0]), thing="programming")
            return
        if "studying" in c.text.lower():
            return  # "I'm studying medicine" is handled by the studies rule
        answer, obj = taste_value(tail)
        if answer and len(answer.split()) <= 4:
            c.add("learning", answer, obj=obj, thing=answer)


_LANG_FILLER = {"fluent", "native", "some", "a", "little", "basic", "good", "perfect",
                "decent", "bit", "of", "conversational", "broken", "mostly", "only", "both",
                "fluently", "mainly", "pretty", "very", "well", "also", "bad",
                "rusty", "okay", "ok", "limited", "passable", "elementary", "intermediate",
                "advanced", "beginner", "beginner's"}  # fmt: skip


def _languages(tail: str) -> str:
    """ "fluent Swedish and some English at home" -> "Swedish and English"."""
    found: list[str] = []
    for raw in re.split(r"[\s,]+", cut_at(tail, CUT_VALUE)):
        tok = raw.strip(".!?;:'\"").lower()
        if not tok or tok in _LANG_FILLER or tok in ("and", "&", "plus"):
            continue
        if tok in LANGUAGES_LOWER:
            found.append(tok.capitalize())
            continue
        break
    if not found:
        return ""
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]


languages_in = _languages  # the public name for the rule modules written since

_SPEAK = compile_rule(rf"{I_WE}{ADV}\s+(?:can\s+)?speak{ADV}\s+(?P<tail>.+)")
_NATIVE = compile_rule(
    r"\bmy\s+(?:native\s+language|mother\s+tongue|first\s+language|mother\s+language)"
    r"\s+is\s+(?P<tail>.+)"
)
_CODE = compile_rule(
    rf"{I_WE}{ADV}\s+(?:write|code\s+in|program\s+in|develop\s+in|work\s+in|work\s+with|use|"
    r"write\s+code\s+in|do\s+(?:most\s+of\s+my\s+)?(?:coding|programming)\s+in)"
    rf"{ADV}\s+(?P<tail>.+)"
)


def r_language(c: Clause) -> None:
    m = _SPEAK.search(c.text)
    if m:
        langs = _languages(m["tail"])
        if langs:
            at_home = bool(re.search(r"\bat\s+home\b", c.text, I_))
            extra_q = (
                ("What language do I speak at home?", "Which language do we speak at home?")
                if at_home
                else ()
            )
            extra_s = ("At home I speak",) if at_home else ()
            text = f"I speak {langs} at home." if at_home else None
            c.add("language", langs, extra_questions=extra_q, extra_statements=extra_s,
                  text=text)  # fmt: skip
        return
    m = _NATIVE.search(c.text)
    if m:
        langs = _languages(m["tail"])
        if langs:
            c.add("native_language", langs)
        return
    m = _CODE.search(c.text)
    if m:
        toks = re.split(r"\s+|,", m["tail"].strip())
        found = []
        for tok in toks:
            t = tok.strip(".!?;:'\"")
            if t.lower() in PROGRAMMING_LOWER:
                canon = next(p for p in PROGRAMMING_LANGUAGES if p.lower() == t.lower())
                found.append(canon)
            elif t.lower() in ("and", "&", "or", "mostly", "mainly"):
                continue
            else:
                break
        if found:
            c.add("programming_language", " and ".join(found))


_READING = compile_rule(
    rf"(?:{I_AM}|\bI've\s+been|\bI\s+have\s+been)\s+(?:reading|re-reading|rereading)\s+"
    r"(?P<tail>.+)"
)
_BOOK_ABOUT = compile_rule(
    r"^(?:a|an|the|this|one)?\s*(?:[\w-]+\s+){0,2}?(?:book|novel|biography|memoir|story|"
    r"article|series|comic|manga|textbook|paper)s?\s+(?:about|on)\s+(?P<topic>.+)"
)
_BOOK_TITLE = compile_rule(
    r"^(?:a|an|the|this)?\s*(?:[\w-]+\s+)?(?:book|novel|series)\s+(?:called|titled|named)\s+"
    r"(?P<title>.+)"
)


def r_reading(c: Clause) -> None:
    m = _READING.search(c.text)
    if not m:
        return
    tail = m["tail"].strip()
    about = _BOOK_ABOUT.match(tail)
    if about:
        _, topic = parse_value(about["topic"], max_words=6)
        if topic:
            c.add("reading_topic", topic)
        return
    titled = _BOOK_TITLE.match(tail)
    title = ""
    if titled:
        title = clean(cut_at(titled["title"], re.compile(rf"{PUNCT}|\sby\s", I_)))
    elif tail.startswith('"'):
        title = tail[1:].split('"', 1)[0]
    elif not c.loose and tail[:1].isupper():
        title = capital_span(cut_at(tail, re.compile(rf"{PUNCT}|\sby\s", I_)))
    if title and len(title.split()) <= 8:
        c.add("reading_title", title)


# --- study, diet, nationality, counts, hobbies -------------------------------------------

_STUDY = compile_rule(
    rf"{I_WE}{ADV}\s+(?P<verb>studied|study|majored\s+in|major\s+in|(?:am|'m)\s+studying|"
    r"did\s+(?:a|my)\s+(?:degree|phd|masters?|master's|bachelor's)\s+in|"
    r"(?:have|hold|got)\s+(?:a|my)\s+(?:degree|phd|masters?|master's|bachelor's)\s+in)"
    r"\s+(?P<tail>.+)"
)
_GRADUATED = compile_rule(rf"{I_WE}{ADV}\s+graduated(?P<tail>.*)")
_UNI_AT = compile_rule(r"\b(?:at|from)\s+(?P<tail>.+)")
_GRAD_YEAR = compile_rule(rf"\bin\s+(?P<y>{YEAR})\b")


def _university(c: Clause, tail: str) -> None:
    text = clean(cut_at(tail, CUT_VALUE))
    art, rest = strip_det(text)
    span = capital_span(rest) if not c.loose else parse_value(rest, CUT_NP, 4)[1]
    if span:
        c.add("university", span, art=art)


_PAST_STUDY = ("studied", "majored", "did", "have", "hold", "got")


def r_study(c: Clause) -> None:
    m = _STUDY.search(c.text)
    if m:
        tail = m["tail"].strip()
        at = _UNI_AT.match(tail)
        if at:
            _university(c, at["tail"])
            return
        _, subject = parse_value(tail, CUT_NP, max_words=4)
        if subject and not re.match(r"^(?:for|hard|a\s+lot|late|every)\b", subject, I_):
            past = m["verb"].lower().startswith(_PAST_STUDY)
            c.add("studies" if past else "studying", subject)
        rest = tail[len(subject) :] if subject else ""
        at = re.search(r"\b(?:at|in)\s+(?P<tail>(?-i:[A-Z]).+)", rest)
        if at and not c.loose:
            _university(c, at["tail"])
        return
    m = _GRADUATED.search(c.text)
    if m:
        tail = m["tail"]
        frm = re.search(r"\bfrom\s+(?P<tail>.+)", tail, I_)
        if frm:
            _university(c, frm["tail"])
        year = _GRAD_YEAR.search(tail)
        if year:
            c.add("graduation_year", year["y"])


_DIET = compile_rule(
    rf"{I_AM}\s+(?:a\s+|an\s+)?(?:(?:strict|lifelong|mostly|full-time|committed)\s+)?"
    r"(?P<d>vegetarian|vegan|pescatarian|pescetarian|flexitarian|carnivore|keto|kosher|"
    r"halal|gluten-free|lactose[\s-]intolerant|celiac|coeliac|teetotal|teetotaler)\b"
)
_NATIONALITY = compile_rule(
    rf"^{I_AM}\s+(?:(?:half|proudly|originally|a\s+proud)\s+)?(?P<n>[A-Z][\w-]+"
    r"(?:\s+and\s+[A-Z][\w-]+)?)$"
)
_COUNT = compile_rule(
    rf"{I_WE}{ADV}\s+(?:have|'ve\s+got|have\s+got)\s+(?P<n>{NUM})\s+(?P<thing>kids|children|"
    r"sons|daughters|brothers|sisters|siblings|cats|dogs|pets|grandchildren|grandkids|"
    r"cars|jobs)\b"
)
_HOBBY = [
    compile_rule(r"\bmy\s+(?:main\s+|favou?rite\s+)?(?:hobby|hobbies|pastime|passion)\s+(?:is|are|"
        r"include)\s+(?P<tail>.+)"),
    compile_rule(r"^in\s+my\s+(?:free|spare)\s+time,?\s+I\s+(?:like\s+to\s+|love\s+to\s+|enjoy\s+|"
        r"usually\s+|often\s+|mostly\s+)?(?P<tail>.+)"),
]  # fmt: skip


def r_misc(c: Clause) -> None:
    m = _DIET.search(c.text)
    if m and not any(f.relation == "diet" for f in c.facts):
        c.add("diet", m["d"].lower())
    m = _NATIONALITY.search(c.text)
    if m and not c.loose:
        parts = [p for p in re.split(r"\s+and\s+", m["n"]) if p]
        if parts and all(p in DEMONYMS for p in parts):
            c.add("nationality", m["n"])
    m = _COUNT.search(c.text)
    if m:
        c.add("count", m["n"].lower(), thing=m["thing"].lower())
    for pat in _HOBBY:
        m = pat.search(c.text)
        if m and not c.facts:
            tail = re.sub(r"^go\s+", "", m["tail"].strip(), flags=I_)
            answer, obj = taste_value(tail)
            if answer:
                c.add("hobby", answer, obj=obj)
            return
