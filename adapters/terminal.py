"""The terminal chat: read a line, stream the reply, write what the user said into memory.

Kept apart from the argument parsing in ``cli.py`` so that it can be driven with a fake
``input`` and any output stream (tests, other front ends). Chat commands (``/remember``,
``/forget``, ``/sleep``...) go to ``Engine.command``, the one command table the server and
Discord use too; only ``/new`` and ``/quit`` are handled here, because they concern this
terminal session rather than the user's memory. Wake is ``Engine.observe``: each message
is committed to the user's wake inbox before its edit, so Ctrl-C mid-edit loses nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sleepmem.engine.commands import split_command
from sleepmem.engine.errors import SleepmemError

PROMPT = "you> "
REPLY_PREFIX = "bot> "
LOCAL_HELP = (
    "/new: start a fresh conversation (memory stays)\n/quit: leave (Ctrl-D or Ctrl-C work too)"
)


def _dim(text: str, out: TextIO) -> str:
    """``text`` in faint ANSI when ``out`` is a terminal and NO_COLOR is unset."""
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty() and not os.environ.get("NO_COLOR"):
        return f"\033[2m{text}\033[0m"
    return text


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")
    out.flush()


def wake_lines(report: Any) -> list[str]:
    """The short notes printed after a reply when the message changed the user's memory."""
    lines = [f"(remembered: {f.text})" for f in report.added]
    lines += [f"(replaces: {f.text})" for f in report.superseded]
    lines += [f"(forgot: {f.text})" for f in getattr(report, "forgotten", [])]
    return lines


def banner(engine: Any, user: str) -> str:
    count = len(engine.memories(user))
    facts = f"{count} fact{'s' if count != 1 else ''} remembered"
    model = engine.backend.model_id
    return f"sleepmem · model {model} · user {user} · {facts} · /help for commands"


def run_chat(
    engine: Any,
    user: str,
    *,
    wake: bool = True,
    max_new_tokens: int | None = None,
    input_fn: Callable[[str], str] = input,
    out: TextIO | None = None,
) -> int:
    """Chat with ``engine`` as ``user`` until /quit, EOF or Ctrl-C; returns the exit code (0).

    ``wake`` False turns off fact extraction from ordinary messages (commands such as
    /remember still write memory).
    """
    out = out if out is not None else sys.stdout
    try:
        healed = engine.heal(user)
        if healed:
            _say(out, _dim(f"(re-wrote {healed} fact(s) left unwritten by an earlier run)", out))
        if wake and engine.pending_count(user):
            # said before the last run stopped, not yet learned: learned first
            for note in wake_lines(engine.wake_pending(user)):
                _say(out, _dim(note, out))
    except SleepmemError as exc:
        _say(out, f"error: {exc}")
    _say(out, banner(engine, user))

    history: list[dict[str, str]] = []
    try:
        while True:
            try:
                line = input_fn(PROMPT)
            except EOFError:
                _say(out)
                return 0
            text = line.strip()
            if not text:
                continue
            try:
                parsed = split_command(text)
                if parsed is not None:
                    name = parsed[0].lower()
                    if name in ("quit", "exit", "q"):
                        return 0
                    if name == "new":
                        history.clear()
                        _say(out, _dim("(new conversation; memory stays)", out))
                        continue
                    answer = engine.command(user, text)
                    if answer is not None:
                        if name == "help" or answer.startswith("Unknown command"):
                            answer += "\n" + LOCAL_HELP
                        _say(out, answer)
                    continue
                _turn(engine, user, history, line, wake, max_new_tokens, out)
            except SleepmemError as exc:
                _say(out, f"error: {exc}")
    except KeyboardInterrupt:
        _say(out)
        return 0


def _turn(
    engine: Any,
    user: str,
    history: list[dict[str, str]],
    line: str,
    wake: bool,
    max_new_tokens: int | None,
    out: TextIO,
) -> None:
    """One exchange: stream the reply, then (wake) write the message's facts into memory.

    ``history`` is extended in place. The memory edit runs after the reply, so a fact told
    in a message is live from the next message on.
    """
    messages = [*history, {"role": "user", "content": line}]
    stream = engine.reply(user, messages, max_new_tokens=max_new_tokens)  # validates first
    out.write(REPLY_PREFIX)
    out.flush()
    parts: list[str] = []
    for response in stream:
        if response.text:  # the closing response carries only counts and the finish reason
            parts.append(response.text)
            out.write(response.text)
            out.flush()
    _say(out)
    history.append(messages[-1])
    reply = "".join(parts).strip()
    if reply:  # the engine rejects empty messages, so an empty reply is left out
        history.append({"role": "assistant", "content": reply})
    if wake:
        prior = [(m["role"], m["content"]) for m in messages[:-1]]
        report = engine.observe(user, line, prior)
        for note in wake_lines(report):
            _say(out, _dim(note, out))
