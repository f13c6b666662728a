"""Word lists for the rules of ``rules_life`` and ``rules_answers``: trips, teams, tastes
said indirectly, family words of everyday speech, the questions a bot asks.

Data only, like ``lexicon``: the lists grow more often than the rules that read them.
This module imports nothing from the package.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(w.replace("_", " ") for w in text.split())


# Words after "going to" that make it the future ("going to cook"), not a trip.
FUTURE_VERBS = _words(
    "be have do get make cook try see take go start stop watch buy call need visit ask "
    "tell say write read play work study learn eat drink sleep rest stay keep leave move "
    "bring send check look find give put run walk drive fly travel head meet help pick "
    "finish clean wash fix build paint sell pay spend save change use wait let miss lose "
    "win join sign order book plan think talk text email post share hang chill grab "
    "attend celebrate throw host catch die cry kill scream need marry propose quit"
)
# When a trip is: a clause that says one is a plan, not a daydream.
TRIP_TIME = (
    r"(?:next\s+(?:week|month|year|summer|winter|spring|autumn|fall|weekend|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)|this\s+(?:week|month|year|summer|winter|"
    r"spring|autumn|fall|weekend)|tomorrow|tonight|soon|in\s+(?:a\s+few|two|three|\d+)\s+"
    r"(?:days|weeks|months)|in\s+(?:january|february|march|april|may|june|july|august|"
    r"september|october|november|december)|on\s+(?:monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)|for\s+(?:a|two|three|\d+)\s+(?:week|weeks|days|months)|"
    r"on\s+holiday|on\s+vacation|for\s+(?:work|a\s+conference|holiday|vacation))\b"
)
TRIP_WORDS = _words("holiday holidays vacation trip honeymoon getaway break")

# What shows a "fan" is a sports fan: the team's kind of name, or sport in the sentence.
TEAM_WORDS = _words(
    "fc afc cf sc ac united city real athletic athletico atletico rovers wanderers "
    "albion county hotspur inter sporting olympique dynamo club"
)
SPORT_CONTEXT = _words(
    "game games match matches season league cup derby playoffs playoff final finals score "
    "won win lose lost beat stadium goal goals team club fixture kickoff kick-off "
    "football soccer basketball baseball hockey rugby cricket nba nfl nhl mlb afl nrl "
    "premier bundesliga serie liga"
)
SPORT_EMOJI = "\u26bd\U0001f3c0\U0001f3c8\U0001f3c9\u26be\U0001f3d2\U0001f3cf\U0001f3d0"
# The sport named before "team", "fan": "basketball fan" is a taste, not a team.
SPORT_NAMES = _words(
    "football soccer basketball baseball hockey rugby cricket tennis golf f1 formula_1 "
    "volleyball handball netball"
)
# What is surely not a team after "I support": causes, people in general, ideas.
NOT_TEAMS = _words(
    "the idea the cause you it this that them him her everyone everybody people myself "
    "family my our your a an both equality freedom change"
)

# Food and drink words that tell "X is my favourite" is a favourite food or drink.
FOODS = _words(
    "pizza pasta sushi ramen curry tacos taco burger burgers noodles dumplings rice "
    "jollof wings steak chicken soup salad sandwich pie cake chocolate cheese bread "
    "pancakes waffles lasagna lasagne paella risotto kebab falafel hummus biryani pho "
    "bibimbap kimchi tapas dim_sum fries chips ice_cream gelato donuts doughnuts cookies "
    "varenyky pierogi borscht goulash schnitzel stew dal tagine couscous empanadas "
    "tamales burritos nachos"
)
DRINKS = _words(
    "tea coffee beer wine whisky whiskey gin rum vodka lemonade juice cider espresso "
    "latte cappuccino matcha chai smoothie milkshake cocktail sake soju mate"
)

# Everyday family words: said without "my" ("the wife", "our son") or in slang ("hubby").
FAMILY_SLANG = {
    "hubby": "husband",
    "hubs": "husband",
    "missus": "wife",
    "missis": "wife",
    "wifey": "wife",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "mom": "mom",
    "mum": "mum",
}
# Relatives that "the" may stand for "my" before: "the wife's a nurse", "the kids are 4
# and 6". Not "the boss" or "the friend": those are often someone else's.
THE_FAMILY = _words("wife husband hubby missus wifey kids kiddos twins")
# "our girl Hinewai", "my little boy": the child words of everyday speech.
CHILD_WORDS = {"girl": "daughter", "boy": "son", "little girl": "daughter", "little boy": "son"}

# Answers that refuse or deflect a bot's question: never a name or a place.
NOT_ANSWERS = _words(
    "no nope nah why what who where how idk dunno secret private guess nothing nobody "
    "none pass skip later anonymous anon unknown ask whatever hmm um uh lol haha ok okay "
    "sure yes yeah yep thanks thank hi hello hey wait sorry maybe nowhere somewhere "
    "everywhere here there home"
)
# Where people head every day: "heading to bed tonight" is no trip.
NOT_PLACES = _words(
    "work bed gym school office home store shop shops beach park town city church class "
    "uni college doctor doctors dentist hospital airport station bank mall market party "
    "pub bar lunch dinner breakfast practice training sleep court lab library toilet "
    "bathroom kitchen grandma's mom's mum's dad's there here it"
)
# Emoji of a sport: the team a "fan" follows plays it.
EMOJI_SPORT = {
    "\u26bd": "football",
    "\U0001f3c0": "basketball",
    "\U0001f3c8": "football",
    "\U0001f3c9": "rugby",
    "\u26be": "baseball",
    "\U0001f3d2": "hockey",
    "\U0001f3cf": "cricket",
}
