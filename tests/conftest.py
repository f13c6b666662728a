"""Shared fixtures: the real default model, loaded once per test session.

The model is pulled (once per machine) into the normal sleepmem home, then each session
works in a temporary home that links to it, so tests never touch a user's real memories.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Fixtures that load (or pull) the model; a test that requests one, directly or through
# another fixture, is marked ``model`` so that ``pytest -m "not model"`` is the fast tier.
# A test that only looks a model fixture up by name (request.getfixturevalue) carries
# ``@pytest.mark.model`` itself.
MODEL_FIXTURES = frozenset(
    {"model_dir", "backend", "mlx_backend", "shared_home", "engine_factory", "engine", "serve"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        # fixturenames is the closure: a module fixture built on model_dir counts too.
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from sleepmem.engine.models import pull_default

    return pull_default(progress=False)


@pytest.fixture(scope="session")
def backend(model_dir: Path):
    torch = pytest.importorskip("torch")
    from sleepmem.engine.backends.torch_backend import TorchBackend
    from sleepmem.engine.models import resolve

    if os.environ.get("SLEEPMEM_THREADS"):
        torch.set_num_threads(int(os.environ["SLEEPMEM_THREADS"]))
    return TorchBackend.from_source(resolve(str(model_dir)), device="cpu")


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    return link_models(tmp_path_factory.mktemp("sleepmem-home"), model_dir)


# The suite runs on the lighter editor of the previous defaults (5 layers, 5 contexts, 10
# prompts per fact): the behaviour tested is the same and CI stays within its time limit;
# the shipped defaults' figures come from `sleepmem bench`, not from tests.
TEST_EDITOR = {
    "editor.layers": [4, 5, 6, 7, 8],
    "editor.contexts": 5,
    "editor.v_prompts": 10,
    "editor.max_rank_per_fact": 10,
    # The spill guard is tuned for the default layers 3-10, where it helps (README); on
    # layers 4-8 it kept the update off the token that predicts the answer's first word, and
    # a lone "/remember I am allergic to peanuts" came back "additives." (measured; the
    # default editor says "peanuts." with it or without). test_context_edits tests it.
    "editor.spill_guard": 0.0,
}


@pytest.fixture(scope="session")
def test_editor() -> dict:
    return dict(TEST_EDITOR)


@pytest.fixture(scope="session")
def engine_factory(backend, shared_home: Path):
    """Build engines on the one loaded model; a new engine on the same home = a restart."""
    from sleepmem.engine.config import load_config
    from sleepmem.engine.memory import Engine
    from sleepmem.plugin.registry import load_registry

    made = []
    stats = {}

    def make(home: Path | None = None, **overrides):
        cfg = load_config(
            overrides={"home": str(home or shared_home), **TEST_EDITOR, **overrides},
            discover=False,
            env={},
        )
        engine = Engine(cfg, backend, load_registry(cfg))
        # Statistics depend on the model only; compute them once per session.
        if "value" in stats:
            engine._stats = stats["value"]
        else:
            stats["value"] = engine.statistics()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def link_models(home: Path, model_dir: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():
        (home / "models").symlink_to(model_dir.parent, target_is_directory=True)
    return home


@pytest.fixture
def engine(engine_factory, tmp_path: Path, model_dir: Path):
    """A fresh engine with an empty memory store (its own home)."""
    return engine_factory(link_models(tmp_path / "home", model_dir))


@pytest.fixture
def serve(engine_factory, tmp_path: Path, model_dir: Path):
    """Start the real HTTP server on a loopback port for a fresh engine; returns the running
    ``BackgroundServer`` (``.url``, ``.service``, ``.call(coro)``). Keyword arguments are
    config overrides, e.g. ``serve(**{"server.api_keys": {"k": "alice"}})``."""
    from sleepmem.adapters.server.runner import BackgroundServer
    from sleepmem.engine.service import MemoryService

    started = []

    def start(**overrides):
        home = link_models(tmp_path / f"home{len(started)}", model_dir)
        server = BackgroundServer(MemoryService(engine_factory(home, **overrides))).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def mlx_backend(model_dir: Path):
    """The default model on the mlx backend (CPU), loaded once; skipped only without mlx.
    find_spec, not an import: the backend module must import mlx itself (it picks the BLAS
    mlx uses on Linux before mlx loads)."""
    import importlib.util

    if importlib.util.find_spec("mlx") is None or importlib.util.find_spec("mlx_lm") is None:
        pytest.skip("mlx and mlx-lm are not installed: pip install 'sleepmem[mlx]'")
    from sleepmem.engine.backends.mlx_backend import MlxBackend
    from sleepmem.engine.models import resolve

    return MlxBackend.from_source(resolve(str(model_dir)), device="cpu")
