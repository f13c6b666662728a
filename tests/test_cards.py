"""Character cards: real-format V1/V2/V3 JSON and PNG cards built here, and broken ones."""

from __future__ import annotations

import base64
import json
import logging
import struct
import zlib
from pathlib import Path

import pytest
from sleepmem.adapters.characters import (
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
from sleepmem.adapters.characters import png as pngmod
from sleepmem.engine.errors import InputError

# The shape SillyTavern exports: V2 under "data", the V1 fields repeated at the top level.
SERAPHINA = {
    "name": "Seraphina",
    "description": "{{char}} is a guardian of the Eldoria forest who healed {{user}}.",
    "personality": "warm, protective, curious",
    "scenario": "{{user}} wakes up in {{char}}'s glade after being attacked.",
    "first_mes": "*{{char}} smiles.* You're awake, {{user}}. How do you feel?",
    "mes_example": (
        "<START>\n{{user}}: Where am I?\n{{char}}: In my glade, safe from the shadows.\n"
        "<START>\n{{user}}: Who are you?\n{{char}}: I am <BOT>, keeper of this forest."
    ),
    "creatorcomment": "",
    "avatar": "none",
    "talkativeness": "0.5",
    "fav": False,
    "tags": ["fantasy", "healer"],
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Seraphina",
        "description": "{{char}} is a guardian of the Eldoria forest who healed {{user}}.",
        "personality": "warm, protective, curious",
        "scenario": "{{user}} wakes up in {{char}}'s glade after being attacked.",
        "first_mes": "*{{char}} smiles.* You're awake, {{user}}. How do you feel?",
        "mes_example": (
            "<START>\n{{user}}: Where am I?\n{{char}}: In my glade, safe from the shadows.\n"
            "<START>\n{{user}}: Who are you?\n{{char}}: I am <BOT>, keeper of this forest."
        ),
        "creator_notes": "A gentle forest guardian.",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": ["*{{char}} hums a song.*"],
        "tags": ["fantasy", "healer"],
        "creator": "tester",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "fav": False, "world": "", "depth_prompt": {}},
    },
    "create_date": "2024-5-1 @12h 00m 00s 000ms",
}


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    """A chunk assembled by hand (independently of the module under test)."""
    crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", crc)


