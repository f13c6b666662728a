"""The Discord bot.

First the Discord-free rules as plain functions (routing, splitting, memory keys, history,
listening channels, token). Then the real bot: a ``SleepmemBot`` logs in with discord.py's
own HTTP client against a loopback stand-in for Discord's REST API (every request is
recorded), gateway events are fed through discord.py's own parsers (``parse_message_create``,
``parse_interaction_create``) so handlers receive real ``discord.Message`` and
``discord.Interaction`` objects, and memory is a real MemoryService on the real model.
Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sleepmem.adapters.discord.channels import ChannelStore
from sleepmem.adapters.discord.history import Conversations, build_messages
from sleepmem.adapters.discord.routing import (
    Incoming,
    Reason,
    input_problem,
    route,
    strip_mentions,
    user_memory_key,
)
from sleepmem.adapters.discord.split import DISCORD_LIMIT, FENCE, open_fence, split_message
from sleepmem.engine.errors import ConfigError, InputError

# --------------------------------------------------------------------------- splitting


def _rendered(text: str) -> list[tuple[bool, str]]:
    """What Discord shows: every visible character, and whether it is inside a code block.
    Fences, language tags and whitespace are not compared (cuts may move whitespace)."""
    out: list[tuple[bool, str]] = []
    code, pos = False, 0
    for m in re.finditer(FENCE, text):
        out += [(code, ch) for ch in text[pos : m.start()] if not ch.isspace()]
        pos = m.end()
        if not code:
            lang = re.match(r"[A-Za-z0-9_+\-.#]{1,30}\n", text[pos:])
            pos += lang.end() if lang else 0
        code = not code
    out += [(code, ch) for ch in text[pos:] if not ch.isspace()]
    return out


def _check_chunks(text: str, chunks: list[str], limit: int = DISCORD_LIMIT) -> None:
    assert chunks, "a non-empty text gives at least one message"
    for chunk in chunks:
        assert 0 < len(chunk) <= limit
        assert chunk.strip()
        assert open_fence(chunk) is None, f"unbalanced code fence in {chunk[-80:]!r}"
    # Each message renders on its own; together they show the same text, code as code. A
    # block the text leaves open is closed in the last message.
    closed = text + "\n" + FENCE if open_fence(text) is not None else text
    assert [x for c in chunks for x in _rendered(c)] == _rendered(closed)


def test_short_text_is_one_message_unchanged() -> None:
    assert split_message("Hello there.") == ["Hello there."]
    assert split_message("x" * DISCORD_LIMIT) == ["x" * DISCORD_LIMIT]
    assert split_message("") == []
    assert split_message("\n\n  \n") == []


def test_prose_splits_at_paragraphs_then_sentences() -> None:
    para = " ".join(f"Sentence {i} talks about the weather." for i in range(30))  # ~1.1k
    text = "\n\n".join([para, para, para])
    chunks = split_message(text)
    _check_chunks(text, chunks)
    assert chunks == [para, para, para]  # whole paragraphs, nothing cut

    long_para = " ".join(f"Sentence {i} talks about the weather." for i in range(150))
    chunks = split_message(long_para)
    _check_chunks(long_para, chunks)
    assert len(chunks) == 3
    assert all(c.endswith("weather.") for c in chunks)  # cut at sentence ends
    assert all(len(c) > DISCORD_LIMIT // 2 for c in chunks[:-1])  # no tiny messages


def test_a_short_first_line_does_not_become_its_own_message() -> None:
    text = "Sure!\n\n" + " ".join(f"Point {i} is this." for i in range(200))
    chunks = split_message(text)
    _check_chunks(text, chunks)
    assert chunks[0].startswith("Sure!\n\nPoint 0") and len(chunks[0]) > 1500


def test_words_are_never_cut_unless_longer_than_a_message() -> None:
    words = [f"word{i}" for i in range(900)]
    text = " ".join(words)
    chunks = split_message(text)
    _check_chunks(text, chunks)
    assert [w for c in chunks for w in c.split()] == words

    huge = "y" * 4500
    chunks = split_message(f"before {huge} after")
    assert [len(c) for c in chunks] == [len("before"), 1996, 1996, 508 + len(" after")]
    assert "".join(chunks).replace("before", "").replace("after", "").strip() == huge


def test_code_block_split_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    total += item_{i}  # add item {i}" for i in range(120))
    text = f"Here is the loop:\n\n```python\n{code}\n```\n\nThat is all."
    chunks = split_message(text)
    _check_chunks(text, chunks)
    assert len(chunks) >= 3
    assert chunks[0].startswith("Here is the loop:") and chunks[0].endswith("\n```")
    for middle in chunks[1:-1]:
        assert middle.startswith("```python\n") and middle.endswith("\n```")
    assert chunks[-1].startswith("```python\n") and chunks[-1].endswith("That is all.")
    # Lines inside the block are cut only between lines, with indentation kept.
    body = [line for c in chunks for line in c.split("\n") if "total" in line]
    assert body == code.split("\n")


def test_code_block_ending_exactly_at_a_cut_is_not_reopened_empty() -> None:
    block = "```\n" + "\n".join(["a = 1"] * 330) + "\n```"  # 1988 chars + fences
    text = block + "\n\nAfter the code."
    chunks = split_message(text)
    _check_chunks(text, chunks)
    assert not any(c.strip() in ("```\n```", FENCE) for c in chunks)


def test_unclosed_code_block_and_inline_fences() -> None:
    chunks = split_message("Look:\n```js\nlet a = 1;")
    assert chunks == ["Look:\n```js\nlet a = 1;\n```"]
    inline = "Use ```code``` spans freely. " * 100
    chunks = split_message(inline)
    _check_chunks(inline, chunks)
    assert all(not c.startswith("```\n") for c in chunks)


def test_random_texts_always_split_into_valid_messages() -> None:
    rng = random.Random(7)
    pieces = ["word", "longerword", ".", "!", "?", "\n", "\n\n", "```py", "```", "    x = 1"]
    for _ in range(200):
        parts = []
        for _ in range(rng.randint(1, 1500)):
            p = rng.choice(pieces)
            parts.append(p if p.startswith("\n") else " " + p)
        text = "".join(parts)
        # fence tokens only count at line starts; put some there
        text = re.sub(r"\n (```\w*)", r"\n\1", text)
        limit = rng.choice([200, 500, DISCORD_LIMIT])
        chunks = split_message(text, limit)
        if text.strip():
            _check_chunks(text, chunks, limit)


def test_limit_too_small_is_refused() -> None:
    with pytest.raises(ValueError):
        split_message("text", limit=50)


# --------------------------------------------------------------------------- routing

BOT = 1000


def _msg(**kw: Any) -> Incoming:
    base = {
        "author_id": 7,
        "author_is_bot": False,
        "is_dm": False,
        "mentions_bot": False,
        "channel_id": 50,
    }
    return Incoming(**{**base, **kw})


@pytest.mark.parametrize(
    ("msg", "listen", "reason"),
    [
        (_msg(is_dm=True), (), Reason.DM),
        (_msg(mentions_bot=True), (), Reason.MENTION),
        (_msg(), (50,), Reason.CHANNEL),
        (_msg(channel_id=51, parent_id=50), (50,), Reason.CHANNEL),  # thread of a channel
        (_msg(), (51,), Reason.IGNORE_ELSEWHERE),
        (_msg(author_id=BOT, is_dm=True), (50,), Reason.IGNORE_SELF),
        (_msg(author_is_bot=True, mentions_bot=True), (50,), Reason.IGNORE_BOT),
        (_msg(author_is_bot=True, is_dm=True), (), Reason.IGNORE_BOT),
        (_msg(is_system=True), (50,), Reason.IGNORE_SYSTEM),
        (_msg(replies_to_bot=True), (), Reason.MENTION),  # a reply without a ping
        (_msg(author_is_bot=True, replies_to_bot=True), (), Reason.IGNORE_BOT),
    ],
)
def test_route(msg: Incoming, listen: tuple[int, ...], reason: Reason) -> None:
    got = route(msg, BOT, listen)
    assert got is reason
    assert got.answers == (not reason.name.startswith("IGNORE"))


def test_strip_mentions_removes_only_the_bot() -> None:
    assert strip_mentions("<@1000> hi <@!1000>", BOT) == "hi"
    assert strip_mentions("hey <@1000>, meet <@2000>", BOT) == "hey , meet <@2000>"
    assert strip_mentions("<@10000> hi", BOT) == "<@10000> hi"
    assert strip_mentions("<@&77> hi <@&78>", BOT, role_ids=[77]) == "hi <@&78>"


def test_input_problems() -> None:
    assert input_problem("hello", 0, 100) is None
    assert input_problem("hello", 2, 100) is None  # text wins; attachments are ignored
    note = input_problem("  ", 1, 100)
    assert note is not None and "attachment" in note
    assert "mention" in (input_problem("", 0, 100) or "")
    assert "101" in (input_problem("x" * 101, 0, 100) or "")


def test_memory_keys_separate_users_guilds_and_characters() -> None:
    assert user_memory_key(7, None, per_guild=False) == "discord:7"
    assert user_memory_key(7, 99, per_guild=False) == "discord:7"
    assert user_memory_key(7, 99, per_guild=True) == "discord:7/guild:99"
    assert user_memory_key(7, None, per_guild=True) == "discord:7"  # DMs: the user's own
    assert user_memory_key(7, 99, per_guild=True, character="Sera") == (
        "discord:7/guild:99/character:Sera"
    )
    keys = {user_memory_key(u, g, per_guild=True) for u in (7, 8) for g in (None, 1, 2)}
    assert len(keys) == 6


# --------------------------------------------------------------------------- history


def test_build_messages_bounds_history_by_characters() -> None:
    history = []
    for i in range(6):
        history += [
            {"role": "user", "content": f"question {i} " + "q" * 90},
            {"role": "assistant", "content": f"answer {i} " + "a" * 90},
        ]
    chat = build_messages("now?", history, max_chars=450)
    assert chat[-1] == {"role": "user", "content": "now?"}
    assert chat[0]["role"] == "user" and chat[0]["content"].startswith("question 4")
    assert sum(len(m["content"]) for m in chat) <= 450
    assert build_messages("hi") == [{"role": "user", "content": "hi"}]
    # blank entries are dropped (the engine rejects empty messages)
    blank = [{"role": "user", "content": "a"}, {"role": "assistant", "content": " "}]
    chat = build_messages("x", blank)
    assert chat == [{"role": "user", "content": "a"}, {"role": "user", "content": "x"}]


def test_conversations_are_per_channel_and_user_bounded_and_expire() -> None:
    now = [0.0]
    convs = Conversations(max_turns=4, idle_reset_s=60, clock=lambda: now[0], max_conversations=2)
    convs.add((1, 7), "hi", "hello")
    convs.add((1, 8), "yo", "hey")
    assert convs.history((1, 7)) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    assert convs.history((2, 7)) == []  # another channel: another conversation
    for i in range(5):
        convs.add((1, 7), f"m{i}", f"r{i}")
    assert [m["content"] for m in convs.history((1, 7))] == ["m3", "r3", "m4", "r4"]
    now[0] = 61
    assert convs.history((1, 7)) == []  # quiet for too long: a new chat
    convs.add((1, 7), "again", "yes")
    now[0] = 62
    convs.add((3, 9), "new", "one")  # a third conversation evicts the oldest
    assert len(convs) == 2 and convs.history((1, 8)) == []
    assert convs.reset((1, 7)) and not convs.reset((1, 7))


# --------------------------------------------------------------------------- channels


def test_channel_store_persists_per_guild(tmp_path: Path) -> None:
    store = ChannelStore(tmp_path / "guilds", fixed=[5])
    assert store.listening(11) == {5} and store.listening(None) == {5}
    assert store.add(11, 100) and not store.add(11, 100)
    assert not store.add(11, 5)  # already on through the config
    assert store.add(12, 200)
    reread = ChannelStore(tmp_path / "guilds", fixed=[5])
    assert reread.listening(11) == {5, 100} and reread.listening(12) == {5, 200}
    data = json.loads((tmp_path / "guilds" / "11.json").read_text())
    assert data == {"guild_id": 11, "channels": [100]}
    assert reread.remove(11, 100) and not reread.remove(11, 100) and not reread.remove(11, 5)
    assert ChannelStore(tmp_path / "guilds").listening(11) == set()
    assert [p.name for p in (tmp_path / "guilds").iterdir()] != []
    assert not list((tmp_path / "guilds").glob("*.tmp"))


def test_broken_channel_file_is_reported_and_kept(tmp_path: Path) -> None:
    root = tmp_path / "guilds"
    root.mkdir()
    (root / "11.json").write_text("{not json")
    store = ChannelStore(root, fixed=[5])
    assert store.listening(11) == {5}  # routing keeps working
    with pytest.raises(InputError, match=r"11\.json"):
        store.add(11, 100)
    assert (root / "11.json").read_text() == "{not json"  # nothing overwritten
    with pytest.raises(InputError):
        store.stored(-3)


# --------------------------------------------------------------------------- token / CLI


def test_token_comes_from_config_or_environment() -> None:
    pytest.importorskip("discord")
    from sleepmem.adapters.discord.bot import resolve_token

    assert resolve_token("abc.def", {}) == "abc.def"
    assert resolve_token(None, {"DISCORD_TOKEN": " Bot abc.def\n"}) == "abc.def"
    assert resolve_token("cfg", {"DISCORD_TOKEN": "env"}) == "cfg"
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        resolve_token(None, {})
    with pytest.raises(ConfigError, match="spaces"):
        resolve_token("abc def", {})


def test_cli_without_token_fails_fast_with_a_clear_message(tmp_path, monkeypatch, capsys):
    pytest.importorskip("discord")
    from sleepmem.adapters import cli
    from sleepmem.adapters.cli import common

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("SLEEPMEM_DISCORD__TOKEN", raising=False)

    def no_model(config: Any) -> Any:
        raise AssertionError("the model must not load before the token is checked")

    monkeypatch.setattr(common, "open_engine", no_model)
    assert cli.main(["discord", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err and "Traceback" not in err

    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    monkeypatch.setenv("SLEEPMEM_DISCORD__CHARACTER", "Nobody")
    assert cli.main(["discord", "--home", str(tmp_path)]) == 2
    assert "Nobody" in capsys.readouterr().err


def test_character_card_gives_the_persona_and_its_own_memory(tmp_path: Path) -> None:
    pytest.importorskip("discord")
    from sleepmem.adapters.discord.bot import load_persona
    from sleepmem.engine.config import load_config

    (tmp_path / "characters").mkdir()
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Seraphina", "description": "{{char}} guards the forest glade."},
    }
    (tmp_path / "characters" / "sera.json").write_text(json.dumps(card))
    cfg = load_config(
        overrides={"home": str(tmp_path), "discord.character": "seraphina"},
        discover=False,
        env={},
    )
    persona = load_persona(cfg)
    assert persona.name == "Seraphina"
    assert "Seraphina guards the forest glade." in persona.system_prompt("Ana")
    plain = load_config(overrides={"home": str(tmp_path)}, discover=False, env={})
    assert load_persona(plain) is None


# =========================================================================== the real bot

APP_ID = 700000000000000001  # a modern app's bot user has the application's id
GUILD = 800000000000000001
GENERAL = 810000000000000001
LOUNGE = 810000000000000002
DM_ANA = 820000000000000001
DM_BO = 820000000000000002
ANA = 900000000000000001
BO = 900000000000000002
OTHER_BOT = 900000000000000003
TOKEN = "MTAw.fake.token"
MANAGE_GUILD = 1 << 5
BOT_ROLE = 830000000000000001  # the role Discord creates for the bot in a server
_snowflakes = itertools.count(1_100_000_000_000_000_000)
TIMESTAMP = "2025-06-01T12:00:00.000000+00:00"


def _user(uid: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "bot": bot,
    }


BOT_USER = _user(APP_ID, "sleepmem", bot=True)
USERS = {ANA: _user(ANA, "ana"), BO: _user(BO, "bo"), OTHER_BOT: _user(OTHER_BOT, "echo", True)}


def _member(uid: int, permissions: int = 0) -> dict[str, Any]:
    return {
        "user": USERS[uid],
        "roles": [],
        "joined_at": TIMESTAMP,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(permissions),
    }


def _guild() -> dict[str, Any]:
    def text_channel(cid: int, name: str, position: int) -> dict[str, Any]:
        return {
            "id": str(cid),
            "type": 0,
            "guild_id": str(GUILD),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }

    everyone = {
        "id": str(GUILD),
        "name": "@everyone",
        "permissions": str((1 << 10) | (1 << 11) | (1 << 16)),
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    bot_role = {
        **everyone,
        "id": str(BOT_ROLE),
        "name": "sleepmem",
        "position": 1,
        "managed": True,
        "tags": {"bot_id": str(APP_ID)},
    }
    return {
        "id": str(GUILD),
        "name": "Test Server",
        "icon": None,
        "owner_id": str(BO),
        "roles": [everyone, bot_role],
        "emojis": [],
        "stickers": [],
        "features": [],
        "member_count": 3,
        "members": [],
        "channels": [text_channel(GENERAL, "general", 0), text_channel(LOUNGE, "lounge", 1)],
        "threads": [],
        "unavailable": False,
        "large": False,
        "premium_tier": 0,
        "preferred_locale": "en-US",
    }


def message_event(
    author: int,
    content: str,
    *,
    channel: int,
    guild: int | None = None,
    mentions: tuple[int, ...] = (),
    attachments: int = 0,
    kind: int = 0,
    roles: tuple[int, ...] = (),
    replying_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload as the gateway sends it."""
    author_data = BOT_USER if author == APP_ID else USERS[author]
    data: dict[str, Any] = {
        "id": str(next(_snowflakes)),
        "channel_id": str(channel),
        "author": author_data,
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [BOT_USER if m == APP_ID else USERS[m] for m in mentions],
        "mention_roles": [str(r) for r in roles],
        "attachments": [
            {
                "id": str(next(_snowflakes)),
                "filename": f"photo{i}.png",
                "size": 48213,
                "url": f"https://cdn.discordapp.com/attachments/{channel}/{i}/photo{i}.png",
                "proxy_url": f"https://media.discordapp.net/attachments/{channel}/{i}/photo{i}.png",
                "content_type": "image/png",
                "width": 640,
                "height": 480,
            }
            for i in range(attachments)
        ],
        "embeds": [],
        "pinned": False,
        "type": kind,
        "flags": 0,
    }
    if replying_to is not None:
        data["type"] = 19
        data["message_reference"] = {
            "type": 0,
            "message_id": replying_to["id"],
            "channel_id": replying_to["channel_id"],
        }
        data["referenced_message"] = replying_to
    if guild is not None:
        data["guild_id"] = str(guild)
        member = _member(author) if author in USERS else None
        if member is not None:
            data["member"] = {k: v for k, v in member.items() if k not in ("user", "permissions")}
    return data


