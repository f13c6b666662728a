"""Split a long reply into Discord messages (2000 characters each) without breaking it badly.

Cuts are made at the latest paragraph break, else line break, else sentence end, else space
that fits; a cut falling inside a ``` code block closes the block at the end of one message
and reopens it (with its language tag) at the start of the next, so every message renders
on its own. Only when a single word is longer than a whole message is it cut
mid-word.
"""

from __future__ import annotations

import re

DISCORD_LIMIT = 2000
FENCE = "```"
_CLOSE = "\n" + FENCE
_MAX_LANG = 30  # a longer "language" is not one; reopening with it would eat the budget
_LANG = re.compile(r"([A-Za-z0-9_+\-.#]+)\n")

# Break kinds in order of preference; each pattern's match END is where the cut goes.
_BREAKS = (
    re.compile(r"\n[ \t]*\n"),  # paragraph
    re.compile(r"\n"),  # line
    re.compile(r"[.!?…][\"')\]]*[ \t]+"),  # sentence
    re.compile(r"[ \t]+"),  # word
)


def open_fence(text: str, start: str | None = None) -> str | None:
    """The header (e.g. "```python") of the code block still open at the end of ``text``,
    or None. ``start`` is the block already open where ``text`` begins.

    Discord's rule, not CommonMark's: every ``` opens or closes a block wherever it is on
    a line, and a language tag counts only when a line break follows it directly.
    """
    current = start
    for m in re.finditer(FENCE, text):
        if current is not None:
            current = None
            continue
        lang = _LANG.match(text, m.end())
        current = FENCE + lang.group(1) if lang and len(lang.group(1)) <= _MAX_LANG else FENCE
    return current


def _cut(window: str, floor: int) -> int:
    """Where to cut ``window``: the end of the best break at or after ``floor``."""
    for floor_now in (floor, 1):
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(window) if m.end() >= floor_now]
            # A break at the very end of the window is fine; one at 0 would make no progress.
            ends = [e for e in ends if e > 0]
            if ends:
                return ends[-1]
    return len(window)


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """``text`` as a list of messages, each at most ``limit`` characters and non-blank."""
    if limit < 2 * len(_CLOSE) + _MAX_LANG + 20:
        raise ValueError(f"limit {limit} is too small to split code blocks safely")
    rest = text.strip("\n")
    chunks: list[str] = []
    fence: str | None = None  # code block open where ``rest`` begins
    while rest.strip():
        prefix = f"{fence}\n" if fence else ""
        if len(prefix) + len(rest) <= limit and open_fence(rest, fence) is None:
            chunks.append(prefix + rest)
            break
        # Room for a closing fence is always kept back, in case the cut lands in a block.
        budget = limit - len(prefix) - len(_CLOSE)
        if len(rest) <= budget:
            pos = len(rest)
        else:
            # Cutting in the first half gives tiny messages; prefer breaks past that.
            pos = _cut(rest[: budget + 1], budget // 2)
            pos = min(pos, budget)
        head, rest = rest[:pos], rest[pos:]
        still_open = open_fence(head, fence)
        body = (prefix + head).rstrip()
        if still_open is not None:
            # If the block's own closing fence is next, take it instead of an empty reopen.
            if rest.lstrip().startswith(FENCE):
                rest, still_open = rest.lstrip()[len(FENCE) :], None
            body += _CLOSE
        if head.strip():
            chunks.append(body)
        fence = still_open
        # Keep indentation inside code; drop the spaces/newlines a prose cut left behind.
        rest = rest.lstrip("\n") if fence else rest.lstrip()
    return chunks