def rgb_png(width: int = 4, height: int = 3, text: list[tuple[bytes, bytes]] = ()) -> bytes:
    """A valid RGB PNG: IHDR, a zlib IDAT of filter-0 scanlines, optional text chunks."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(
        b"\0" + b"".join(bytes((x * 40 % 256, y * 60 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    body = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows))
    for ctype, data in text:
        body += png_chunk(ctype, data)
    return pngmod.SIGNATURE + body + png_chunk(b"IEND", b"")


def chara_text(obj: object, keyword: bytes = b"chara") -> tuple[bytes, bytes]:
    payload = base64.b64encode(json.dumps(obj).encode("utf-8"))
    return b"tEXt", keyword + b"\0" + payload


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# --- JSON cards ---------------------------------------------------------------------------


def test_v2_json_card_becomes_a_persona(tmp_path: Path) -> None:
    ch = load_card(write(tmp_path / "Seraphina.json", json.dumps(SERAPHINA)))
    assert ch.name == "Seraphina" and ch.slug == "seraphina"
    assert ch.model_name() == "sleepmem/seraphina"
    assert ch.spec == "chara_card_v2"
    assert ch.tags == ("fantasy", "healer")
    assert ch.alternate_greetings == ("*{{char}} hums a song.*",)

    prompt = ch.system_prompt("Alice")
    assert prompt.startswith("You are Seraphina.")
    assert "Seraphina is a guardian of the Eldoria forest who healed Alice." in prompt
    assert "Seraphina's personality: warm, protective, curious" in prompt
    assert "Scenario: Alice wakes up in Seraphina's glade after being attacked." in prompt
    assert "Alice: Where am I?\nSeraphina: In my glade, safe from the shadows." in prompt
    assert "I am Seraphina, keeper of this forest." in prompt  # V1 <BOT> macro
    assert "<START>" not in prompt and "{{" not in prompt
    assert ch.greeting == "*Seraphina smiles.* You're awake, User. How do you feel?"
    assert ch.greeting_for("Alice").endswith("You're awake, Alice. How do you feel?")


def test_unknown_user_is_called_user_and_macros_ignore_case(tmp_path: Path) -> None:
    card = {"name": "Bo", "description": "{{CHAR}} teases {{ user }} and <USER>."}
    ch = parse_card(card)
    assert ch.spec == "chara_card_v1"
    assert "Bo teases User and User." in ch.system_prompt(None)
    assert "Bo teases Zed and Zed." in ch.system_prompt("Zed")


def test_card_system_prompt_replaces_default_and_original_keeps_it() -> None:
    data = dict(SERAPHINA["data"], system_prompt="Speak in verse as {{char}}.")
    ch = parse_card({"spec": "chara_card_v2", "spec_version": "2.0", "data": data})
    assert ch.system_prompt("Al").startswith("Speak in verse as Seraphina.\n\n")
    assert "You are Seraphina" not in ch.system_prompt("Al")
    data["system_prompt"] = "{{original}} Rhyme when you can."
    ch = parse_card({"spec": "chara_card_v2", "spec_version": "2.0", "data": data})
    assert ch.system_prompt("Al").startswith("You are Seraphina. Write Seraphina's next reply")
    assert "Stay in character. Rhyme when you can." in ch.system_prompt("Al")


def test_v3_json_card_and_unicode_name(tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": "Élodie Brûlée",
            "description": "A baker.",
            "nickname": "Lo",
            "group_only_greetings": [],
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        },
    }
    ch = load_card(write(tmp_path / "e.json", json.dumps(card, ensure_ascii=False)))
    assert ch.spec == "chara_card_v3" and ch.slug == "élodie-brûlée"
    assert slugify("Hatsune Miku!") == "hatsune-miku"
    assert slugify("***") == "character"


def test_messages_add_greeting_client_system_and_post_history() -> None:
    data = dict(SERAPHINA["data"], post_history_instructions="Keep {{user}} safe.")
    ch = parse_card({"spec": "chara_card_v2", "spec_version": "2.0", "data": data})
    history = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Hi!"},
    ]
    out = ch.messages(history, "Alice")
    assert [m["role"] for m in out] == ["system", "assistant", "user", "system"]
    assert out[0]["content"].startswith(ch.system_prompt("Alice"))
    assert out[0]["content"].endswith("Answer briefly.")
    assert out[1]["content"] == ch.greeting_for("Alice")
    assert out[3]["content"] == "Keep Alice safe."
    # A client that already shows the greeting (SillyTavern) does not get it twice.
    shown = [{"role": "assistant", "content": "hello"}, {"role": "user", "content": "hi"}]
    assert [m["role"] for m in ch.messages(shown)] == ["system", "assistant", "user", "system"]


def test_to_card_round_trips() -> None:
    ch = parse_card(SERAPHINA)
    again = parse_card(json.loads(json.dumps(ch.to_card())))
    assert again.to_card() == ch.to_card()
    assert again.system_prompt("A") == ch.system_prompt("A")


# --- PNG cards ----------------------------------------------------------------------------


def test_png_card_made_by_hand_is_read(tmp_path: Path) -> None:
    data = rgb_png(text=[(b"tEXt", b"Software\0paint"), chara_text(SERAPHINA)])
    ch = load_card(write(tmp_path / "seraphina.png", data))
    assert ch.name == "Seraphina" and "Eldoria" in ch.system_prompt()


def test_ccv3_chunk_wins_over_chara() -> None:
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Nova", "scenario": "x"}}
    data = rgb_png(text=[chara_text(SERAPHINA), chara_text(v3, b"ccv3")])
    assert parse_card(card_from_png(data)).name == "Nova"


def test_written_png_keeps_the_image_and_replaces_the_old_card() -> None:
    image = rgb_png(5, 2, text=[chara_text({"name": "Old", "description": "old"})])
    out = card_to_png(image, parse_card(SERAPHINA))
    before = {c.type: c.data for c in pngmod.read_chunks(image) if c.type in (b"IHDR", b"IDAT")}
    after = pngmod.read_chunks(out)
    assert {c.type: c.data for c in after if c.type in (b"IHDR", b"IDAT")} == before
    assert after[-1].type == b"IEND"
    assert [c.type for c in after].count(b"tEXt") == 1  # "Old" was replaced, not kept
    assert parse_card(card_from_png(out)).name == "Seraphina"
    # Every chunk's CRC, recomputed independently, is right.
    pos = 8
    while pos < len(out):
        (n,) = struct.unpack(">I", out[pos : pos + 4])
        body = out[pos + 4 : pos + 8 + n]
        assert struct.unpack(">I", out[pos + 8 + n : pos + 12 + n])[0] == zlib.crc32(body)
        pos += 12 + n


def test_compressed_itxt_and_ztxt_cards_are_read() -> None:
    payload = base64.b64encode(json.dumps(SERAPHINA).encode())
    itxt = b"chara\0" + b"\1\0" + b"\0" + b"\0" + zlib.compress(payload)
    assert parse_card(card_from_png(rgb_png(text=[(b"iTXt", itxt)]))).name == "Seraphina"
    ztxt = b"chara\0\0" + zlib.compress(payload)
    assert parse_card(card_from_png(rgb_png(text=[(b"zTXt", ztxt)]))).name == "Seraphina"


def test_decompression_bomb_is_refused() -> None:
    bomb = b"chara\0\0" + zlib.compress(b"A" * (pngmod.MAX_TEXT_BYTES + 10), 9)
    with pytest.raises(CardError, match="inflates to more than"):
        card_from_png(rgb_png(text=[(b"zTXt", bomb)]))


# --- broken cards -------------------------------------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"GIF89a not a png", "PNG signature is missing"),
        (lambda: rgb_png(text=[chara_text(SERAPHINA)])[:-30], "truncated"),
        (lambda: _flip(rgb_png(text=[chara_text(SERAPHINA)]), 40), "CRC mismatch"),
        (lambda: rgb_png(), "no character data"),
        (lambda: rgb_png(text=[(b"tEXt", b"chara\0%%%not-base64%%%")]), "not valid base64"),
        (
            lambda: rgb_png(text=[(b"tEXt", b"chara\0" + base64.b64encode(b"{broken"))]),
            "not valid JSON",
        ),
        (lambda: rgb_png(text=[chara_text(["a", "list"])]), "must be a JSON object"),
    ],
)
def test_broken_png_cards(tmp_path: Path, make, message: str) -> None:
    path = write(tmp_path / "bad.png", make())
    with pytest.raises(CardError, match=message) as info:
        load_card(path)
    assert "bad.png" in str(info.value)


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ({"spec": "chara_card_v2", "spec_version": "2.0"}, "has no 'data' object"),
        ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {}}, "has no 'name'"),
        ({"description": "nameless"}, "has no 'name'"),
        ({"spec": "tavern_card_v9", "data": {"name": "X"}}, "unsupported spec 'tavern_card_v9'"),
        (
            {"spec": "chara_card_v2", "spec_version": "3.0", "data": {"name": "X"}},
            "spec_version '3.0'",
        ),
        ({"name": "X", "description": 42}, "field 'description' must be text, not int"),
        ({"name": "X", "description": "d", "tags": "a,b"}, "'tags' must be a list of texts"),
        ({"name": "X", "description": "d", "extensions": []}, "'extensions' must be an object"),
        ({"name": "X"}, "has no persona"),
        ({"name": "two\nlines", "description": "d"}, "must be one line"),
    ],
)
def test_broken_card_fields(card: dict, message: str) -> None:
    with pytest.raises(CardError, match=message):
        parse_card(card, "c.json")


def test_unreadable_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="not valid JSON"):
        load_card(write(tmp_path / "x.json", "{'single': 'quotes'}"))
    with pytest.raises(CardError, match="cannot be read"):
        load_card(tmp_path / "nope.json")
    assert issubclass(CardError, InputError)


# --- folders ------------------------------------------------------------------------------


def test_load_cards_skips_broken_cards_with_a_warning(tmp_path: Path, caplog) -> None:
    nova = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Nova", "scenario": "s"},
    }
    write(tmp_path / "a-seraphina.json", json.dumps(SERAPHINA))
    write(tmp_path / "b-nova.png", rgb_png(text=[chara_text(nova)]))
    write(tmp_path / "c-broken.png", rgb_png()[:-6])
    write(tmp_path / "d-empty.json", json.dumps({"name": "Empty"}))
    write(tmp_path / "e-seraphina-copy.json", json.dumps(SERAPHINA))
    write(tmp_path / ".hidden.json", "garbage")
    write(tmp_path / "notes.txt", "not a card")
    with caplog.at_level(logging.WARNING, logger="sleepmem.adapters.characters.cards"):
        cards = load_cards(tmp_path)
    assert sorted(cards) == ["nova", "seraphina"]
    assert cards["seraphina"].source == tmp_path / "a-seraphina.json"
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    assert "c-broken.png" in warnings and "truncated" in warnings
    assert "d-empty.json" in warnings and "has no persona" in warnings
    assert "e-seraphina-copy.json" in warnings and "same model name" in warnings
    assert "notes.txt" not in warnings and ".hidden" not in warnings
    assert load_cards(tmp_path / "missing") == {}


def test_find_and_resolve_character(tmp_path: Path) -> None:
    write(tmp_path / "s.json", json.dumps(SERAPHINA))
    cards = load_cards(tmp_path)
    for name in ("Seraphina", "seraphina", "sleepmem/seraphina", " SERAPHINA "):
        assert find_character(cards, name) is cards["seraphina"]
    assert find_character(cards, "Nobody") is None
    assert resolve_character("seraphina", tmp_path).name == "Seraphina"
    assert resolve_character(str(tmp_path / "s.json"), tmp_path / "elsewhere").name == "Seraphina"
    with pytest.raises(CardError, match=r"no character card 'Nobody'.*Seraphina"):
        resolve_character("Nobody", tmp_path)


def test_character_is_a_plain_dataclass() -> None:
    ch = Character(name="Plain", description="d")
    assert ch.greeting == "" and ch.examples() == []
    assert ch.system_prompt() == (
        "You are Plain. Write Plain's next reply in a conversation with User. "
        "Stay in character.\n\nd"
    )
