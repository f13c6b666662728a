"""The everyday ``sleepmem`` commands: chat, serve, discord, sleep, stats, plugins, config.
``plugins`` and ``config`` never import torch; the others load the model once through
``common.open_engine`` (the plugin layer's ``registry.open_engine``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from sleepmem.engine import paths

from . import common
from .common import Globals, command, home_of, load


def add_to(cli: click.Group) -> None:
    @command(cli, "chat", "terminal chat as --user; what you tell it is remembered")
    @click.option("--user", required=True, metavar="NAME", help="whose memory to use")
    @click.option(
        "--no-wake", is_flag=True, help="don't extract facts from messages (/remember still works)"
    )
    @click.option("--max-new-tokens", type=int, metavar="N", help="reply length limit")
    def chat(g: Globals, user: str, no_wake: bool, max_new_tokens: int | None) -> int:
        from sleepmem.adapters.terminal import run_chat
        from sleepmem.engine.store import validate_user_id

        user = validate_user_id(user)  # before the slow model load
        engine = common.open_engine(load(g, max_new_tokens=max_new_tokens))
        try:
            return run_chat(engine, user, wake=not no_wake, max_new_tokens=max_new_tokens)
        finally:
            engine.close()

    @command(
        cli,
        "serve",
        "the OpenAI-compatible server with per-user memory and scheduled sleep",
    )
    @click.option("--host", metavar="HOST", help="address to bind (default server.host: 127.0.0.1)")
    @click.option("--port", type=int, metavar="PORT", help="port (default server.port: 8430)")
    @click.option("--print-config", is_flag=True, help="print the effective config and exit")
    def serve(g: Globals, host: str | None, port: int | None, print_config: bool) -> int:
        from sleepmem.adapters.server.runner import check_bind
        from sleepmem.adapters.server.runner import serve as run_server
        from sleepmem.engine.service import MemoryService

        config = load(g, **{"server.host": host, "server.port": port})
        if print_config:
            import yaml
            from sleepmem.engine.config import config_to_dict

            print(yaml.safe_dump(config_to_dict(config), sort_keys=False).rstrip())
            return 0
        check_bind(config)  # before the model loads: a refused bind should fail in a second
        logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
        run_server(MemoryService(common.open_engine(config)))
        return 0

    @command(
        cli,
        "discord",
        "the Discord bot ($DISCORD_TOKEN), see examples/discord.md",
    )
    def discord(g: Globals) -> int:
        from sleepmem.adapters.discord.bot import run

        logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
        return run(load(g), lambda config: common.open_engine(config))

    @command(
        cli,
        "sleep",
        "consolidate the memory of --user NAME, or of --all users, now (what /sleep does), "
        "with a progress bar",
    )
    @click.option("--user", metavar="NAME", help="the user to consolidate")
    @click.option("--all", "every", is_flag=True, help="every user with memory")
    def sleep(g: Globals, user: str | None, every: bool) -> int:
        # Exactly one of the two, as argparse's required mutually exclusive group had it.
        if user is None and not every:
            raise click.UsageError("one of the options --user NAME or --all is required")
        if user is not None and every:
            raise click.UsageError("--user and --all exclude each other")
        from tqdm import tqdm

        config = load(g)
        engine = common.open_engine(config)
        try:
            users = engine.store.users() if every else [user]
            if not users:
                print("no users with memory")
            for name in users:
                with tqdm(total=engine.SLEEP_STEPS, desc=f"sleep {name}", unit="step") as bar:

                    def step(done: str, bar: tqdm = bar) -> None:
                        bar.set_postfix_str(done)
                        bar.update()

                    report = engine.sleep(
                        name, config.schedule.max_drift, reason="command", progress=step
                    )
                print(f"{name}: {report.describe()}")
        finally:
            engine.close()
        return 0

    @command(
        cli,
        "stats",
        "compute (or load) the editing statistics of the model, with a progress bar",
    )
    def stats(g: Globals) -> int:
        import time

        config = load(g)
        engine = common.open_engine(config)
        try:
            started = time.perf_counter()
            computed = engine.statistics(progress=True)
            elapsed = time.perf_counter() - started
        finally:
            engine.close()
        layers = ", ".join(str(layer) for layer in sorted(computed.cov))
        print(f"model:      {engine.backend.model_id}")
        print(f"layers:     {layers}")
        print(f"tokens:     {computed.tokens}")
        print(f"questions:  {computed.n_questions}")
        print(
            f"seconds:    {computed.seconds:.1f} to compute, {elapsed:.1f} this run (cached after)"
        )
        print(f"cache:      {paths.stats_dir(home_of(config))}")
        return 0

    @command(
        cli,
        "plugins",
        "list plugins, their hooks and the extractors, commands, backends and schedules "
        "they register",
    )
    @click.option("--json", "as_json", is_flag=True, help="print the list as JSON")
    def plugins(g: Globals, as_json: bool) -> int:
        from sleepmem.plugin import manager

        config = load(g)
        infos = manager.describe(manager.load_plugins(allowed=config.plugins))
        if as_json:
            payload = [info.as_dict() for info in infos]
            for item in payload:
                item["extractors"] = [
                    {"name": name, "enabled": name in config.extractors}
                    for name in item["extractors"]
                ]
            print(json.dumps({"plugins": payload}, indent=2))
            return 0
        if not infos:
            print(f"no plugins loaded (see the config key `plugins` and ${manager.ENV_LOAD})")
            return 0
        for info in infos:
            if info.source == "entry point":
                origin = f"entry point of {info.dist} {info.version or ''}".rstrip()
            else:
                origin = info.source
            print(f"{info.name}: {info.module} ({origin})")
            for extractor in info.extractors:
                state = "enabled" if extractor in config.extractors else "not in `extractors`"
                print(f"  extractor {extractor} ({state})")
            for name, help_text in info.commands:
                line = help_text if help_text.startswith(f"/{name}") else f"/{name}: {help_text}"
                print(f"  command   {line}")
            for backend in info.backends:
                print(f"  backend   {backend}")
            for schedule in info.schedules:
                print(f"  schedule  {schedule}")
            if info.hooks:
                print(f"  hooks     {', '.join(info.hooks)}")
        return 0

    @command(
        cli,
        "config",
        "print the effective configuration as YAML (or every setting with its help, or a "
        "commented config file)",
    )
    @click.option("--describe", is_flag=True, help="list every setting with its help instead")
    @click.option(
        "--annotated",
        is_flag=True,
        help="print a config file: every setting with its help as a comment",
    )
    def config(g: Globals, describe: bool, annotated: bool) -> int:
        import yaml
        from sleepmem.engine.config import (
            annotated_config,
            config_to_dict,
            default_config_path,
            describe_config,
        )

        effective = load(g)
        if annotated:
            print(annotated_config(effective), end="")
            return 0
        if describe:
            for row in describe_config():
                print(f"{row['key']} ({row['type']}, default {row['default']!r}, ${row['env']})")
                print(f"    {row['help']}")
            return 0
        source = Path(g.config) if g.config else default_config_path()
        if source is not None:
            print(f"# config file: {source}")
        print(yaml.safe_dump(config_to_dict(effective), sort_keys=False).rstrip())
        return 0
