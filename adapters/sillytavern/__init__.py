"""SillyTavern integration: the UI extension in ``extension/`` (manifest.json, index.js,
settings.html) adds /sleep, /memories, /forget and /remember to SillyTavern, calling
sleepmem's REST API. ``EXTENSION_DIR`` is its folder; ``python -m
sleepmem.adapters.sillytavern SILLYTAVERN_DIR`` copies it into a SillyTavern install."""

from pathlib import Path

EXTENSION_DIR = Path(__file__).with_name("extension")
