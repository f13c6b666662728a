"""The vendored SillyTavern release, unpacked, installed and run on loopback for a test.

``../shared/vendor/SillyTavern-<version>.tar.gz`` (or ``$SLEEPMEM_SILLYTAVERN_TARBALL``) is
unpacked into a temporary folder, its dependencies come from the npm registry (``npm
install --omit=dev``), and sleepmem's extension is installed with the project's own
installer, as the guide tells users to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from .server import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
VERSION = "1.12.6"


def tarball() -> Path:
    named = os.environ.get("SLEEPMEM_SILLYTAVERN_TARBALL")
    vendored = ROOT.parent / "shared" / "vendor" / f"SillyTavern-{VERSION}.tar.gz"
    return Path(named) if named else vendored


def set_yaml_key(text: str, key: str, value: str) -> str:
    """Set a top-level ``key: value`` line of SillyTavern's config.yaml, keeping its
    comments (a YAML round trip would drop them)."""
    line = re.compile(rf"^{re.escape(key)}:.*$", re.MULTILINE)
    if not line.search(text):
        return text + f"\n{key}: {value}\n"
    return line.sub(f"{key}: {value}", text, count=1)


class SillyTavern:
    def __init__(self, folder: Path, log: Path) -> None:
        self.folder = folder
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    def install(self, source: Path) -> SillyTavern:
        started = time.monotonic()
        with tarfile.open(source) as tar:
            tar.extractall(self.folder.parent, filter="data")
            top = tar.getnames()[0].split("/")[0]
        (self.folder.parent / top).rename(self.folder)
        self.timings["unpack"] = time.monotonic() - started
        started = time.monotonic()
        npm = shutil.which("npm")
        assert npm is not None
        with self.log.open("ab") as out:
            subprocess.run(
                [npm, "install", "--omit=dev", "--no-audit", "--no-fund"],
                cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=900,
            )  # fmt: skip
        self.timings["npm install"] = time.monotonic() - started
        self.install_extension()
        return self

    def install_extension(self, account: str | None = None) -> None:
        """The project's installer, as the guide runs it (``--user`` for a later account)."""
        extra = ["--user", account] if account else []
        subprocess.run(
            [sys.executable, "-m", "sleepmem.adapters.sillytavern", str(self.folder), *extra],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def configure(self, **keys: str) -> SillyTavern:
        """config.yaml from SillyTavern's default, with these top-level keys set."""
        config = (self.folder / "default" / "config.yaml").read_text()
        for key, value in {"listen": "false", "autorun": "false", **keys}.items():
            config = set_yaml_key(config, key, value)
        (self.folder / "config.yaml").write_text(config)
        return self

    def start(self, timeout: float = 180) -> SillyTavern:
        started = time.monotonic()
        node = shutil.which("node")
        assert node is not None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [node, "server.js", "--port", str(self.port), "--listen", "false"],
                cwd=self.folder, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_http(self.url + "/", timeout)
        self.timings["start"] = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
