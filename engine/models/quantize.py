"""mlx-lm quantised copies of a model (``sleepmem model quantize``), made once by mlx-lm's
own converter and filed under their own model id."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import BackendUnavailable, ModelError
from .folders import MARKER_FORMAT, file_lock, is_complete, weight_files, write_marker
from .resolve import ModelSource, resolve

log = logging.getLogger("sleepmem.engine.models")

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
    with file_lock(mdir / f".{folder_name}.lock"):
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
    from ..backends import mlx_backend  # noqa: F401

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
    if mlx_quantization(out) is None or not weight_files(out):
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
    write_marker(out, marker)
    os.rename(out, target)
