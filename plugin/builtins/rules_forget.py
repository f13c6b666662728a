"""Forget requests in plain words: "please forget what I said about my salary".

``forget_requests(text)`` reads a normalised message and returns one ``ForgetRequest`` per
request: the topic as said and the words a fact about it would mention (``FORGET_TOPICS``
widens "money" to salary, wage, ...). The engine matches them against the active facts
(``facts.forget_matches``) and forgets those as ``/forget`` does.

Besides requests to the bot, "not X anymore" and "I left X" say that a value no longer
holds; they forget the fact whose answer is X (``answer_only``), so a move stated without
the new place still clears the old one.

What is never a request: a question about forgetting ("did you forget my name?"), a
negated one ("don't forget my birthday"), something the user forgot ("I forgot my keys"),
a hypothetical ("if you forget ...") and a topic that names nothing ("forget it").
"""

from __future__ import annotations

import re

from sleepmem.engine.facts import ForgetRequest
from sleepmem.plugin.builtins.lexicon_corrections import (
    FORGET_FILLER,
    FORGET_TOPICS,
    FORGET_VERBS,
    GIVE_UP_VERBS,
)

MAX_REQUESTS = 5

_VERB = "|".join(sorted(FORGET_VERBS, key=len, reverse=True))
_POLITE = (
    r"(?:(?:oh|ok|okay|also|and|so|actually|hey|um|uh|wait|btw|but|love|mate|dear|hun|"
    r"please|pls|plz|kindly|just|now|hmm|honestly|sorry|one\s+more\s+thing|on\s+second\s+"
    r"thought|(?:can|could|would|will)\s+(?:you|u|ya)(?:\s+please|\s+pls|\s+just|\s+kindly)*|"
    r"I\s+(?:want|need|would\s+like|'d\s+like|'d\s+rather)\s+(?:you\s+)?to|"
    r"I'd\s+rather\s+you|do\s+me\s+a\s+favou?r(?:\s+and)?|you\s+can|you\s+may)"
    r"[\s,:;!.-]+)*"
)
_REQUEST = re.compile(
    rf"(?:^|[,;:.!?-]\s*|\band\s+){_POLITE}(?P<verb>{_VERB})\s+(?:about\s+)?(?P<topic>[^.!?;]+)",
    re.I,
)
# A bare noun phrase ("forget the tomatoes, use peppers") is cooking talk, not memory: the
# topic must point at something told ("what I said about", "my", "the loan figure") or the
# sentence must speak of telling or memory.
_POINTS_AT_TOLD = re.compile(
    r"^(?:my|our|mine)\b|\b(?:thing|things|stuff|bit|part|info|information|detail|details|"
    r"fact|figure|number|note|story)\b",
    re.I,
)
_TOLD = re.compile(
    r"\b(?:told\s+(?:you|u)|I\s+said|I\s+mentioned|I\s+shared|memory|memories|remember|"
    r"earlier|before)\b",
    re.I,
)
# Where the topic ends: its reason or the rest of the sentence.
_TOPIC_END = re.compile(
    r"\s*(?:,|\s-\s|\(|\b(?:because|cause|cuz|coz|since|as\s+it|it's|its|it\s+is|that's|"
    r"thats|which|pls|please|thanks|thank\s+you|for\s+good|for\s+me|from\s+(?:your|ur)\s+"
    r"memory|if\s+you\s+can|kinda|lol|haha|ok|okay)\b)",
    re.I,
)
_ABOUT = re.compile(
    r"^(?:(?:what|everything|anything|all|whatever|the\s+(?:stuff|things?|bits?|parts?))\s+)?"
    r"(?:(?:I|i)\s+(?:just\s+)?(?:said|told\s+(?:you|u)|mentioned|wrote|shared|typed|"
    r"said\s+to\s+you|was\s+saying)\s+)?(?:earlier\s+|before\s+)?(?:about|regarding|re|on)\s+",
    re.I,
)
_WORD = re.compile(r"[^\W\d_][\w'-]*|\d[\d.,:]*")
_NOTHING = re.compile(
    r"^(?:it|that|this|them|everything|anything|all|me|you|him|her|what|what\s+I\s+said|"
    r"I\s+said\s+anything|I\s+asked|about\s+it|the\s+rest|my\s+question)\W*$",
    re.I,
)


