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
    _head,
    looks_like_business,
    looks_like_job,
)
from sleepmem.plugin.builtins.lexicon_casual import NOT_HOME_WORDS
from sleepmem.plugin.builtins.rule_parse import (
    _ADV,
    _CUT_NP,
    _CUT_VALUE,
    _I,
    _IAM,
    _capital_span,
    _Clause,
    _clean,
    _cut,
    _drop_fillers,
    _parse_place,
    _rx,
    _strip_det,
    _value,
    loose_home_word,
)

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
AT_PLACE = _rx(r"^\s*(?:at|for)\s+(?P<tail>.+)")
_AS_JOB = _rx(r"\bas\s+(?P<art>a|an)\s+(?P<tail>.+)")
_WORK_IN = _rx(rf"{_I}{_ADV}\s+work\s+in\s+(?P<tail>.+)")


def job_np(tail: str) -> tuple[str, str]:
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
    at = AT_PLACE.match(rest)
    if at:
        _workplace(c, at["tail"])
    home_in(c, rest)


_IN_TOWN = _rx(r"^\s*(?:in|based\s+in|out\s+of)\s+(?P<tail>.+)")


def home_in(c: _Clause, rest: str) -> None:
    """ "(I'm a nurse) in Cork": the town a job is done in is where the user lives. Typed in
    lower case, "in training", "in oncology" or "in a hospital" name no town."""
    m = _IN_TOWN.match(rest)
    if not m or "home" in {f.slot for f in c.facts}:
        return
    place = _parse_place(m["tail"], c.loose)
    if not place or place.split()[0].lower() in NOT_HOME_WORDS:  # "in ICU", "in HR"
        return
    if not c.loose or all(loose_home_word(w) for w in place.split()):
        c.add("home", place)


def _r_job(c: _Clause) -> None:
    m = _WORK_AS.search(c.text)
    if m:
        job, rest = job_np(m["tail"])
        if job:
            _add_job(c, job, rest)
        return
    m = _STATUS_JOB.search(c.text)
    if m:
        c.add("job", _strip_det(m["s"])[1])
        return
    m = _I_AM_A.search(c.text)
    if m:
        job, rest = job_np(m["tail"])
        if job and _head(job) in DIETS:
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


# Public names for the telegraphic reader (``rules_telegraphic``), which reads a bare job
# ("train driver, JR West") the way the rules above read one after "I am a".
add_job = _add_job
add_workplace = _workplace
