"""Rules about the user's tastes: favourites, likes and dislikes, allergies.

``taste_value`` ("to swim" -> "swimming") and ``BAD_OBJECT`` (objects that are no taste:
"it", "you", "the idea") are public: the activity and transport rules read objects the
same way.
"""

from __future__ import annotations

import re

from sleepmem.plugin.builtins.lexicon import (
    singular,
)
from sleepmem.plugin.builtins.rule_parse import (
    _ADV,
    _I,
    _IAM,
    I_,
    _Clause,
    _gerund,
    _rx,
    _value,
)

# --- tastes ----------------------------------------------------------------------------

_FAV = _rx(
    r"\bmy\s+(?:(?:all[-\s]time|absolute|very|current|personal|top|number\s+one|most)\s+)?"
    r"(?P<fav>favou?rite|fave|fav)\s+(?P<thing>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)\s+"
    r"(?:is|are|'s|has\s+(?:always\s+)?been|have\s+(?:always\s+)?been)\s+(?P<tail>.+)"
)
_FAV_REV = _rx(
    r"^(?P<tail>.+?)\s+(?:is|are)\s+(?:definitely\s+|probably\s+)?my\s+(?:(?:all[-\s]time|"
    r"absolute)\s+)?(?P<fav>favou?rite|fave)\s+(?P<thing>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,2})$"
)
_KIND_OF = re.compile(r"^(?:kind|type|sort|genre|style)s?\s+of\s+", I_)


def _r_favourite(c: _Clause) -> None:
    m = _FAV.search(c.text) or _FAV_REV.search(c.text)
    if not m:
        return
    thing = " ".join(m["thing"].lower().split())
    key = singular(_KIND_OF.sub("", thing))
    key = "colour" if key in ("colour", "color") else key
    _, value = _value(m["tail"], max_words=6)
    if not value:
        return
    fav = "favorite" if m["fav"].lower() == "favorite" else "favourite"
    c.add("favourite", value, thing=thing, thing_key=key, fav=fav)


_LIKE = _rx(
    rf"{_I}{_ADV}\s+(?:love|adore|like|enjoy|am\s+into|'m\s+into|are\s+into|"
    r"(?:am|'m)\s+(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of|(?:am|'m)\s+passionate\s+about|"
    r"(?:am|'m)\s+obsessed\s+with|(?:am|'m)\s+crazy\s+about)\s+(?P<tail>.+)"
)
_DISLIKE = _rx(rf"{_I}{_ADV}\s+(?:hate|dislike|detest|loathe|despise)\s+(?P<tail>.+)")
BAD_OBJECT = re.compile(
    r"^(?:you|it|that|this|them|him|her|me|us|everyone|everything|everybody|when|how|what|"
    r"where|the\s+fact|the\s+idea|my|your|his|their|our|being|it's|its|to\s+be|to\s+think|"
    r"to\s+say|to\s+know|that's|talking|chatting|this\s+conversation)\b",
    I_,
)


def taste_value(tail: str) -> tuple[str, str]:
    """(answer, object) for what follows "I love": "to swim" -> "swimming"."""
    tail = tail.strip()
    if BAD_OBJECT.match(tail):
        return "", ""
    inf = re.match(r"^to\s+(?P<v>[a-z]+)(?P<rest>.*)$", tail, I_)
    if inf:
        _, rest = _value(inf["rest"], max_words=5) if inf["rest"].strip() else ("", "")
        gerund = _gerund(inf["v"])
        obj = f"{gerund} {rest}".strip()
        return obj, obj
    _, value = _value(tail, max_words=6)
    return value, value


def _r_likes(c: _Clause) -> None:
    if any(f.slot.startswith("favourite:") for f in c.facts):
        return
    # the dislike first: a clause that names both is stored as the dislike only
    for pattern, slot in ((_DISLIKE, "dislike"), (_LIKE, "like")):
        m = pattern.search(c.text)
        if m:
            answer, obj = taste_value(m["tail"])
            if answer:
                c.add(slot, answer, obj=obj, thing_key=answer)
            return


_ALLERGY = [
    _rx(rf"{_IAM}\s+(?:(?:very|really|quite|severely|highly|super|extremely|a\s+bit|slightly|"
        r"mildly|deathly)\s+)?allergic\s+(?:to|for|of)\s+(?P<tail>.+)"),
    _rx(rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got|suffer\s+from)\s+(?:a|an)?\s*"
        r"(?:severe\s+|mild\s+|serious\s+|bad\s+)?allergy\s+to\s+(?P<tail>.+)"),
    _rx(r"\bmy\s+allergy\s+is\s+(?:to\s+)?(?P<tail>.+)"),
    _rx(rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got|suffer\s+from)\s+(?:a|an)?\s*"
        r"(?:severe\s+|mild\s+|serious\s+|bad\s+)?(?P<tail>[\w-]+(?:\s+[\w-]+)?)\s+allerg(?:y|ies)\b"),
]  # fmt: skip


def _r_allergy(c: _Clause) -> None:
    for pat in _ALLERGY:
        m = pat.search(c.text)
        if m:
            _, value = _value(m["tail"], max_words=6)
            if value:
                c.add("allergy", value)
            return
