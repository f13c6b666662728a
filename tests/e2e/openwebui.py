"""Open WebUI from PyPI as a child process, set up through its own HTTP API.

Open WebUI is heavy (about 3 GB of dependencies), so it is not installed by the test: it
runs from ``$SLEEPMEM_OPENWEBUI`` (the ``open-webui`` executable of a virtual environment)
or an ``open-webui`` on the PATH, and the tests skip without one. The README's "Open WebUI,
for real" section gives the two commands that make that environment.

Each run gets a fresh data folder, so the first account signed up is the admin. Offline
settings keep it from reaching for the network (its embedding model, version checks,
Ollama); chat does not need any of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .server import call_json, free_port

VERSION = "0.12.4"  # what the guide and this run were checked against


def executable() -> str | None:
    named = os.environ.get("SLEEPMEM_OPENWEBUI")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("open-webui")


class OpenWebUI:
    def __init__(self, exe: str, data: Path, log: Path) -> None:
        self.exe, self.data, self.log = exe, data, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, sleepmem_url: str, timeout: float = 600) -> OpenWebUI:
        """Start on loopback; ``sleepmem_url`` is also its OpenAI connection (route B), with
        the user headers forwarded, as the guide's step 2 starts it."""
        self.data.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATA_DIR": str(self.data),
            "WEBUI_SECRET_KEY": "sleepmem-e2e",
            "OFFLINE_MODE": "true",
            "HF_HUB_OFFLINE": "1",
            "ENABLE_OLLAMA_API": "false",
            "ENABLE_OPENAI_API": "true",
            "OPENAI_API_BASE_URLS": f"{sleepmem_url}/v1",
            "OPENAI_API_KEYS": "unused",
            "ENABLE_FORWARD_USER_INFO_HEADERS": "true",
            "BYPASS_MODEL_ACCESS_CONTROL": "true",
            "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "false",
            "ENABLE_VERSION_UPDATE_CHECK": "false",
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.exe, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # uvicorn's workers go with it on stop
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("GET", "/api/config")
                return self
            except (OSError, urllib.error.HTTPError):
                if self.proc.poll() is not None:
                    raise AssertionError("open-webui exited:\n" + self.output()[-4000:]) from None
                if time.monotonic() > deadline:
                    tail = self.output()[-4000:]
                    raise AssertionError("open-webui never answered:\n" + tail) from None
                time.sleep(1)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def api(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        return call_json(self.url + path, method, token, body)

    def add_function(self, token: str, fid: str, source: Path, valves: dict[str, str]) -> dict:
        """Admin > Functions > import, switch it on, set its valves: the guide's step 3A."""
        made = self.api(
            "POST",
            "/api/v1/functions/create",
            {"id": fid, "name": fid, "content": source.read_text(), "meta": {"description": fid}},
            token,
        )
        self.api("POST", f"/api/v1/functions/id/{fid}/toggle", None, token)
        self.api("POST", f"/api/v1/functions/id/{fid}/valves/update", valves, token)
        return made

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
