"""Times and screenshots each step of a real-app run, and writes the timings beside them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class Steps:
    def __init__(self, shot: Any, out: Path, app: str, version: str) -> None:
        self.shot, self.out = shot, out
        self.app, self.version = app, version  # "sillytavern" -> sillytavern-timings.json
        self.timings: dict[str, float] = {}
        self.last = time.monotonic()

    def done(self, page: Any, name: str) -> None:
        now = time.monotonic()
        self.timings[name] = round(now - self.last, 1)
        self.last = now
        self.shot(page, name)

    def save(self, setup: dict[str, float], key: str | None = None) -> None:
        """``key``: the version's name in the file (default: the app's name)."""
        data = {key or self.app: self.version, "setup": setup, "steps_seconds": self.timings}
        (self.out / f"{self.app}-timings.json").write_text(json.dumps(data, indent=2))
