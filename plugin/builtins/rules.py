"""Rule-based extraction of personal facts from one chat message (English).

Why rules: they run in microseconds on every message, need no model, never invent a value
that was not said, and give each fact a stable ``slot`` so a later correction ("I moved to
Lisbon") supersedes the old fact. A model-based extractor can add recall on top.

Pipeline: normalise -> sentences -> drop questions and hypotheticals -> strip greetings and
"actually," -> split into clauses -> resolve "He/She/It" to the last pet or relative ->
drop negated, reported and modal clauses -> run every rule on the clause -> if nothing
matched, try the generic "My <thing> is <value>." rule. Every value is cut at the first
clause boundary (", so ...", " and I ...", ", in the north of ...") and stripped of articles.

Precision matters more than recall: a wrong fact in a slot silently replaces a right one.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sleepmem.engine.facts import Fact
from sleepmem.plugin.builtins.phrasing import build_fact
from sleepmem.plugin.hookspecs import hookimpl
from sleepmem.plugin.types import ExtractContext

log = logging.getLogger(__name__)

NAME = "rules"
MAX_MESSAGE_CHARS = 20_000  # longer messages are cut: nobody states facts in a novel
MAX_SENTENCE_CHARS = 1_000  # a "sentence" longer than this is code, a log or a paste
MAX_SENTENCES = 200
MAX_FACTS = 40
HISTORY_TURNS = 3  # prior user turns scanned for a pronoun's antecedent

I_ = re.I

# --------------------------------------------------------------------------------------
# lexicon: word lists that tell a job from a mood, a pet from a person, an instrument from
# a sport. Kept as data so they can grow without touching the rules.
# --------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(w.replace("_", " ") for w in text.split())


ARTICLES = _words("a an the")
DETERMINERS = _words("a an the my our some this that these those his her their its your one")

FAMILY: dict[str, str] = {
    # surface word -> canonical key (used in slots so "mum" and "mother" collide)
    **dict.fromkeys(["mother", "mom", "mum", "mommy", "mummy", "mama", "ma"], "mother"),
    **dict.fromkeys(["father", "dad", "daddy", "papa", "pa"], "father"),
    **{w: w for w in _words("sister brother wife husband partner son daughter aunt uncle")},
    **{w: w for w in _words("cousin niece nephew twin sibling boss roommate colleague")},
    **{w: w for w in _words("girlfriend boyfriend friend neighbour grandson granddaughter")},
    "neighbor": "neighbour",
    "flatmate": "roommate",
    "housemate": "roommate",
    "coworker": "colleague",
    "co-worker": "colleague",
    **dict.fromkeys(["fiance", "fiancé", "fiancee", "fiancée"], "fiance"),
    **dict.fromkeys(["grandmother", "grandma", "granny", "nana", "gran"], "grandmother"),
    **dict.fromkeys(["grandfather", "grandpa", "granddad", "grandad"], "grandfather"),
    **{w: w for w in _words("stepmother stepfather stepson stepdaughter stepsister stepbrother")},
    "child": "child",
    "kid": "child",
    "baby": "baby",
    "spouse": "spouse",
    "best friend": "best friend",
    "parents": "parents",
    "kids": "children",
    "children": "children",
    "grandparents": "grandparents",
    "twins": "twins",
}
PLURAL_FAMILY = _words("parents kids children grandparents twins")
FAMILY_ADJ = _words("little younger older big baby twin elder eldest oldest youngest half")
FEMALE = _words(
    "mother mom mum mommy mummy mama ma sister wife daughter aunt niece girlfriend "
    "grandmother grandma granny nana gran stepmother stepdaughter stepsister fiancee fiancée "
    "granddaughter"
)
MALE = _words(
    "father dad daddy papa pa brother husband son uncle nephew boyfriend grandfather grandpa "
    "granddad grandad stepfather stepson stepbrother fiance fiancé grandson"
)

ANIMALS: dict[str, str] = {
    # surface word -> species used in slots
    **{
        w: w
        for w in _words(
            "dog cat parrot bird budgie canary cockatiel parakeet cockatoo macaw hamster "
            "rabbit fish turtle tortoise snake lizard gecko iguana horse ferret chinchilla "
            "gerbil mouse rat hedgehog pig goat chicken duck axolotl tarantula frog"
        )
    },
    "puppy": "dog",
    "pup": "dog",
    "kitten": "cat",
    "kitty": "cat",
    "bunny": "rabbit",
    "goldfish": "fish",
    "budgerigar": "budgie",
    "pony": "horse",
    "hen": "chicken",
    "guinea pig": "guinea pig",
    "bearded dragon": "bearded dragon",
}
BIRDS = _words("parrot budgie budgerigar canary cockatiel parakeet cockatoo macaw")
DOG_BREEDS = _words(
    "beagle labrador lab poodle terrier husky corgi dachshund bulldog retriever spaniel "
    "collie shepherd pug chihuahua boxer rottweiler dalmatian greyhound whippet schnauzer "
    "doberman pomeranian maltese shih_tzu yorkie mastiff sheepdog pointer setter samoyed "
    "akita malamute labradoodle cockapoo goldendoodle mutt weimaraner vizsla basenji "
    "newfoundland bernese saluki shiba_inu great_dane golden_retriever border_collie "
    "german_shepherd jack_russell cocker_spaniel french_bulldog"
)
CAT_BREEDS = _words(
    "siamese persian bengal ragdoll sphynx tabby maine_coon british_shorthair abyssinian "
    "burmese birman savannah"
)

INSTRUMENTS = _words(
    "piano keyboard keyboards guitar bass violin viola cello double_bass harp flute clarinet "
    "oboe bassoon saxophone sax trumpet trombone tuba horn french_horn drums drum percussion "
    "ukulele banjo mandolin accordion harmonica organ recorder xylophone marimba synthesizer "
    "synth bagpipes sitar tabla didgeridoo lute harpsichord kalimba piccolo cornet euphonium "
    "timpani oud balalaika erhu koto shamisen fiddle electric_guitar bass_guitar "
    "acoustic_guitar cajon bongos"
)
PLAYERS: dict[str, str] = {
    "violinist": "violin",
    "pianist": "piano",
    "cellist": "cello",
    "guitarist": "guitar",
    "bassist": "bass",
    "drummer": "drums",
    "flautist": "flute",
    "flutist": "flute",
    "trumpeter": "trumpet",
    "trombonist": "trombone",
    "saxophonist": "saxophone",
    "harpist": "harp",
    "organist": "organ",
    "clarinetist": "clarinet",
    "clarinettist": "clarinet",
    "violist": "viola",
    "percussionist": "percussion",
    "accordionist": "accordion",
    "oboist": "oboe",
    "bassoonist": "bassoon",
    "fiddler": "fiddle",
    "banjoist": "banjo",
}
SPORTS = _words(
    "football soccer tennis table_tennis ping_pong ping-pong basketball volleyball baseball "
    "cricket rugby golf hockey ice_hockey field_hockey badminton squash handball chess poker "
    "bridge padel pickleball softball lacrosse water_polo darts snooker pool billiards "
    "bowling frisbee ultimate netball curling polo video_games board_games cards "
    "beach_volleyball american_football futsal go"
)

LANGUAGES = _words(
    "English Swedish Finnish Norwegian Danish Icelandic German Dutch French Spanish "
    "Portuguese Italian Catalan Basque Galician Romanian Greek Polish Czech Slovak Hungarian "
    "Russian Ukrainian Belarusian Bulgarian Serbian Croatian Bosnian Slovenian Albanian "
    "Macedonian Lithuanian Latvian Estonian Turkish Arabic Hebrew Persian Farsi Kurdish Urdu "
    "Hindi Bengali Punjabi Gujarati Marathi Tamil Telugu Kannada Malayalam Nepali Sinhala "
    "Chinese Mandarin Cantonese Japanese Korean Vietnamese Thai Lao Khmer Burmese Malay "
    "Indonesian Tagalog Filipino Swahili Amharic Somali Yoruba Igbo Hausa Zulu Xhosa "
    "Afrikaans Welsh Irish Gaelic Scottish_Gaelic Latin Esperanto Sign_Language ASL BSL "
    "Berber Pashto Dari Georgian Armenian Azerbaijani Kazakh Uzbek Mongolian Tibetan Maori "
    "Hawaiian Samoan Luxembourgish Maltese Frisian Sami Quechua Guarani Wolof Twi Lingala "
    "Kinyarwanda Shona Tigrinya Oromo"
)
LANGUAGES_LOWER = frozenset(w.lower() for w in LANGUAGES)
PROGRAMMING_LANGUAGES = _words(
    "Rust Python Java JavaScript TypeScript C C++ C# Go Golang Ruby PHP Kotlin Swift Scala "
    "Haskell Elixir Erlang Clojure Lua Perl R Julia MATLAB Fortran COBOL Dart Zig Nim OCaml "
    "F# SQL Assembly Lisp Scheme Prolog Bash Shell Solidity Objective-C Groovy VB.NET "
    "Visual_Basic Pascal Delphi Ada Crystal Elm Racket Verilog VHDL PowerShell Smalltalk "
    "Mojo Gleam"
)
PROGRAMMING_LOWER = frozenset(w.lower() for w in PROGRAMMING_LANGUAGES)

DEMONYMS = _words(
    "Swedish Finnish Norwegian Danish Icelandic German Dutch French Spanish Portuguese "
    "Italian Greek Polish Czech Slovak Hungarian Russian Ukrainian Romanian Bulgarian "
    "Serbian Croatian Irish Scottish Welsh English British American Canadian Mexican "
    "Brazilian Argentinian Argentine Chilean Colombian Peruvian Venezuelan Cuban Jamaican "
    "Nigerian Ghanaian Kenyan Ethiopian Egyptian Moroccan Algerian Tunisian South_African "
    "Turkish Israeli Iranian Iraqi Syrian Lebanese Saudi Emirati Pakistani Indian "
    "Bangladeshi Sri_Lankan Nepali Chinese Japanese Korean Vietnamese Thai Filipino "
    "Indonesian Malaysian Singaporean Australian Kiwi Austrian Swiss Belgian Luxembourgish "
    "Estonian Latvian Lithuanian Belarusian Georgian Armenian Kazakh Uzbek Afghan Somali "
    "Ugandan Tanzanian Rwandan Senegalese Cameroonian Ivorian Zimbabwean Zambian Angolan "
    "Mozambican Ecuadorian Bolivian Uruguayan Paraguayan Dominican Haitian Puerto_Rican "
    "Taiwanese Mongolian Maltese Cypriot Slovenian Albanian Bosnian Macedonian Montenegrin "
    "Scandinavian European African Asian Latino Latina Hispanic"
)

DIETS = _words(
    "vegetarian vegan pescatarian pescetarian flexitarian carnivore keto kosher halal "
    "gluten-free lactose-intolerant lactose_intolerant celiac coeliac teetotal teetotaler"
)

JOBS = _words(
    "nurse doctor dentist lawyer attorney judge pilot teacher professor lecturer tutor "
    "engineer developer programmer coder designer architect scientist researcher analyst "
    "accountant banker consultant manager director ceo cto cfo founder entrepreneur "
    "freelancer contractor baker butcher chef cook barista bartender waiter waitress "
    "server cashier clerk receptionist secretary assistant librarian journalist reporter "
    "writer author editor translator interpreter photographer videographer filmmaker "
    "musician singer dancer actor actress director producer artist painter sculptor "
    "illustrator animator composer conductor violinist pianist cellist guitarist drummer "
    "carpenter plumber electrician mechanic welder mason roofer builder gardener farmer "
    "fisherman tailor hairdresser barber stylist beautician optician pharmacist "
    "physiotherapist therapist psychologist psychiatrist counselor counsellor surgeon "
    "paramedic midwife veterinarian vet caregiver carer nanny babysitter cleaner janitor "
    "driver courier postman mailman firefighter police_officer policeman policewoman "
    "detective soldier officer sailor captain marine student intern apprentice trainee "
    "biologist chemist physicist mathematician economist historian archaeologist "
    "geologist astronomer technician salesman saleswoman salesperson realtor "
    "estate_agent broker trader investor recruiter programmer data_scientist "
    "social_worker nutritionist dietitian zookeeper lifeguard coach trainer instructor "
    "priest pastor rabbi imam monk nun minister diplomat politician mayor senator "
    "civil_servant principal headteacher housekeeper maid model influencer streamer "
    "youtuber blogger podcaster poet novelist comedian magician florist jeweler jeweller "
    "potter blacksmith locksmith surveyor pharmacologist radiologist anesthesiologist "
    "pediatrician paediatrician cardiologist dermatologist neurologist optometrist "
    "administrator officer executive supervisor foreman labourer laborer miner "
    "shopkeeper storekeeper grocer translator copywriter marketer strategist planner "
    "scrum_master tester sysadmin devops webmaster game_designer"
)
JOB_SUFFIXES = (
    "ist", "eer", "ician", "ographer", "ologist", "ant", "man", "woman", "smith", "wright",
    "er", "or", "ian",
)  # fmt: skip
NOT_JOBS = _words(
    "fan lover person people member beginner mother father brother sister daughter son "
    "grandmother grandfather parent mum mom dad wife husband twin smoker nonsmoker "
    "believer dreamer fighter survivor optimist pessimist perfectionist realist idealist "
    "introvert extrovert ambivert vegetarian vegan pescatarian christian foreigner newcomer "
    "supporter follower winner loser sinner learner speaker user owner customer subscriber "
    "reader viewer listener resident patient citizen native local immigrant expat tourist "
    "visitor guest neighbor neighbour friend partner lover hater gamer geek nerd fanatic "
    "enthusiast addict junkie fool idiot genius liar worrier overthinker procrastinator "
    "sleeper eater drinker bit lot kind sort type fan_of morning_person night_owl "
    "leo virgo libra scorpio aries taurus gemini cancer sagittarius capricorn aquarius pisces "
    "rider runner walker swimmer hiker climber traveler traveller player collector "
    "volunteer human woman man girl boy guy lady gentleman adult teenager kid child "
    "catholic muslim jew jewish hindu buddhist atheist agnostic protestant republican "
    "democrat liberal conservative socialist feminist"
)

BUSINESSES = _words(
    "bakery shop store restaurant cafe café coffee_shop bar pub company business firm "
    "agency studio salon farm hotel hostel clinic startup start-up boutique gallery "
    "bookshop bookstore brewery winery distillery factory garage workshop practice "
    "consultancy franchise kiosk stall food_truck bistro pizzeria deli grocery pharmacy "
    "gym daycare nursery bed_and_breakfast b&b inn vineyard ranch dairy butchery "
    "patisserie bakeshop florist laundromat barbershop tattoo_parlor tattoo_parlour "
    "dental_practice law_firm print_shop bike_shop flower_shop tea_shop ice_cream_shop "
    "food_stall market_stall online_shop online_store ecommerce_store"
)
VEHICLE_TYPES = _words(
    "car truck van motorbike motorcycle scooter moped bike bicycle e-bike ebike lorry bus "
    "taxi tractor jeep suv pickup minivan convertible camper campervan tram boat"
)
FILLER_ADJ = _words(
    "small little big large tiny huge old new nice lovely cute beautiful great good local "
    "cozy cosy amazing wonderful sweet adorable trusty beloved fancy brand-new brand_new "
    "really very quite pretty super"
)
NOT_NAMES = _words(
    "not a an the just also very so really here back sorry fine good ok okay tired happy "
    "sure ready done glad sad hungry thirsty new from in at on going trying looking "
    "interested currently still originally allergic learning reading working married "
    "single retired busy bored excited afraid scared confused lost home alone late early "
    "well sick ill better worse fond aware able unable always never only now actually "
    "vegan vegetarian christian muslim jewish catholic buddhist hindu atheist gay straight "
    "bi trans pregnant engaged divorced widowed unemployed employed self-employed "
    "freelance what who where when why how that this it there thinking wondering "
    "planning moving living staying based born into about over under with without "
    "curious hoping feeling doing getting having making taking coming leaving yes no "
    "hi hello hey thanks thank you me myself nobody somebody someone everyone i"
)
NAME_PARTICLES = _words(
    "de da do dos das del della di du van von der den la le bin binti al el ibn ten ter af zu y"
)
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_TENS = "thirty forty fifty sixty seventy eighty ninety"
NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_ONES.split(" "))}
NUMBER_WORDS.update({w: 10 * (i + 3) for i, w in enumerate(_TENS.split(" "))})
NUMBER_WORDS["a hundred"] = 100
MONTHS = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)

# --------------------------------------------------------------------------------------
# text preparation
# --------------------------------------------------------------------------------------

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


def _normalise(text: str) -> str:
    """NFKC, straight quotes, single spaces: the rules are written against this form."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _ZERO_WIDTH.sub("", text)
    return _SPACES.sub(" ", text).strip()


