"""Word lists for casual speech (``rules_casual``, ``rules_telegraphic``): fillers that end a
value, states that "im X" names instead of a name, words that are no place after "in".

Data only, like ``lexicon``; this module imports nothing from the package.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(w.replace("_", " ") for w in text.split())


# Discourse words typed after a statement: "i'm from leeds originally", "porto tbh". They
# never belong to the value before them, so every value cutter stops at them (as a
# regular-expression alternation: "lol", "lolol", "hahaha" are all one filler).
FILLER_RE = (
    r"(?:l+o+l+(?:o*l*)*|lmf?a+o+|rofl|(?:ha){2,}h?|(?:he){2,}|xd+|tbh|tbf|ngl|imo|imho|"
    r"idk|rn|atm|btw|fyi|omg|omfg|smh|fr|ffs|jk|irl|iykyk|honestly|originally|anyway|"
    r"anyways|basically|literally|lowkey|highkey|ofc|obviously|tho|though|i\s+guess|"
    r"i\s+think|i\s+suppose|i\s+believe|you\s+know|ya\s+know|y'know|for\s+real|"
    r"these\s+days|at\s+the\s+moment|right\s+now|for\s+now|nowadays|haha|hehe|yay|"
    r"lel|kek|sadly|unfortunately|thankfully|luckily|again|now)"
)

# What "im X" says that is no name: a state, a mood, a place ("im bored", "im home").
# Words ending like an adjective or participle ("-ed", "-ing", "-ful") are refused by
# their ending as well, so this list holds the rest.
STATE_WORDS = _words(
    "bored fine good great okay ok alright here back home done sure sorry new lost hungry "
    "sick late ready free single married tired broke alive awake asleep drunk high sober "
    "fat thin short tall old young cold hot warm right wrong serious kidding joking dead "
    "down in out up off on over afraid scared bad poor rich busy nervous anxious sad mad "
    "angry upset happy glad grateful blessed stuck weird normal human fr lowkey srsly "
    "literally so very really just also still always never not gonna going trying "
    "about almost nearly kinda sorta like too pretty quite a an the this that it there "
    "sleepy lazy crazy lucky grumpy moody tipsy sorry ready busy hungry thirsty angry "
    "pregnant vegan vegetarian gay bi straight trans ace cis shy quiet loud sober clean "
    "fit sore ill unwell better worse ok okk okayy good-ish meh dying crying starving "
    "obsessed addicted done finished outside inside upstairs downstairs online offline "
    "away abroad nearby local early tall short slow fast ugly pretty cute hot ready "
    "starving exhausted stressed confused excited interested worried annoyed "
    "out-of-office ooo afk brb back from with at into to for of by as if because but "
    "and or yes no yeah yep nope nah hi hey hello thanks thx ty welcome here there "
    "everywhere nowhere somewhere alone together twins twin mum mom dad parent "
    "fan student intern employee boss manager guy girl boy man woman lady dude bro sis "
    "whatever idk dunno unsure unemployed retired sick"
)
STATE_ENDINGS = ("ed", "ing", "ly", "ful", "ous", "ive", "able", "ible", "less", "ish", "est")

# After "a nurse in ...", lower-case words that say where in the work, not which town.
NOT_HOME_WORDS = _words(
    "training charge care health healthcare tech it hr sales marketing retail finance "
    "banking law medicine education science research admin management government "
    "private public general practice residence school hospital clinic office ward shop "
    "store factory lab uni college town city village area region country the a an my "
    "our their his her your surgery oncology pediatrics icu er a&e theatre theater "
    "emergency london_area night nights days shifts part full remote person real life "
    "progress trouble love debt recovery"
)
NOT_HOME_ENDINGS = ("ing", "ogy", "ics", "ment", "tion", "sion", "ance", "ence", "ism", "ship",
                    "hood", "ness", "ure")  # fmt: skip

# Verbs that refuse a food or drink: "i dont eat peanuts, allergic" names the allergen.
REFUSE_VERBS = _words("eat have touch drink take use eat_any have_any")

# Words that stop a name given in "we named the cat ...": "named him after my dad".
NAMING_STOP = _words("after for because by like from as that it him her them so when since")

# Words in -ing that name no activity one has as a hobby: "that's my thing" after "going
# there" or "getting home" points at nothing ``rules_reference`` can keep.
NOT_ACTIVITIES = _words(
    "going doing being having getting nothing something anything everything thing morning "
    "evening king ring spring string wedding building ceiling feeling meeting during bring "
    "sing thinking saying trying wanting looking typing texting working"
)
