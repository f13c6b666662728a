"""The real ``sleepmem serve`` process stopped at bad moments: SIGTERM right after a reply,
``kill -9`` while the edit runs. Every message a reply acknowledged is learned after the
restart, and the process exits within 30 s of SIGTERM. Real model, real loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TEST_EDITOR, link_models

READY = "OpenAI-compatible API at"


@pytest.fixture(scope="module")
def stats_dir(backend, shared_home: Path) -> Path:
    """The statistics the server processes need, computed once by this session's model,
    so a restarted process does not spend minutes recomputing them."""
    from sleepmem.engine import statistics
    from sleepmem.engine.config import load_config

    cfg = load_config(overrides=dict(TEST_EDITOR), discover=False, env={})
    folder = shared_home / "stats"
    layers = tuple(sorted(cfg.editor.layers))
    statistics.load_or_compute(backend, layers, cfg.editor.stats_tokens, folder)
    return folder


class Server:
    """``sleepmem serve`` as a child process on a free loopback port."""

    def __init__(self, home: Path, model_dir: Path, stats: Path) -> None:
        link_models(home, model_dir)
        if not (home / "stats").exists():
            (home / "stats").symlink_to(stats, target_is_directory=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        editor = {k.split(".", 1)[1]: v for k, v in TEST_EDITOR.items()}
        self.config = home / "sleepmem.yaml"
        self.config.write_text(
            yaml.safe_dump({"home": str(home), "model": str(model_dir), "editor": editor})
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> Server:
        code = "import sys; from sleepmem.adapters.cli import main; sys.exit(main())"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                "--config",
                str(self.config),
                "serve",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "SLEEPMEM_THREADS": "2"},
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 180
        for line in self.proc.stdout:
            self.output.append(line)
            if READY in line:
                break
            assert time.monotonic() < deadline, "".join(self.output)
        else:
            raise AssertionError("server exited before it was ready:\n" + "".join(self.output))
        return self

    def request(self, method: str, path: str, user: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "X-Sleepmem-User": user},
        )
        with urllib.request.urlopen(req, timeout=600) as response:
            return json.loads(response.read())

    def chat(self, user: str, text: str) -> str:
        body = {"model": "sleepmem", "messages": [{"role": "user", "content": text}]}
        answer = self.request("POST", "/v1/chat/completions", user, {**body, "max_tokens": 16})
        return answer["choices"][0]["message"]["content"]

    def answers(self, user: str) -> set[str]:
        return {f["answer"].casefold() for f in self.request("GET", "/v1/memory", user)["facts"]}

    def wait_for(self, user: str, want: set[str], timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.request("GET", "/v1/memory/status", user)
            if want <= self.answers(user) and status["inbox"] == 0:
                return status
            time.sleep(2)
        raise AssertionError(f"{user} never learned {want}: {self.answers(user)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"no exit within {timeout} s of signal {sig}") from None
        finally:
            if self.proc.stdout is not None:
                self.output += self.proc.stdout.readlines()
        return time.monotonic() - started


@pytest.fixture
def server(tmp_path: Path, model_dir: Path, stats_dir: Path):
    made: list[Server] = []

    def make() -> Server:
        made.append(Server(tmp_path / "home", model_dir, stats_dir))
        return made[-1].start()

    yield make
    for s in made:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def test_sigterm_right_after_the_reply_loses_nothing(server) -> None:
    first = server()
    assert first.chat("ana", "I live in Hobart and my dog is called Pepper.")
    time.sleep(0.5)  # the edit has started (or is about to): the service manager stops us
    took = first.stop(signal.SIGTERM)
    assert took < 30 and first.proc is not None and first.proc.returncode == 0, first.output
    second = server()
    second.wait_for("ana", {"hobart", "pepper"})
    assert second.answers("bob") == set()
    assert second.stop(signal.SIGINT) < 30


def test_kill_9_during_the_edit_loses_nothing(server) -> None:
    first = server()
    assert first.chat("oskar", "My name is Oskar and I work as a carpenter.")
    deadline = time.monotonic() + 60
    while first.request("GET", "/v1/memory/status", "oskar")["pending"] == 0:
        assert time.monotonic() < deadline, "the edit never started"
        time.sleep(0.2)
    time.sleep(3)  # inside the v* steps or the solve
    first.stop(signal.SIGKILL)
    second = server()
    status = second.wait_for("oskar", {"oskar", "carpenter"})
    assert status["facts"] == 2
    second.stop(signal.SIGTERM)
