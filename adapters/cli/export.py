"""``sleepmem export``: one memory as a LoRA adapter for PEFT/vLLM or llama.cpp. Reads the
stored edit and resolves the model without loading it, so it takes a second and no torch."""

from __future__ import annotations

from pathlib import Path

import click

from .common import Globals, command, home_of, load


def add_to(cli: click.Group) -> None:
    @command(
        cli,
        "export",
        "write --user's memory as a LoRA adapter into the folder OUT: PEFT (adapter_config.json "
        "+ adapter_model.safetensors, for transformers and vLLM) or llama.cpp (adapter.gguf), "
        "optionally truncated to --max-rank (on the directions its keys use, else by SVD)",
    )
    @click.argument("out", metavar="OUT", type=click.Path(path_type=Path))
    @click.option("--user", required=True, metavar="NAME", help="whose memory to export")
    @click.option(
        "--character",
        metavar="NAME",
        help="the user's memory with this character (server.per_character_memory)",
    )
    @click.option(
        "--guild", metavar="ID", help="the user's memory in this Discord guild (per-guild memory)"
    )
    @click.option(
        "--format", "fmt", type=click.Choice(["peft", "gguf"]), default="peft", help="adapter kind"
    )
    @click.option("--max-rank", type=click.IntRange(min=1), metavar="R", help="truncate each layer")
    @click.option(
        "--dtype",
        type=click.Choice(["float32", "float16"]),
        default="float32",
        help="tensor type (float16: half the size)",
    )
    @click.option(
        "--base-gguf",
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        metavar="FILE",
        help="the base model's GGUF, to name and check the architecture (--format gguf)",
    )
    @click.option("--force", is_flag=True, help="write into an OUT folder that is not empty")
    def export(
        g: Globals,
        out: Path,
        user: str,
        character: str | None,
        guild: str | None,
        fmt: str,
        max_rank: int | None,
        dtype: str,
        base_gguf: Path | None,
        force: bool,
    ) -> int:
        from sleepmem.engine.exports import export_memory
        from sleepmem.engine.models import resolve
        from sleepmem.engine.service import memory_key

        config = load(g)
        home = home_of(config)
        # The key every front end files this memory under (service.memory_key): a plain
        # user, or the user's memory per guild and per character.
        key = memory_key(user, character=character, guild=guild)
        source = resolve(config.model, base=home)
        result = export_memory(
            home,
            source,
            key,
            out,
            fmt,
            max_rank=max_rank,
            dtype=dtype,
            force=force,
            base_gguf=base_gguf,
        )
        print(result.describe())
        for note in result.notes:
            print(f"note: {note}")
        for path in result.files:
            print(path)
        return 0