_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_ABBREV_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Mt|Jr|Sr|Prof|vs|etc|e\.g|i\.e)\.$", I_)


def _sentences(text: str) -> list[str]:
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
    r"quick\s+(?:update|correction|note)|small\s+correction|new\s+info)"
    r"(?:\s*[,!.:;-]+\s*|\s+(?=\S)|$)",
    I_,
)
_HYPO_START = re.compile(
    r"^(?:if|imagine|suppose|supposing|pretend|hypothetically|what\s+if|let's\s+say|"
    r"let\s+us\s+say|in\s+(?:a|my|this)\s+(?:story|dream|game|novel)|once\s+upon)\b",
    I_,
)
_DISLIKE_NORMAL = [
    (re.compile(r"\b(?:do\s*n[o']?t|do\s+not)\s+(?:really\s+)?(?:like|enjoy|care\s+for)\b", I_),
     "dislike"),
    (re.compile(r"\bcan(?:'t|not|\s+not)\s+stand\b", I_), "dislike"),
    (re.compile(r"\bI(?:'m|\s+am)\s+not\s+(?:really\s+)?(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of\b",
                I_), "I dislike"),
]  # fmt: skip
_CONTRACTIONS = [
    (re.compile(r"\bI'm\b", I_), "I am"),
    (re.compile(r"\b[Ii]m\b(?=\s)"), "I am"),
    (re.compile(r"\bI've\b", I_), "I have"),
    (re.compile(r"\b(we|they|you)'re\b", I_), r"\1 are"),
    (re.compile(r"\b(we|they|you)'ve\b", I_), r"\1 have"),
]
_CORRECTION = re.compile(
    r"^(?P<subj>my\s[^,;]{1,60}?)\s+(?:is|'s)\s*(?:not|n't)\s+(?P<old>[^,;]+?)"
    r"(?:\s+(?:anymore|any\s+more))?(?:\s*[,;]\s*|\s+-\s+|\s+)"
    r"(?:(?:but|rather|it's|it\s+is|actually|instead|now)\s*,?\s*)+(?P<new>\S.*)$",
    I_,
)
_NEGATED_TAIL = re.compile(
    r"(?:,\s*|\s+(?:and|but)\s+)not\s+[^,;]*$|\s+(?:instead\s+of|rather\s+than)\s+[^,;]*",
    I_,
)

_PRON = (
    r"(?:I|I'm|I've|I'd|I'll|Im|my|we|we're|we've|our|he|he's|she|she's|they|they're|"
    r"it|it's|his|her|their)"
)
_CLAUSE_SPLIT = re.compile(
    rf"\s*;\s*|\s+-\s+(?={_PRON}\b)"
    rf"|,\s*(?:(?:and|but|so|because|since|as|although|though|while|whereas|plus|also|"
    rf"then|yet)\s+)?(?={_PRON}\b)"
    rf"|\s+(?:and|but|so|because|while|whereas|although|though|yet)\s+(?=(?:also\s+)?{_PRON}\b)",
    I_,
)

