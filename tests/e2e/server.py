"""``sleepmem serve`` as a child process on a free loopback port, for browser tests.

Its output goes to a log file next to the screenshots (read when a test fails, and so a
chatty server can never block on a full pipe). Every server of a session links one
statistics folder, so only the first start computes the model's statistics.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

READY = "OpenAI-compatible API at"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SleepmemServer:
    def __init__(
        self, home: Path, model_dir: Path, stats: Path, log: Path, config: dict[str, Any]
    ) -> None:
        home.mkdir(parents=True, exist_ok=True)
        for name, target in (("models", model_dir.parent), ("stats", stats)):
            if not (home / name).exists():
                (home / name).symlink_to(target, target_is_directory=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = home / "sleepmem.yaml"
        self.config_file.write_text(
            yaml.safe_dump({"home": str(home), "model": str(model_dir), **config})
        )
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 600) -> SleepmemServer:
        code = "import sys; from sleepmem.adapters.cli import main; sys.exit(main())"
        args = ["--config", str(self.config_file), "serve", "--port", str(self.port)]
        env = {**os.environ, "SLEEPMEM_THREADS": os.environ.get("SLEEPMEM_THREADS", "2")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, *args], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout
        while READY not in self.output():
            if self.proc.poll() is not None:
                raise AssertionError("sleepmem serve exited:\n" + self.output())
            if time.monotonic() > deadline:
                raise AssertionError("sleepmem serve never got ready:\n" + self.output())
            time.sleep(0.5)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def api(self, method: str, path: str, key: str = "", body: Any = None) -> Any:
        """One memory-API call, as the page makes it (for waiting on the server's state)."""
        return call_json(self.url + path, method, key, body, timeout=600)

    def wait_idle(self, user_query: str, key: str = "", timeout: float = 900) -> dict[str, Any]:
        """Wait until the user's wake work is done (nothing pending, nothing in the inbox):
        the server's own word that what was told is written, instead of a blind sleep."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.api("GET", f"/v1/memory/status?{user_query}", key)
            if status["pending"] == 0 and status["inbox"] == 0 and not status["sleeping"]:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"memory work never finished: {status}")
            time.sleep(2)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def call_json(url: str, method: str, key: str = "", body: Any = None, timeout: float = 120) -> Any:
    """One JSON request with an optional bearer key; the decoded JSON answer."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read())


def wait_http(url: str, timeout: float) -> None:
    """Until ``url`` answers at all (any HTTP status), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered") from None
            time.sleep(0.5)
