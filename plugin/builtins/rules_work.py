"""Rules about the user's work: job, workplace, field of work, and a business they run.

``job_np`` and ``AT_PLACE`` are public because a relative's job is read the same way
(``rules_family``).
"""

from __future__ import annotations

from sleepmem.plugin.builtins.lexicon import (
    DETERMINERS,
    DIETS,
    PLAYERS,
    PROGRAMMING_LOWER,
    head_word,
    looks_like_business,
    looks_like_job,
)
from sleepmem.plugin.builtins.lexicon_casual import NOT_HOME_WORDS
from sleepmem.plugin.builtins.rule_parse import (
    ADV,
    CUT_NP,
    CUT_VALUE,
    I_AM,
    I_WE,
    Clause,
    capital_span,
    clean,
    compile_rule,
    cut_at,
    drop_fillers,
    loose_home_word,
    parse_place,
    parse_value,
    strip_det,
)

# --- work and business -----------------------------------------------------------------

_WORK_AS = compile_rule(
    rf"{I_WE}{ADV}\s+(?:work|am\s+working|'m\s+working|have\s+worked|'ve\s+(?:been\s+)?"
    r"work(?:ed|ing)|am\s+employed|'m\s+employed|earn\s+my\s+living|make\s+a\s+living)"
    rf"{ADV}\s+as\s+(?P<tail>.+)"
)
_I_AM_A = compile_rule(rf"{I_AM}\s+(?P<art>a|an)\s+(?P<tail>.+)")
_MY_JOB = compile_rule(
    r"\bmy\s+(?:job|profession|occupation|day\s+job|line\s+of\s+work|work)\s+is\s+(?:as\s+)?"
    r"(?P<art>a\s+|an\s+)?(?P<tail>.+)"
)
_STATUS_JOB = compile_rule(
    rf"^{I_AM}\s+(?P<s>retired|unemployed|self-employed|between\s+jobs|a\s+stay-at-home\s+"
    r"(?:mom|mum|dad|parent)|a\s+homemaker)\b"
)
_WORK_AT = compile_rule(
    rf"{I_WE}{ADV}\s+(?:work|am\s+working|'m\s+working|am\s+employed|'m\s+employed|"
    r"have\s+a\s+job)\s+(?:at|for|with)\s+(?P<tail>.+)"
)
AT_PLACE = compile_rule(r"^\s*(?:at|for)\s+(?P<tail>.+)")
_AS_JOB = compile_rule(r"\bas\s+(?P<art>a|an)\s+(?P<tail>.+)")
_WORK_IN = compile_rule(rf"{I_WE}{ADV}\s+work\s+in\s+(?P<tail>.+)")


def job_np(tail: str) -> tuple[str, str]:
    """(job, what follows it) for "nurse at a children's hospital" -> ("nurse", "at a ...")."""
    _, rest = strip_det(tail.strip())
    np = clean(cut_at(rest, CUT_NP))
    words = np.split()
    if not words or len(words) > 5:
        return "", ""
    return np, rest[len(np) :]


_NOT_WORKPLACES = {"home", "myself", "me", "work", "it", "them", "night", "nights", "weekends"}


def _workplace(c: Clause, tail: str) -> None:
    text = clean(cut_at(tail, CUT_VALUE))
    art, rest = strip_det(text)
    span = capital_span(rest) if not c.loose else ""
    if span and rest.startswith(span):
        c.add("workplace", span, art=art)
        return
    np = clean(cut_at(rest, CUT_NP))
    if np and np.lower() not in _NOT_WORKPLACES and len(np.split()) <= 5:
        c.add("workplace", np, art=art)


def _add_job(c: Clause, job: str, rest: str = "") -> None:
    """A job, plus the instrument a "cellist" plays (asked as "Which instrument do I play?")
    and the workplace when ``rest`` goes on with "at <place>"."""
    c.add("job", job)
    instrument = PLAYERS.get(head_word(job))
    if instrument:
        c.add("instrument", instrument)
    at = AT_PLACE.match(rest)
    if at:
        _workplace(c, at["tail"])
    home_in(c, rest)


_IN_TOWN = compile_rule(r"^\s*(?:in|based\s+in|out\s+of)\s+(?P<tail>.+)")


def home_in(c: Clause, rest: str) -> None:
    """ "(I'm a nurse) in Cork": the town a job is done in is where the user lives. Typed in
    lower case, "in training", "in oncology" or "in a hospital" name no town."""
    m = _IN_TOWN.match(rest)
    if not m or "home" in {f.slot for f in c.facts}:
        return
    place = parse_place(m["tail"], c.loose)
    if not place or place.split()[0].lower() in NOT_HOME_WORDS:  # "in ICU", "in HR"
        return
    if not c.loose or all(loose_home_word(w) for w in place.split()):
        c.add("home", place)


def r_job(c: Clause) -> None:
    m = _WORK_AS.search(c.text)
    if m:
        job, rest = job_np(m["tail"])
        if job:
            _add_job(c, job, rest)
        return
    m = _STATUS_JOB.search(c.text)
    if m:
        c.add("job", strip_det(m["s"])[1])
        return
    m = _I_AM_A.search(c.text)
    if m:
        job, rest = job_np(m["tail"])
        if job and head_word(job) in DIETS:
            c.add("diet", job)
        elif job and looks_like_job(job):
            _add_job(c, job, rest)
        return
    m = _MY_JOB.search(c.text)
    if m:
        job, _ = job_np(m["tail"])
        if job and (m["art"] or looks_like_job(job)):
            _add_job(c, job)
        return
    m = _WORK_AT.search(c.text)
    if m:
        _workplace(c, m["tail"])
        as_job = _AS_JOB.search(m["tail"])
        if as_job:
            job, _ = job_np(as_job["tail"])
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
        _, field_ = parse_value(tail, CUT_NP, max_words=4)
        if field_:
            c.add("work_field", field_)


_OWN = compile_rule(
    rf"{I_WE}{ADV}\s+(?:own|run|have|started|opened|founded|manage|co-own|co-founded|"
    r"set\s+up)\s+(?:(?:my|our)\s+own\s+|(?P<art>a|an|the|my|our)\s+)(?P<tail>.+)"
)


def r_business(c: Clause) -> None:
    m = _OWN.search(c.text)
    if not m:
        return
    _, np = parse_value(m["tail"], CUT_NP, max_words=4)
    if np and looks_like_business(np):
        c.add("business", drop_fillers(np), obj=np)


# Public names for the telegraphic reader (``rules_telegraphic``), which reads a bare job
# ("train driver, JR West") the way the rules above read one after "I am a".
add_job = _add_job
add_workplace = _workplace
