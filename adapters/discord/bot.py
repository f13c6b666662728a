"""The Discord bot: discord.py glue between Discord and an in-process MemoryService.

Decisions (who is answered, whose memory, what history, how a reply is cut) live in the
Discord-free modules beside this one; this file only reads ids off Discord objects, calls
them, and talks to Discord. What the bot does:

- answers DMs, mentions, and every message in a listening channel (config ``discord.channels``
  plus channels a server's admins add with ``/sleepmem-channel``);
- replies with the author's memory live, under a typing indicator, split at 2000 characters;
  wake (fact extraction and the edit) is queued after the reply has been sent;
- app commands ``/sleep``, ``/memories``, ``/forget``, ``/remember`` and ``/new`` answer
  ephemerally and act only on the invoking user's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import discord
from discord import app_commands
from sleepmem.engine import paths
from sleepmem.engine.commands import is_command
from sleepmem.engine.config import EngineConfig
from sleepmem.engine.errors import ConfigError, SleepmemError
from sleepmem.engine.service import MemoryService, leave_if_work_abandoned

from .channels import ChannelStore, guilds_dir
from .history import ConversationId, Conversations, build_messages
from .routing import Incoming, input_problem, route, strip_mentions, user_memory_key
from .split import split_message

log = logging.getLogger(__name__)

TOKEN_ENV = "DISCORD_TOKEN"
FAILED = "Sorry, something went wrong on my side; nothing about you was changed."
# What the bot needs in a channel: see it, talk (also in threads), and quote the message
# it answers (a reply reference needs Read Message History).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    read_message_history=True,
)


def resolve_token(configured: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The bot token from config or $DISCORD_TOKEN, or a ConfigError saying where to get one."""
    token = (configured or env.get(TOKEN_ENV) or "").strip()
    token = token.removeprefix("Bot ").strip()  # pasted with the HTTP header's prefix
    if not token:
        raise ConfigError(
            f"no Discord bot token: set ${TOKEN_ENV} (or discord.token in the config file). "
            "Get one at https://discord.com/developers/applications > your app > Bot > "
            "Reset Token; see examples/discord.md"
        )
    if any(c.isspace() for c in token):
        raise ConfigError(f"the Discord token contains spaces; copy it again (${TOKEN_ENV})")
    return token


def load_persona(config: EngineConfig) -> Any:
    """The character card the bot speaks as (``discord.character``), or None."""
    spec = config.discord.character
    if not spec:
        return None
    from sleepmem.adapters.characters.cards import resolve_character

    folder = config.server.characters_dir or paths.home(config.home) / "characters"
    return resolve_character(spec, Path(folder).expanduser())


def invite_url(application_id: int) -> str:
    """The link that adds the bot to a server with its slash commands."""
    return discord.utils.oauth_url(
        application_id,
        permissions=INVITE_PERMISSIONS,
        scopes=("bot", "applications.commands"),
    )


@dataclass(frozen=True)
class Sent:
    """What ``deliver`` produced, for logging and tests."""

    chunks: int
    chars: int