def _topic_words(topic: str) -> list[str]:
    words = [w.lower().strip("'") for w in _WORD.findall(topic)]
    out = []
    for w in words:
        w = re.sub(r"'s$", "", w)
        if w and w not in FORGET_FILLER:
            out.append(w)
    return out


def _terms(words: list[str]) -> tuple[str, ...]:
    terms: list[str] = []
    if len(words) > 1:
        terms.append(" ".join(words))  # "knee surgery" as said
    for w in words:
        terms += [w, *FORGET_TOPICS.get(w, ())]
    return tuple(dict.fromkeys(terms))


def _request(verb_match: re.Match[str], sentence: str) -> ForgetRequest | None:
    raw = verb_match["topic"].strip()
    about = _ABOUT.match(raw)
    topic = raw[about.end() :] if about else raw
    if not about and not _POINTS_AT_TOLD.search(topic) and not _TOLD.search(sentence):
        return None
    end = _TOPIC_END.search(topic)
    topic = topic[: end.start()] if end else topic
    topic = re.sub(
        r"\s+(?:(?:that|which)\s+)?(?:I|i)\s+(?:just\s+)?(?:said|told\s+(?:you|u)|mentioned|"
        r"wrote|shared|gave\s+you)\b.*$",
        "",
        topic,
    ).strip(" '\"")
    if not topic or _NOTHING.match(topic):
        return None
    words = _topic_words(topic)
    if not words or len(words) > 6:
        return None
    return ForgetRequest(topic=topic, terms=_terms(words), source=sentence[:300])


_NO_LONGER_VERB = r"(?:live\s+in|work\s+(?:at|for|as)|drive|have|own|play|support|use)"
_ANYMORE = re.compile(
    r"(?:\b(?:I|we)\s+(?:don't|dont|do\s+not|do\s+n't)\s+"
    + _NO_LONGER_VERB
    + r"|\b(?:I|we)\s+(?:am|are)\s*(?:not|n't)|^not(?:\s+(?:in|at|with|from))?)\s+"
    r"(?:a\s+|an\s+|the\s+)?(?P<value>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,2}?)"
    r"\s+(?:anymore|any\s+more)\b",
    re.I,
)
_NO_LONGER = re.compile(
    r"\b(?:I|we)\s+(?:am\s+|are\s+)?no\s+longer\s+(?:" + _NO_LONGER_VERB + r"\s+)?"
    r"(?:a\s+|an\s+|the\s+)?(?P<value>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*)?)"
    r"(?=\s*$|\s*[,.!]|\s+(?:since|as\s+of|because)\b)",
    re.I,
)
_GIVE_UP_ALT = "|".join(v.replace(" ", r"\s+") for v in sorted(GIVE_UP_VERBS))
_GIVE_UP = re.compile(
    rf"^(?:I|we)\s+(?:(?:just|finally|already)\s+)?"
    rf"(?:{_GIVE_UP_ALT})\s+"
    r"(?:(?:the|my|our)\s+)?(?P<value>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*)?)"
    r"(?=\s*$|\s+(?:on|last|this|in|a|two|three|yesterday|today|recently)\b)",
    re.I,
)


def no_longer(clause: str) -> ForgetRequest | None:
    """ "Not Osaka anymore", "I'm not vegetarian anymore", "left MTN on Friday": the value
    named no longer holds. Only the clause's own words count; it needs "anymore", "no
    longer" or a give-up verb, so "I don't like cheese" forgets nothing."""
    m = _ANYMORE.search(clause) or _NO_LONGER.search(clause) or _GIVE_UP.match(clause)
    if m is None:
        return None
    value = m["value"].strip()
    if not value or value.lower() in FORGET_FILLER:
        return None
    return ForgetRequest(topic=value, terms=(value,), answer_only=True, source=clause[:300])


def forget_requests(sentences: list[str]) -> list[ForgetRequest]:
    """The requests to forget something in ``sentences`` (normalised, one sentence each)."""
    out: list[ForgetRequest] = []
    for sentence in sentences:
        for m in _REQUEST.finditer(sentence):
            request = _request(m, sentence)
            if request is not None:
                out.append(request)
                break
        if len(out) >= MAX_REQUESTS:
            break
    return out
