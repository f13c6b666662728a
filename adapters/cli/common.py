"""What every ``sleepmem`` command shares: the global options (accepted before or after the
subcommand), the effective config, opening the engine, and small output helpers."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from sleepmem.engine import paths
from sleepmem.engine.errors import ConfigError

log = logging.getLogger("sleepmem.cli")

THREADS_ENV = "SLEEPMEM_THREADS"
"""If set, the number of CPU threads torch may use (``torch.set_num_threads``)."""

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class Globals:
    """The global options; None (0 for verbose) = not given."""

    config: str | None = None
    home: str | None = None
    model: str | None = None
    backend: str | None = None
    device: str | None = None
    verbose: int = 0

    def merged(self, given: dict[str, Any]) -> Globals:
        """These options with the ones given at a deeper level (the subcommand's win)."""
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v})


GLOBAL_NAMES = tuple(f.name for f in dataclasses.fields(Globals))


def global_options(fn: F) -> F:
    """Add the global options to a group or command. They are declared on every level (as
    argparse's SUPPRESS defaults were) so that ``sleepmem chat --model X`` and ``sleepmem
    --model X chat`` both work; ``with_globals`` merges them into ``ctx.obj``."""
    options = [
        click.option("--config", metavar="FILE", help="YAML config file"),
        click.option("--home", metavar="DIR", help="state folder (default ~/.sleepmem)"),
        click.option("--model", metavar="SPEC", help="model: default, name, folder, .gguf"),
        click.option(
            "--backend",
            metavar="NAME",
            help="compute backend: torch, mlx, or one a plugin registers (see `sleepmem plugins`)",
        ),
        click.option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps"),
        click.option("-v", "--verbose", count=True, help="log progress to stderr (-vv: debug)"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def merge_globals(ctx: click.Context, params: dict[str, Any]) -> Globals:
    """Take the global options out of ``params`` (in place) and merge them over the
    enclosing level's into ``ctx.obj``; returns the result."""
    given = {name: params.pop(name, None) for name in GLOBAL_NAMES}
    parent = ctx.obj if isinstance(ctx.obj, Globals) else Globals()
    ctx.obj = parent.merged(given)
    return ctx.obj


def command(group: click.Group, name: str, help_text: str, **kwargs: Any) -> Callable[[F], F]:
    """Register ``fn(g: Globals, **options) -> int`` as ``group``'s subcommand ``name``, with
    the global options and the ``click.option``s stacked below this decorator. A nonzero
    return value is the exit code."""

    def decorate(fn: F) -> F:
        @click.pass_context
        def callback(ctx: click.Context, **params: Any) -> int:
            g = merge_globals(ctx, params)
            setup_logging(g.verbose)
            code = int(fn(g, **params) or 0)
            if code:
                ctx.exit(code)
            return 0

        # Options declared on ``fn`` (click.option below this decorator) are the command's.
        callback.__click_params__ = list(getattr(fn, "__click_params__", []))  # type: ignore[attr-defined]
        group.command(name, help=help_text, **kwargs)(global_options(callback))
        return fn

    return decorate


class Group(click.Group):
    """A group of subcommands that also takes the global options. Without a subcommand it
    prints its help to stderr and exits 2, and an unknown one is an "invalid choice", as in
    the argparse CLI this replaced."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            choices = ", ".join(repr(c) for c in self.list_commands(ctx))
            raise click.UsageError(f"invalid choice: {name!r} (choose from {choices})", ctx)
        return super().resolve_command(ctx, args)


def group(parent: click.Group | None, name: str, help_text: str, cls: type[Group] = Group) -> Group:
    """A new ``cls`` group called ``name``, added to ``parent`` (if any)."""

    @click.pass_context
    def callback(ctx: click.Context, **params: Any) -> None:
        merge_globals(ctx, params)
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help(), err=True)
            ctx.exit(2)

    made = click.group(name, cls=cls, help=help_text, invoke_without_command=True)(
        global_options(callback)
    )
    if parent is not None:
        parent.add_command(made)
    return made


# --------------------------------------------------------------------------- config, engine


def load(g: Globals, **overrides: Any) -> Any:
    """The effective EngineConfig: defaults < YAML file < environment < global flags."""
    from sleepmem.engine.config import load_config

    return load_config(g.config, overrides={**flag_overrides(g), **overrides})


def flag_overrides(g: Globals) -> dict[str, Any]:
    """The global flags as config overrides (None = not given)."""
    return {"home": g.home, "model": g.model, "backend": g.backend, "device": g.device}


def home_of(config: Any) -> Path:
    return paths.home(config.home)


def open_engine(config: Any) -> Any:
    """Load the plugins and the model (pulling the default once if needed) and build the
    engine. Looked up as ``common.open_engine`` at call time, so tests can replace it."""
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


@contextlib.contextmanager
def scratch_home(config: Any) -> Iterator[Any]:
    """``config`` on a temporary home: benchmark users never land in the real memory store,
    while the model and its statistics are shared through links."""
    import tempfile

    real_home = home_of(config)
    with tempfile.TemporaryDirectory(prefix="sleepmem-bench-") as tmp:
        for name in ("models", "stats"):
            (real_home / name).mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).symlink_to(real_home / name, target_is_directory=True)
        yield dataclasses.replace(config, home=tmp)


# --------------------------------------------------------------------------- output


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def json_default(value: Any) -> Any:
    """numpy scalars/arrays, paths and dataclass-like objects in benchmark results."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dict__"):
        return vars(value)
    return str(value)


def save_json(result: dict[str, Any], path: str) -> None:
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=json_default) + "\n", encoding="utf-8")
    print(f"wrote {out}")


# --------------------------------------------------------------------------- logging


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


def setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        root.addHandler(_StderrHandler())
    root.setLevel(level)
