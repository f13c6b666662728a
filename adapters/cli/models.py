"""``sleepmem model``: pull the default model, list the models folder, quantise for mlx.
None of these import torch."""

from __future__ import annotations

import click
from sleepmem.engine import paths

from .common import Globals, command, group, home_of, load, size, table


def add_to(cli: click.Group) -> None:
    models = group(cli, "model", "fetch and list models")

    @command(models, "pull", "download and convert the default model (once) and print its folder")
    @click.option(
        "--gguf",
        is_flag=True,
        help="also keep its GGUF file (the base llama.cpp runs, for `sleepmem export "
        "--format gguf`) and print its path",
    )
    @click.option(
        "--gguf-f16",
        is_flag=True,
        help="also write an F16 copy of that GGUF (needs llama-cpp-python) and print its "
        "path: set it as generation_gguf for llama.cpp replies identical to torch's, at "
        "about two thirds of the Q4_1 speed",
    )
    def pull(g: Globals, gguf: bool, gguf_f16: bool) -> int:
        from sleepmem.engine.models import pull_default, pull_default_gguf

        home = home_of(load(g))
        print(pull_default(progress=True, base=home))
        if gguf or gguf_f16:
            path = pull_default_gguf(progress=True, base=home)
            print(path)
            if gguf_f16:
                from sleepmem.engine.llamacpp import float16_copy

                print(float16_copy(path))
        return 0

    @command(models, "list", "list the models in the models folder")
    def list_(g: Globals) -> int:
        from sleepmem.engine.models import list_models

        home = home_of(load(g))
        found = list_models(base=home)
        if not found:
            print(f"no models in {paths.models_dir(home)}; run `sleepmem model pull`")
            return 0
        rows = [
            [
                m["name"] + (" (default)" if m["default"] else ""),
                m["kind"],
                m["model_id"] or "-",
                size(m["size_bytes"]),
                "yes" if m["complete"] else "no (re-run `sleepmem model pull`)",
            ]
            for m in found
        ]
        print(table(rows, ["name", "kind", "model id", "size", "complete"]))
        return 0

    @command(
        models,
        "quantize",
        "4-bit (etc.) copy of --model made by mlx-lm's converter (once), for --backend mlx",
    )
    @click.option("--bits", type=click.Choice([2, 3, 4, 5, 6, 8]), default=4, show_default=True)
    @click.option("--group-size", type=click.Choice([32, 64, 128]), default=32, show_default=True)
    @click.option("--name", metavar="NAME", help="folder name in the models folder")
    def quantize(g: Globals, bits: int, group_size: int, name: str | None) -> int:
        from sleepmem.engine.models import quantize_mlx

        config = load(g)
        folder = quantize_mlx(
            config.model, bits=bits, group_size=group_size, name=name, base=home_of(config)
        )
        print(folder)
        return 0