_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|where|where's|who|who's|whom|whose|when|why|how|how's|which|"
    r"do|does|did|can|could|would|will|shall|should|is|are|am|was|were|have|has|had|may|"
    r"might|must|tell\s+me|remind\s+me|guess|say|repeat|list|show|give\s+me|describe|"
    r"explain|write|translate|summari[sz]e|forget|delete|ignore)\b",
    I_,
)
_HYPO = re.compile(
    r"\b(?:if|unless|suppose|supposing|imagine|imagining|pretend|pretending|hypothetically|"
    r"wish|wished|maybe|perhaps|someday|one\s+day|dream(?:ing)?\s+(?:of|about)|"
    r"hop(?:e|es|ing)\s+to|want(?:s|ed)?\s+to|wanna|plan(?:s|ning)?\s+to|going\s+to|gonna|"
    r"would|wouldn't|could|couldn't|might|should|shall|used\s+to|let's\s+say|role-?play|"
    r"fictional|in\s+(?:a|the|this)\s+(?:story|game|novel|dream)|"
    r"(?:I|we|you|he|she|they)'(?:d|ll))\b",
    I_,
)
_WILL = re.compile(r"\b(?:will|won't)\b|\bWill\s+(?:I|you|we)\b")  # "My name is Will" is fine
_NEGATION = re.compile(
    r"n't\b|\b(?:not|never|no|nobody|nothing|neither|nor|none|no\s+longer)\b", I_
)
_REPORTED = re.compile(
    r"\b(?P<who>[\w']+)\s+(?:says?|said|thinks?|thought|claims?|claimed|believes?|believed|"
    r"told\s+(?:me|him|her|them|everyone|us))\s+(?:that\s+)?(?:I|my|we)\b",
    I_,
)


def _strip_prefix(text: str) -> str:
    for _ in range(6):
        new = _PREFIX.sub("", text, count=1).strip()
        if new == text:
            break
        text = new
    return text


def _gated(clause: str) -> bool:
    """True when a clause must not yield facts: a question, a wish, a negation, hearsay."""
    if not clause or _QUESTION_START.match(clause):
        return True
    if _HYPO.search(clause) or _WILL.search(clause) or _NEGATION.search(clause):
        return True
    m = _REPORTED.search(clause)
    return bool(m and m["who"].lower() not in ("i", "we"))


def _is_loose(clause: str) -> bool:
    """All lower case (typed casually): names and places cannot be told by capitals."""
    body = re.sub(r"\bI(?:'m|'ve|'d|'ll)?\b", "", clause)
    return not any(ch.isupper() for ch in body[1:])


# --------------------------------------------------------------------------------------
# value parsing
# --------------------------------------------------------------------------------------

_PUNCT = (
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
    r"under|over|around|after|before|and|or|who|that)\b"
)
_CUT_VALUE = re.compile(f"{_PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}", I_)
_CUT_NP = re.compile(f"{_PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}|{_PREPS}", I_)
_CUT_NAME = re.compile(
    rf"{_PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}|\s(?:from|here|by|and|or|with|at|in|but|though|"
    r"btw|nice|pleased|originally)\b",
    I_,
)
_CUT_PLACE = re.compile(
    rf"{_PUNCT}|{_CLAUSE_WORDS}|{_TIME_WORDS}|\s(?:with|near|for|since|because|to|where|"
    r"which|as|but|from|at)\b",
    I_,
)
_WORD = re.compile(r"[^\W\d_][\w'.&-]*")
_PLACE_CONNECT = {"de", "da", "do", "del", "la", "le", "upon", "on", "am", "im", "an", "der",
                  "sur", "en", "y", "of", "the", "di", "al", "el"}  # fmt: skip
_LOOSE_STOP = {"in", "on", "at", "with", "near", "for", "since", "and", "but", "now", "the",
               "a", "an", "to", "from", "by", "is", "was", "i", "my", "we", "so", "because",
               "which", "where", "who", "it", "it's", "too", "as", "lol", "haha"}  # fmt: skip


def _cut(text: str, pattern: re.Pattern[str]) -> str:
    m = pattern.search(text)
    return (text[: m.start()] if m else text).strip()


def _strip_det(text: str) -> tuple[str, str]:
    """Drop leading determiners; returns (the article that was said, the rest)."""
    art = ""
    words = text.split()
    while words and words[0].lower() in DETERMINERS:
        w = words.pop(0).lower()
        if not art and w in ARTICLES:
            art = w
    return art, " ".join(words)


def _clean(text: str) -> str:
    return text.strip(" '\"*_.,;:!?-")


def _value(tail: str, cut: re.Pattern[str] = _CUT_VALUE, max_words: int = 6) -> tuple[str, str]:
    """Cut a free value at its clause boundary; ("", "") when nothing sensible is left."""
    v = _clean(_cut(tail, cut))
    art, v = _strip_det(v)
    v = _clean(v)
    words = v.split()
    if not words or len(words) > max_words or not any(ch.isalnum() for ch in v):
        return "", ""
    return art, v


def _drop_fillers(phrase: str) -> str:
    """ "small bakery" -> "bakery": size and praise words are noise in a short answer."""
    words = phrase.split()
    while len(words) > 1 and words[0].lower() in FILLER_ADJ:
        words.pop(0)
    return " ".join(words)


def _head(phrase: str) -> str:
    words = phrase.lower().split()
    return re.sub(r"'s$", "", words[-1]) if words else ""


def _smart_title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _capital_span(text: str) -> str:
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


def _parse_name(tail: str, loose: bool) -> tuple[str, str]:
    """A person's (or pet's) name at the start of ``tail``: ("Ana Ribeiro", rest)."""
    toks = [t.strip("'\"") for t in _cut(tail, _CUT_NAME).split()]
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


_PLACE_IN = re.compile(
    r"\b(?:in|near|outside|of|on)\s+(?P<p>(?-i:[A-Z\u00C0-\u00DE][\w'.-]*)"
    r"(?:\s+(?:(?:de|da|do|del|la|le|upon|on|am|der|sur|of)\s+)?(?-i:[A-Z\u00C0-\u00DE][\w'.-]*))*)",
    I_,
)


def _parse_place(tail: str, loose: bool) -> str:
    """A place name at the start of ``tail``; "" when it is "a small flat" or similar."""
    text = _clean(_cut(tail, _CUT_PLACE))
    toks = text.split()
    if not toks:
        return ""
    if toks[0].lower() in DETERMINERS:
        m = _PLACE_IN.search(text)
        return m["p"].rstrip(".") if m else ""
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


_NUM = (
    r"(?:\d{1,3}(?:\.\d)?|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?|a\s+hundred|zero|one|two|"
    r"three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen)"
)
_YEAR = r"(?:1[89]\d{2}|20\d{2})"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_AGE_END = r"(?=\s*$|\s*[,.!;]|\s+(?:and|but|now|today|this|next|last|so|already|btw)\b)"
_DATES = [
    re.compile(rf"^(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>{_MONTH})"
               rf"(?:,?\s+(?P<y>{_YEAR}))?\b", I_),
    re.compile(rf"^(?P<m>{_MONTH})\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
               rf"(?:,?\s+(?P<y>{_YEAR}))?\b", I_),
    re.compile(rf"^(?P<all>\d{{1,2}}[/.-]\d{{1,2}}[/.-](?P<y>{_YEAR}|\d{{2}}))\b", I_),
    re.compile(rf"^(?P<all>(?P<y>{_YEAR})-\d{{2}}-\d{{2}})\b", I_),
    re.compile(rf"^(?P<m>{_MONTH})(?:\s+(?P<y>{_YEAR}))?\b", I_),
]  # fmt: skip


def _parse_date(tail: str) -> tuple[str, str]:
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


def _gerund(verb: str) -> str:
    """ "swim" -> "swimming", "dance" -> "dancing"; for "I like to swim" style values."""
    v = verb.lower()
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        return v[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", v) and len(v) <= 4:
        return v + v[-1] + "ing"
    return v + "ing"


def looks_like_job(phrase: str) -> bool:
    """Whether a noun phrase after "I am a" names an occupation ("nurse", not "big fan")."""
    low = phrase.lower()
    head = _head(phrase)
    if not head or head in NOT_JOBS or low in NOT_JOBS:
        return False
    if head in JOBS or low in JOBS or head in PLAYERS:
        return True
    return len(head) > 4 and head.endswith(JOB_SUFFIXES) and head.isalpha()


# --------------------------------------------------------------------------------------
# clause state
# --------------------------------------------------------------------------------------


@dataclass
class _Entity:
    """The pet or relative a following "He/She/It" refers to."""

    kind: str  # "family" | "pet"
    ref: str  # "sister", "dog"
    name: str = ""
    plural: bool = False
    gender: str = ""  # "f" | "m" | ""


@dataclass
class _Clause:
    text: str
    source: str
    loose: bool
    facts: list[Fact] = field(default_factory=list)
    entity: _Entity | None = None
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


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, I_)


_I = r"\b(?:I|we)"
_ADV = (
    r"(?:\s+(?:also|still|now|currently|actually|really|just|usually|mostly|mainly|primarily|"
    r"often|always|sometimes|normally|generally|recently|finally|already|even|both|all|too|"
    r"happily|proudly|technically|officially|basically|definitely|absolutely|totally))*"
)
_IAM = rf"\b(?:I(?:'m|\s+am|m)|we(?:'re|\s+are))\b{_ADV}"
_CAP_NAME = r"(?-i:[A-Z\u00C0-\u00DE][\w'-]*)"
_LOOSE_NAME = (
    r"(?!(?:is|was|are|works|worked|lives|lived|plays|played|has|had|loves|likes|and|who|"
    r"called|named|just|also|recently|now|still|always|never|really|the|a|an)\b)"
    r"[^\W\d_][\w'-]*"
)


