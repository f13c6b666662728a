"""What counts as a chat command, decided in one place.

Every front end (terminal, HTTP server, Discord), wake and the benchmarks ask this module
instead of testing for a slash themselves, so a message is a command everywhere or
nowhere: one that slipped through as a command in one place and as chat in another would
be answered by the wrong path or written into memory as a fact.
"""

from __future__ import annotations

PREFIX = "/"


def is_command(text: object) -> bool:
    """Is ``text`` a chat command ("/sleep", "  /forget x")? Leading blanks are ignored."""
    return isinstance(text, str) and text.lstrip().startswith(PREFIX)


def split_command(text: str) -> tuple[str, str] | None:
    """``("forget", "my dog")`` for "/Forget  my dog "; None when ``text`` is no command.

    The name keeps the case it was typed in (the engine lower-cases it to look it up, and
    an unknown command is quoted back as typed); "/" alone gives an empty name.
    """
    if not is_command(text):
        return None
    name, _, arg = text.strip()[len(PREFIX) :].partition(" ")
    return name, arg.strip()
