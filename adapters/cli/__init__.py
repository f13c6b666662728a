"""The ``sleepmem`` command line, on click.

The CLI is assembled in ``build_cli``: the built-in commands (``models``, ``bench``,
``commands``), then every plugin's ``register_cli_commands(cli)`` hook, which receives the
click group and may add commands or groups to it (as simonw/llm's ``register_commands``).
Cheap subcommands (``config``, ``plugins``, ``model list``) never import torch; the ones
that need the model load it once through ``common.open_engine``. Errors a user can act on
(SleepmemError) are printed as one message with exit code 2; usage errors exit 2 too.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
from sleepmem.engine.errors import SleepmemError

from . import bench, commands, common, export, models

log = logging.getLogger("sleepmem.cli")


class Root(common.Group):
    """The top-level group: turns what a command raises into the exit codes and messages
    the CLI has always had, whether it runs through ``main`` or as a plain click command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SleepmemError as exc:
            click.echo(f"sleepmem: error: {exc}", err=True)
            raise click.exceptions.Exit(2) from None
        except KeyboardInterrupt:
            click.echo(err=True)
            raise click.exceptions.Exit(130) from None
        except BrokenPipeError:  # `sleepmem config | head`: stop quietly
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush cannot fail again
            except (OSError, ValueError):
                pass
            raise click.exceptions.Exit(141) from None


def build_cli(plugins: Any = None, *, with_plugins: bool = True) -> click.Group:
    """The ``sleepmem`` group: built-in commands, then the plugins' commands (unless
    ``with_plugins`` is false: the README's reference lists the built-in ones only).

    ``plugins``: the pluggy manager whose ``register_cli_commands`` hook is called; by
    default a fresh one loaded with every installed plugin ($SLEEPMEM_LOAD_PLUGINS narrows
    it; the config key ``plugins`` cannot, as the config is only read once the arguments
    are parsed). A fresh manager, so the process-wide one that ``open_engine`` loads from
    the config is not loaded with more than the config allows.
    """
    from sleepmem import __version__

    cli = common.group(
        None, "sleepmem", "Per-user memory written into a local chat model's weights.", cls=Root
    )
    click.version_option(
        __version__, "--version", prog_name="sleepmem", message="%(prog)s %(version)s"
    )(cli)
    models.add_to(cli)
    commands.add_to(cli)
    export.add_to(cli)
    bench.add_to(cli)
    if with_plugins:
        pm = plugins if plugins is not None else _plugin_manager()
        if pm is not None:
            pm.hook.register_cli_commands(cli=cli)
    return cli


def _plugin_manager() -> Any:
    from sleepmem.plugin import manager

    try:
        return manager.load_plugins(manager.new_plugin_manager())
    except Exception as exc:  # a broken plugin must not take the built-in commands down
        log.warning("plugins could not add CLI commands: %s: %s", type(exc).__name__, exc)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: the process's arguments) and return the exit code."""
    cli = build_cli()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="sleepmem", standalone_mode=False)
    except click.ClickException as exc:  # usage errors: message on stderr, exit 2
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:  # Ctrl-C outside a command (click printed the newline)
        return 130
    return result if isinstance(result, int) else 0


__all__ = ["build_cli", "main"]