def _pair(template: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Compile ``template`` twice: names must be capitalised, or (typed in lower case) not."""
    cased = template.replace("{NAME}", rf"{_CAP_NAME}(?:\s+{_CAP_NAME})?")
    loose = template.replace("{NAME}", _LOOSE_NAME)
    return _rx(cased), _rx(loose)


def _pick(pair: tuple[re.Pattern[str], re.Pattern[str]], c: _Clause) -> re.Pattern[str]:
    return pair[1] if c.loose else pair[0]


def _alt(words: Iterable[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)  # longest first: "guinea pig" before "pig"
    return "|".join(re.escape(w).replace(r"\ ", r"[\s-]") for w in ordered)


_REL = rf"(?P<rel>(?:(?:{_alt(FAMILY_ADJ)})[\s-]?)?(?:{_alt(FAMILY)}))\b"
_ANIMAL = rf"(?P<animal>{_alt([*ANIMALS, *DOG_BREEDS, *CAT_BREEDS, 'pet'])})"
_REL_NAME_OPT = r"(?:,?\s+(?P<name>{NAME}),?)?"


# --------------------------------------------------------------------------------------
# rules: each takes a clause and adds facts to it
# --------------------------------------------------------------------------------------

_NAME_IS = [
    _rx(r"\bmy\s+(?:full\s+|first\s+|real\s+|given\s+)?name\s+is\s+(?P<tail>.+)"),
    _rx(r"\bmy\s+name's\s+(?P<tail>.+)"),
    _rx(r"^name's\s+(?P<tail>.+)"),
    _rx(r"(?:^|\b(?:you\s+can|just|everyone|people|they|friends|my\s+friends)\s+)"
        r"call(?:s)?\s+me\s+(?P<tail>.+)"),
    _rx(r"\bI\s+go\s+by\s+(?P<tail>.+)"),
]  # fmt: skip
_I_AM_NAME = _rx(r"^I(?:'m|\s+am|m)\s+(?P<tail>.+)$")


def _r_name(c: _Clause) -> None:
    for pat in _NAME_IS:
        m = pat.search(c.text)
        if m:
            name, _ = _parse_name(m["tail"], c.loose)
            if name:
                c.add("name", name)
            return
    m = _I_AM_NAME.match(c.text)
    if m and not c.loose:
        name, rest = _parse_name(m["tail"], loose=False)
        if not name or _clean(rest) or name in DEMONYMS or name in LANGUAGES:
            return
        if name.lower().split()[0] in FAMILY or name.lower() in NOT_NAMES:
            return
        c.add("name", name)


_HOME = [
    _rx(rf"{_I}{_ADV}\s+(?:live|am\s+living|'m\s+living|are\s+living|'re\s+living|"
        r"have\s+(?:been\s+)?(?:living|lived)|'ve\s+(?:been\s+)?(?:living|lived)|reside|"
        r"am\s+based|'m\s+based|are\s+based|'re\s+based|am\s+settled|'m\s+settled)"
        rf"{_ADV}\s+(?:in|out\s+of)\s+(?P<tail>.+)"),
    _rx(rf"{_I}{_ADV}\s+(?:have\s+|'ve\s+|had\s+)?(?:just\s+|recently\s+|finally\s+)?"
        r"(?:moved|relocated)\s+(?:back\s+)?(?:to|into)\s+(?P<tail>.+)"),
    _rx(r"\bmy\s+(?:home\s+city|current\s+city|city|home)\s+(?:is|'s)\s+(?:now\s+)?"
        r"(?:in\s+)?(?P<tail>.+)"),
]  # fmt: skip


def _r_home(c: _Clause) -> None:
    for pat in _HOME:
        m = pat.search(c.text)
        if m:
            place = _parse_place(m["tail"], c.loose)
            if place:
                c.add("home", place)
            return


_HOMETOWN = [
    (_rx(rf"{_I}{_ADV}\s+(?:grew\s+up|was\s+raised|were\s+raised|was\s+brought\s+up|"
         r"spent\s+my\s+childhood|was\s+born\s+and\s+(?:raised|bred))\s+in\s+(?P<tail>.+)"),
     "hometown"),
    (_rx(r"\b(?:and|but)\s+grew\s+up\s+in\s+(?P<tail>.+)"), "hometown"),
    (_rx(r"\bmy\s+home\s*town\s+(?:is|was)\s+(?P<tail>.+)"), "hometown"),
    (_rx(rf"{_IAM}\s+(?:originally\s+)?from\s+(?P<tail>.+)"), "origin"),
    (_rx(rf"{_I}{_ADV}\s+(?:originally\s+)?come\s+from\s+(?P<tail>.+)"), "origin"),
]  # fmt: skip
_BORN = _rx(r"\bI\s+was\s+born\s+(?P<prep>in|on|at)\s+(?P<tail>.+)")
_YEAR_AT = re.compile(rf"^(?P<y>{_YEAR})\b")


def _r_places_of_origin(c: _Clause) -> None:
    for pat, kind in _HOMETOWN:
        m = pat.search(c.text)
        if m:
            place = _parse_place(m["tail"], c.loose)
            if place:
                c.add(kind, place)
            break
    m = _BORN.search(c.text)
    if not m:
        return
    tail = m["tail"]
    date, year = _parse_date(tail)
    if date and (date != year):
        c.add("birth_date", date)
    ym = _YEAR_AT.match(tail)
    if ym or year:
        c.add("birth_year", year or ym["y"])  # type: ignore[index]
        place = _PLACE_IN.search(tail)
        if place:
            c.add("birthplace", place["p"])
        return
    if not date:
        place = _parse_place(tail, c.loose)
        if place:
            c.add("birthplace", place)


_BIRTHDAY = _rx(r"\bmy\s+(?:birthday|bday|b-day)(?:\s+is|'s)\s+(?:on\s+|in\s+)?(?P<tail>.+)")
_DOB = _rx(r"\bmy\s+(?:date\s+of\s+birth|birth\s*date|DOB)\s+is\s+(?P<tail>.+)")
_AGE = [
    _rx(rf"{_IAM}\s+(?P<n>{_NUM})(?:\s*(?:years?|yrs?)(?:\s+old)?|\s*y/?o)?{_AGE_END}"),
    _rx(rf"\bI\s+(?:just\s+)?turned\s+(?P<n>{_NUM}){_AGE_END}"),
    _rx(rf"\bmy\s+age\s+is\s+(?P<n>{_NUM}){_AGE_END}"),
]


def _r_dates(c: _Clause) -> None:
    for pat, kind in ((_BIRTHDAY, "birthday"), (_DOB, "birth_date")):
        m = pat.search(c.text)
        if m:
            date, year = _parse_date(m["tail"])
            if date:
                c.add(kind, date)
                if year and kind == "birth_date":
                    c.add("birth_year", year)
    for pat in _AGE:
        m = pat.search(c.text)
        if m:
            c.add("age", m["n"].replace("  ", " "))
            return


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
_AT_PLACE = _rx(r"^\s*(?:at|for)\s+(?P<tail>.+)")
_AS_JOB = _rx(r"\bas\s+(?P<art>a|an)\s+(?P<tail>.+)")
_WORK_IN = _rx(rf"{_I}{_ADV}\s+work\s+in\s+(?P<tail>.+)")


def _job_np(tail: str) -> tuple[str, str]:
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


def _add_job(c: _Clause, job: str) -> None:
    """A job, plus the instrument a "cellist" plays (asked as "Which instrument do I play?")."""
    c.add("job", job)
    instrument = PLAYERS.get(_head(job))
    if instrument:
        c.add("instrument", instrument)


def _r_job(c: _Clause) -> None:
    m = _WORK_AS.search(c.text)
    if m:
        job, rest = _job_np(m["tail"])
        if job:
            _add_job(c, job)
            at = _AT_PLACE.match(rest)
            if at:
                _workplace(c, at["tail"])
        return
    m = _STATUS_JOB.search(c.text)
    if m:
        c.add("job", _strip_det(m["s"])[1])
        return
    m = _I_AM_A.search(c.text)
    if m:
        job, rest = _job_np(m["tail"])
        if job and _head(job) in DIETS:
            c.add("diet", job)
        elif job and looks_like_job(job):
            _add_job(c, job)
            at = _AT_PLACE.match(rest)
            if at:
                _workplace(c, at["tail"])
        return
    m = _MY_JOB.search(c.text)
    if m:
        job, _ = _job_np(m["tail"])
        if job and (m["art"] or looks_like_job(job)):
            _add_job(c, job)
        return
    m = _WORK_AT.search(c.text)
    if m:
        _workplace(c, m["tail"])
        as_job = _AS_JOB.search(m["tail"])
        if as_job:
            job, _ = _job_np(as_job["tail"])
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


def looks_like_business(np: str) -> bool:
    """Whether "I own a <np>" is a business ("small bakery") rather than a dog or a car."""
    low, head = np.lower(), _head(np)
    if head in ANIMALS or head in DOG_BREEDS or head in CAT_BREEDS or head in VEHICLE_TYPES:
        return False
    return (
        head in BUSINESSES
        or low in BUSINESSES
        or " ".join(low.split()[-2:]) in BUSINESSES
        or (head.endswith("ery") and len(head) > 5)
        or head.endswith(("shop", "store"))
    )


def _r_business(c: _Clause) -> None:
    m = _OWN.search(c.text)
    if not m:
        return
    _, np = _value(m["tail"], _CUT_NP, max_words=4)
    if np and looks_like_business(np):
        c.add("business", _drop_fillers(np), obj=np)


# --- family ----------------------------------------------------------------------------

_FAM_APPOS = _pair(
    rf"\bmy\s+{_REL}(?:,\s*|\s+)(?P<name>{{NAME}})"
    r"(?=\s*,|\s+(?:is|was|'s|works|worked|lives|lived|plays|has|had|loves|likes|just|"
    r"recently|also|and|who|turned|turns)\b)"
)
_FAM_APPOS_END = _rx(rf"\bmy\s+{_REL}(?:,\s*|\s+)(?P<name>{_CAP_NAME}(?:\s+{_CAP_NAME})?)\s*$")
_FAM_NAME = [
    _rx(rf"\bmy\s+{_REL}(?:'s|s')\s+name\s+is\s+(?P<tail>.+)"),
    _rx(rf"\bmy\s+{_REL}\s+is\s+(?:called|named)\s+(?P<tail>.+)"),
]
_FAM_HAVE = _rx(
    rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got|got)\s+(?:a|an|one)\s+{_REL}"
    r"(?:\s*,?\s+(?:named|called)\s+(?P<tail>.+))?"
)
_FAM_JOB = _pair(
    rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+(?P<verb>is|was|'s|are|works\s+as|work\s+as|"
    r"is\s+working\s+as|has\s+been|'s\s+been)\s+(?:(?:now|also|currently|still|actually)\s+)?"
    r"(?P<art>a\s+|an\s+)?(?P<tail>.+)"
)
_FAM_WORK_AT = _pair(rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+works?\s+(?:at|for)\s+(?P<tail>.+)")
_FAM_AGE = _pair(
    rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+(?:is|are|'s|just\s+turned|turned|turns)\s+"
    rf"(?P<n>{_NUM}(?:\s*(?:,|and|&)\s*{_NUM})*)"
    rf"(?P<unit>\s*(?:years?|yrs?|months?|weeks?)(?:\s+old)?)?{_AGE_END}"
)
_FAM_HOME = _pair(
    rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+(?:lives?|is\s+living|are\s+living|has\s+lived|"
    r"have\s+lived|(?:just\s+)?moved|is\s+based|are\s+based)\s+(?:in|to)\s+(?P<tail>.+)"
)
_FAM_PLAYS = _pair(rf"\bmy\s+{_REL}{_REL_NAME_OPT}\s+plays?\s+(?:the\s+)?(?P<tail>.+)")


def relative_fields(rel_said: str, name: str) -> dict[str, str]:
    """Template fields for a relative: surface word, canonical slot key, plural, name."""
    rel = " ".join(rel_said.lower().replace("-", " ").split())
    words = rel.split()
    adj = words[0] if len(words) > 1 and words[0] in FAMILY_ADJ else ""
    base = " ".join(words[1:]) if adj else rel
    key = FAMILY.get(base, base)
    return {
        "rel": rel,
        "rel_key": f"{adj} {key}".strip(),
        "name": name,
        "plural": "1" if base in PLURAL_FAMILY else "",
    }


def _subject(kind_word: str, name: str) -> str:
    return f"my {kind_word} {name}".strip()


def _valid_name(name: str | None, loose: bool) -> str:
    if not name:
        return ""
    name = _smart_title(name) if loose else name
    return "" if name.lower() in NOT_NAMES or name.lower() in FAMILY else name


def _family_entity(c: _Clause, rel: str, name: str) -> None:
    base = rel.lower().split()[-1]
    gender = "f" if base in FEMALE else "m" if base in MALE else ""
    c.entity = _Entity("family", rel.lower(), name, base in PLURAL_FAMILY, gender)


def _r_family(c: _Clause) -> None:
    found_name = ""
    rel = ""
    m = _pick(_FAM_APPOS, c).search(c.text) or _FAM_APPOS_END.search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        if name:
            rel, found_name = m["rel"], name
    for pat in _FAM_NAME:
        m = pat.search(c.text)
        if m:
            name, _ = _parse_name(m["tail"], c.loose)
            if name:
                rel, found_name = m["rel"], name
    m = _FAM_HAVE.search(c.text)
    if m:
        rel = m["rel"]
        if m["tail"]:
            found_name, _ = _parse_name(m["tail"], c.loose)
        _family_entity(c, rel, found_name)
    if rel and found_name:
        f = relative_fields(rel, found_name)
        if not f["plural"] and c.is_new_name(found_name):
            c.add("family_name", found_name, subject=f"my {f['rel']}", **f)
        _family_entity(c, rel, found_name)

    m = _pick(_FAM_JOB, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose) or (found_name if m["rel"] == rel else "")
        job, rest = _job_np(m["tail"])
        verb = m["verb"].lower()
        if job and ("work" in verb or (m["art"] and looks_like_job(job))):
            f = relative_fields(m["rel"], name)
            subj = _subject(f["rel"], name)
            c.add("family_job", job, subject=subj, **f)
            instrument = PLAYERS.get(_head(job))
            if instrument:
                c.add("family_instrument", instrument, subject=subj, **f)
            at = _AT_PLACE.match(rest)
            if at:
                _, place = _value(at["tail"], _CUT_NP, max_words=5)
                if place:
                    c.add("family_workplace", place, subject=subj, **f)
            _family_entity(c, m["rel"], name)
    m = _pick(_FAM_WORK_AT, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        art, place = _value(m["tail"], _CUT_NP, max_words=5)
        if place:
            f = relative_fields(m["rel"], name)
            c.add("family_workplace", place, subject=_subject(f["rel"], name), art=art, **f)
            _family_entity(c, m["rel"], name)
    m = _pick(_FAM_AGE, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        f = relative_fields(m["rel"], name)
        unit = (m["unit"] or "").strip().lower()
        if unit.startswith(("month", "week")):
            n = f"{m['n']} {unit.split()[0]}"
            c.add("family_age", n, subject=_subject(f["rel"], name),
                  text=f"My {f['rel']} is {n} old.", **f)  # fmt: skip
        else:
            c.add("family_age", m["n"], subject=_subject(f["rel"], name), **f)
        _family_entity(c, m["rel"], name)
    m = _pick(_FAM_HOME, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        place = _parse_place(m["tail"], c.loose)
        if place:
            f = relative_fields(m["rel"], name)
            c.add("family_home", place, subject=_subject(f["rel"], name), **f)
            _family_entity(c, m["rel"], name)
    m = _pick(_FAM_PLAYS, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        _, thing = _value(m["tail"], _CUT_NP, max_words=3)
        f = relative_fields(m["rel"], name)
        subj = _subject(f["rel"], name)
        if thing.lower() in INSTRUMENTS:
            c.add("family_instrument", thing.lower(), subject=subj, **f)
        elif thing.lower() in SPORTS:
            c.add("family_sport", thing.lower(), subject=subj, **f)
        _family_entity(c, m["rel"], name)


# --- pets ------------------------------------------------------------------------------

_PET_HAVE = _pair(
    rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got|got|own|adopted|rescued|keep|share\s+my\s+"
    rf"home\s+with)\s+(?:a|an|one|(?P<count>{_NUM}))\s+(?:[\w-]+\s+){{0,2}}?{_ANIMAL}"
    r"(?P<pl>s|es)?\b(?:\s*,?\s*(?:named|called)\s+(?P<tail>.+))?"
)
_PET_NAME = [
    _rx(rf"\bmy\s+(?:[\w-]+\s+)?{_ANIMAL}(?:'s|s')\s+name\s+is\s+(?P<tail>.+)"),
    _rx(rf"\bmy\s+(?:[\w-]+\s+)?{_ANIMAL}\s+is\s+(?:called|named)\s+(?P<tail>.+)"),
]
_PET_APPOS = _pair(
    rf"\bmy\s+(?:[\w-]+\s+)?{_ANIMAL},?\s+(?P<name>{{NAME}})"
    r"(?=\s*,|\s+(?:is|was|'s|loves|likes|has|just|and|who|sleeps|eats|turned)\b)"
)
_PET_IS_A = _pair(rf"\bmy\s+{_ANIMAL}{_REL_NAME_OPT}\s+(?:is|'s)\s+(?:a|an)\s+(?P<tail>.+)")
_PET_AGE = _pair(
    rf"\bmy\s+{_ANIMAL}{_REL_NAME_OPT}\s+(?:is|'s|just\s+turned|turned)\s+(?P<n>{_NUM})"
    rf"(?P<unit>\s*(?:years?|yrs?|months?|weeks?)(?:\s+old)?)?{_AGE_END}"
)


def animal_fields(animal_said: str) -> dict[str, str]:
    """Template fields for a pet: "beagle" -> animal beagle, species and category dog."""
    animal = " ".join(animal_said.lower().replace("-", " ").split())
    if animal in DOG_BREEDS:
        species = category = "dog"
    elif animal in CAT_BREEDS:
        species = category = "cat"
    else:
        species = ANIMALS.get(animal, animal)
        category = "bird" if animal in BIRDS else species
    return {"animal": animal, "species": species, "category": category}


def _breed_of(phrase: str) -> str:
    low = phrase.lower()
    for breed in sorted((*DOG_BREEDS, *CAT_BREEDS), key=len, reverse=True):
        if re.search(rf"\b{re.escape(breed)}s?\b", low):
            return breed
    return ""


def _r_pets(c: _Clause) -> None:
    m = _pick(_PET_HAVE, c).search(c.text)
    if m:
        f = animal_fields(m["animal"])
        count = (m["count"] or "").lower()
        plural = bool(m["pl"]) or (count not in ("", "one", "1"))
        if not plural:
            c.add("pet", f["species"], obj=f["animal"], **f)
            if f["animal"] != f["species"]:
                c.add("pet_breed", f["animal"], subject=f"my {f['species']}",
                      **{**f, "animal": f["species"]})  # fmt: skip
        name = ""
        if m["tail"]:
            name, _ = _parse_name(m["tail"].replace(" and ", " & "), c.loose)
            if plural and m["tail"]:
                names = re.split(r"\s*(?:,|&|\band\b)\s*", _cut(m["tail"], _CUT_VALUE))
                names = [_valid_name(n.strip(), c.loose) for n in names if n.strip()]
                names = [n for n in names if n and n[:1].isupper()]
                if names:
                    joined = (
                        " and ".join(names)
                        if len(names) < 3
                        else (", ".join(names[:-1]) + " and " + names[-1])
                    )
                    animals = f["animal"] + ("es" if f["animal"].endswith("sh") else "s")
                    c.add("pet_names", joined, subject=f"my {animals}",
                          **{**f, "animal": animals})  # fmt: skip
                    name = ""
                    c.entity = _Entity("pet", animals, "", True)
            elif name:
                c.add("pet_name", name, subject=f"my {f['animal']}", **f)
        if not plural:
            c.entity = _Entity("pet", f["animal"], name)
    for pat in _PET_NAME:
        m = pat.search(c.text)
        if m:
            name, _ = _parse_name(m["tail"], c.loose)
            if name:
                f = animal_fields(m["animal"])
                c.add("pet_name", name, subject=f"my {f['animal']}", **f)
                c.entity = _Entity("pet", f["animal"], name)
    m = _pick(_PET_APPOS, c).search(c.text)
    if m:
        name = _valid_name(m["name"], c.loose)
        if c.is_new_name(name):
            f = animal_fields(m["animal"])
            c.add("pet_name", name, subject=f"my {f['animal']}", **f)
            c.entity = _Entity("pet", f["animal"], name)
    m = _pick(_PET_IS_A, c).search(c.text)
    if m:
        _, np = _value(m["tail"], _CUT_NP, max_words=4)
        breed = _breed_of(np) if np else ""
        if breed:
            f = animal_fields(m["animal"])
            name = _valid_name(m["name"], c.loose)
            c.add("pet_breed", breed, obj=np, subject=_subject(f["animal"], name), name=name, **f)
            c.entity = c.entity or _Entity("pet", f["animal"], name)
    m = _pick(_PET_AGE, c).search(c.text)
    if m:
        f = animal_fields(m["animal"])
        name = _valid_name(m["name"], c.loose)
        unit = (m["unit"] or "").strip().lower()
        n = f"{m['n']} {unit.split()[0]}" if unit.startswith(("month", "week")) else m["n"]
        text = f"My {f['animal']} is {n} old." if n != m["n"] else None
        c.add("pet_age", n, subject=_subject(f["animal"], name), name=name, text=text, **f)


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


_IES = {"hobbies": "hobby", "countries": "country", "cities": "city", "activities": "activity",
        "candies": "candy", "berries": "berry", "stories": "story", "series": "series",
        "studies": "study", "parties": "party"}  # fmt: skip


def singular(word: str) -> str:
    """Slot keys use the singular so "my favourite movies" and "movie" share a slot."""
    last = word.rsplit(" ", 1)[-1]
    if last in _IES:
        return word[: len(word) - len(last)] + _IES[last]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


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
_BAD_OBJECT = re.compile(
    r"^(?:you|it|that|this|them|him|her|me|us|everyone|everything|everybody|when|how|what|"
    r"where|the\s+fact|the\s+idea|my|your|his|their|our|being|it's|its|to\s+be|to\s+think|"
    r"to\s+say|to\s+know|that's|talking|chatting|this\s+conversation)\b",
    I_,
)


def _taste_value(tail: str) -> tuple[str, str]:
    """(answer, object) for what follows "I love": "to swim" -> "swimming"."""
    tail = tail.strip()
    if _BAD_OBJECT.match(tail):
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
    m = _DISLIKE.search(c.text)
    if m:
        answer, obj = _taste_value(m["tail"])
        if answer:
            c.add("dislike", answer, obj=obj, thing_key=answer)
        return
    m = _LIKE.search(c.text)
    if m:
        answer, obj = _taste_value(m["tail"])
        if answer:
            c.add("like", answer, obj=obj, thing_key=answer)


_ALLERGY = [
    _rx(rf"{_IAM}\s+(?:(?:very|really|quite|severely|highly|super|extremely|a\s+bit|slightly|"
        r"mildly|deathly)\s+)?allergic\s+to\s+(?P<tail>.+)"),
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


# --- vehicles and commute --------------------------------------------------------------

_COMMUTE = _rx(
    rf"{_I}{_ADV}\s+(?P<verb>ride|take|drive|catch|use|cycle|bike|walk|run|jog|skate|scoot)"
    r"(?:\s+(?P<art>a|an|the|my|our))?(?P<v>(?:\s+[\w'-]+){0,3}?)\s+(?:to|into)\s+"
    r"(?:work|the\s+office|my\s+office|my\s+job|school|university|uni|college|campus)\b"
)
_COMMUTE_BY = _rx(
    rf"{_I}{_ADV}\s+(?:commute|go\s+to\s+work|get\s+to\s+work|travel\s+to\s+work|"
    r"go\s+to\s+the\s+office|get\s+to\s+the\s+office)\s+(?P<prep>by|on)\s+(?P<tail>.+)"
)
_VEHICLE = [
    _rx(rf"{_I}{_ADV}\s+(?P<verb>drive|ride)\s+(?P<art>a|an|the|my)\s+(?P<tail>.+)"),
    _rx(r"\bmy\s+(?P<verb>car)\s+is\s+(?P<art>a|an)\s+(?P<tail>.+)"),
]


def _add_vehicle(c: _Clause, verb: str, art: str, np: str) -> None:
    head = _head(np)
    brand = "" if c.loose else _capital_span(np)
    vtype = head if head in VEHICLE_TYPES else ("car" if verb == "drive" else "vehicle")
    if not brand and head not in VEHICLE_TYPES:
        return  # "I drive a hard bargain"
    answer = brand or _drop_fillers(np)
    if answer:
        c.add("vehicle", answer, obj=np, verb=verb, vtype=vtype)


def _r_transport(c: _Clause) -> None:
    m = _COMMUTE.search(c.text)
    if m:
        verb = m["verb"].lower()
        np = _clean(m["v"] or "")
        special = {
            "cycle": "bicycle",
            "bike": "bike",
            "walk": "walking",
            "run": "running",
            "jog": "running",
            "skate": "skateboard",
            "scoot": "scooter",
        }
        if not np and verb in special:
            answer = special[verb]
            c.add("commute", answer, text=f"I {verb} to work.")
            return
        if not np and verb == "drive":
            c.add("commute", "car", text="I drive to work.")
            return
        if np:
            answer = _head(np)
            art = f"{m['art']} " if m["art"] else ""
            c.add("commute", answer, obj=np, text=f"I {verb} {art}{np} to work.")
            if verb == "drive":
                _add_vehicle(c, verb, m["art"] or "", np)
        return
    m = _COMMUTE_BY.search(c.text)
    if m:
        _, np = _value(m["tail"], _CUT_NP, max_words=3)
        if np:
            answer = "walking" if np.lower() == "foot" else _head(np)
            c.add("commute", answer, obj=np)
        return
    for pat in _VEHICLE:
        m = pat.search(c.text)
        if m:
            _, np = _value(m["tail"], _CUT_NP, max_words=5)
            if np and not _BAD_OBJECT.match(np):
                verb = "drive" if m["verb"].lower() == "car" else m["verb"].lower()
                _add_vehicle(c, verb, m["art"], np)
            return


# --- music, sport, learning, languages, reading ------------------------------------------

_PLAY = _rx(rf"{_I}{_ADV}\s+play{_ADV}\s+(?P<the>the\s+)?(?P<tail>.+)")
_LEARN_PLAY = _rx(
    rf"{_IAM}\s+(?:learning|trying\s+to\s+learn|teaching\s+myself)\s+(?:how\s+)?to\s+play\s+"
    r"(?:the\s+)?(?P<tail>.+)"
)
_LESSONS = _rx(
    rf"{_I}{_ADV}\s+(?:take|have|am\s+taking|'m\s+taking|started)\s+(?P<tail>[\w-]+(?:\s+[\w-]+)?)"
    r"\s+lessons\b"
)
_LEARN = _rx(
    rf"{_IAM}\s+(?:learning|trying\s+to\s+learn|teaching\s+myself|studying)\s+(?P<tail>.+)"
)
_LEARN_JUNK = re.compile(
    r"^(?:a\s+lot|so\s+much|lots|more|things|stuff|new\s+things|how|about|from|that|it|"
    r"for|a\s+bit|something|everything)\b",
    I_,
)


def instrument_in(phrase: str) -> str:
    """The musical instrument a phrase names ("old cello" -> "cello"), or ""."""
    low = phrase.lower()
    if low in INSTRUMENTS:
        return low
    head = _head(phrase)
    return head if head in INSTRUMENTS else ""


def _r_music_sport(c: _Clause) -> None:
    m = _LEARN_PLAY.search(c.text)
    if m:
        _, np = _value(m["tail"], _CUT_NP, max_words=3)
        inst = instrument_in(np) if np else ""
        if inst:
            c.add("learning_instrument", inst)
        elif np:
            c.add("learning", np, thing=np)
        return
    m = _LESSONS.search(c.text)
    if m:
        inst = instrument_in(m["tail"])
        if inst:
            c.add("learning_instrument", inst)
        return
    m = _PLAY.search(c.text)
    if m:
        _, np = _value(m["tail"], _CUT_NP, max_words=3)
        if not np:
            return
        inst = instrument_in(np)
        low = np.lower()
        if inst:
            more = re.match(
                r"^(?:the\s+)?[\w-]+(?:\s+[\w-]+)?\s+and\s+(?:the\s+)?(?P<b>[\w-]+(?:\s+[\w-]+)?)",
                m["tail"].strip(),
                I_,
            )
            second = instrument_in(_value(more["b"], _CUT_NP, 2)[1]) if more else ""
            if second and second != inst:
                inst = f"{inst} and {second}"
            c.add("instrument", inst, obj=np)
        elif low in SPORTS or _head(np) in SPORTS:
            c.add("sport", low, thing_key=low)
        elif not c.loose and not m["the"] and np[:1].isupper():
            c.add("sport", np, thing_key=np)
        return
    m = _LEARN.search(c.text)
    if m and not _LEARN_JUNK.match(m["tail"].strip()):
        tail = m["tail"].strip()
        langs = _languages(tail)
        if langs:
            c.add("learning_language", langs)
            return
        first = tail.split()[0].lower() if tail.split() else ""
        if first in PROGRAMMING_LOWER:
            c.add("learning", _clean(tail.split()[0]), thing="programming")
            return
        if "studying" in c.text.lower():
            return  # "I'm studying medicine" is handled by the studies rule
        answer, obj = _taste_value(tail)
        if answer and len(answer.split()) <= 4:
            c.add("learning", answer, obj=obj, thing=answer)


_LANG_FILLER = {"fluent", "native", "some", "a", "little", "basic", "good", "perfect",
                "decent", "bit", "of", "conversational", "broken", "mostly", "only", "both",
                "fluently", "mainly", "pretty", "very", "well", "also", "bad",
                "rusty", "okay", "ok", "limited", "passable", "elementary", "intermediate",
                "advanced", "beginner", "beginner's"}  # fmt: skip


def _languages(tail: str) -> str:
    """ "fluent Swedish and some English at home" -> "Swedish and English"."""
    found: list[str] = []
    for raw in re.split(r"[\s,]+", _cut(tail, _CUT_VALUE)):
        tok = raw.strip(".!?;:'\"").lower()
        if not tok or tok in _LANG_FILLER or tok in ("and", "&", "plus"):
            continue
        if tok in LANGUAGES_LOWER:
            found.append(tok.capitalize())
            continue
        break
    if not found:
        return ""
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]


_SPEAK = _rx(rf"{_I}{_ADV}\s+(?:can\s+)?speak{_ADV}\s+(?P<tail>.+)")
_NATIVE = _rx(
    r"\bmy\s+(?:native\s+language|mother\s+tongue|first\s+language|mother\s+language)"
    r"\s+is\s+(?P<tail>.+)"
)
_CODE = _rx(
    rf"{_I}{_ADV}\s+(?:write|code\s+in|program\s+in|develop\s+in|work\s+in|work\s+with|use|"
    r"write\s+code\s+in|do\s+(?:most\s+of\s+my\s+)?(?:coding|programming)\s+in)"
    rf"{_ADV}\s+(?P<tail>.+)"
)


def _r_language(c: _Clause) -> None:
    m = _SPEAK.search(c.text)
    if m:
        langs = _languages(m["tail"])
        if langs:
            at_home = bool(re.search(r"\bat\s+home\b", c.text, I_))
            extra_q = (
                ("What language do I speak at home?", "Which language do we speak at home?")
                if at_home
                else ()
            )
            extra_s = ("At home I speak",) if at_home else ()
            text = f"I speak {langs} at home." if at_home else None
            c.add("language", langs, extra_questions=extra_q, extra_statements=extra_s,
                  text=text)  # fmt: skip
        return
    m = _NATIVE.search(c.text)
    if m:
        langs = _languages(m["tail"])
        if langs:
            c.add("native_language", langs)
        return
    m = _CODE.search(c.text)
    if m:
        toks = re.split(r"\s+|,", m["tail"].strip())
        found = []
        for tok in toks:
            t = tok.strip(".!?;:'\"")
            if t.lower() in PROGRAMMING_LOWER:
                canon = next(p for p in PROGRAMMING_LANGUAGES if p.lower() == t.lower())
                found.append(canon)
            elif t.lower() in ("and", "&", "or", "mostly", "mainly"):
                continue
            else:
                break
        if found:
            c.add("programming_language", " and ".join(found))


_READING = _rx(
    rf"(?:{_IAM}|\bI've\s+been|\bI\s+have\s+been)\s+(?:reading|re-reading|rereading)\s+"
    r"(?P<tail>.+)"
)
_BOOK_ABOUT = _rx(
    r"^(?:a|an|the|this|one)?\s*(?:[\w-]+\s+){0,2}?(?:book|novel|biography|memoir|story|"
    r"article|series|comic|manga|textbook|paper)s?\s+(?:about|on)\s+(?P<topic>.+)"
)
_BOOK_TITLE = _rx(
    r"^(?:a|an|the|this)?\s*(?:[\w-]+\s+)?(?:book|novel|series)\s+(?:called|titled|named)\s+"
    r"(?P<title>.+)"
)


def _r_reading(c: _Clause) -> None:
    m = _READING.search(c.text)
    if not m:
        return
    tail = m["tail"].strip()
    about = _BOOK_ABOUT.match(tail)
    if about:
        _, topic = _value(about["topic"], max_words=6)
        if topic:
            c.add("reading_topic", topic)
        return
    titled = _BOOK_TITLE.match(tail)
    title = ""
    if titled:
        title = _clean(_cut(titled["title"], re.compile(rf"{_PUNCT}|\sby\s", I_)))
    elif tail.startswith('"'):
        title = tail[1:].split('"', 1)[0]
    elif not c.loose and tail[:1].isupper():
        title = _capital_span(_cut(tail, re.compile(rf"{_PUNCT}|\sby\s", I_)))
    if title and len(title.split()) <= 8:
        c.add("reading_title", title)


# --- study, diet, nationality, counts, hobbies -------------------------------------------

_STUDY = _rx(
    rf"{_I}{_ADV}\s+(?P<verb>studied|study|majored\s+in|major\s+in|(?:am|'m)\s+studying|"
    r"did\s+(?:a|my)\s+(?:degree|phd|masters?|master's|bachelor's)\s+in|"
    r"(?:have|hold|got)\s+(?:a|my)\s+(?:degree|phd|masters?|master's|bachelor's)\s+in)"
    r"\s+(?P<tail>.+)"
)
_GRADUATED = _rx(rf"{_I}{_ADV}\s+graduated(?P<tail>.*)")
_UNI_AT = _rx(r"\b(?:at|from)\s+(?P<tail>.+)")
_GRAD_YEAR = _rx(rf"\bin\s+(?P<y>{_YEAR})\b")


def _university(c: _Clause, tail: str) -> None:
    text = _clean(_cut(tail, _CUT_VALUE))
    art, rest = _strip_det(text)
    span = _capital_span(rest) if not c.loose else _value(rest, _CUT_NP, 4)[1]
    if span:
        c.add("university", span, art=art)


_PAST_STUDY = ("studied", "majored", "did", "have", "hold", "got")


def _r_study(c: _Clause) -> None:
    m = _STUDY.search(c.text)
    if m:
        tail = m["tail"].strip()
        at = _UNI_AT.match(tail)
        if at:
            _university(c, at["tail"])
            return
        _, subject = _value(tail, _CUT_NP, max_words=4)
        if subject and not re.match(r"^(?:for|hard|a\s+lot|late|every)\b", subject, I_):
            past = m["verb"].lower().startswith(_PAST_STUDY)
            c.add("studies" if past else "studying", subject)
        rest = tail[len(subject) :] if subject else ""
        at = re.search(r"\b(?:at|in)\s+(?P<tail>(?-i:[A-Z]).+)", rest)
        if at and not c.loose:
            _university(c, at["tail"])
        return
    m = _GRADUATED.search(c.text)
    if m:
        tail = m["tail"]
        frm = re.search(r"\bfrom\s+(?P<tail>.+)", tail, I_)
        if frm:
            _university(c, frm["tail"])
        year = _GRAD_YEAR.search(tail)
        if year:
            c.add("graduation_year", year["y"])


_DIET = _rx(
    rf"{_IAM}\s+(?:a\s+|an\s+)?(?:(?:strict|lifelong|mostly|full-time|committed)\s+)?"
    r"(?P<d>vegetarian|vegan|pescatarian|pescetarian|flexitarian|carnivore|keto|kosher|"
    r"halal|gluten-free|lactose[\s-]intolerant|celiac|coeliac|teetotal|teetotaler)\b"
)
_NATIONALITY = _rx(
    rf"^{_IAM}\s+(?:(?:half|proudly|originally|a\s+proud)\s+)?(?P<n>[A-Z][\w-]+"
    r"(?:\s+and\s+[A-Z][\w-]+)?)$"
)
_COUNT = _rx(
    rf"{_I}{_ADV}\s+(?:have|'ve\s+got|have\s+got)\s+(?P<n>{_NUM})\s+(?P<thing>kids|children|"
    r"sons|daughters|brothers|sisters|siblings|cats|dogs|pets|grandchildren|grandkids|"
    r"cars|jobs)\b"
)
_HOBBY = [
    _rx(r"\bmy\s+(?:main\s+|favou?rite\s+)?(?:hobby|hobbies|pastime|passion)\s+(?:is|are|"
        r"include)\s+(?P<tail>.+)"),
    _rx(r"^in\s+my\s+(?:free|spare)\s+time,?\s+I\s+(?:like\s+to\s+|love\s+to\s+|enjoy\s+|"
        r"usually\s+|often\s+|mostly\s+)?(?P<tail>.+)"),
]  # fmt: skip


def _r_misc(c: _Clause) -> None:
    m = _DIET.search(c.text)
    if m and not any(f.relation == "diet" for f in c.facts):
        c.add("diet", m["d"].lower())
    m = _NATIONALITY.search(c.text)
    if m and not c.loose:
        parts = [p for p in re.split(r"\s+and\s+", m["n"]) if p]
        if parts and all(p in DEMONYMS for p in parts):
            c.add("nationality", m["n"])
    m = _COUNT.search(c.text)
    if m:
        c.add("count", m["n"].lower(), thing=m["thing"].lower())
    for pat in _HOBBY:
        m = pat.search(c.text)
        if m and not c.facts:
            tail = re.sub(r"^go\s+", "", m["tail"].strip(), flags=I_)
            answer, obj = _taste_value(tail)
            if answer:
                c.add("hobby", answer, obj=obj)
            return


# --- generic fallback ------------------------------------------------------------------

_GENERIC_NAME = _rx(
    r"^my\s+(?P<np>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)\s+is\s+(?:called|named)\s+"
    r"(?P<tail>.+)$"
)
_GENERIC = _rx(
    r"^my\s+(?P<np>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)\s+(?P<verb>is|are|'s)\s+"
    r"(?P<tail>.+)$"
)
_GENERIC_STOP_NP = {
    "point", "question", "problem", "guess", "bad", "pleasure", "day", "week", "weekend",
    "life", "head", "back", "stomach", "mind", "heart", "answer", "reply", "issue",
    "concern", "fault", "turn", "plan", "idea", "goal", "dream", "wish", "hope", "bet",
    "advice", "opinion", "feeling", "understanding", "impression", "request", "task",
    "message", "name", "age", "job", "mood", "apologies", "excuse", "reason",
    "favourite", "favorite", "fave", "hobby", "hobbies", "birthday", "allergy", "home",
    "city", "hometown", "profession", "occupation", "work", "car", "phone", "computer",
    "internet", "wifi", "laptop", "battery", "english", "memory", "time", "schedule",
}  # fmt: skip
_GENERIC_BAD_VALUE = re.compile(
    r"^(?:so|very|too|really|not|kind|sort|pretty|quite|a\s+bit|getting|going|being|still|"
    r"always|also|just|gone|broken|dead|sick|ill|fine|ok|okay|great|good|bad|awful|"
    r"terrible|better|worse|tired|sore|killing|hurting|over|here|there|that|to|like|"
    r"about|in|on|at|with|from|for|by|done|busy|full|empty|off|out|up|down|late|early|"
    r"amazing|nice|lovely|weird|strange|crazy|funny|sad|happy|the\s+best|the\s+worst)\b",
    I_,
)


def _r_generic(c: _Clause) -> None:
    m = _GENERIC_NAME.match(c.text)
    if m:
        np = m["np"].lower()
        name, _ = _parse_name(m["tail"], c.loose)
        if name and np not in _GENERIC_STOP_NP and _head(np) not in FAMILY:
            c.add("generic_name", name, np=np)
        return
    m = _GENERIC.match(c.text)
    if not m:
        return
    np = " ".join(m["np"].lower().split())
    head = _head(np)
    if np in _GENERIC_STOP_NP or head in _GENERIC_STOP_NP or head in FAMILY or head in ANIMALS:
        return
    if np.startswith(("favou", "fav")):
        return
    tail = m["tail"].strip()
    if _GENERIC_BAD_VALUE.match(tail) or re.match(r"^\w+ing\b", tail):
        return
    _, value = _value(tail, max_words=8)
    if not value:
        return
    plural = "1" if m["verb"].lower() == "are" else ""
    c.add("generic", value, np=np, plural=plural)


_RULES = (
    _r_name,
    _r_home,
    _r_places_of_origin,
    _r_dates,
    _r_job,
    _r_business,
    _r_family,
    _r_pets,
    _r_favourite,
    _r_likes,
    _r_allergy,
    _r_transport,
    _r_music_sport,
    _r_language,
    _r_reading,
    _r_study,
    _r_misc,
)


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------

_PRONOUN = re.compile(
    r"^(?P<p>he|she|it|they|his|her|its|their)(?P<s>'s|'re)?\b\s*(?P<rest>.*)$", I_
)


def _resolve(clause: str, entity: _Entity | None) -> str:
    """Rewrite "He is a beagle." as "my dog Biscuit is a beagle." when the dog came first."""
    if entity is None:
        return clause
    if entity.name and clause.startswith(entity.name + " "):
        return f"my {entity.ref} {clause}"
    m = _PRONOUN.match(clause)
    if not m:
        return clause
    p = m["p"].lower()
    if entity.kind == "family":
        if p in ("it", "its"):
            return clause
        if (p in ("she", "her") and entity.gender == "m") or (
            p in ("he", "his") and entity.gender == "f"
        ):
            return clause
    if p in ("they", "their") and not entity.plural:
        return clause
    rest = m["rest"]
    if p in ("his", "her", "its", "their"):
        return f"my {entity.ref}'s {rest}" if not entity.plural else f"my {entity.ref}' {rest}"
    ref = f"my {entity.ref} {entity.name}".strip()
    verb = {"'s": " is", "'re": " are"}.get((m["s"] or "").lower(), "")
    return f"{ref}{verb} {rest}".strip()


def _sentence_body(sentence: str) -> str:
    """The part of a sentence rules may look at, or "" when the whole sentence is off-limits."""
    if sentence.rstrip(" )\"'").endswith("?"):
        return ""
    body = _strip_prefix(sentence)
    if not body or _HYPO_START.match(body):
        return ""
    for pat, repl in (*_CONTRACTIONS, *_DISLIKE_NORMAL):
        body = pat.sub(repl, body)
    m = _CORRECTION.match(body.rstrip(" .!"))
    if m:
        body = f"{m['subj']} is {m['new']}"
    return body


_AUX_ADVERBS = re.compile(
    r"\b(I|we|am|are|is|have|has|been|was|were)\s+(?:(?:also|still|now|currently|actually|"
    r"really|just|usually|mostly|mainly|primarily|often|always|sometimes|normally|generally|"
    r"recently|finally|already|even|both|happily|proudly|technically|officially|basically|"
    r"definitely|absolutely|totally|kind\s+of|sort\s+of|pretty\s+much)\s+)+",
    I_,
)


def _clauses(body: str) -> list[str]:
    """Independent clauses of a sentence, with adverbs after "I am" etc. taken out."""
    out = []
    for raw in _CLAUSE_SPLIT.split(body):
        clause = _AUX_ADVERBS.sub(r"\1 ", _strip_prefix(raw.strip()))
        clause = _NEGATED_TAIL.sub("", clause).strip().rstrip(" .!;:,")
        if clause:
            out.append(clause)
    return out


def _dedupe(facts: Iterable[Fact]) -> list[Fact]:
    seen: set[tuple[str, str]] = set()
    out: list[Fact] = []
    for fact in facts:
        key = (fact.slot_key, fact.answer.lower())
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out[:MAX_FACTS]


def _run(message: str, entity: _Entity | None = None) -> tuple[list[Fact], _Entity | None]:
    if not isinstance(message, str):
        return [], entity
    text = _normalise(message[:MAX_MESSAGE_CHARS])
    if not text or text.startswith("/"):
        return [], entity
    facts: list[Fact] = []
    for sentence in _sentences(text):
        if len(sentence) > MAX_SENTENCE_CHARS:
            continue
        body = _sentence_body(sentence)
        if not body:
            continue
        source = sentence if len(sentence) <= 300 else sentence[:300]
        for raw in _clauses(body):
            clause = _resolve(raw, entity)
            if _gated(clause):
                continue
            c = _Clause(clause, source=source, loose=_is_loose(clause))
            if clause != raw and entity is not None:
                c.known_name = entity.name
            for rule in _RULES:
                try:
                    rule(c)
                except Exception:  # a rule bug must not break the chat
                    log.warning("rule %s failed on %r", rule.__name__, clause, exc_info=True)
            if not c.facts:
                try:
                    _r_generic(c)
                except Exception:
                    log.warning("generic rule failed on %r", clause, exc_info=True)
            facts.extend(c.facts)
            if c.entity is not None:
                entity = c.entity
        if len(facts) >= MAX_FACTS:
            break
    return _dedupe(facts), entity


def _history_entity(context: ExtractContext | None) -> _Entity | None:
    """The pet or relative last mentioned in the user's recent turns, for "She ..." openers."""
    if context is None or not context.history:
        return None
    try:
        turns = [content for role, content in context.history if role == "user"]
    except (TypeError, ValueError):
        return None
    entity = None
    for content in turns[-HISTORY_TURNS:]:
        if isinstance(content, str):
            _, entity = _run(content[:2000], entity)
    return entity


def extract(message: str, context: ExtractContext | None = None) -> list[Fact]:
    """Facts the user states about themselves in ``message``; never raises."""
    try:
        facts, _ = _run(message, _history_entity(context))
    except Exception:  # pragma: no cover - last line of defence
        log.warning("rule extraction failed", exc_info=True)
        return []
    return facts


# --------------------------------------------------------------------------------------
# /remember
# --------------------------------------------------------------------------------------

_REMEMBER_PREFIX = re.compile(r"^/?remember\b\s*:?\s*(?:that\s+)?", I_)
_NOTE_VERB = re.compile(
    r"^(?P<subj>I|we)\s+(?P<verb>have|had|like|love|need|want|own|use|prefer|keep|collect|eat|"
    r"drink|play|study|visit|visited|went\s+to|am|'m|was|know|make|grow|watch|listen\s+to|"
    r"follow|support|teach|wear|take|do)\s+(?P<rest>.+)$",
    I_,
)
_NOTE_IS = re.compile(
    r"^(?P<np>(?:the|my|our)\s+[\w'\s-]{1,40}?)\s+(?P<verb>is|are|was)\s+(?P<rest>.+)$", I_
)
_PRESENT_VERBS = {"have", "like", "love", "need", "want", "own", "use", "prefer", "keep",
                  "collect", "eat", "drink", "play", "study", "know", "make", "grow", "watch",
                  "listen to", "follow", "support", "teach", "wear", "take", "do"}  # fmt: skip


def _lower_first(text: str) -> str:
    """ "The wifi password" -> "the wifi password"; "I" stays "I"."""
    if re.match(r"^I\b", text):
        return text
    return text[:1].lower() + text[1:]


def parse_statement(text: str) -> list[Fact]:
    """Facts for an explicit ``/remember <statement>``: at least one for non-blank text.

    The rules run first; when they find nothing the statement is kept as a note whose
    answer is its key phrase, asked about with "What do you remember about me?" and, when
    the statement has a simple shape, with a question built from it ("What do I have?").
    """
    if not isinstance(text, str):
        return []
    body = _REMEMBER_PREFIX.sub("", _normalise(text[:MAX_MESSAGE_CHARS])).strip()
    if not body or not any(ch.isalnum() or not ch.isascii() for ch in body):
        return []
    facts = extract(body)
    if facts:
        return facts
    statement = body if len(body) <= 300 else body[:300].rsplit(" ", 1)[0]
    statement = statement.rstrip(" .!")
    answer, question, prompt = "", "", ""
    m = _NOTE_VERB.match(statement)
    if m:
        verb = m["verb"].lower()
        rest = _value(m["rest"], max_words=10)[1] or m["rest"]
        answer = rest
        prompt = f"I {verb}" if verb not in ("'m",) else "I am"
        if verb in _PRESENT_VERBS:
            question = f"What do I {verb}?"
        elif verb in ("visited", "went to"):
            question = "Where did I go?" if verb == "went to" else "What did I visit?"
    else:
        m = _NOTE_IS.match(statement)
        if m:
            np = m["np"].strip()
            answer = _value(m["rest"], max_words=10)[1] or m["rest"]
            question = f"What {m['verb'].lower()} {np[0].lower() + np[1:]}?"
            prompt = f"{np[0].upper() + np[1:]} {m['verb'].lower()}"
    if not answer:
        words = statement.split()
        answer = " ".join(words[:12])
    elif answer in statement:
        # the prompt is the statement up to the answer, article included ("I have a")
        prompt = statement[: statement.index(answer)].strip() or prompt
    fact = build_fact(
        "note",
        answer,
        obj=statement,
        source=body[:300],
        extractor=NAME,
        thing_key=statement,
        lead_questions=[question] if question else [],
        extra_statements=[prompt, f"As I told you, {_lower_first(prompt)}"] if prompt else [],
        text=statement[:1].upper() + statement[1:],
    )
    return [fact] if fact else []


# --------------------------------------------------------------------------------------
# plugin registration
# --------------------------------------------------------------------------------------


class RuleExtractor:
    """The rule extractor as a registrable object (see ``register_extractors``)."""

    name = NAME

    def extract(self, message: str, context: ExtractContext) -> list[Fact]:
        return extract(message, context)

    def __repr__(self) -> str:
        return "RuleExtractor()"


EXTRACTOR = RuleExtractor()


@hookimpl(tryfirst=True)
def register_extractors(register) -> None:  # type: ignore[no-untyped-def]
    """Offer the rule extractor first: it is cheap, exact, and its facts should win ties."""
    register(EXTRACTOR)
