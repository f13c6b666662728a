"""The ``sleepmem`` command line.

Cheap subcommands (``config``, ``plugins``, ``model list``) never import torch; the ones
that need the model (``chat``, ``bench``, ``stats``) load it once through ``Engine.open``.
Errors a user can act on (SleepmemError) are printed as one message with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
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

    overrides = {
        "home": args.home,
        "model": args.model,
        "backend": args.backend,
        "device": args.device,
        "max_new_tokens": getattr(args, "max_new_tokens", None),
    }
    return load_config(args.config, overrides=overrides)


def _home(config: Any) -> Path:
    return paths.home(config.home)


def _open_engine(config: Any) -> Any:
    """Load the model (pulling the default once if needed) and build the engine."""
    from sleepmem.engine.memory import Engine

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
    engine = Engine.open(config, progress=True)
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
    out = Path(args.json).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=_json_default) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    config = _config(args)
    engine = _open_engine(config)
    try:
        started = time.perf_counter()
        stats = engine.statistics()
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


def _plugin_source(plugin: Any) -> str:
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    file = getattr(plugin, "__file__", None)
    if file is None:
        mod = sys.modules.get(getattr(type(plugin), "__module__", ""), None)
        file = getattr(mod, "__file__", None)
    return f"{module} ({file})" if file else str(module)


def _registered_by(pm: Any, hook: str) -> dict[str, list[tuple[Any, ...]]]:
    """What each plugin registers through a ``register_*`` hook: {plugin name: [args]}."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for impl in getattr(pm.hook, hook).get_hookimpls():
        calls: list[tuple[Any, ...]] = []
        kwargs = {name: (lambda *a, _c=calls: _c.append(a)) for name in impl.argnames}
        impl.function(**kwargs)
        found.setdefault(impl.plugin_name, []).extend(calls)
    return found


def cmd_plugins(args: argparse.Namespace) -> int:
    from sleepmem.plugin import manager

    config = _config(args)
    pm = manager.load_plugins()
    extractors = _registered_by(pm, "register_extractors")
    commands = _registered_by(pm, "register_commands")
    hooks = {
        name: {impl.plugin_name for impl in getattr(pm.hook, name).get_hookimpls()}
        for name in ("extract_facts", "before_edit")
    }
    plugins = sorted(pm.list_name_plugin(), key=lambda item: item[0])
    if not plugins:
        print(f"no plugins loaded (see ${manager.ENV_LOAD})")
        return 0
    for name, plugin in plugins:
        print(f"{name}: {_plugin_source(plugin)}")
        for (extractor,) in extractors.get(name, []):
            state = "enabled" if extractor.name in config.extractors else "not in `extractors`"
            print(f"  extractor {extractor.name} ({state})")
        for command, _handler, help_text in commands.get(name, []):
            line = help_text if help_text.startswith(f"/{command}") else f"/{command}: {help_text}"
            print(f"  command   {line}")
        for hook, names in hooks.items():
            if name in names:
                print(f"  hook      {hook}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    import yaml
    from sleepmem.engine.config import config_to_dict, default_config_path, describe_config

    config = _config(args)
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
    g.add_argument("--backend", choices=("torch", "mlx"), default=d(None), help="compute backend")
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
    bench.set_defaults(func=None, subparser=bench)

    add(sub, "stats", cmd_stats, "compute (or load) the editing statistics of the model")
    add(sub, "plugins", cmd_plugins, "list plugins and the extractors and commands they add")
    config = add(sub, "config", cmd_config, "print the effective configuration as YAML")
    config.add_argument(
        "--describe", action="store_true", help="list every setting with its help instead"
    )
    parser.set_defaults(func=None, subparser=parser)
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    root = logging.getLogger()
    if not any(getattr(h, "_sleepmem", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._sleepmem = True  # type: ignore[attr-defined]
        root.addHandler(handler)
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
