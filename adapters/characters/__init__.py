"""Character cards (Character Card V1/V2/V3, JSON or PNG) as personas sleepmem can serve."""

from .cards import (
    CardError,
    Character,
    card_from_png,
    card_to_png,
    find_character,
    load_card,
    load_cards,
    parse_card,
    resolve_character,
    slugify,
)

__all__ = [
    "CardError",
    "Character",
    "card_from_png",
    "card_to_png",
    "find_character",
    "load_card",
    "load_cards",
    "parse_card",
    "resolve_character",
    "slugify",
]
