"""Which Discord messages the bot answers, what text it reads, and whose memory it uses.

Plain functions over plain values so the rules are tested without Discord objects; the bot
only extracts ids and flags from a ``discord.Message`` and asks these.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass

from sleepmem.engine.service import memory_key

USER_PREFIX = "discord:"
"""Memory ids of Discord users: ``discord:<snowflake>``, so they can never collide with a
user named in the terminal or the HTTP server."""


class Reason(enum.Enum):
    """Why a message is answered (or, for the IGNORE_* members, why not)."""

    DM = "direct message"
    MENTION = "mentioned"
    CHANNEL = "listening channel"
    IGNORE_SELF = "own message"
    IGNORE_BOT = "from a bot"
    IGNORE_SYSTEM = "system message"
    IGNORE_ELSEWHERE = "not addressed to the bot"

    @property
    def answers(self) -> bool:
        return not self.name.startswith("IGNORE_")


@dataclass(frozen=True)
class Incoming:
    """What routing needs to know about one message."""

    author_id: int
    author_is_bot: bool
    is_dm: bool
    mentions_bot: bool
    channel_id: int
    parent_id: int | None = None  # the channel a thread belongs to
    is_system: bool = False  # joins, pins, boosts...
    replies_to_bot: bool = False  # a reply to one of the bot's messages (even without a ping)


def route(msg: Incoming, bot_id: int, listen: Collection[int]) -> Reason:
    """Answer DMs, mentions and every message in a listening channel (or its threads);
    never the bot's own messages or another bot's (two bots could answer each other
    forever)."""
    if msg.author_id == bot_id:
        return Reason.IGNORE_SELF
    if msg.author_is_bot:
        return Reason.IGNORE_BOT
    if msg.is_system:
        return Reason.IGNORE_SYSTEM
    if msg.is_dm:
        return Reason.DM
    if msg.mentions_bot or msg.replies_to_bot:
        return Reason.MENTION
    if msg.channel_id in listen or (msg.parent_id is not None and msg.parent_id in listen):
        return Reason.CHANNEL
    return Reason.IGNORE_ELSEWHERE


def strip_mentions(content: str, bot_id: int, role_ids: Collection[int] = ()) -> str:
    """The message text without mentions of the bot: ``<@id>``, ``<@!id>``, and ``<@&id>``
    of its own role (Discord's autocomplete offers the bot's role as well as the bot)."""
    ids = "|".join([rf"!?{bot_id}", *(rf"&{r}" for r in role_ids)])
    return re.sub(rf"[ \t]*<@(?:{ids})>[ \t]*", " ", content).strip()


def input_problem(text: str, attachments: int, max_chars: int) -> str | None:
    """A polite note for a message the bot cannot take in, or None if it is fine."""
    if not text.strip():
        if attachments:
            return (
                "I can only read text, so I haven't looked at or remembered the attachment. "
                "Tell me in words what you'd like me to know."
            )
        return "Say something after mentioning me and I'll answer."
    if len(text) > max_chars:
        return (
            f"That message is {len(text)} characters; I can read up to {max_chars}. "
            "Nothing from it was stored."
        )
    return None


def user_memory_key(
    user_id: int,
    guild_id: int | None,
    *,
    per_guild: bool,
    character: str | None = None,
) -> str:
    """The memory a Discord user's messages and commands act on.

    Per guild only when configured and the message is in a guild: DMs use the user's own
    memory either way. A character the bot speaks as may get its own memory (``character``
    is None when memory is shared across characters).
    """
    guild = str(guild_id) if per_guild and guild_id is not None else None
    return memory_key(f"{USER_PREFIX}{user_id}", character=character, guild=guild)
