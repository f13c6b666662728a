"""The models directory: the default model's folder, completion markers, location-free
model ids, the listing for ``sleepmem model list``, and the lock that guards a folder
being written."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import ModelError

try:  # POSIX only; on other platforms concurrent pulls are simply not guarded.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("sleepmem.engine.models")

DEFAULT_MODEL = "smollm2-135m-instruct"
"""Alias users may type for the default model (besides ``default`` or nothing at all)."""

DEFAULT_ALIASES = frozenset({"default", DEFAULT_MODEL})

DEFAULT_FOLDER = "SmolLM2-135M-Instruct"
"""Folder name of the pulled default model under ``models_dir()``."""

DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"
"""Display id of the default model; the same on every machine because the weights are."""


MARKER = "sleepmem-model.json"
"""Written last into a pulled folder: its presence is what makes the folder complete."""

MARKER_FORMAT = 1

WEIGHT_SUFFIXES = (".safetensors", ".bin")


def default_model_dir(base: Path | None = None) -> Path:
    """Where ``pull_default`` puts the default model."""
    return paths.models_dir(base) / DEFAULT_FOLDER


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a pulled folder, or None if absent or unreadable (= incomplete)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(folder: Path) -> bool:
    """A pulled folder is usable only once its marker (written last) and config exist; a
    folder left by a killed pull has neither marker nor guarantee of whole files."""
    marker = read_marker(folder)
    return (
        marker is not None and bool(marker.get("model_id")) and (folder / "config.json").is_file()
    )


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def folder_model_id(folder: Path) -> str:
    """A pulled folder's id comes from its marker; any other folder gets its name plus a
    short hash of config.json and the weight files' names and sizes. That is cheap (no
    hashing of gigabytes) yet changes when the weights do, and does not depend on where
    the folder lives, so the same model copied to another machine keeps its id."""
    marker = read_marker(folder)
    if marker and marker.get("model_id"):
        return str(marker["model_id"])
    h = hashlib.sha256()
    with suppress(OSError):
        h.update((folder / "config.json").read_bytes())
    for f in weight_files(folder):
        h.update(f"{f.name}:{f.stat().st_size}\n".encode())
    return f"{folder.resolve().name}-{h.hexdigest()[:8]}"


def gguf_model_id(file: Path) -> str:
    """File stem plus a short hash of the size and first MiB: cheap and location-free."""
    h = hashlib.sha256(str(file.stat().st_size).encode())
    with file.open("rb") as fh:
        h.update(fh.read(1 << 20))
    return f"{file.stem}-{h.hexdigest()[:8]}"


def _dir_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def list_models(base: Path | None = None) -> list[dict[str, Any]]:
    """What is in the models directory, for ``sleepmem model list``.

    Each entry: name, path, kind ("folder" or "gguf"), complete, model_id, size_bytes,
    default (is it the pulled default model) and source (from the marker, if any). Hidden
    entries (lock files, half-finished pulls) are skipped.
    """
    mdir = paths.models_dir(base)
    if not mdir.is_dir():
        return []
    out: list[dict[str, Any]] = []
    for entry in sorted(mdir.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            marker = read_marker(entry)
            complete = is_complete(entry) or (
                marker is None and (entry / "config.json").is_file() and bool(weight_files(entry))
            )
            out.append(
                {
                    "name": entry.name,
                    "path": str(entry),
                    "kind": "folder",
                    "complete": complete,
                    "model_id": folder_model_id(entry) if complete else None,
                    "size_bytes": _dir_size(entry),
                    "default": entry.name == DEFAULT_FOLDER and is_complete(entry),
                    "source": (marker or {}).get("source"),
                }
            )
        elif entry.is_file() and entry.name.lower().endswith(".gguf"):
            out.append(
                {
                    "name": entry.name,
                    "path": str(entry),
                    "kind": "gguf",
                    "complete": True,
                    "model_id": gguf_model_id(entry),
                    "size_bytes": entry.stat().st_size,
                    "default": False,
                    "source": None,
                }
            )
    return out


def write_marker(folder: Path, marker: dict[str, Any]) -> None:
    """Write a finished folder's marker atomically (it is what makes the folder complete)."""
    tmp_marker = folder / f"{MARKER}.tmp"
    tmp_marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_marker, folder / MARKER)


@contextmanager
def file_lock(lock_path: Path, timeout: float | None = None) -> Iterator[None]:
    """Exclusive ``flock`` on ``lock_path``, so two processes pulling at once do not write
    the same folder; the second waits and then finds the first one's finished result.
    The lock file itself is never deleted (deleting it would let a third process lock a
    fresh inode while the second still holds the old one)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    log.info("another sleepmem process is pulling the model; waiting for it")
                    announced = True
                if deadline is not None and time.monotonic() >= deadline:
                    raise ModelError(
                        f"gave up waiting for another process to finish pulling the model "
                        f"(lock {lock_path} held for over {timeout:g} s)"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock
