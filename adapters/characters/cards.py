"""Character cards (the SillyTavern family of formats) turned into personas sleepmem serves.

Formats read:

- V2 (``{"spec": "chara_card_v2", "spec_version": "2.0", "data": {...}}``) and V3
  (``chara_card_v3``, a superset of V2's fields), as JSON files or embedded in a PNG;
- V1, the older flat object (``{"name", "description", "personality", "scenario",
  "first_mes", "mes_example"}``);
- PNG cards: the JSON, base64-encoded, in a text chunk with keyword ``ccv3`` (V3) or
  ``chara`` (V2/V1). When both are present ``ccv3`` wins, as in the tools that write both.

A card becomes a :class:`Character`: a system prompt built from the description,
personality, scenario and example dialogue, and a greeting (``first_mes``), with the
``{{char}}``/``{{user}}`` macros filled in. Every problem with a card is a :class:`CardError`
naming the file and what is wrong, so a folder of cards can skip the broken one and say why.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepmem.engine.errors import InputError

from . import png

log = logging.getLogger(__name__)

SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"
SPEC_V1 = "chara_card_v1"  # not written by any tool; how a Character records a flat card
CARD_SUFFIXES = (".json", ".png")
# Real PNG cards with large portraits run to a few MiB; this bounds what a folder scan reads.
MAX_CARD_BYTES = 32 * 1024 * 1024
MAX_NAME_CHARS = 100
DEFAULT_USER_NAME = "User"
TEXT_FIELDS = (
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
# Used when a card brings no system_prompt of its own, and for {{original}} inside one.
DEFAULT_MAIN_PROMPT = (
    "You are {{char}}. Write {{char}}'s next reply in a conversation with {{user}}. "
    "Stay in character."
)

_MACROS = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(BOT|USER)>", re.IGNORECASE)
_ORIGINAL = re.compile(r"\{\{\s*original\s*\}\}", re.IGNORECASE)
_START = re.compile(r"^\s*<START>\s*$", re.IGNORECASE | re.MULTILINE)


class CardError(InputError):
    """A character card is missing, unreadable, or not a card sleepmem understands."""


def slugify(name: str) -> str:
    """The model-name suffix for a character: case-folded, runs of anything but letters and
    digits turned into one '-', so 'Hatsune Miku!' -> 'hatsune-miku'. Unicode letters stay
    (model names are UTF-8 everywhere sleepmem is served); an empty result becomes
    'character'."""
    text = unicodedata.normalize("NFKC", name).casefold()
    slug = re.sub(r"[\W_]+", "-", text).strip("-")
    return slug[:64].strip("-") or "character"


def fill_macros(text: str, char: str, user: str) -> str:
    """Replace {{char}}/{{user}} (any case, inner spaces allowed) and the V1 forms
    <BOT>/<USER>. Other {{macros}} are front-end features and are left as written."""

    def sub(m: re.Match[str]) -> str:
        word = (m.group(1) or m.group(2)).lower()
        return char if word in ("char", "bot") else user

    return _MACROS.sub(sub, text)


@dataclass(frozen=True, eq=False)
class Character:
    """One persona from a card. Texts are stored as written (macros unfilled); the methods
    fill them for a given user."""

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    card_system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: tuple[str, ...] = ()
    creator_notes: str = ""
    tags: tuple[str, ...] = ()
    creator: str = ""
    character_version: str = ""
    extensions: Mapping[str, Any] = field(default_factory=dict)
    spec: str = SPEC_V2
    source: Path | None = None

    @property
    def slug(self) -> str:
        """Model-name suffix: the server serves this card as ``sleepmem/<slug>``."""
        return slugify(self.name)

    def model_name(self, base: str = "sleepmem") -> str:
        """The name the server lists this character under (``server.model_name`` + slug)."""
        return f"{base}/{self.slug}"

    def _fill(self, text: str, user_name: str | None) -> str:
        return fill_macros(text, self.name, user_name or DEFAULT_USER_NAME).strip()

    @property
    def greeting(self) -> str:
        """The card's first message, for a user whose name is not known."""
        return self.greeting_for(None)

    def greeting_for(self, user_name: str | None) -> str:
        return self._fill(self.first_mes, user_name)

    def examples(self, user_name: str | None = None) -> list[str]:
        """The example dialogues, one string per <START> block, macros filled."""
        blocks = _START.split(self.mes_example)
        return [b for b in (self._fill(block, user_name) for block in blocks) if b]

    def system_prompt(self, user_name: str | None = None) -> str:
        """The system message that makes the model this character: the card's own system
        prompt (``{{original}}`` in it standing for sleepmem's default) or the default,
        then description, personality, scenario and example dialogues."""
        main = self.card_system_prompt.strip()
        main = _ORIGINAL.sub(DEFAULT_MAIN_PROMPT, main) if main else DEFAULT_MAIN_PROMPT
        parts = [self._fill(main, user_name), self._fill(self.description, user_name)]
        if self.personality.strip():
            parts.append(f"{self.name}'s personality: {self._fill(self.personality, user_name)}")
        if self.scenario.strip():
            parts.append(f"Scenario: {self._fill(self.scenario, user_name)}")
        examples = self.examples(user_name)
        if examples:
            parts.append("Example conversations:\n" + "\n\n".join(examples))
        return "\n\n".join(p for p in parts if p)

    def post_history(self, user_name: str | None = None) -> str:
        """The card's post-history instructions (meant to follow the chat), macros filled."""
        return self._fill(self.post_history_instructions, user_name)

    def messages(
        self, history: Sequence[Mapping[str, str]], user_name: str | None = None
    ) -> list[dict[str, str]]:
        """The chat as the model should see it when it speaks as this character.

        The character's system prompt comes first; system messages the client sent are
        added to it rather than dropped (front ends put their own instructions there). The
        greeting is inserted as the first assistant turn when the client's chat does not
        start with the character speaking (OpenAI clients never saw it; SillyTavern sends
        it itself). Post-history instructions follow the chat as a last system message."""
        client_system = [m["content"] for m in history if m.get("role") == "system"]
        turns = [
            {"role": m["role"], "content": m["content"]}
            for m in history
            if m.get("role") != "system"
        ]
        system = "\n\n".join([self.system_prompt(user_name), *client_system])
        out = [{"role": "system", "content": system}]
        greeting = self.greeting_for(user_name)
        if greeting and (not turns or turns[0]["role"] != "assistant"):
            out.append({"role": "assistant", "content": greeting})
        out += turns
        post = self.post_history(user_name)
        if post:
            out.append({"role": "system", "content": post})
        return out

    def to_card(self) -> dict[str, Any]:
        """This character as a Character Card V2 object (what ``parse_card`` reads back)."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "personality": self.personality,
            "scenario": self.scenario,
            "first_mes": self.first_mes,
            "mes_example": self.mes_example,
            "creator_notes": self.creator_notes,
            "system_prompt": self.card_system_prompt,
            "post_history_instructions": self.post_history_instructions,
            "alternate_greetings": list(self.alternate_greetings),
            "tags": list(self.tags),
            "creator": self.creator,
            "character_version": self.character_version,
            "extensions": dict(self.extensions),
        }
        return {"spec": SPEC_V2, "spec_version": "2.0", "data": data}


def _where(source: Path | str | None) -> str:
    return f"character card {str(source)!r}" if source is not None else "character card"


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CardError(f"{where}: field {key!r} must be text, not {type(value).__name__}")
    return value


def _texts(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CardError(f"{where}: field {key!r} must be a list of texts")
    return tuple(value)


def parse_card(obj: Any, source: Path | str | None = None) -> Character:
    """A Character from a decoded card object (V1 flat, V2 or V3). Raises CardError."""
    where = _where(source)
    if not isinstance(obj, dict):
        raise CardError(f"{where}: a card must be a JSON object, not {type(obj).__name__}")
    spec = obj.get("spec")
    if spec is None:
        data, spec = obj, SPEC_V1
    elif spec in (SPEC_V2, SPEC_V3):
        data = obj.get("data")
        if not isinstance(data, dict):
            raise CardError(f"{where}: {spec} card has no 'data' object")
        version = str(obj.get("spec_version", ""))
        expected = "2" if spec == SPEC_V2 else "3"
        if version and version.split(".")[0] != expected:
            raise CardError(
                f"{where}: spec {spec} with spec_version {version!r} (expected {expected}.x)"
            )
    else:
        raise CardError(
            f"{where}: unsupported spec {spec!r}; expected {SPEC_V2!r}, {SPEC_V3!r}, "
            "or a V1 card without 'spec'"
        )
    name = _text(data, "name", where).strip()
    if not name:
        raise CardError(f"{where}: the card has no 'name'")
    if len(name) > MAX_NAME_CHARS or "\n" in name:
        raise CardError(f"{where}: 'name' must be one line of at most {MAX_NAME_CHARS} characters")
    texts = {key: _text(data, key, where) for key in TEXT_FIELDS}
    persona = ("description", "personality", "scenario", "first_mes", "system_prompt")
    if not any(texts[key].strip() for key in persona):
        raise CardError(
            f"{where}: card {name!r} has no persona: description, personality, scenario, "
            "first_mes and system_prompt are all empty"
        )
    extensions = data.get("extensions")
    extensions = {} if extensions is None else extensions
    if not isinstance(extensions, dict):
        raise CardError(f"{where}: field 'extensions' must be an object")
    return Character(
        name=name,
        description=texts["description"],
        personality=texts["personality"],
        scenario=texts["scenario"],
        first_mes=texts["first_mes"],
        mes_example=texts["mes_example"],
        card_system_prompt=texts["system_prompt"],
        post_history_instructions=texts["post_history_instructions"],
        alternate_greetings=_texts(data, "alternate_greetings", where),
        creator_notes=texts["creator_notes"],
        tags=_texts(data, "tags", where),
        creator=texts["creator"],
        character_version=texts["character_version"],
        extensions=extensions,
        spec=spec,
        source=Path(source) if source is not None else None,
    )


def _json(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{where}: not valid JSON ({exc})") from exc


def card_from_png(data: bytes, source: Path | str | None = None) -> Any:
    """The decoded card object embedded in PNG bytes (``ccv3`` preferred over ``chara``)."""
    where = _where(source)
    try:
        texts = png.text_chunks(data)
    except png.PngError as exc:
        raise CardError(f"{where}: {exc}") from exc
    keyword = next((k for k in ("ccv3", "chara") if k in texts), None)
    if keyword is None:
        raise CardError(f"{where}: PNG has no character data (no 'chara' or 'ccv3' text chunk)")
    try:
        raw = base64.b64decode("".join(texts[keyword].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CardError(f"{where}: the {keyword!r} chunk is not valid base64 ({exc})") from exc
    return _json(raw, where)


def card_to_png(image: bytes, card: Mapping[str, Any] | Character) -> bytes:
    """PNG bytes of ``image`` carrying ``card`` in a ``chara`` text chunk, the form every
    card tool reads (an existing card chunk in the image is replaced)."""
    obj = card.to_card() if isinstance(card, Character) else card
    payload = base64.b64encode(json.dumps(obj, ensure_ascii=False).encode("utf-8"))
    try:
        return png.set_text(image, "chara", payload.decode("ascii"))
    except png.PngError as exc:
        raise CardError(f"cannot write the card into the image: {exc}") from exc


def load_card(path: str | Path) -> Character:
    """Read one card file: ``.png`` (or any file with the PNG signature) or JSON."""
    path = Path(path)
    where = _where(path)
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise CardError(f"{where}: {size} bytes is larger than {MAX_CARD_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        raise CardError(f"{where}: cannot be read ({exc.strerror or exc})") from exc
    if data.startswith(png.SIGNATURE) or path.suffix.lower() == ".png":
        obj = card_from_png(data, path)
    else:
        obj = _json(data, where)
    return parse_card(obj, path)


def load_cards(folder: str | Path) -> dict[str, Character]:
    """Every readable card in ``folder`` (``*.json``, ``*.png``), keyed by slug. A broken
    card is skipped with a warning that says why; so is a second card whose name gives the
    same slug (files are read in name order, the first one wins). A missing folder has no
    cards."""
    folder = Path(folder)
    if not folder.is_dir():
        if folder.exists():
            log.warning("characters folder %s is not a folder; no characters loaded", folder)
        return {}
    cards: dict[str, Character] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in CARD_SUFFIXES:
            continue
        if not path.is_file():
            continue
        try:
            character = load_card(path)
        except CardError as exc:
            log.warning("skipping %s", exc)
            continue
        first = cards.get(character.slug)
        if first is not None:
            log.warning(
                "skipping character card %s: %r has the same model name %r as %s",
                path,
                character.name,
                character.slug,
                first.source,
            )
            continue
        cards[character.slug] = character
    return cards


def find_character(
    cards: Mapping[str, Character], name: str, base: str = "sleepmem"
) -> Character | None:
    """The card a user means by ``name``: its slug or its name, ignoring case, with or
    without the model-name prefix ``<base>/``."""
    wanted = name.strip().removeprefix(f"{base}/")
    hit = cards.get(slugify(wanted))
    if hit is not None:
        return hit
    folded = wanted.casefold()
    return next((c for c in cards.values() if c.name.casefold() == folded), None)


def resolve_character(spec: str, folder: str | Path) -> Character:
    """A character named in configuration: a card file path, or a name/slug of a card in
    ``folder``. Raises CardError listing the cards there when nothing matches."""
    path = Path(spec).expanduser()
    if path.suffix.lower() in CARD_SUFFIXES and path.is_file():
        return load_card(path)
    cards = load_cards(folder)
    hit = find_character(cards, spec)
    if hit is None:
        known = ", ".join(sorted(c.name for c in cards.values())) or "none"
        raise CardError(f"no character card {spec!r} in {folder} (cards there: {known})")
    return hit
