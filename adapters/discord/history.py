"""Conversation history: what the model sees besides the new message.

Kept in memory per (channel, user): in a busy channel each person has their own thread of
conversation with the bot, so nobody's reply is steered by someone else's chat, and wake
only ever reads the speaker's own words. Bounded by turns and characters (a small model's
context is short) and reset after a quiet spell, like a new chat. Lost on restart, which is
fine: what matters lives in the weights.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Message = dict[str, str]
ConversationId = tuple[int, int]  # (channel id, user id)

MAX_TURNS = 12
MAX_CHARS = 6000
IDLE_RESET_S = 3600.0


def build_messages(
    user_text: str, history: Sequence[Message] = (), *, max_chars: int = MAX_CHARS
) -> list[Message]:
    """The chat for the model: the most recent history that fits ``max_chars`` together
    with the new message, then the message. Blank entries are dropped (the engine rejects
    empty messages), and so is a leading model turn whose question was cut off."""
    kept: list[Message] = []
    used = len(user_text)
    for message in reversed([m for m in history if m.get("content", "").strip()]):
        used += len(message["content"])
        if used > max_chars:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0]["role"] != "user":
        kept.pop(0)
    return [*kept, {"role": "user", "content": user_text}]


@dataclass
class _Conversation:
    turns: deque[Message] = field(default_factory=lambda: deque(maxlen=MAX_TURNS))
    last_at: float = 0.0


class Conversations:
    """Recent turns per (channel, user), forgotten after ``idle_reset_s`` of silence."""

    def __init__(
        self,
        max_turns: int = MAX_TURNS,
        idle_reset_s: float = IDLE_RESET_S,
        clock: Callable[[], float] = time.monotonic,
        max_conversations: int = 10000,
    ) -> None:
        self.max_turns = max_turns
        self.idle_reset_s = idle_reset_s
        self.max_conversations = max_conversations
        self._clock = clock
        self._by_id: dict[ConversationId, _Conversation] = {}

    def history(self, cid: ConversationId) -> list[Message]:
        conv = self._by_id.get(cid)
        if conv is None or self._clock() - conv.last_at > self.idle_reset_s:
            self._by_id.pop(cid, None)
            return []
        return list(conv.turns)

    def add(self, cid: ConversationId, user_text: str, reply: str) -> None:
        conv = self._by_id.get(cid)
        if conv is None or self._clock() - conv.last_at > self.idle_reset_s:
            conv = _Conversation(turns=deque(maxlen=self.max_turns))
            self._by_id[cid] = conv
            self._evict()
        conv.turns.append({"role": "user", "content": user_text})
        conv.turns.append({"role": "assistant", "content": reply})
        conv.last_at = self._clock()

    def reset(self, cid: ConversationId) -> bool:
        """Start a fresh conversation; True if there was one."""
        return self._by_id.pop(cid, None) is not None

    def _evict(self) -> None:
        # A long-running bot in many channels must not grow without bound.
        while len(self._by_id) > self.max_conversations:
            oldest = min(self._by_id, key=lambda k: self._by_id[k].last_at)
            del self._by_id[oldest]

    def __len__(self) -> int:
        return len(self._by_id)
