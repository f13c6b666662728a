"""The ``sleepmem`` command line.

Cheap subcommands (``config``, ``plugins``, ``model list``) never import torch; the ones
that need the model (``chat``, ``bench``, ``stats``) load it once through the plugin
layer's ``registry.open_engine`` (the configured plugins, their backend, the engine).
Errors a user can act on (SleepmemError) are printed as one message with exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sleepmem.engine import paths
from sleepmem.engine.errors import ConfigError, InputError, SleepmemError

log = logging.getLogger("sleepmem.cli")

THREADS_ENV = "SLEEPMEM_THREADS"
"""If set, the number of CPU threads torch may use (``torch.set_num_threads``)."""

Handler = Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- helpers


def _config(args: argparse.Namespace) -> Any:
    """The effective EngineConfig: defaults < YAML file < environment < global flags."""
    from sleepmem.engine.config import load_config

    return load_config(args.config, overrides=_overrides(args))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The global flags as config overrides (None = not given)."""
    return {
        "home": args.home,
        "model": args.model,
        "backend": args.backend,
        "device": args.device,
        "max_new_tokens": getattr(args, "max_new_tokens", None),
    }


def _home(config: Any) -> Path:
    return paths.home(config.home)


def _open_engine(config: Any) -> Any:
    """Load the plugins and the model (pulling the default once if needed) and build the
    engine."""
    from sleepmem.plugin import registry

    threads = os.environ.get(THREADS_ENV, "").strip()
    if threads:
        try:
            count = int(threads)
        except ValueError:
            raise ConfigError(f"{THREADS_ENV} must be a whole number, not {threads!r}") from None
        if count < 1:
            raise ConfigError(f"{THREADS_ENV} must be at least 1, not {count}")
        import torch

        torch.set_num_threads(count)
    started = time.perf_counter()
    engine = registry.open_engine(config, progress=True)
    log.info("model %s loaded in %.1f s", engine.backend.model_id, time.perf_counter() - started)
    return engine


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _json_default(value: Any) -> Any:
    """numpy scalars/arrays, paths and dataclass-like objects in benchmark results."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dict__"):
        return vars(value)
    return str(value)


# --------------------------------------------------------------------------- commands


def cmd_model_pull(args: argparse.Namespace) -> int:
    from sleepmem.engine.models import pull_default

    folder = pull_default(progress=True, base=_home(_config(args)))
    print(folder)
    return 0


def cmd_model_quantize(args: argparse.Namespace) -> int:
    from sleepmem.engine.models import quantize_mlx

    config = _config(args)
    folder = quantize_mlx(
        config.model,
        bits=args.bits,
        group_size=args.group_size,
        name=args.name,
        base=_home(config),
    )
    print(folder)
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from sleepmem.engine.models import list_models

    home = _home(_config(args))
    models = list_models(base=home)
    if not models:
        print(f"no models in {paths.models_dir(home)}; run `sleepmem model pull`")
        return 0
    rows = [
        [
            m["name"] + (" (default)" if m["default"] else ""),
            m["kind"],
            m["model_id"] or "-",
            _size(m["size_bytes"]),
            "yes" if m["complete"] else "no (re-run `sleepmem model pull`)",
        ]
        for m in models
    ]
    print(_table(rows, ["name", "kind", "model id", "size", "complete"]))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from sleepmem.adapters.terminal import run_chat
    from sleepmem.engine.store import validate_user_id

    user = validate_user_id(args.user)  # before the slow model load
    engine = _open_engine(_config(args))
    try:
        return run_chat(engine, user, wake=not args.no_wake, max_new_tokens=args.max_new_tokens)
    finally:
        engine.close()


def cmd_bench_memory(args: argparse.Namespace) -> int:
    bench = Path(args.bench).expanduser()
    if not bench.is_file():
        raise InputError(f"benchmark file {bench} does not exist")
    from sleepmem.engine import bench as bench_mod

    engine = _open_engine(_config(args))
    try:
        if args.ablation:
            result = bench_mod.run_ablation(engine, bench, progress=True)
        else:
            result = bench_mod.run_memory_bench(
                engine, bench, capacity=args.capacity, pool=args.pool, progress=True
            )
    finally:
        engine.close()
    if args.ablation:
        bench_mod.print_ablation(result)
    else:
        bench_mod.print_table(result)
    _save_json(result, args.json)
    return 0


def cmd_bench_conversations(args: argparse.Namespace) -> int:
    bench = Path(args.bench).expanduser()
    if not bench.is_file():
        raise InputError(f"benchmark file {bench} does not exist")
    from sleepmem.engine import bench_conversations as conv

    modes = conv.MODES if args.mode == "both" else (args.mode,)
    with _scratch_home(_config(args)) as config:
        engine = _open_engine(config)
        try:
            result = conv.run_conversation_bench(
                engine,
                bench,
                args.memory_bench,
                modes=modes,
                users=args.users,
                progress=True,
                partial=lambda r: _save_json(r, args.json),
            )
        finally:
            engine.close()
    conv.print_table(result)
    _save_json(result, args.json)
    return 0


def cmd_bench_extract(args: argparse.Namespace) -> int:
    bench = Path(args.bench).expanduser()
    if not bench.is_file():
        raise InputError(f"benchmark file {bench} does not exist")
    from sleepmem.engine import bench_extract
    from sleepmem.plugin import manager, registry
    from sleepmem.plugin.builtins.model_extractor import NAME as MODEL_EXTRACTOR

    config = _config(args)
    names = tuple(n.strip().lower() for n in args.extractors.split(",") if n.strip())
    if not names:
        raise InputError("--extractors needs at least one name, e.g. rules or rules,model")
    runs = bench_extract.plan_runs(names, config.extractors)
    plugins = registry.load_registry(config, manager.new_plugin_manager())
    engine = None
    chat = None
    # Only the model extractor reads the model; rules alone run without loading one.
    if bench_extract.needs_model(runs, MODEL_EXTRACTOR):
        engine = _open_engine(config)
        chat = bench_extract.model_chat(engine.backend)
    try:
        result = bench_extract.run_extract_bench(
            bench, config, plugins, names, chat=chat, users=args.users, progress=True
        )
        if engine is not None:
            result["model"] = engine.backend.model_id
            result["backend"] = engine.backend.name
    finally:
        if engine is not None:
            engine.close()
    bench_extract.print_table(result)
    _save_json(result, args.json)
    return 0


@contextlib.contextmanager
def _scratch_home(config: Any) -> Iterator[Any]:
    """``config`` on a temporary home: benchmark users never land in the real memory store,
    while the model and its statistics are shared through links."""
    import dataclasses
    import tempfile

    real_home = _home(config)
    with tempfile.TemporaryDirectory(prefix="sleepmem-bench-") as tmp:
        for name in ("models", "stats"):
            (real_home / name).mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).symlink_to(real_home / name, target_is_directory=True)
        yield dataclasses.replace(config, home=tmp)


def _save_json(result: dict[str, Any], path: str) -> None:
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=_json_default) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def cmd_bench_server(args: argparse.Namespace) -> int:
    from sleepmem.adapters.server.bench import run_server_bench
    from sleepmem.engine.service import MemoryService

    with _scratch_home(_config(args)) as config:
        engine = _open_engine(config)
        try:
            engine.statistics()
            result = run_server_bench(
                MemoryService(engine),
                users=args.users,
                messages=args.messages,
                rounds=args.rounds,
            )
        finally:
            engine.close()
    print(json.dumps(result, indent=2, default=_json_default))
    _save_json(result, args.json)
    return 0


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from sleepmem.engine.speed import run_speed_bench

    with _scratch_home(_config(args)) as config:
        started = time.perf_counter()
        engine = _open_engine(config)
        try:
            result = run_speed_bench(engine, time.perf_counter() - started, args.tokens)
        finally:
            engine.close()
    print(json.dumps(result, indent=2, default=_json_default))
    _save_json(result, args.json)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    config = _config(args)
    engine = _open_engine(config)
    try:
        started = time.perf_counter()
        stats = engine.statistics(progress=True)
        elapsed = time.perf_counter() - started
    finally:
        engine.close()
    layers = ", ".join(str(layer) for layer in sorted(stats.cov))
    print(f"model:      {engine.backend.model_id}")
    print(f"layers:     {layers}")
    print(f"tokens:     {stats.tokens}")
    print(f"questions:  {stats.n_questions}")
    print(f"seconds:    {stats.seconds:.1f} to compute, {elapsed:.1f} this run (cached after)")
    print(f"cache:      {paths.stats_dir(_home(config))}")
    return 0


def cmd_sleep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    config = _config(args)
    engine = _open_engine(config)
    try:
        users = engine.store.users() if args.all else [args.user]
        if not users:
            print("no users with memory")
        for user in users:
            with tqdm(total=engine.SLEEP_STEPS, desc=f"sleep {user}", unit="step") as bar:

                def step(name: str, bar: tqdm = bar) -> None:
                    bar.set_postfix_str(name)
                    bar.update()

                report = engine.sleep(
                    user, config.schedule.max_drift, reason="command", progress=step
                )
            print(f"{user}: {report.describe()}")
    finally:
        engine.close()
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from sleepmem.plugin import manager

    config = _config(args)
    infos = manager.describe(manager.load_plugins(allowed=config.plugins))
    if args.json:
        payload = [info.as_dict() for info in infos]
        for item in payload:
            item["extractors"] = [
                {"name": name, "enabled": name in config.extractors} for name in item["extractors"]
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
        for command, help_text in info.commands:
            line = help_text if help_text.startswith(f"/{command}") else f"/{command}: {help_text}"
            print(f"  command   {line}")
        for backend in info.backends:
            print(f"  backend   {backend}")
        for schedule in info.schedules:
            print(f"  schedule  {schedule}")
        if info.hooks:
            print(f"  hooks     {', '.join(info.hooks)}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    import yaml
    from sleepmem.engine.config import (
        annotated_config,
        config_to_dict,
        default_config_path,
        describe_config,
    )

    config = _config(args)
    if args.annotated:
        print(annotated_config(config), end="")
        return 0
    if args.describe:
        for row in describe_config():
            print(f"{row['key']} ({row['type']}, default {row['default']!r}, ${row['env']})")
            print(f"    {row['help']}")
        return 0
    source = Path(args.config) if args.config else default_config_path()
    if source is not None:
        print(f"# config file: {source}")
    print(yaml.safe_dump(config_to_dict(config), sort_keys=False).rstrip())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from sleepmem.adapters.server.runner import check_bind, serve
    from sleepmem.engine.config import load_config
    from sleepmem.engine.service import MemoryService

    overrides = {**_overrides(args), "server.host": args.host, "server.port": args.port}
    config = load_config(args.config, overrides=overrides)
    if args.print_config:
        import yaml
        from sleepmem.engine.config import config_to_dict

        print(yaml.safe_dump(config_to_dict(config), sort_keys=False).rstrip())
        return 0
    check_bind(config)  # before the model loads: a refused bind should fail in a second
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    engine = _open_engine(config)
    serve(MemoryService(engine))
    return 0


def cmd_discord(args: argparse.Namespace) -> int:
    from sleepmem.adapters.discord.bot import run

    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    return run(_config(args), _open_engine)


# --------------------------------------------------------------------------- parser


def _add_globals(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The global options; on subcommands they default to SUPPRESS so that
    ``sleepmem chat --model X`` and ``sleepmem --model X chat`` both work."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument("--config", metavar="FILE", default=d(None), help="YAML config file")
    g.add_argument(
        "--home", metavar="DIR", default=d(None), help="state folder (default ~/.sleepmem)"
    )
    g.add_argument(
        "--model", metavar="SPEC", default=d(None), help="model: default, name, folder, .gguf"
    )
    g.add_argument(
        "--backend",
        default=d(None),
        help="compute backend: torch, mlx, or one a plugin registers (see `sleepmem plugins`)",
    )
    g.add_argument("--device", default=d(None), help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=d(0),
        help="log progress to stderr (-vv: debug)",
    )


def build_parser() -> argparse.ArgumentParser:
    from sleepmem import __version__

    parser = argparse.ArgumentParser(
        prog="sleepmem",
        description="Per-user memory written into a local chat model's weights.",
    )
    parser.add_argument("--version", action="version", version=f"sleepmem {__version__}")
    _add_globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        parent: Any, name: str, handler: Handler | None, help_text: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        _add_globals(p, suppress=True)
        if handler is not None:
            p.set_defaults(func=handler)
        return p

    model = add(sub, "model", None, "fetch and list models")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION")
    add(model_sub, "pull", cmd_model_pull, "download and convert the default model (once)")
    add(model_sub, "list", cmd_model_list, "list the models in the models folder")
    quantize = add(
        model_sub,
        "quantize",
        cmd_model_quantize,
        "make an mlx-lm quantised copy of --model (once) for --backend mlx",
    )
    quantize.add_argument("--bits", type=int, default=4, choices=(2, 3, 4, 5, 6, 8))
    quantize.add_argument("--group-size", type=int, default=32, choices=(32, 64, 128))
    quantize.add_argument("--name", help="folder name in the models folder")
    model.set_defaults(func=None, subparser=model)

    chat = add(sub, "chat", cmd_chat, "chat in the terminal; what you tell it is remembered")
    chat.add_argument("--user", required=True, help="whose memory to use")
    chat.add_argument(
        "--no-wake",
        action="store_true",
        help="don't extract facts from messages (/remember still works)",
    )
    chat.add_argument("--max-new-tokens", type=int, metavar="N", help="reply length limit")

    bench = add(sub, "bench", None, "benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    memory = add(bench_sub, "memory", cmd_bench_memory, "recall / retention / drift benchmark")
    memory.add_argument("--bench", required=True, metavar="FILE", help="benchmark JSON")
    memory.add_argument("--json", required=True, metavar="OUT", help="where to write results")
    memory.add_argument(
        "--capacity", type=int, metavar="N", help="run only the capacity test, with N facts"
    )
    memory.add_argument(
        "--pool",
        metavar="FILE",
        help="fact pool for --capacity (default: fact_pool_500.json beside --bench)",
    )
    memory.add_argument(
        "--ablation",
        action="store_true",
        help="compare editor variants on the first benchmark user (wake only)",
    )
    conversations = add(
        bench_sub,
        "conversations",
        cmd_bench_conversations,
        "recall in real conversations: personas, small talk, paraphrases (CONVERSATIONS.md)",
    )
    conversations.add_argument("--bench", required=True, metavar="FILE", help="benchmark JSON")
    conversations.add_argument("--json", required=True, metavar="OUT", help="results file")
    conversations.add_argument(
        "--mode",
        choices=("both", "editor", "end_to_end"),
        default="both",
        help="editor: gold facts written as explicit facts; end_to_end: through the extractor",
    )
    conversations.add_argument(
        "--memory-bench",
        metavar="FILE",
        help="general knowledge and neutral text (default: memory_bench.json beside --bench)",
    )
    conversations.add_argument("--users", type=int, metavar="N", help="only the first N users")
    extract = add(
        bench_sub,
        "extract",
        cmd_bench_extract,
        "extraction per turn: recall, precision, corrections, forgets, misses (no edit)",
    )
    extract.add_argument("--bench", required=True, metavar="FILE", help="conversation bench JSON")
    extract.add_argument("--json", required=True, metavar="OUT", help="results file")
    extract.add_argument(
        "--extractors",
        default="rules",
        metavar="A,B",
        help="extractors to run alone and together (default rules; 'model' loads the model)",
    )
    extract.add_argument("--users", type=int, metavar="N", help="only the first N users")
    server_bench = add(
        bench_sub, "server", cmd_bench_server, "HTTP overhead, first token, concurrent users"
    )
    server_bench.add_argument(
        "--users", type=int, default=20, help="concurrent users (0: skip the load test)"
    )
    server_bench.add_argument("--messages", type=int, default=5, help="facts per user (<= 5)")
    server_bench.add_argument(
        "--rounds", type=int, default=40, help="overhead samples (first token: a quarter)"
    )
    server_bench.add_argument("--json", required=True, metavar="OUT", help="results file")
    speed = add(bench_sub, "speed", cmd_bench_speed, "decode tokens/s, edit latency, memory use")
    speed.add_argument("--tokens", type=int, default=128, help="tokens per decode sample")
    speed.add_argument("--json", required=True, metavar="OUT", help="results file")
    bench.set_defaults(func=None, subparser=bench)

    serve_p = add(sub, "serve", cmd_serve, "run the OpenAI-compatible server with per-user memory")
    serve_p.add_argument("--host", help="address to bind (default server.host: 127.0.0.1)")
    serve_p.add_argument("--port", type=int, help="port (default server.port: 8430)")
    serve_p.add_argument(
        "--print-config", action="store_true", help="print the effective config and exit"
    )

    sleep = add(sub, "sleep", cmd_sleep, "consolidate a user's memory now (what /sleep does)")
    who = sleep.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="NAME", help="the user to consolidate")
    who.add_argument("--all", action="store_true", help="every user with memory")
    add(sub, "discord", cmd_discord, "run the Discord bot (token: $DISCORD_TOKEN)")
    add(sub, "stats", cmd_stats, "compute (or load) the editing statistics of the model")
    plugins = add(
        sub, "plugins", cmd_plugins, "list loaded plugins, their hooks and what they register"
    )
    plugins.add_argument("--json", action="store_true", help="print the list as JSON")
    config = add(sub, "config", cmd_config, "print the effective configuration as YAML")
    config.add_argument(
        "--describe", action="store_true", help="list every setting with its help instead"
    )
    config.add_argument(
        "--annotated",
        action="store_true",
        help="print a config file: every setting with its help as a comment",
    )
    parser.set_defaults(func=None, subparser=parser)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record, so that ``main``
    called in-process (tests, embedding) never logs into a stream that was since closed."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        root.addHandler(_StderrHandler())
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.func is None:
        args.subparser.print_help(sys.stderr)
        return 2
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except SleepmemError as exc:
        print(f"sleepmem: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sleepmem config | head`: stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush cannot fail again
        except (OSError, ValueError):
            pass
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
