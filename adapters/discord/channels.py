"""Channels a server's admins told the bot to answer every message in, kept per guild.

One small JSON file per guild under ``<home>/discord/guilds/`` (``{"guild_id": ..,
"channels": [..]}``), written atomically, so a crash mid-write never loses the list and an
admin can read or fix it by hand. Channels from the config file (``discord.channels``) are
always on and not stored here.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from sleepmem.engine.errors import InputError

log = logging.getLogger(__name__)


def guilds_dir(home: Path) -> Path:
    return home / "discord" / "guilds"


class ChannelStore:
    def __init__(self, root: Path, fixed: Iterable[int] = ()) -> None:
        self.root = root
        self.fixed = frozenset(fixed)
        self._cache: dict[int, frozenset[int]] = {}
        self._lock = threading.Lock()

    def _path(self, guild_id: int) -> Path:
        if not isinstance(guild_id, int) or isinstance(guild_id, bool) or guild_id <= 0:
            raise InputError(f"guild id must be a positive integer, not {guild_id!r}")
        return self.root / f"{guild_id}.json"

    def _read(self, guild_id: int) -> frozenset[int]:
        path = self._path(guild_id)
        if not path.exists():
            return frozenset()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            channels = data["channels"]
            if not isinstance(channels, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in channels
            ):
                raise ValueError("'channels' must be a list of channel ids")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"the channel list {path} is unreadable ({exc}); fix or delete the file"
            ) from exc
        return frozenset(channels)

    def stored(self, guild_id: int) -> frozenset[int]:
        """Channels added by the guild's admins."""
        with self._lock:
            if guild_id not in self._cache:
                self._cache[guild_id] = self._read(guild_id)
            return self._cache[guild_id]

    def listening(self, guild_id: int | None) -> frozenset[int]:
        """Every channel the bot answers all messages in, for routing. A broken file is
        logged and read as empty rather than taking the bot down with it."""
        if guild_id is None:
            return self.fixed
        try:
            return self.fixed | self.stored(guild_id)
        except InputError as exc:
            log.warning("%s", exc)
            return self.fixed

    def add(self, guild_id: int, channel_id: int) -> bool:
        """Listen in ``channel_id``; False if it already was."""
        with self._lock:
            current = self._read(guild_id)
            if channel_id in current or channel_id in self.fixed:
                return False
            self._write(guild_id, current | {channel_id})
            return True

    def remove(self, guild_id: int, channel_id: int) -> bool:
        """Stop listening in ``channel_id``; False if it was not on the guild's list."""
        with self._lock:
            current = self._read(guild_id)
            if channel_id not in current:
                return False
            self._write(guild_id, current - {channel_id})
            return True

    def _write(self, guild_id: int, channels: frozenset[int]) -> None:
        path = self._path(guild_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"guild_id": guild_id, "channels": sorted(channels)}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{guild_id}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache[guild_id] = channels
