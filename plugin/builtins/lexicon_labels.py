"""Labels of fields people type about themselves ("Location: Leeds"), and the plain
sentence each stands for (``rules_labels``). Data only; imports nothing from the package.

Labels that often head other things are left out: "From:" (a mail header), "Work:" and
"School:" (a to-do line), "Title:" (of anything), "Home:".

"education" is read by its own splitter: a school and a subject often share one field.
"""

from __future__ import annotations


def _each(labels: str, sentence: str) -> dict[str, str]:
    return {label.strip(): sentence for label in labels.split("|")}


LABELS: dict[str, str] = {
    **_each("name|full name|my name", "My name is {value}."),
    **_each(
        "location|city|home city|lives in|living in|based in|current city|residence",
        "I live in {value}.",
    ),
    **_each(
        "hometown|home town|origin|originally from|born in|birthplace",
        "I am from {value}.",
    ),
    **_each(
        "job|job title|role|current role|position|current position|occupation|"
        "profession|current job|day job",
        "I work as a {value}.",
    ),
    **_each("employer|company|current employer|workplace|works at|work at", "I work at {value}."),
    **_each("age", "I am {value} years old."),
    **_each("languages|language|speaks|spoken languages", "I speak {value}."),
    **_each("hobby|hobbies|interests|pastime|free time", "My hobby is {value}."),
    **_each("allergy|allergies|allergic to", "I am allergic to {value}."),
    **_each("favourite food|favorite food|fav food", "My favourite food is {value}."),
    **_each("favourite book|favorite book", "My favourite book is {value}."),
    **_each(
        "favourite colour|favourite color|favorite color|favorite colour",
        "My favourite colour is {value}.",
    ),
    **_each("birthday|date of birth|dob|born on", "My birthday is {value}."),
    **_each("education|studies|studied|degree|qualifications", "education"),
    **_each("university|alma mater|graduated from", "I studied at {value}."),
}

# words that make a chunk of an education field a school rather than a subject
_SCHOOL_TEXT = (
    "university universidad universität université universita uni college school institute "
    "academy polytechnic politecnico conservatory conservatoire hochschule gymnasium lyceum"
)
SCHOOL_WORDS = frozenset(_SCHOOL_TEXT.split())
