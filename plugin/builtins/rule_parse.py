"""What every rule shares: value parsing, the clause a rule writes to, pattern pieces.

A rule matches a pattern on a clause, cuts the value out of what follows (``_value``,
``_parse_name``, ``_parse_place``, ``_parse_date``) and adds a fact to the ``_Clause``.
These parts are shared by all rule modules (``rules_identity``, ``rules_family``, ...) and
the pipeline in ``rules``, so they live below all of them: of the plugin modules it
imports only ``lexicon`` and ``phrasing``, never a rule module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.lexicon import (
    ANIMALS,
    ARTICLES,
    CAT_BREEDS,
    DETERMINERS,
    DOG_BREEDS,
    FAMILY,
    FAMILY_ADJ,
    FILLER_ADJ,
    MONTHS,
    NAME_PARTICLES,
    NOT_NAMES,
)
from sleepmem.plugin.builtins.lexicon_casual import FILLER_RE, NOT_HOME_ENDINGS, NOT_HOME_WORDS
from sleepmem.plugin.builtins.phrasing import build_fact

NAME = "rules"  # the extractor's name, stamped on every fact it finds
I_ = re.I


# --------------------------------------------------------------------------------------
# value parsing
# --------------------------------------------------------------------------------------

PUNCT = (
    r"[,;:!?()\[\]{}\"<>|]|(?<!\bSt)(?<!\bMt)(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bJr)"
    r"\.(?=\s|$)|\s-\s|\s-$|[\U0001F000-\U0001FAFF\u2600-\u27BF]"
)
_CLAUSE_WORDS = (
    r"\s(?:but|so|because|since|which|who|whom|whose|where|when|while|whilst|although|"
    r"though|unless|until|whereas|cause|cuz|coz|lol|haha|btw|as\s+well)\b"
    r"|\s(?:and|but)\s+(?:also|then|so)\b"
    r"|\s(?:and|plus)\s+(?=(?:I|I'm|my|we|he|she|it|they|he's|she's|it's|am|have|has|had|"
    r"work|works|live|lives|love|loves|like|likes|play|plays|own|owns|run|runs|speak|speaks|"
    r"drive|drives|ride|rides|go|goes|got|enjoy|enjoys|study|studies|teach|teaches|write|"
    r"writes|read|reads|was|is|are|always|usually|often|sometimes|never|could|would)\b)"
    # a filler typed after the value ("leeds originally", "sushi tbh") is never part of it
    rf"|\s{FILLER_RE}\b"
)
_TIME_WORDS = (
    r"\s(?:every|each|most|all)\s+(?:day|days|week|weekend|weekends|morning|mornings|"
    r"evening|evenings|night|nights|year|month|summer|winter|time)\b"
    r"|\s(?:right\s+now|at\s+the\s+moment|at\s+present|these\s+days|nowadays|currently|now|"
    r"anymore|any\s+more|too|again|lately|recently|today|tonight|tomorrow|yesterday|"
    r"ever\s+since|already|for\s+now|for\s+(?:a\s+)?(?:few|couple|number|\d+|\w+)\s+"
    r"(?:of\s+)?(?:years?|months?|weeks?|days?|decades?)|for\s+(?:years|ages|a\s+while|"
    r"a\s+long\s+time|my\s+whole\s+life)|since\s+(?:\d{4}|\w+)|last\s+(?:year|month|week|"
    r"summer|winter|spring|autumn|fall|night)|next\s+(?:year|month|week)|this\s+(?:year|"
    r"month|week|weekend|summer|winter|spring|autumn|fall)|(?:in|on|at)\s+(?:the\s+)?"
    r"weekends?|in\s+my\s+(?:free|spare)\s+time|on\s+(?:mondays|tuesdays|wednesdays|"
    r"thursdays|fridays|saturdays|sundays)|with\s+(?:my\s+)?(?:friends|family)|"
    r"by\s+the\s+way|if\s+\w+)\b"
)
_PREPS = (
    r"\s(?:at|in|for|from|with|on|by|near|to|of|about|as|like|during|into|inside|outside|"
    r"under|over|around|after|before|and|or|who|that|based|living|located)\b"
)
CUT_VALUE = re.compile(f"{PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}", I_)
CUT_NP = re.compile(f"{PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}|{_PREPS}", I_)
_CUT_NAME = re.compile(
    rf"{PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}|\s(?:from|here|by|and|or|with|at|in|but|though|"
    r"btw|nice|pleased|originally)\b",
    I_,
)
_CUT_PLACE = re.compile(
    rf"{PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}|\s(?:with|near|for|since|because|to|where|"
    r"which|as|but|from|at)\b",
    I_,
)
_WORD = re.compile(r"[^\W\d_][\w'.&-]*")
_PLACE_CONNECT = {"de", "da", "do", "del", "la", "le", "upon", "on", "am", "im", "an", "der",
                  "sur", "en", "y", "of", "the", "di", "al", "el"}  # fmt: skip
_LOOSE_STOP = {"in", "on", "at", "with", "near", "for", "since", "and", "but", "now", "the",
               "a", "an", "to", "from", "by", "is", "was", "i", "my", "we", "so", "because",
               "which", "where", "who", "it", "it's", "too", "as", "lol", "haha"}  # fmt: skip


def cut_at(text: str, pattern: re.Pattern[str]) -> str:
    m = pattern.search(text)
    return (text[: m.start()] if m else text).strip()


def strip_det(text: str) -> tuple[str, str]:
    """Drop leading determiners; returns (the article that was said, the rest)."""
    art = ""
    words = text.split()
    while words and words[0].lower() in DETERMINERS:
        w = words.pop(0).lower()
        if not art and w in ARTICLES:
            art = w
    return art, " ".join(words)


def clean(text: str) -> str:
    return text.strip(" '\"*_.,;:!?-")


def parse_value(tail: str, cut: re.Pattern[str] = CUT_VALUE, max_words: int = 6) -> tuple[str, str]:
    """Cut a free value at its clause boundary; ("", "") when nothing sensible is left."""
    v = clean(cut_at(tail, cut))
    art, v = strip_det(v)
    v = clean(v)
    words = v.split()
    if not words or len(words) > max_words or not any(ch.isalnum() for ch in v):
        return "", ""
    return art, v


def drop_fillers(phrase: str) -> str:
    """ "small bakery" -> "bakery": size and praise words are noise in a short answer."""
    words = phrase.split()
    while len(words) > 1 and words[0].lower() in FILLER_ADJ:
        words.pop(0)
    return " ".join(words)


def _smart_title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def capital_span(text: str) -> str:
    """The first run of capitalised words (a brand, title or place): "old green Volvo" -> Volvo."""
    out: list[str] = []
    for tok in text.split():
        if tok[:1].isupper() or (out and (tok[:1].isdigit() or tok.lower() in {"of", "the"})):
            out.append(tok)
        elif out:
            break
    while out and out[-1].lower() in {"of", "the"}:
        out.pop()
    return " ".join(out)


def parse_name(tail: str, loose: bool) -> tuple[str, str]:
    """A person's (or pet's) name at the start of ``tail``: ("Ana Ribeiro", rest)."""
    toks = [t.strip("'\"") for t in cut_at(tail, _CUT_NAME).split()]
    out: list[str] = []
    for i, tok in enumerate(toks):
        if not _WORD.fullmatch(tok) or len(out) >= 5:
            break
        low = tok.lower()
        if loose:
            if low in NOT_NAMES or low in _LOOSE_STOP or len(out) >= 3:
                break
            out.append(tok[:1].upper() + tok[1:])
        elif (tok[:1].isupper() and (out or low not in NOT_NAMES)) or (
            out and low in NAME_PARTICLES and i + 1 < len(toks) and toks[i + 1][:1].isupper()
        ):
            out.append(tok)
        else:
            break
    if not out:
        return "", tail
    return " ".join(out), " ".join(toks[len(out) :])


PLACE_IN = re.compile(
    r"\b(?:in|near|outside|of|on)\s+(?P<p>(?-i:[A-Z\u00C0-\u00DE][\w'.-]*)"
    r"(?:\s+(?:(?:de|da|do|del|la|le|upon|on|am|der|sur|of)\s+)?(?-i:[A-Z\u00C0-\u00DE][\w'.-]*))*)",
    I_,
)


_LOOSE_PLACE_IN = re.compile(r"\b(?:in|near)\s+(?P<p>[^\W\d_][\w'-]*)", I_)


def loose_home_word(word: str) -> bool:
    """Whether a lower-case word after "in" may be a town: "in cork" yes, "in training",
    "in oncology", "in the city" no."""
    low = word.lower()
    if low in NOT_HOME_WORDS or low in _LOOSE_STOP or low in NOT_NAMES or len(low) < 3:
        return False
    return not low.endswith(NOT_HOME_ENDINGS)


def parse_place(tail: str, loose: bool) -> str:
    """A place name at the start of ``tail``; "" when it is "a small flat" or similar."""
    text = clean(cut_at(tail, _CUT_PLACE))
    toks = text.split()
    if not toks:
        return ""
    if toks[0].lower() in DETERMINERS:
        m = PLACE_IN.search(text)
        if m:
            return m["p"].rstrip(".")
        # typed in lower case: "a new flat in atlanta" names its town after "in"
        m = _LOOSE_PLACE_IN.search(text) if loose else None
        return _smart_title(m["p"]) if m and loose_home_word(m["p"]) else ""
    out: list[str] = []
    if loose:
        for tok in toks:
            if tok.lower() in _LOOSE_STOP or not _WORD.fullmatch(tok) or len(out) >= 3:
                break
            out.append(tok)
        return _smart_title(" ".join(out))
    for i, tok in enumerate(toks):
        if not _WORD.fullmatch(tok) or len(out) >= 5:
            break
        connects = tok.lower() in _PLACE_CONNECT and toks[i + 1 : i + 2] != []
        if tok[:1].isupper() or (out and connects and toks[i + 1][:1].isupper()):
            out.append(tok)
        else:
            break
    place = " ".join(out).rstrip(".")
    return "" if place.lower() in NOT_NAMES else place


NUM = (
    r"(?:\d{1,3}(?:\.\d)?|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?|a\s+hundred|zero|one|two|"
    r"three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen)"
)
YEAR = r"(?:1[89]\d{2}|20\d{2})"
MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
AGE_END = (
    r"(?=\s*$|\s*[,.!;]|\s*[\U0001F000-\U0001FAFF\u2600-\u27BF]|\s+(?:and|but|now|today|this|"
    r"next|last|so|already|btw|yesterday|recently|finally|on\s+\w+day)\b"
    rf"|\s+{FILLER_RE}\b)"
)
_DATES = [
    re.compile(rf"^(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>{MONTH})"
               rf"(?:,?\s+(?P<y>{YEAR}))?\b", I_),
    re.compile(rf"^(?P<m>{MONTH})\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
               rf"(?:,?\s+(?P<y>{YEAR}))?\b", I_),
    re.compile(rf"^(?P<all>\d{{1,2}}[/.-]\d{{1,2}}[/.-](?P<y>{YEAR}|\d{{2}}))\b", I_),
    re.compile(rf"^(?P<all>(?P<y>{YEAR})-\d{{2}}-\d{{2}})\b", I_),
    re.compile(rf"^(?P<m>{MONTH})(?:\s+(?P<y>{YEAR}))?\b", I_),
]  # fmt: skip


def parse_date(tail: str) -> tuple[str, str]:
    """(date as said, year or "") for "3 May 1991", "May 3rd, 1991", "1991-05-03", "June"."""
    tail = tail.strip()
    for pat in _DATES:
        m = pat.match(tail)
        if not m:
            continue
        groups = m.groupdict()
        year = groups.get("y") or ""
        if groups.get("all"):
            return groups["all"], year if len(year) == 4 else ""
        month = groups["m"].rstrip(".").capitalize()
        if month.lower() not in MONTHS:
            continue
        day = groups.get("d")
        if day:
            date = f"{int(day)} {month}" if pat is _DATES[0] else f"{month} {int(day)}"
        else:
            date = month
        return (f"{date} {year}" if year else date), year
    return "", ""


def as_gerund(verb: str) -> str:
    """ "swim" -> "swimming", "dance" -> "dancing"; for "I like to swim" style values."""
    v = verb.lower()
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        return v[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", v) and len(v) <= 4:
        return v + v[-1] + "ing"
    return v + "ing"


# --------------------------------------------------------------------------------------
# clause state
# --------------------------------------------------------------------------------------


@dataclass
class Entity:
    """The pet or relative a following "He/She/It" refers to."""

    kind: str  # "family" | "pet"
    ref: str  # "sister", "dog"
    name: str = ""
    plural: bool = False
    gender: str = ""  # "f" | "m" | ""


@dataclass
class Clause:
    text: str
    source: str
    loose: bool
    facts: list[Fact] = field(default_factory=list)
    entity: Entity | None = None
    known_name: str = ""  # a name put in by pronoun resolution: already known, not new

    def is_new_name(self, name: str) -> bool:
        return bool(name) and name != self.known_name

    def add(self, kind: str, answer: str, **kw: object) -> Fact | None:
        fact = build_fact(kind, answer, source=self.source, extractor=NAME, **kw)  # type: ignore[arg-type]
        if fact is not None:
            self.facts.append(fact)
        return fact

    def kinds(self) -> set[str]:
        return {f.relation for f in self.facts}


def compile_rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, I_)


I_WE = r"\b(?:I|we)"
ADV = (
    r"(?:\s+(?:also|still|now|currently|actually|really|just|usually|mostly|mainly|primarily|"
    r"often|always|sometimes|normally|generally|recently|finally|already|even|both|all|too|"
    r"happily|proudly|technically|officially|basically|definitely|absolutely|totally))*"
)
I_AM = rf"\b(?:I(?:'m|\s+am|m)|we(?:'re|\s+are))\b{ADV}"
CAP_NAME = r"(?-i:[A-Z\u00C0-\u00DE][\w'-]*)"
_LOOSE_NAME = (
    r"(?!(?:is|was|are|works|worked|lives|lived|plays|played|has|had|loves|likes|and|who|"
    r"called|named|just|also|recently|now|still|always|never|really|the|a|an)\b)"
    r"[^\W\d_][\w'-]*"
)


def cased_pair(template: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Compile ``template`` twice: names must be capitalised, or (typed in lower case) not."""
    cased = template.replace("{NAME}", rf"{CAP_NAME}(?:\s+{CAP_NAME})?")
    loose = template.replace("{NAME}", _LOOSE_NAME)
    return compile_rule(cased), compile_rule(loose)


def pick(pair: tuple[re.Pattern[str], re.Pattern[str]], c: Clause) -> re.Pattern[str]:
    return pair[1] if c.loose else pair[0]


def _alt(words: Iterable[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)  # longest first: "guinea pig" before "pig"
    return "|".join(re.escape(w).replace(r"\ ", r"[\s-]") for w in ordered)


REL = rf"(?P<rel>(?:(?:{_alt(FAMILY_ADJ)})[\s-]?)?(?:{_alt(FAMILY)}))\b"
ANIMAL = rf"(?P<animal>{_alt([*ANIMALS, *DOG_BREEDS, *CAT_BREEDS, 'pet'])})"
REL_NAME_OPT = r"(?:,?\s+(?P<name>{NAME}),?)?"


def subject_of(kind_word: str, name: str) -> str:
    """ "my sister Ana", or "my sister" when the name is not known."""
    return f"my {kind_word} {name}".strip()


def valid_name(name: str | None, loose: bool) -> str:
    """A relative's or pet's name as read, or "" when it is a word like "just" or "mum"."""
    if not name:
        return ""
    name = _smart_title(name) if loose else name
    return "" if name.lower() in NOT_NAMES or name.lower() in FAMILY else name
