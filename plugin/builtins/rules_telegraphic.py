"""Self-descriptions typed as a list: "28, software dev, based in lisbon", "im maddie,
nurse in brisbane, ...", "Samuel. Accra. Network engineer at MTN.", "Kenji. Live in Osaka."

No chunk of such a list has a verb the slot rules could read. Each chunk (split at commas,
semicolons, dashes, and at the full stops of a message that opens with fragments) is read
as a bare value: an age, a job, a place, a name, a company after a job. The run of chunks
that read so, from the start of a sentence, is the user's self-description, but only when
it is clearly one: it holds at least two values, and it opens with "I am" or one of them is
a job, an age or a place with its preposition. A bare number or a bare name alone says
nothing ("28, right", "Tom, can you ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.lexicon import (
    DEMONYMS,
    JOBS,
    LANGUAGES,
    NOT_HERE_NAMES,
    looks_like_job,
)
from sleepmem.plugin.builtins.rule_gate import HYPO_START, gated
from sleepmem.plugin.builtins.rule_parse import Clause, parse_place
from sleepmem.plugin.builtins.rule_text import strip_prefix
from sleepmem.plugin.builtins.rules_casual import EMOJI_RUN, is_state, strip_fillers
from sleepmem.plugin.builtins.rules_work import add_job, add_workplace, job_np

I_ = re.I
MAX_FRAGMENT_WORDS = 6  # a sentence this short with no verb is one chunk of a list

_LABEL = re.compile(r"\s*:\s+")
_SPLIT = re.compile(r"\s*[,;|]\s*|\s+-\s+|\s*/\s+")
_I_AM = re.compile(r"^(?:I\s+am|I'm|im)\s+", I_)
_AGE = re.compile(r"^(?P<n>\d{1,2})(?:\s*(?:y/?o|yrs?(?:\s+old)?|years?(?:\s+old)?))?$", I_)
# "Porto, by the river": a phrase led by a preposition is where or how, never a job, even
# when its noun ends like one ("river", "corner", "water")
_LED_BY_PREPOSITION = re.compile(
    r"^(?:by|near|next\s+to|beside|behind|under|over|on|at|with|without|across|along|"
    r"around|between|above|below|beyond|past|off|opposite|outside|inside|towards?)\s",
    I_,
)
_PLACE = re.compile(
    r"^(?P<how>(?:I\s+)?(?:am\s+)?(?:based|living|located|live|lives)\s+in|from|"
    r"originally\s+from|in)\s+(?P<tail>.+)$",
    I_,
)
_NEGATED = re.compile(
    r"^(?:no|not|never|nor|no\s+longer|not\s+anymore)\b", I_
)  # "no longer in Leeds"
_NAME = re.compile(r"^(?P<n>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*)?)$")


@dataclass
class _Chunk:
    kind: str  # "age" | "job" | "place" | "name" | "bare" (a capitalised word or two)
    text: str
    anchored: bool = False  # said after "I am"


def _is_loose(text: str) -> bool:
    return not any(ch.isupper() for ch in re.sub(r"\bI(?:'m)?\b", "", text))


def _name_like(text: str, loose: bool) -> bool:
    words = text.split()
    if not words or any(w.lower() in NOT_HERE_NAMES or is_state(w) for w in words):
        return False
    if any(w in DEMONYMS or w in LANGUAGES for w in words):
        return False
    return loose or all(w[:1].isupper() for w in words)


def _classify(chunk: str, first: bool, loose: bool) -> _Chunk | None:
    if _NEGATED.match(chunk.strip()):  # before strip_prefix, which takes "no," for a reply
        return None
    text = strip_fillers(strip_prefix(chunk.strip(" .!")))
    if not text or gated(text):
        return None
    anchored = bool(_I_AM.match(text))
    text = _I_AM.sub("", text)
    if _AGE.match(text):
        n = int(_AGE.match(text)["n"])  # type: ignore[index]
        return _Chunk("age", str(n), anchored) if 10 <= n <= 110 else None
    m = _PLACE.match(text)
    if m:
        return _Chunk("place", text, anchored)
    if _LED_BY_PREPOSITION.match(text):
        return None
    job, _ = job_np(text)
    # "Bo Lindqvist" ends like "pianist": a capitalised head must be a listed job
    head = job.split()[-1] if job else ""
    if (
        job
        and looks_like_job(job)
        and len(job.split()) <= 3
        and (head[:1].islower() or head.lower() in JOBS)
    ):
        return _Chunk("job", text, anchored)
    if _NAME.match(text) and (first or anchored) and _name_like(text, loose):
        return _Chunk("name", text, anchored)
    if not loose and _NAME.match(text) and all(w[:1].isupper() for w in text.split()):
        if not _name_like(text, loose=False) and text.split()[0] not in DEMONYMS:
            return None
        return _Chunk("bare", text, anchored)
    return None


def _run_of(chunks: list[str], loose: bool) -> list[_Chunk]:
    out: list[_Chunk] = []
    for i, raw in enumerate(chunks):
        chunk = _classify(raw, i == 0, loose)
        if chunk is None:
            break
        out.append(chunk)
    return out


def _facts(run: list[_Chunk], source: str, loose: bool) -> list[Fact]:
    kinds = [ch.kind for ch in run]
    strong = {"job", "age", "place"} & set(kinds)
    # one chunk is a plain sentence, which the slot rules read
    if len(run) < 2 or not (run[0].anchored or strong):
        return []
    c = Clause(source, source=source[:300], loose=loose)
    previous = ""
    for ch in run:
        if ch.kind == "age":
            c.add("age", ch.text)
        elif ch.kind == "job":
            job, rest = job_np(ch.text)
            add_job(c, job, rest)
        elif ch.kind == "place":
            m = _PLACE.match(ch.text)
            place = parse_place(m["tail"], loose) if m else ""
            kind = "origin" if m and "from" in m["how"].lower() else "home"
            # "in Porto, in the north of Portugal": the first place said is the one meant
            if place and kind not in {f.slot for f in c.facts}:
                c.add(kind, place)
        elif ch.kind == "name":
            c.add("name", " ".join(w[:1].upper() + w[1:] for w in ch.text.split()))
        elif ch.kind == "bare" and {"job", "age"} & set(kinds):
            # "train driver, JR West": a company after a job; "Samuel. Accra.": a town
            # after a name (a list with a job or an age in it is a self-description)
            if previous == "job":
                add_workplace(c, ch.text)
            elif previous == "name":
                c.add("home", ch.text)
        previous = ch.kind
    return c.facts


def telegraphic(sentences: list[str]) -> list[Fact]:
    """Facts of the self-descriptions typed as lists in a message's ``sentences``."""
    if not sentences:
        return []
    out: list[Fact] = []
    # a message opening with fragments ("Samuel. Accra. Network engineer at MTN.") is one list
    lead: list[str] = []
    for sentence in sentences:
        if sentence.rstrip().endswith("?") or len(sentence.split()) > MAX_FRAGMENT_WORDS:
            break
        lead.append(sentence.rstrip(" .!"))
    groups = [", ".join(lead)] if len(lead) >= 2 else []
    groups += [s for s in sentences if not s.rstrip().endswith("?")]
    for group in groups:
        # "Sign it: Kenji Watanabe, train driver": what follows a label is a list of its own
        for text in _LABEL.split(EMOJI_RUN.sub(", ", group)):
            if HYPO_START.match(text):
                continue
            loose = _is_loose(text)
            # greetings and fillers before the list ("heyyy, im maddie, ...") carry nothing
            chunks = [ch for ch in _SPLIT.split(text) if strip_fillers(strip_prefix(ch))]
            out += _facts(_run_of(chunks, loose), text, loose)
    return out
