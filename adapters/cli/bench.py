"""``sleepmem bench``: the memory, conversation, extraction, server and speed benchmarks.
Each writes its results as JSON; all but ``extract`` (with the rules alone) load the model,
and all but ``memory`` run on a scratch home so benchmark users never reach real memory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from sleepmem.engine.constrained import model_chat
from sleepmem.engine.errors import InputError

from . import common
from .common import Globals, command, group, json_default, load, save_json, scratch_home

BENCH = click.option("--bench", required=True, metavar="FILE", help="benchmark JSON")
OUT = click.option("--json", "json_out", required=True, metavar="OUT", help="results file")
USERS = click.option("--users", type=int, metavar="N", help="only the first N users")


def _existing(path: str) -> Path:
    bench = Path(path).expanduser()
    if not bench.is_file():
        raise InputError(f"benchmark file {bench} does not exist")
    return bench


def _memory_bench(bench: Path, given: str | None) -> Path:
    """The general-knowledge file, checked before the model loads."""
    path = Path(given).expanduser() if given else bench.with_name("memory_bench.json")
    if not path.is_file():
        beside = "" if given else f" (looked beside {bench.name}; name it with --memory-bench)"
        raise InputError(f"general-knowledge file {path} does not exist{beside}")
    return path


MEMORY_BENCH = click.option(
    "--memory-bench",
    metavar="FILE",
    help="general knowledge and neutral text (default: memory_bench.json beside --bench)",
)


def add_to(cli: click.Group) -> None:
    benches = group(cli, "bench", "benchmarks")

    @command(
        benches,
        "memory",
        "memory benchmark (wake, questions, sleep, questions); --capacity N: N synthetic "
        "facts for one user told five at a time, recall at 10/25/50/100 in an empty chat and "
        "under the conversation bench's persona card, each edit's seconds split into v*, "
        "solve and store, the sleep's steps, bytes per fact; --ablation: editor variants on "
        "the first benchmark user (the closing-note table)",
    )
    @BENCH
    @OUT
    @click.option(
        "--capacity", type=int, metavar="N", help="run only the capacity test, with N facts"
    )
    @click.option(
        "--pool",
        metavar="FILE",
        help="fact pool for --capacity (default: fact_pool_500.json beside --bench)",
    )
    @click.option(
        "--ablation",
        is_flag=True,
        help="compare editor variants on the first benchmark user (wake only)",
    )
    def memory(
        g: Globals,
        bench: str,
        json_out: str,
        capacity: int | None,
        pool: str | None,
        ablation: bool,
    ) -> int:
        path = _existing(bench)
        from sleepmem.engine import bench as bench_mod

        engine = common.open_engine(load(g))
        try:
            if ablation:
                result = bench_mod.run_ablation(engine, path, progress=True)
            else:
                result = bench_mod.run_memory_bench(
                    engine, path, capacity=capacity, pool=pool, progress=True
                )
        finally:
            engine.close()
        if ablation:
            bench_mod.print_ablation(result)
        else:
            bench_mod.print_table(result)
        save_json(result, json_out)
        return 0

    @command(
        benches,
        "conversations",
        "recall in new conversations under each context of the file (empty chat, app prompt, "
        "persona, small talk), paraphrases, corrections, forgets, leaks, drift; end to end "
        "and for the editor alone (CONVERSATIONS.md)",
    )
    @BENCH
    @OUT
    @click.option(
        "--mode",
        type=click.Choice(["both", "editor", "end_to_end"]),
        default="both",
        help="editor: gold facts written as explicit facts; end_to_end: through the extractor",
    )
    @MEMORY_BENCH
    @USERS
    def conversations(
        g: Globals,
        bench: str,
        json_out: str,
        mode: str,
        memory_bench: str | None,
        users: int | None,
    ) -> int:
        path = _existing(bench)
        general = _memory_bench(path, memory_bench)
        from sleepmem.engine import bench_conversations as conv

        modes = conv.MODES if mode == "both" else (mode,)
        with scratch_home(load(g)) as config:
            engine = common.open_engine(config)
            try:
                result = conv.run_conversation_bench(
                    engine,
                    path,
                    general,
                    modes=modes,
                    users=users,
                    progress=True,
                    partial=lambda r: save_json(r, json_out),
                )
            finally:
                engine.close()
        conv.print_table(result)
        save_json(result, json_out)
        return 0

    @command(
        benches,
        "levers",
        "editor variants side by side on a conversation bench: each writes the chosen "
        "users' final gold facts in one edit (no extractor, no sleep) and is asked under "
        "every context of the file and every paraphrase; recall, general knowledge, drift, "
        "edit seconds per variant (the ablation table)",
    )
    @BENCH
    @OUT
    @click.option(
        "--variant",
        "variants",
        multiple=True,
        metavar="NAME=JSON",
        help="a variant: name and config overrides, e.g. late='{\"editor.layers\": [9, 10]}'; "
        "repeatable (default: the effective config alone)",
    )
    @click.option("--only", metavar="A,B", help="users by name, or 'all' (default: the first two)")
    @click.option(
        "--in-context",
        is_flag=True,
        help="also a reference row with no edit and the gold facts in the system prompt: "
        "how far the model itself carries a fact it is shown over to other wordings "
        "(alone unless --variant is given)",
    )
    @click.option(
        "--diagnose",
        is_flag=True,
        help="also, per context, where the edit fails: the update's change at the key "
        "against v*, and the answer's NLL with v* alone and with the update "
        "(engine/bench_firing.py)",
    )
    @MEMORY_BENCH
    def levers(
        g: Globals,
        bench: str,
        json_out: str,
        variants: tuple[str, ...],
        only: str | None,
        in_context: bool,
        memory_bench: str | None,
        diagnose: bool,
    ) -> int:
        path = _existing(bench)
        from sleepmem.engine import bench_levers

        chosen: dict[str, dict] = {}
        for spec in variants or (() if in_context else ("effective={}",)):
            name, sep, overrides = spec.partition("=")
            try:
                parsed = json.loads(overrides) if sep else None
            except json.JSONDecodeError as exc:
                raise InputError(f"--variant {name}: overrides are not JSON ({exc})") from None
            if not name.strip() or not isinstance(parsed, dict):
                raise InputError(f"--variant {spec!r}: write NAME={{...overrides...}}")
            chosen[name.strip()] = parsed
        everyone = [u["user"] for u in json.loads(path.read_text("utf-8"))["users"]]
        if only and only.strip() == "all":
            names = everyone
        elif only:
            names = [n.strip() for n in only.split(",") if n.strip()]
        else:
            names = everyone[:2]
        general = _memory_bench(path, memory_bench)
        with scratch_home(load(g)) as config:
            engine = common.open_engine(config)
            try:
                result = bench_levers.run_levers(
                    engine, path, chosen, names, general, in_context, diagnose
                )
            finally:
                engine.close()
        for name, row in result["variants"].items():
            figures = {k: v for k, v in row.items() if isinstance(v, float)}
            click.echo(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
            for context, diag in row.get("firing", {}).items():
                click.echo(f"  {context}: " + ", ".join(f"{k} {v:.2f}" for k, v in diag.items()))
        save_json(result, json_out)
        return 0

    @command(
        benches,
        "extract",
        "extraction per turn of a conversation bench, no edit (seconds with the rules): "
        "recall, precision, per user, corrections superseded, forgets honoured, changes on "
        "chatter/questions/hypotheticals, ms per message, every miss and false fact; each "
        "extractor alone, together, and the configured set (`model` loads the model)",
    )
    @click.option("--bench", required=True, metavar="FILE", help="conversation bench JSON")
    @OUT
    @click.option(
        "--extractors",
        default="rules",
        metavar="A,B",
        help="extractors to run alone and together (default rules; 'model' loads the model)",
    )
    @USERS
    def extract(g: Globals, bench: str, json_out: str, extractors: str, users: int | None) -> int:
        path = _existing(bench)
        from sleepmem.engine import bench_extract
        from sleepmem.plugin import manager, registry
        from sleepmem.plugin.builtins.model_extractor import NAME as MODEL_EXTRACTOR

        config = load(g)
        names = tuple(n.strip().lower() for n in extractors.split(",") if n.strip())
        if not names:
            raise InputError("--extractors needs at least one name, e.g. rules or rules,model")
        runs = bench_extract.plan_runs(names, config.extractors)
        plugins = registry.load_registry(config, manager.new_plugin_manager())
        engine = None
        chat = None
        # Only the model extractor reads the model; rules alone run without loading one.
        if bench_extract.needs_model(runs, MODEL_EXTRACTOR):
            engine = common.open_engine(config)
            chat = model_chat(engine.backend)
        try:
            result = bench_extract.run_extract_bench(
                path, config, plugins, names, chat=chat, users=users, progress=True
            )
            if engine is not None:
                result["model"] = engine.backend.model_id
                result["backend"] = engine.backend.name
        finally:
            if engine is not None:
                engine.close()
        bench_extract.print_table(result)
        save_json(result, json_out)
        return 0

    @command(
        benches,
        "server",
        "HTTP overhead, first-token latency, N concurrent users over loopback",
    )
    @click.option(
        "--users",
        type=int,
        metavar="N",
        default=20,
        help="concurrent users (0: skip the load test)",
    )
    @click.option("--messages", type=int, metavar="N", default=5, help="facts per user (<= 5)")
    @click.option(
        "--rounds",
        type=int,
        metavar="N",
        default=40,
        help="overhead samples (first token: a quarter; 0: skip both)",
    )
    @click.option(
        "--concurrency",
        metavar="N,N,...",
        default="1,4,8,20",
        help="users asking at once, per step of the concurrency section ('': skip it)",
    )
    @OUT
    def server(
        g: Globals, users: int, messages: int, rounds: int, concurrency: str, json_out: str
    ) -> int:
        from sleepmem.adapters.server.bench import run_server_bench
        from sleepmem.engine.service import MemoryService

        with scratch_home(load(g)) as config:
            engine = common.open_engine(config)
            try:
                engine.statistics()
                result = run_server_bench(
                    MemoryService(engine),
                    users=users,
                    messages=messages,
                    rounds=rounds,
                    concurrency=_counts(concurrency),
                )
            finally:
                engine.close()
        print(json.dumps(result, indent=2, default=json_default))
        save_json(result, json_out)
        return 0

    @command(
        benches,
        "soak",
        "many users chatting, telling, forgetting and sleeping at once for N minutes on "
        "loopback; failures, latency, memory growth and an exact audit of every ledger",
    )
    @click.option("--minutes", type=float, metavar="N", default=10.0, help="how long")
    @click.option("--users", type=int, metavar="N", default=20, help="simulated users (<= 20)")
    @click.option("--seed", type=int, metavar="N", default=0, help="seed of the users' choices")
    @OUT
    def soak(g: Globals, minutes: float, users: int, seed: int, json_out: str) -> int:
        from sleepmem.adapters.server.soak import run_soak
        from sleepmem.engine.service import MemoryService

        with scratch_home(load(g)) as config:
            engine = common.open_engine(config)
            try:
                engine.statistics()
                result = run_soak(MemoryService(engine), minutes, users, seed)
            finally:
                engine.close()
        print(json.dumps({k: v for k, v in result.items() if k != "rss_mb"}, indent=2))
        save_json(result, json_out)
        return 0 if result["ledgers"]["exact"] and not result["failed_requests"] else 1

    @command(
        benches,
        "speed",
        "decode tokens/s, first token, wake-edit latency, weight bytes and peak memory of "
        "--backend/--model",
    )
    @click.option("--tokens", type=int, metavar="N", default=128, help="tokens per decode sample")
    @OUT
    def speed(g: Globals, tokens: int, json_out: str) -> int:
        from sleepmem.engine.speed import run_speed_bench

        with scratch_home(load(g)) as config:
            started = time.perf_counter()
            engine = common.open_engine(config)
            try:
                result = run_speed_bench(engine, time.perf_counter() - started, tokens)
            finally:
                engine.close()
        print(json.dumps(result, indent=2, default=json_default))
        save_json(result, json_out)
        return 0

    @command(
        benches,
        "export",
        "a memory exported as a LoRA adapter: size and recall per --ranks cap (SVD truncation, "
        "through the torch forward), and with llama-cpp-python installed, llama.cpp on the "
        "model's GGUF base with the adapter: recall, answers identical to torch, tokens/s and "
        "first token beside the torch loop",
    )
    @BENCH
    @OUT
    @click.option("--users", type=int, metavar="N", default=1, help="the first N users")
    @click.option("--ranks", metavar="R,R", default="64,32,16,8,4,2", help="rank caps to try")
    @click.option("--tokens", type=int, metavar="N", default=64, help="tokens per decode sample")
    @click.option(
        "--base-gguf",
        metavar="FILE",
        help="the model's GGUF for llama.cpp (default model: kept by `model pull --gguf`)",
    )
    def export(
        g: Globals,
        bench: str,
        json_out: str,
        users: int,
        ranks: str,
        tokens: int,
        base_gguf: str | None,
    ) -> int:
        import importlib.util

        from sleepmem.engine.bench_export import load_bench, run_export_bench
        from sleepmem.engine.models import pull_default_gguf, resolve

        try:
            caps = [int(r) for r in ranks.split(",") if r.strip()]
        except ValueError:
            raise InputError(
                f"--ranks takes whole numbers separated by commas, not {ranks!r}"
            ) from None
        data = load_bench(_existing(bench))
        real = load(g)
        gguf = Path(base_gguf).expanduser() if base_gguf else None
        # The default model's GGUF is the one base known to hold the edited weights.
        if (
            gguf is None
            and importlib.util.find_spec("llama_cpp") is not None
            and real.model in (None, "", "default")
        ):
            gguf = pull_default_gguf(base=common.home_of(real))
        with scratch_home(real) as config:
            engine = common.open_engine(config)
            try:
                engine.statistics()
                source = resolve(config.model, base=common.home_of(config))
                result = run_export_bench(engine, source, data, users, caps, tokens, gguf)
            finally:
                engine.close()
        print(json.dumps(result, indent=2, default=json_default))
        save_json(result, json_out)
        return 0


def _counts(text: str) -> list[int]:
    """``--concurrency``'s list of user counts ('' = none)."""
    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers") from None
    if any(n < 1 for n in counts):
        raise click.BadParameter("every count of users must be at least 1")
    return counts
