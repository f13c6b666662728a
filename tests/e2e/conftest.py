"""Browser fixtures: headless Chromium through playwright, an output folder for the
screenshots, and real ``sleepmem serve`` processes.

Chromium is the system one (``apt-get install chromium``), given to playwright as its
``executable_path``, so no browser download is needed; ``$SLEEPMEM_CHROMIUM`` names another.
Screenshots go to ``$SLEEPMEM_E2E_OUT`` or a temporary folder; its path is printed at the
end of the run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_EDITOR

from .server import SleepmemServer

_OUT: list[Path] = []


def chromium_executable() -> str | None:
    named = os.environ.get("SLEEPMEM_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


# Module scope, not session: while sync_playwright is open its event loop runs in the main
# thread, and every pytest-asyncio test after it fails with "Runner.run() cannot be called
# from a running event loop". Closing it at the end of each browser module frees the thread.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install playwright")
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium found: apt-get install chromium (or set $SLEEPMEM_CHROMIUM)")
    with sync_playwright() as p:
        # --no-sandbox: CI and containers run as root, where Chromium's sandbox cannot start.
        b = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def e2e_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    named = os.environ.get("SLEEPMEM_E2E_OUT")
    out = Path(named) if named else tmp_path_factory.mktemp("e2e-out")
    out.mkdir(parents=True, exist_ok=True)
    _OUT.append(out)
    return out


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for out in _OUT:
        terminalreporter.write_line(f"e2e screenshots and logs: {out}")


Shot = Callable[[Any, str], Path]


@pytest.fixture
def shot(e2e_out: Path, request: pytest.FixtureRequest) -> Shot:
    """``shot(page, "signed-in")``: a numbered full-page screenshot of this test's steps."""
    test = re.sub(r"\W+", "-", request.node.name).strip("-")
    count = [0]

    def take(page: Any, name: str) -> Path:
        count[0] += 1
        path = e2e_out / f"{test}-{count[0]:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def e2e_stats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model statistics every server of the session shares (minutes to compute on a
    busy CPU); ``$SLEEPMEM_E2E_STATS`` keeps them in a folder across sessions."""
    named = os.environ.get("SLEEPMEM_E2E_STATS")
    if named:
        Path(named).mkdir(parents=True, exist_ok=True)
        return Path(named)
    return tmp_path_factory.mktemp("e2e-stats")


@pytest.fixture
def sleepmem_server(
    tmp_path: Path, model_dir: Path, e2e_stats: Path, e2e_out: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., SleepmemServer]]:
    """``sleepmem_server(server={...})``: start a real server with these config sections,
    on the test suite's lighter editor; stopped (SIGTERM) after the test."""
    made: list[SleepmemServer] = []
    test = re.sub(r"\W+", "-", request.node.name).strip("-")

    def start(**config: Any) -> SleepmemServer:
        editor = {k.split(".", 1)[1]: v for k, v in TEST_EDITOR.items()}
        log = e2e_out / f"{test}-server{len(made)}.log"
        server = SleepmemServer(
            tmp_path / f"home{len(made)}", model_dir, e2e_stats, log, {"editor": editor, **config}
        )
        made.append(server)
        return server.start()

    yield start
    for server in made:
        server.stop()
