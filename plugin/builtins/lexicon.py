"""Word lists behind the rules: what tells a job from a mood, a pet from a person.

Why a module of its own: the lists are data, and they grow far more often than the rules
change, so they live apart from the patterns that use them. Next to the lists are the few
helpers that only read them (``looks_like_job``, ``animal_fields``, ``singular`` ...), which
both the rules and the model extractor use to turn a phrase into template fields.

This module imports nothing from the package, so anything may import it.
"""

from __future__ import annotations

import re


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
    "scrum_master tester sysadmin devops webmaster game_designer midwife actuary "
    "seamstress sommelier doula notary paralegal dev"
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
# Car models whose name is no everyday word, so "my corolla" can only be a car ("golf",
# "polo", "fiesta", "focus", "swift" are left out for that reason).
CAR_MODELS = _words(
    "corolla camry prius yaris rav4 hilux tacoma tundra landcruiser land_cruiser civic accord "
    "crv cr-v passat jetta tiguan octavia fabia clio megane qashqai micra navara outback "
    "forester impreza miata mx-5 elantra i30 wrangler silverado f-150 f150 corsa astra"
)
FILLER_ADJ = _words(
    "small little big large tiny huge old new nice lovely cute beautiful great good local "
    "cozy cosy amazing wonderful sweet adorable trusty beloved fancy brand-new brand_new "
    "really very quite pretty super proper"
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
    "hi hello hey thanks thank you me myself nobody somebody someone everyone i "
    # "my dog is called whatever you like": no name was given
    "whatever anything something nothing whoever idk dunno unknown tbd"
)
# "<verb> <object>" statements the general fallback turns into "What do I <verb>?": verbs
# whose object is a lasting fact about the speaker. Verbs of opinion, wish or perception
# ("think", "want", "see") are left out on purpose: their objects are not facts.
SVO_VERBS = _words(
    "collect teach brew bake knit crochet sew paint draw sketch grow breed raise restore "
    "build repair fix carve sculpt compose write translate coach train volunteer sing "
    "produce design program code foster rescue roast ferment forage quilt "
    "weave embroider photograph manage drink eat cook"
)
# Adjectives of fear before "of": "I'm terrified of heights".
FEAR_WORDS = _words("afraid scared terrified frightened petrified fearful")
# Words that may stand before "here" without being a name ("same here", "new here").
NOT_HERE_NAMES = NOT_NAMES | _words(
    "same everybody anybody all anyone none nothing something newbie noob first stuck "
    "last mostly mainly sometimes usually ok snow rain sun sunny cold hot warm raining "
    "snowing morning night evening afternoon midnight noon today winter summer spring "
    "autumn fall"
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
# helpers that only read the lists
# --------------------------------------------------------------------------------------


def head_word(phrase: str) -> str:
    words = phrase.lower().split()
    return re.sub(r"'s$", "", words[-1]) if words else ""


def looks_like_job(phrase: str) -> bool:
    """Whether a noun phrase after "I am a" names an occupation ("nurse", not "big fan")."""
    low = phrase.lower()
    head = head_word(phrase)
    if not head or head in NOT_JOBS or low in NOT_JOBS:
        return False
    if head in JOBS or low in JOBS or head in PLAYERS:
        return True
    return len(head) > 4 and head.endswith(JOB_SUFFIXES) and head.isalpha()


def looks_like_business(np: str) -> bool:
    """Whether "I own a <np>" is a business ("small bakery") rather than a dog or a car."""
    low, head = np.lower(), head_word(np)
    if head in ANIMALS or head in DOG_BREEDS or head in CAT_BREEDS or head in VEHICLE_TYPES:
        return False
    return (
        head in BUSINESSES
        or low in BUSINESSES
        or " ".join(low.split()[-2:]) in BUSINESSES
        or (head.endswith("ery") and len(head) > 5)
        or head.endswith(("shop", "store"))
    )


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


def breed_of(phrase: str) -> str:
    low = phrase.lower()
    for breed in sorted((*DOG_BREEDS, *CAT_BREEDS), key=len, reverse=True):
        if re.search(rf"\b{re.escape(breed)}s?\b", low):
            return breed
    return ""


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


def instrument_in(phrase: str) -> str:
    """The musical instrument a phrase names ("old cello" -> "cello"), or ""."""
    low = phrase.lower()
    if low in INSTRUMENTS:
        return low
    head = head_word(phrase)
    return head if head in INSTRUMENTS else ""
