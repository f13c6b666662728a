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
    ADV,
    I_,
    I_AM,
    I_WE,
    Clause,
    as_gerund,
    compile_rule,
    parse_value,
)

# --- tastes ----------------------------------------------------------------------------

_FAV = compile_rule(
    r"\bmy\s+(?:(?:all[-\s]time|absolute|very|current|personal|top|number\s+one|most)\s+)?"
    r"(?P<fav>favou?rite|fave|fav)\s+(?P<thing>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)\s+"
    r"(?:is|are|'s|has\s+(?:always\s+)?been|have\s+(?:always\s+)?been)\s+(?P<tail>.+)"
)
_FAV_REV = compile_rule(
    r"^(?P<tail>.+?)\s+(?:is|are)\s+(?:definitely\s+|probably\s+)?my\s+(?:(?:all[-\s]time|"
    r"absolute)\s+)?(?P<fav>favou?rite|fave)\s+(?P<thing>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,2})$"
)
_PRONOUNS = frozenset(("he", "she", "they", "it", "this", "that", "him", "her", "them"))
_TITLED = frozenset(("book", "novel", "film", "movie", "song", "album", "show", "series", "play"))
_TITLE_ARTICLE = re.compile(r"^(?-i:(A|An|The))\s+(?-i:[A-Z])")
_KIND_OF = re.compile(r"^(?:kind|type|sort|genre|style)s?\s+of\s+", I_)


def r_favourite(c: Clause) -> None:
    m = _FAV.search(c.text) or _FAV_REV.search(c.text)
    if not m:
        return
    thing = " ".join(m["thing"].lower().split())
    key = singular(_KIND_OF.sub("", thing))
    key = "colour" if key in ("colour", "color") else key
    _, value = parse_value(m["tail"], max_words=6)
    if not value or value.lower() in _PRONOUNS:  # "She is my favourite author": who is she?
        return
    article = _TITLE_ARTICLE.match(m["tail"].strip())
    if article and key in _TITLED and not value.startswith(article[1]):
        value = f"{article[1]} {value}"  # "A Suitable Boy" is the title, article and all
    fav = "favorite" if m["fav"].lower() == "favorite" else "favourite"
    c.add("favourite", value, thing=thing, thing_key=key, fav=fav)


_LIKE = compile_rule(
    rf"{I_WE}{ADV}\s+(?:love|adore|like|enjoy|am\s+into|'m\s+into|are\s+into|"
    r"(?:am|'m)\s+(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of|(?:am|'m)\s+passionate\s+about|"
    r"(?:am|'m)\s+obsessed\s+with|(?:am|'m)\s+crazy\s+about)\s+(?P<tail>.+)"
)
_DISLIKE = compile_rule(rf"{I_WE}{ADV}\s+(?:hate|dislike|detest|loathe|despise)\s+(?P<tail>.+)")
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
        _, rest = parse_value(inf["rest"], max_words=5) if inf["rest"].strip() else ("", "")
        gerund = as_gerund(inf["v"])
        obj = f"{gerund} {rest}".strip()
        return obj, obj
    _, value = parse_value(tail, max_words=6)
    return value, value


def r_likes(c: Clause) -> None:
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
    compile_rule(rf"{I_AM}\s+(?:(?:very|really|quite|severely|highly|super|extremely|a\s+bit|slightly|"
        r"mildly|deathly)\s+)?allergic\s+(?:to|for|of)\s+(?P<tail>.+)"),
    compile_rule(rf"{I_WE}{ADV}\s+(?:have|'ve\s+got|have\s+got|suffer\s+from)\s+(?:a|an)?\s*"
        r"(?:severe\s+|mild\s+|serious\s+|bad\s+)?allergy\s+to\s+(?P<tail>.+)"),
    compile_rule(r"\bmy\s+allergy\s+is\s+(?:to\s+)?(?P<tail>.+)"),
    compile_rule(rf"{I_WE}{ADV}\s+(?:have|'ve\s+got|have\s+got|suffer\s+from)\s+(?:a|an)?\s*"
        r"(?:severe\s+|mild\s+|serious\s+|bad\s+)?(?P<tail>[\w-]+(?:\s+[\w-]+)?)\s+allerg(?:y|ies)\b"),
]  # fmt: skip


def r_allergy(c: Clause) -> None:
    for pat in _ALLERGY:
        m = pat.search(c.text)
        if m:
            _, value = parse_value(m["tail"], max_words=6)
            if value:
                c.add("allergy", value)
            return