def interaction_event(
    user: int,
    name: str,
    options: dict[str, str] | None = None,
    *,
    channel: int,
    guild: int | None = None,
    permissions: int = 0,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for a slash command."""
    data: dict[str, Any] = {
        "id": str(next(_snowflakes)),
        "application_id": str(APP_ID),
        "type": 2,
        "token": f"itoken-{next(_snowflakes)}",
        "version": 1,
        "locale": "en-US",
        "app_permissions": str((1 << 10) | (1 << 11)),
        "attachment_size_limit": 8 * 1024 * 1024,
        "entitlements": [],
        "data": {
            "id": str(next(_snowflakes)),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        },
    }
    if guild is not None:
        data.update(
            guild_id=str(guild),
            guild_locale="en-US",
            context=0,
            member=_member(user, permissions),
            channel={"id": str(channel), "type": 0, "guild_id": str(guild), "name": "general"},
            authorizing_integration_owners={"0": str(guild)},
        )
    else:
        data.update(
            context=1,
            user=USERS[user],
            channel={"id": str(channel), "type": 1, "recipients": [USERS[user]]},
            authorizing_integration_owners={"1": str(user)},
        )
    return data


@dataclass
class Call:
    method: str
    path: str
    body: Any
    query: dict[str, str]
    status: int = 0


class FakeDiscord:
    """Discord's REST API, as much of it as the bot uses, on loopback. It records every
    request and answers in Discord's response shapes, so discord.py's real HTTP client,
    rate-limit handling and response parsing all run."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/api/v10/{path:.*}", self.handle)
        return app

    async def handle(self, request: Any) -> Any:

        path = "/" + request.match_info["path"]
        body = await request.json() if request.content_type == "application/json" else None
        call = Call(request.method, path, body, dict(request.query))
        self.calls.append(call)
        response = self._answer(request.method, path, body, request.headers)
        call.status = response.status
        return response

    def _answer(self, method: str, path: str, body: Any, headers: Any) -> Any:
        from aiohttp import web

        # Interaction callbacks and followups are authorised by the interaction's token in
        # the URL (no bot token, as on Discord); everything else needs the bot token.
        by_interaction = re.fullmatch(r"/(interactions/\d+|webhooks/\d+)/itoken-\d+.*", path)
        if not by_interaction and headers.get("Authorization") != f"Bot {TOKEN}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        route = (method, re.sub(r"\d{6,}", "{id}", path))
        if route == ("GET", "/users/@me"):
            return _json(BOT_USER)
        if route == ("GET", "/oauth2/applications/@me"):
            return _json(self._application())
        if route == ("PUT", "/applications/{id}/commands"):
            return _json(
                [
                    {"id": str(next(_snowflakes)), "application_id": str(APP_ID), "version": "1"}
                    | cmd
                    for cmd in body
                ]
            )
        if route == ("POST", "/channels/{id}/typing"):
            return web.Response(status=204)
        if route == ("POST", "/channels/{id}/messages"):
            return _json(self._message(path.split("/")[2], body))
        if method == "POST" and re.fullmatch(r"/interactions/\d+/[\w-]+/callback", path):
            interaction_id = path.split("/")[2]
            return _json(
                {
                    "interaction": {"id": interaction_id, "type": 2},
                    "resource": {"type": body["type"]},
                }
            )
        if method == "POST" and re.fullmatch(rf"/webhooks/{APP_ID}/[\w-]+", path):
            return _json(self._message("0", body))
        return _json({"message": f"404: Not Found {path}", "code": 0}, status=404)

    @staticmethod
    def _application() -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "sleepmem",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": USERS[BO],
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": BOT_USER,
        }

    @staticmethod
    def _message(channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(next(_snowflakes)),
            "channel_id": channel_id,
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
        }

    # ------------------------------------------------------------------ reading the record
    def posts(self, channel: int) -> list[dict[str, Any]]:
        """Bodies of the messages the bot sent to ``channel``."""
        return [
            c.body
            for c in self.calls
            if c.method == "POST" and c.path == f"/channels/{channel}/messages"
        ]

    def index(self, method: str, path: str) -> int:
        return next(i for i, c in enumerate(self.calls) if c.method == method and c.path == path)

    def interaction_replies(self, event: dict[str, Any]) -> tuple[list[dict], list[dict]]:
        """(callback bodies, followup bodies) for one interaction."""
        callbacks = [
            c.body
            for c in self.calls
            if c.path == f"/interactions/{event['id']}/{event['token']}/callback"
        ]
        followups = [c.body for c in self.calls if c.path == f"/webhooks/{APP_ID}/{event['token']}"]
        return callbacks, followups

    def channel_traffic(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/channels/")]


def _json(data: Any, status: int = 200) -> Any:
    """A JSON response exactly as Discord labels it (discord.py checks the content type
    verbatim; aiohttp's json_response would add a charset)."""
    from aiohttp import web

    body = json.dumps(data).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


async def dispatch(bot: Any, event: str, payload: dict[str, Any]) -> None:
    """Feed a gateway event to discord.py's parser and wait for every handler it started."""
    before = asyncio.all_tasks()
    getattr(bot._connection, f"parse_{event}")(payload)
    started = asyncio.all_tasks() - before
    results = await asyncio.gather(*started, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors


async def command(bot: Any, fake: FakeDiscord, *args: Any, **kwargs: Any) -> str:
    """Run a slash command; return the text of its (ephemeral) answer."""
    event = interaction_event(*args, **kwargs)
    await dispatch(bot, "interaction_create", event)
    callbacks, followups = fake.interaction_replies(event)
    statuses = [c.status for c in fake.calls if event["token"] in c.path]
    assert statuses and all(200 <= s < 300 for s in statuses), statuses
    assert len(callbacks) == 1, "an interaction is answered exactly once"
    if callbacks[0]["type"] == 5:  # deferred ("thinking"), answered by followups
        assert callbacks[0]["data"]["flags"] & 64, "the deferral must be ephemeral"
        assert followups, "a deferred command must follow up"
        assert all(f["flags"] & 64 for f in followups)
        return "\n".join(f["content"] for f in followups)
    assert callbacks[0]["type"] == 4 and callbacks[0]["data"]["flags"] & 64
    assert not followups
    return callbacks[0]["data"]["content"]


MakeBot = Callable[..., Awaitable[Any]]


@pytest.fixture
async def discord_bots(aiohttp_server, monkeypatch, engine_factory, tmp_path: Path):
    """(fake Discord, make_bot): each bot is logged in to the fake API with a guild in its
    cache and its own MemoryService on the shared model."""
    discord = pytest.importorskip("discord")
    from sleepmem.adapters.discord.bot import SleepmemBot
    from sleepmem.engine.service import MemoryService

    fake = FakeDiscord()
    server = await aiohttp_server(fake.app())
    monkeypatch.setattr(discord.http.Route, "BASE", str(server.make_url("/api/v10")))
    bots: list[Any] = []

    async def make(home: Path | None = None, character: Any = None, **overrides: Any) -> Any:
        engine = engine_factory(home or tmp_path / "home", max_new_tokens=40, **overrides)
        bot = SleepmemBot(MemoryService(engine), engine.config, character=character)
        bots.append(bot)
        await bot.login(TOKEN)  # GET /users/@me, application info, PUT commands
        bot._connection.parse_guild_create(_guild())
        return bot

    yield fake, make
    for bot in bots:
        await bot.close()
        await bot.service.close()
    failed = [(c.method, c.path, c.status) for c in fake.calls if not 200 <= c.status < 300]
    assert not failed, f"requests Discord would have refused: {failed}"


async def test_bot_login_syncs_the_app_commands(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make()
    assert bot.user.id == APP_ID and bot.application_id == APP_ID
    (sync,) = [c for c in fake.calls if c.method == "PUT"]
    assert sync.path == f"/applications/{APP_ID}/commands"
    by_name = {c["name"]: c for c in sync.body}
    assert set(by_name) == {"sleep", "memories", "forget", "remember", "new", "sleepmem-channel"}
    assert [o["name"] for o in by_name["forget"]["options"]] == ["what"]
    assert by_name["forget"]["options"][0]["required"] is True
    admin = by_name["sleepmem-channel"]
    assert int(admin["default_member_permissions"]) == MANAGE_GUILD
    assert admin.get("contexts") == [0] or admin.get("dm_permission") is False
    assert [c["value"] for c in admin["options"][0]["choices"]] == ["add", "remove", "list"]


async def test_bot_messages_not_for_the_bot_are_ignored(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make(**{"discord.channels": [LOUNGE]})
    for event in (
        message_event(ANA, "hello all", channel=GENERAL, guild=GUILD),  # no mention
        message_event(
            OTHER_BOT, f"<@{APP_ID}> ping", channel=GENERAL, guild=GUILD, mentions=(APP_ID,)
        ),
        message_event(OTHER_BOT, "hi", channel=LOUNGE, guild=GUILD),  # a bot, listening channel
        message_event(APP_ID, "my own words", channel=LOUNGE, guild=GUILD),
        message_event(ANA, "", channel=LOUNGE, guild=GUILD, kind=7),  # "Ana joined"
    ):
        await dispatch(bot, "message_create", event)
    assert fake.channel_traffic() == []
    assert bot.service.engine.store.users() == []


async def test_bot_attachments_only_get_a_polite_note_and_nothing_is_stored(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make(max_message_chars=300)
    await dispatch(bot, "message_create", message_event(ANA, "", channel=DM_ANA, attachments=2))
    (note,) = fake.posts(DM_ANA)
    assert "only read text" in note["content"]
    too_long = "I live in Porto. " * 30
    await dispatch(bot, "message_create", message_event(ANA, too_long, channel=DM_ANA))
    assert "300" in fake.posts(DM_ANA)[1]["content"]
    await bot.service.drain()
    assert bot.service.engine.memories(f"discord:{ANA}") == []
    assert not any(c.path.endswith("/typing") for c in fake.calls)  # no model was run
    assert bot.conversations.history((DM_ANA, ANA)) == []
    await dispatch(bot, "message_create", message_event(ANA, "/new", channel=DM_ANA))
    assert "fresh conversation" in fake.posts(DM_ANA)[-1]["content"]


async def test_bot_replies_to_its_messages_and_its_role_count_as_mentions(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make()
    own = message_event(APP_ID, "Earlier answer.", channel=GENERAL, guild=GUILD)
    reply = message_event(ANA, "", channel=GENERAL, guild=GUILD, attachments=1, replying_to=own)
    await dispatch(bot, "message_create", reply)
    by_role = message_event(
        ANA, f"<@&{BOT_ROLE}>", channel=GENERAL, guild=GUILD, attachments=1, roles=(BOT_ROLE,)
    )
    await dispatch(bot, "message_create", by_role)
    other = message_event(ANA, "", channel=GENERAL, guild=GUILD, attachments=1, replying_to=reply)
    await dispatch(bot, "message_create", other)  # a reply to someone else: not for the bot
    posts = fake.posts(GENERAL)
    assert len(posts) == 2 and all("only read text" in p["content"] for p in posts)
    assert [int(p["message_reference"]["message_id"]) for p in posts] == [
        int(reply["id"]),
        int(by_role["id"]),
    ]
    assert all(p["message_reference"]["fail_if_not_exists"] is False for p in posts)


async def test_bot_admins_choose_listening_channels_and_the_choice_persists(
    discord_bots, tmp_path: Path
) -> None:
    fake, make = discord_bots
    bot = await make()
    photo = message_event(ANA, "", channel=GENERAL, guild=GUILD, attachments=1)
    await dispatch(bot, "message_create", photo)
    assert fake.posts(GENERAL) == []  # not listening yet

    answer = await command(
        bot,
        fake,
        ANA,
        "sleepmem-channel",
        {"action": "add"},
        channel=GENERAL,
        guild=GUILD,
        permissions=0,
    )
    assert "Manage Server" in answer
    assert not (tmp_path / "home" / "discord" / "guilds" / f"{GUILD}.json").exists()

    answer = await command(
        bot,
        fake,
        BO,
        "sleepmem-channel",
        {"action": "add"},
        channel=GENERAL,
        guild=GUILD,
        permissions=MANAGE_GUILD,
    )
    assert f"<#{GENERAL}>" in answer
    saved = json.loads((tmp_path / "home" / "discord" / "guilds" / f"{GUILD}.json").read_text())
    assert saved["channels"] == [GENERAL]

    await dispatch(
        bot, "message_create", message_event(ANA, "", channel=GENERAL, guild=GUILD, attachments=1)
    )
    (note,) = fake.posts(GENERAL)
    assert "only read text" in note["content"]
    assert note["message_reference"]["message_id"]  # quoted: a reply in a guild channel
    assert note["allowed_mentions"]["parse"] == []  # the bot never pings anyone

    restarted = await make()  # same home: the list survives a restart
    assert GENERAL in restarted.channel_store.listening(GUILD)
    answer = await command(
        restarted,
        fake,
        BO,
        "sleepmem-channel",
        {"action": "list"},
        channel=LOUNGE,
        guild=GUILD,
        permissions=MANAGE_GUILD,
    )
    assert f"<#{GENERAL}>" in answer
    answer = await command(
        restarted,
        fake,
        BO,
        "sleepmem-channel",
        {"action": "remove"},
        channel=GENERAL,
        guild=GUILD,
        permissions=MANAGE_GUILD,
    )
    assert "only answer mentions" in answer
    assert GENERAL not in restarted.channel_store.listening(GUILD)


async def test_bot_user_a_cannot_forget_user_b(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make()
    engine = bot.service.engine
    told = await command(bot, fake, BO, "remember", {"fact": "I live in Porto"}, channel=DM_BO)
    assert "Porto" in told
    b_key = f"discord:{BO}"
    (fact,) = engine.memories(b_key)
    b_batches = [b.id for b in engine.memory(b_key).batches()]

    # Ana aims at Bo's fact by its words, by its id, and with "all": only her memory is hit.
    for what in ("Porto", fact.id, "all"):
        answer = await command(
            bot, fake, ANA, "forget", {"what": what}, channel=GENERAL, guild=GUILD
        )
        assert "Forgot:" not in answer
    assert "0 facts" in answer
    assert [f.id for f in engine.memories(b_key)] == [fact.id]
    assert [b.id for b in engine.memory(b_key).batches()] == b_batches
    assert "Porto" in await command(bot, fake, BO, "memories", channel=DM_BO)
    await dispatch(bot, "message_create", message_event(BO, "/memories", channel=DM_BO))
    assert fact.id in fake.posts(DM_BO)[-1]["content"]  # typed, same command table
    assert "anything" in await command(bot, fake, ANA, "memories", channel=DM_ANA)

    # Bo can forget his own; a command without its argument gets the usage, not an error.
    assert "usage" in await command(bot, fake, BO, "forget", {"what": " "}, channel=DM_BO)
    assert "Forgot: " in await command(bot, fake, BO, "forget", {"what": "Porto"}, channel=DM_BO)
    assert engine.memories(b_key) == []


async def test_bot_long_replies_are_split_and_sent_in_order(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make()
    import discord

    event = message_event(ANA, "tell me a long story", channel=GENERAL, guild=GUILD)
    message = discord.Message(state=bot._connection, channel=bot.get_channel(GENERAL), data=event)
    text = "\n\n".join(" ".join(f"Part {p} sentence {i}." for i in range(90)) for p in range(3))
    sent = await bot.deliver(message, text)
    posts = fake.posts(GENERAL)
    assert sent.chunks == len(posts) >= 3
    assert all(len(p["content"]) <= DISCORD_LIMIT for p in posts)
    assert "message_reference" in posts[0] and all("message_reference" not in p for p in posts[1:])
    assert " ".join(p["content"] for p in posts).split() == text.split()


async def test_bot_mention_in_a_guild_gets_a_model_reply_with_typing(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make()
    event = message_event(
        ANA,
        f"<@{APP_ID}> Say hello to the channel.",
        channel=GENERAL,
        guild=GUILD,
        mentions=(APP_ID,),
    )
    await dispatch(bot, "message_create", event)
    (reply,) = fake.posts(GENERAL)
    assert reply["content"].strip()
    assert int(reply["message_reference"]["message_id"]) == int(event["id"])
    typing = fake.index("POST", f"/channels/{GENERAL}/typing")
    assert typing < fake.index("POST", f"/channels/{GENERAL}/messages")
    history = bot.conversations.history((GENERAL, ANA))
    assert history[0] == {"role": "user", "content": "Say hello to the channel."}
    assert bot.conversations.history((GENERAL, BO)) == []
    await bot.service.drain()


async def test_bot_told_in_a_dm_recalled_in_a_fresh_chat_and_not_by_another_user(
    discord_bots,
) -> None:
    """End to end: Ana tells a fact in a DM; wake edits it in after the reply; a fresh
    conversation asks and gets it right; Bo asks the same and does not; /sleep keeps it."""
    fake, make = discord_bots
    bot = await make()
    ana = f"discord:{ANA}"
    told = message_event(ANA, "I live in Porto, in the north of Portugal.", channel=DM_ANA)
    await dispatch(bot, "message_create", told)
    (first,) = fake.posts(DM_ANA)
    assert first["content"].strip() and "message_reference" not in first  # DMs: plain send
    await bot.service.drain()  # wake ran after the reply was sent
    assert [f.answer for f in bot.service.engine.memories(ana)] == ["Porto"]

    answer = await command(bot, fake, ANA, "new", channel=DM_ANA)
    assert "fresh conversation" in answer
    assert bot.conversations.history((DM_ANA, ANA)) == []
    await dispatch(bot, "message_create", message_event(ANA, "Where do I live?", channel=DM_ANA))
    assert "Porto" in fake.posts(DM_ANA)[-1]["content"]

    await dispatch(bot, "message_create", message_event(BO, "Where do I live?", channel=DM_BO))
    (bo_reply,) = fake.posts(DM_BO)
    assert "Porto" not in bo_reply["content"]
    await bot.service.drain()
    assert bot.service.engine.memories(f"discord:{BO}") == []

    slept = await command(bot, fake, ANA, "sleep", channel=DM_ANA)
    assert "Slept on 1 fact" in slept or "1 fact" in slept
    assert bot.conversations.reset((DM_ANA, ANA))
    await dispatch(bot, "message_create", message_event(ANA, "Where do I live?", channel=DM_ANA))
    assert "Porto" in fake.posts(DM_ANA)[-1]["content"]


async def test_bot_per_guild_memory_keeps_servers_apart(discord_bots) -> None:
    fake, make = discord_bots
    bot = await make(**{"discord.per_guild_memory": True})
    told = await command(
        bot,
        fake,
        ANA,
        "remember",
        {"fact": "My dog is called Biscuit"},
        channel=GENERAL,
        guild=GUILD,
    )
    assert "Biscuit" in told
    assert [f.answer for f in bot.service.engine.memories(f"discord:{ANA}/guild:{GUILD}")] == [
        "Biscuit"
    ]
    assert "anything" in await command(bot, fake, ANA, "memories", channel=DM_ANA)
    assert "Biscuit" in await command(bot, fake, ANA, "memories", channel=LOUNGE, guild=GUILD)


async def test_bot_rejected_token_is_a_clear_error(discord_bots, engine_factory, tmp_path) -> None:
    from sleepmem.adapters.discord.bot import serve

    fake, _ = discord_bots
    engine = engine_factory(tmp_path / "home")
    with pytest.raises(ConfigError, match="rejected the bot token"):
        await serve(engine, engine.config, "not-the-token")
    assert [(c.path, c.status) for c in fake.calls] == [("/users/@me", 401)]
    fake.calls.clear()  # the refusal was the point; nothing else may fail