class SleepmemBot(discord.Client):
    def __init__(
        self,
        service: MemoryService,
        config: EngineConfig,
        *,
        character: Any = None,
        sync_commands: bool = True,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True  # privileged: must be switched on in the portal
        super().__init__(
            intents=intents,
            # The model writes the replies: it must never be able to ping @everyone or roles.
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.service = service
        self.config = config
        self.character = character
        self.sync_commands = sync_commands
        self.channel_store = ChannelStore(
            guilds_dir(paths.home(config.home)), fixed=config.discord.channels
        )
        self.conversations = Conversations()
        self._turn_locks: dict[ConversationId, tuple[asyncio.Lock, int]] = {}
        self.tree = app_commands.CommandTree(self)
        _register_commands(self.tree, self)

    # ------------------------------------------------------------------ identity
    def memory_key(self, user_id: int, guild_id: int | None) -> str:
        character = None
        if self.character is not None and self.config.server.per_character_memory:
            character = self.character.name
        return user_memory_key(
            user_id,
            guild_id,
            per_guild=self.config.discord.per_guild_memory,
            character=character,
        )

    # ------------------------------------------------------------------ lifecycle
    async def setup_hook(self) -> None:
        if self.sync_commands:
            synced = await self.tree.sync()
            log.info("app commands synced: %s", ", ".join(c.name for c in synced))

    async def on_ready(self) -> None:
        assert self.user is not None
        print(f"sleepmem discord: logged in as {self.user} (id {self.user.id})", file=sys.stderr)
        if self.application_id is not None:
            print(f"invite: {invite_url(self.application_id)}", file=sys.stderr)

    # ------------------------------------------------------------------ messages
    async def on_message(self, message: discord.Message) -> None:
        await self.handle_message(message)

    def _own_roles(self, message: discord.Message) -> list[int]:
        """Ids of the role Discord made for this bot, mentioned in ``message``."""
        me = self.user
        assert me is not None
        return [r.id for r in message.role_mentions if r.tags and r.tags.bot_id == me.id]

    def incoming(self, message: discord.Message) -> Incoming:
        me = self.user
        assert me is not None
        ref = message.reference.resolved if message.reference is not None else None
        return Incoming(
            author_id=message.author.id,
            author_is_bot=message.author.bot,
            is_dm=message.guild is None,
            mentions_bot=any(u.id == me.id for u in message.mentions)
            or bool(self._own_roles(message)),
            channel_id=message.channel.id,
            parent_id=getattr(message.channel, "parent_id", None),
            is_system=message.is_system(),
            replies_to_bot=isinstance(ref, discord.Message) and ref.author.id == me.id,
        )

    async def handle_message(self, message: discord.Message) -> Sent | None:
        """Answer ``message`` if it is for the bot; None when it is not."""
        me = self.user
        if me is None:
            return None
        guild_id = message.guild.id if message.guild is not None else None
        reason = route(self.incoming(message), me.id, self.channel_store.listening(guild_id))
        if not reason.answers:
            return None
        text = strip_mentions(message.content, me.id, self._own_roles(message))
        problem = input_problem(
            text, len(message.attachments), self.service.engine.config.max_message_chars
        )
        if problem is not None:
            return await self.deliver(message, problem)
        key = self.memory_key(message.author.id, guild_id)
        cid = (message.channel.id, message.author.id)
        async with self._turn(cid):  # one turn at a time per conversation keeps history in order
            try:
                if text.lower() == "/new":
                    self.conversations.reset(cid)
                    return await self.deliver(message, "Started a fresh conversation.")
                if is_command(text):  # a typed command: same table as everywhere else
                    async with message.channel.typing():
                        answer = await self.service.command(key, text)
                    return await self.deliver(message, answer or "Done.")
                return await self._converse(message, key, cid, text)
            except SleepmemError as exc:
                return await self.deliver(message, str(exc))
            except Exception:
                log.exception("reply failed in channel %s", message.channel.id)
                return await self.deliver(message, FAILED)

    @contextlib.asynccontextmanager
    async def _turn(self, cid: ConversationId) -> AsyncIterator[None]:
        """Serialise turns of one conversation; the lock is dropped when nobody holds or
        waits for it, so a bot seen by many people does not keep one per person forever."""
        lock, users = self._turn_locks.get(cid, (asyncio.Lock(), 0))
        self._turn_locks[cid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turn_locks[cid]
            if users == 1:
                del self._turn_locks[cid]
            else:
                self._turn_locks[cid] = (lock, users - 1)

    async def _converse(
        self, message: discord.Message, key: str, cid: ConversationId, text: str
    ) -> Sent:
        turns = build_messages(text, self.conversations.history(cid))
        chat = (
            self.character.messages(turns, message.author.display_name)
            if self.character is not None
            else turns
        )
        async with message.channel.typing():
            await self.service.receive(key, chat)  # a restart from here on loses nothing
            reply = (await self.service.reply(key, chat)).text.strip()
        sent = await self.deliver(message, reply or "…")
        if reply:
            # Only now, with the answer on screen: the edit never delays it.
            self.service.after_reply(key, chat, reply)
            self.conversations.add(cid, text, reply)
        return sent

    async def deliver(self, message: discord.Message, text: str) -> Sent:
        """Send ``text`` as a reply to ``message``, split into as many messages as needed."""
        chunks = split_message(text)
        for i, chunk in enumerate(chunks):
            if i == 0 and message.guild is not None:
                # Quoting keeps the answer next to its question in a busy channel.
                # If the question was deleted meanwhile, send the answer unquoted.
                await message.channel.send(
                    chunk,
                    reference=message.to_reference(fail_if_not_exists=False),
                    mention_author=False,
                )
            else:
                await message.channel.send(chunk)
        return Sent(len(chunks), sum(map(len, chunks)))

    # ------------------------------------------------------------------ app commands
    async def run_command(self, interaction: discord.Interaction, text: str) -> None:
        """An app command that touches memory: defer (sleep and edits take a while), run it
        on the invoker's own memory, answer ephemerally."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        key = self.memory_key(interaction.user.id, interaction.guild_id)
        try:
            answer = await self.service.command(key, text) or "Done."
        except SleepmemError as exc:
            answer = str(exc)
        except Exception:
            log.exception("command %s failed", text.split()[0])
            answer = FAILED
        for chunk in split_message(answer):
            await interaction.followup.send(chunk, ephemeral=True)

    async def new_conversation(self, interaction: discord.Interaction) -> None:
        assert interaction.channel_id is not None
        had = self.conversations.reset((interaction.channel_id, interaction.user.id))
        note = "Started a fresh conversation here." if had else "This conversation is already new."
        await interaction.response.send_message(
            note + " Your memory stays as it is.", ephemeral=True
        )

    async def set_channel(
        self, interaction: discord.Interaction, action: Literal["add", "remove", "list"]
    ) -> None:
        """Admins choose where the bot answers every message (permission checked here too:
        a server can override a command's default permissions)."""
        guild_id, channel_id = interaction.guild_id, interaction.channel_id
        if guild_id is None or channel_id is None:
            answer = "Listening channels are set inside a server, not in DMs."
        elif not interaction.permissions.manage_guild:
            answer = "Only members with the Manage Server permission can change this."
        else:
            answer = self._channel_action(guild_id, channel_id, action)
        await interaction.response.send_message(answer, ephemeral=True)

    def _channel_action(self, guild_id: int, channel_id: int, action: str) -> str:
        try:
            if action == "add":
                added = self.channel_store.add(guild_id, channel_id)
                return (
                    f"I'll answer every message in <#{channel_id}> now."
                    if added
                    else f"I already answer every message in <#{channel_id}>."
                )
            if action == "remove":
                if self.channel_store.remove(guild_id, channel_id):
                    return f"I'll only answer mentions in <#{channel_id}> from now on."
                if channel_id in self.channel_store.fixed:
                    return "This channel is set in the bot's config file; remove it there."
                return f"<#{channel_id}> was not a listening channel."
            listening = sorted(self.channel_store.listening(guild_id))
            if not listening:
                return "I only answer mentions and DMs here; `/sleepmem-channel add` changes that."
            return "I answer every message in: " + ", ".join(f"<#{c}>" for c in listening)
        except SleepmemError as exc:
            return str(exc)


def _register_commands(tree: app_commands.CommandTree[Any], bot: SleepmemBot) -> None:
    @tree.command(name="sleep", description="Consolidate your memory now (takes a minute)")
    async def sleep_command(interaction: discord.Interaction) -> None:
        await bot.run_command(interaction, "/sleep")

    @tree.command(name="memories", description="List what I remember about you")
    async def memories_command(interaction: discord.Interaction) -> None:
        await bot.run_command(interaction, "/memories")

    @tree.command(name="forget", description="Forget one of your memories (or all of them)")
    @app_commands.describe(what="a memory's id, words from it, or 'all'")
    async def forget_command(interaction: discord.Interaction, what: str) -> None:
        await bot.run_command(interaction, f"/forget {what}")

    @tree.command(name="remember", description="Tell me a fact about you to remember")
    @app_commands.describe(fact="for example: I live in Porto")
    async def remember_command(interaction: discord.Interaction, fact: str) -> None:
        await bot.run_command(interaction, f"/remember {fact}")

    @tree.command(name="new", description="Start a fresh conversation here (memory stays)")
    async def new_command(interaction: discord.Interaction) -> None:
        await bot.new_conversation(interaction)

    @tree.command(
        name="sleepmem-channel",
        description="Admins: answer every message in this channel, or stop",
    )
    @app_commands.describe(action="add this channel, remove it, or list listening channels")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def channel_command(
        interaction: discord.Interaction, action: Literal["add", "remove", "list"]
    ) -> None:
        await bot.set_channel(interaction, action)


# --------------------------------------------------------------------------- running


async def serve(engine: Any, config: EngineConfig, token: str, character: Any = None) -> None:
    """Run the bot until SIGTERM or SIGINT, then log out and stop background edits at their
    next step; messages not yet woken stay in the inbox for the next start."""
    service = MemoryService(engine)
    await service.start()
    bot = SleepmemBot(service, config, character=character)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # not available on Windows' default loop or outside the main thread: Ctrl-C still
        # ends asyncio.run there, and the finally below still runs
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    running = asyncio.ensure_future(bot.start(token))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # a login error surfaces here
    except discord.LoginFailure as exc:
        raise ConfigError(f"Discord rejected the bot token ({exc}); reset it and retry") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise ConfigError(
            "Discord refused the Message Content intent: enable it at "
            "https://discord.com/developers/applications > your app > Bot > "
            "Privileged Gateway Intents > Message Content Intent"
        ) from exc
    finally:
        stopping.cancel()
        await bot.close()
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        await service.close(finish=False)
        leave_if_work_abandoned(service)


def run(config: EngineConfig, open_engine: Callable[[EngineConfig], Any]) -> int:
    """``sleepmem discord``: check the token and card first (seconds), then load the model."""
    token = resolve_token(config.discord.token)
    character = load_persona(config)
    engine = open_engine(config)
    try:
        asyncio.run(serve(engine, config, token, character))
    finally:
        engine.close()
    return 0
