"""The README's CLI reference, generated from the click commands.

``python -m sleepmem.adapters.cli.docs`` prints it; ``--write [README.md]`` replaces the
block between the markers in the README. ``tests/test_cli.py`` fails when the README's
block differs from what the commands say, so the reference cannot drift from the code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from .common import GLOBAL_NAMES

START = "<!-- cli-reference: generated from the click commands by "
START_LINE = START + "`python -m sleepmem.adapters.cli.docs --write`; do not edit -->"
END = "<!-- /cli-reference -->"
README = Path(__file__).resolve().parents[2] / "README.md"


def _leaves(group: click.Group, path: str) -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from _leaves(command, f"{path} {name}")
        else:
            yield f"{path} {name}", command


def _value(option: click.Option) -> str:
    """What follows the option in the usage: its choices, its default, or its metavar."""
    if isinstance(option.type, click.Choice):
        return "|".join(str(c) for c in option.type.choices)
    # click marks "no default" with a sentinel object: only plain values are shown.
    if isinstance(option.default, (int, float, str)) and not isinstance(option.default, bool):
        return str(option.default)
    return option.metavar or option.type.name.upper()


def _usage(option: click.Option) -> str:
    flag = max(option.opts, key=len)  # the long form
    text = flag if option.is_flag or option.count else f"{flag} {_value(option)}"
    return text if option.required else f"[{text}]"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _globals(cli: click.Group) -> str:
    options = [p for p in cli.params if isinstance(p, click.Option) and p.name in GLOBAL_NAMES]
    parts = []
    for option in options:
        if option.count:
            parts.append("`" + "`/`".join(sorted(option.opts, key=len)) + "`")
        else:
            parts.append(f"`{max(option.opts, key=len)} {_value(option)}`")
    return ", ".join(parts)


def reference(cli: click.Group) -> str:
    """The markdown block (markers included) for ``cli``."""
    lines = [
        START_LINE,
        "",
        f"Global options (before or after the subcommand): {_globals(cli)}.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for path, command in _leaves(cli, "sleepmem"):
        options = [
            p for p in command.params if isinstance(p, click.Option) and p.name not in GLOBAL_NAMES
        ]
        ctx = click.Context(command)
        arguments = [p.make_metavar(ctx) for p in command.params if isinstance(p, click.Argument)]
        usage = " ".join([path, *(_usage(o) for o in options), *arguments])
        lines.append(f"| `{_cell(usage)}` | {_cell(command.help or '')} |")
    lines.append(END)
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """``text`` with its generated block replaced by ``block``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"no CLI reference markers ({START}... {END}) in the README")
    return text[:start] + block + text[end + len(END) :]


def current_block(text: str) -> str:
    start, end = text.find(START), text.find(END)
    return text[start : end + len(END)] if start >= 0 and end > start else ""


def main(argv: list[str] | None = None) -> int:
    from . import build_cli

    args = sys.argv[1:] if argv is None else argv
    # The built-in commands only: a plugin installed here must not land in the README.
    block = reference(build_cli(with_plugins=False))
    if args[:1] == ["--write"]:
        path = Path(args[1]) if len(args) > 1 else README
        path.write_text(replace_block(path.read_text(encoding="utf-8"), block), encoding="utf-8")
        print(f"wrote the CLI reference into {path}")
    else:
        print(block)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
