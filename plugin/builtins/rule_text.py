"""Text preparation for the rules: one normal form, sentences, lead-in words taken off.

The rules are written against the form ``normalise`` gives (NFKC, straight quotes, single
spaces); ``sentences`` splits without breaking "St. Louis"; ``strip_prefix`` takes off
greetings, fillers and lead-ins ("oh actually,", "scratch that,", "since") that carry no
fact, so the rules see the statement itself.
"""

from __future__ import annotations

import re
import unicodedata

I_ = re.I
MAX_SENTENCES = 200

_TRANSLATE = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": " - ",
        "\u2026": "...",
        "\u00a0": " ",
    }
)
_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def normalise(text: str) -> str:
    """NFKC, straight quotes, single spaces: the rules are written against this form."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _ZERO_WIDTH.sub("", text)
    return _SPACES.sub(" ", text).strip()


_ASIDE = re.compile(r"\s*\((?P<a>[^()]{1,300})\)")


def asides_apart(text: str) -> str:
    """ "I'm a biologist (mostly fish, if I'm honest), and ..." -> the aside moved to a
    sentence of its own at the end, so its "if" does not gate what it interrupts."""
    asides = [m["a"].strip() for m in _ASIDE.finditer(text)]
    if not asides:
        return text
    return " ".join([_ASIDE.sub("", text), *(a.rstrip(".!?") + "." for a in asides)])


_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_ABBREV_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Mt|Jr|Sr|Prof|vs|etc|e\.g|i\.e)\.$", I_)


def sentences(text: str) -> list[str]:
    """Split on sentence punctuation and newlines, keeping "St. Louis" together."""
    out: list[str] = []
    for part in _SENT_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        if out and _ABBREV_END.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
        if len(out) > MAX_SENTENCES:
            break
    return out


_PREFIX = re.compile(
    r"^(?:hi|hello|hey|hiya|heya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|"
    r"yo|oh|ok|okay|so|well|also|and|but|plus|btw|by\s+the\s+way|fyi|ps|p\.s\.|"
    r"actually|in\s+fact|to\s+be\s+honest|honestly|anyway|anyways|sorry|correction|wait|"
    r"no|nope|yes|yeah|yep|um|uh|hmm|lol|haha|oops|update|please|"
    r"(?:please\s+)?(?:remember|note|keep\s+in\s+mind|don't\s+forget)(?:\s+that)?|"
    r"just\s+so\s+you\s+know(?:\s+that)?|for\s+the\s+record|for\s+your\s+information|"
    r"you\s+should\s+know(?:\s+that)?|fun\s+fact|let\s+me\s+tell\s+you(?:\s+that)?|"
    r"i\s+(?:should|forgot\s+to|wanted\s+to|want\s+to|have\s+to|must)\s+"
    r"(?:mention|say|tell\s+you|let\s+you\s+know)(?:\s+that)?|to\s+clarify|"
    r"there|here's\s+(?:a\s+)?(?:thing|fact)(?:\s+about\s+me)?|about\s+me|"
    r"quick\s+(?:update|correction|note)|small\s+correction|new\s+info|"
    # a correction's lead-in: "scratch that, Biscuit is 4", "my bad: it's Larissa"
    r"scratch\s+that|strike\s+that|my\s+bad|my\s+mistake|I\s+mean|I\s+meant|"
    r"I\s+misspoke|I\s+was\s+wrong|typo|(?:damn\s+|stupid\s+)?autocorrect|"
    r"let\s+me\s+(?:correct|rephrase)(?:\s+(?:that|myself))?|"
    # a habit's time said first: "every morning I drink matcha", "on weekends I go climbing"
    r"(?:every|most|on|in\s+the|at\s+the|at|during\s+the)\s+(?:single\s+)?(?:day|days|"
    r"morning|mornings|afternoon|afternoons|evening|evenings|night|nights|weekend|weekends|"
    r"week|summer|summers|winter|winters|mondays|tuesdays|wednesdays|thursdays|fridays|"
    r"saturdays|sundays)(?=\s*,?\s*(?:I|we)\b)|"
    # a reason given before a question or a request: "since I'm allergic to ..., what ..."
    r"(?:since|because|cause|cuz|as|given\s+that|now\s+that|seeing\s+(?:as|that))"
    r"(?=\s+(?:I|I'm|Im|my|we)\b))"
    r"(?:\s*[,!.:;-]+\s*|\s+(?=\S)|$)",
    I_,
)


def strip_prefix(text: str) -> str:
    for _ in range(6):
        new = _PREFIX.sub("", text, count=1).strip()
        if new == text:
            break
        text = new
    return text
