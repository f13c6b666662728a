"""The built-in chat commands: /remember, /forget, /memories, /sleep, /help.

Registered through ``register_commands`` exactly like a third-party plugin's commands. A
handler gets the engine, the user id and the text after the command, and returns the
assistant's reply; errors a user can act on are raised as SleepmemError.
"""

from __future__ import annotations

from typing import Any

from sleepmem.engine.errors import InputError
from sleepmem.engine.facts import describe_forgotten
from sleepmem.plugin.hookspecs import hookimpl


def remember(engine: Any, user_id: str, arg: str) -> str:
    if not arg.strip():
        raise InputError("usage: /remember <something about you>")
    report = engine.remember(user_id, arg)
    if not report.added:
        # The refused text is not repeated: a veto usually means it should not be echoed.
        if any(reason.startswith("vetoed") for reason in report.skipped):
            return "Not stored: a plugin refused it."
        return "I already knew that."
    lines = [f"Remembered: {f.text} [{f.id}]" for f in report.added]
    lines += [f"(replaces: {f.text})" for f in report.superseded]
    return "\n".join(lines)


def forget(engine: Any, user_id: str, arg: str) -> str:
    if not arg.strip():
        raise InputError("usage: /forget <fact id or words from it>; /memories lists them")
    if arg.strip() == "all":
        return f"Forgot everything ({engine.forget_all(user_id)} facts)."
    return describe_forgotten(engine.forget(user_id, arg))


def memories(engine: Any, user_id: str, arg: str) -> str:
    facts, archived = engine.memories(user_id), engine.archived(user_id)
    if not facts and not archived:
        return "I don't remember anything about you yet."
    lines = [f"[{f.id}] {f.text}" for f in facts]
    if archived:
        lines.append("Set aside (over my fact budget; /forget works on these too):")
        lines += [f"[{f.id}] {f.text}" for f in archived]
    return "\n".join(lines)


def sleep(engine: Any, user_id: str, arg: str) -> str:
    # The configured drift bound, as a scheduled or API sleep uses, whichever front end asks.
    max_drift = engine.config.schedule.max_drift
    return engine.sleep(user_id, max_drift=max_drift, reason="command").describe()


@hookimpl
def register_commands(register) -> None:  # type: ignore[no-untyped-def]
    register("remember", remember, "/remember <fact>: write a fact about you into memory")
    register("forget", forget, "/forget <id or words> | all: remove a fact and its edit")
    register("memories", memories, "/memories: list what I remember about you")
    register("sleep", sleep, "/sleep: consolidate memory now (re-solve all facts, verify)")
