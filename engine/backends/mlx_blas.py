"""An optimised BLAS for mlx's CPU matmuls on Linux, loaded before ``mlx.core`` is.

Imported (for its side effect, once) by every module of the mlx backend ahead of mlx itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import logging
import os
import sys
from pathlib import Path

from ..errors import BackendUnavailable

log = logging.getLogger("sleepmem.engine.backends.mlx_backend")

BLAS_ENV = "SLEEPMEM_MLX_BLAS"
"""Path of a shared library exporting BLAS (``cblas_sgemm`` or ``sgemm_``) for mlx's CPU
matmuls on Linux, or ``none`` to keep the reference BLAS bundled with the ``mlx[cpu]`` wheel."""

_BLAS_OFF = {"0", "none", "off", "no", "reference"}


def blas_candidates() -> list[str]:
    """Optimised BLAS libraries this machine may already have, best first.

    A system OpenBLAS (Debian: ``apt-get install libopenblas0-pthread``), else the MKL that
    PyTorch's CPU wheel links into ``libtorch_cpu.so`` (it exports the Fortran BLAS names,
    ``sgemm_``). Found without importing torch.
    """
    found: list[str] = []
    system = ctypes.util.find_library("openblas")
    if system:
        found.append(system)
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.origin:
        torch_cpu = Path(spec.origin).parent / "lib" / "libtorch_cpu.so"
        if torch_cpu.is_file():
            found.append(str(torch_cpu))
    return found


def preload_blas() -> str | None:
    """Make mlx's CPU matmuls use an optimised BLAS on Linux; returns the library used.

    The ``mlx[cpu]`` Linux wheel links the netlib *reference* BLAS: a float32 GEMM there
    runs at ~3 GFLOP/s, 30-100x slower than OpenBLAS or MKL on the same cores (measured:
    1024^3 matmul 0.40 s vs 0.012 s), which makes edits take minutes. The dynamic linker
    resolves libmlx's ``cblas_sgemm`` (and the bundled CBLAS wrapper's Fortran ``sgemm_``)
    in the process's global scope before libmlx's own dependencies, so a BLAS loaded
    RTLD_GLOBAL *before* ``mlx.core`` is imported serves every mlx matmul. Only float
    rounding differs. macOS uses Accelerate: nothing to do there.
    """
    if not sys.platform.startswith("linux"):
        return None
    choice = os.environ.get(BLAS_ENV, "").strip()
    if choice.lower() in _BLAS_OFF:
        return None
    if "mlx.core" in sys.modules:
        log.warning(
            "mlx was imported before sleepmem's mlx backend; its CPU matmuls keep whatever "
            "BLAS they were linked with (set %s before importing mlx)",
            BLAS_ENV,
        )
        return None
    for path in [choice] if choice else blas_candidates():
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            if choice:
                raise BackendUnavailable(
                    f"{BLAS_ENV}={choice!r} could not be loaded: {exc}"
                ) from exc
            continue
        if hasattr(lib, "cblas_sgemm") or hasattr(lib, "sgemm_"):
            log.info("mlx CPU matmuls use %s", path)
            return path
        if choice:
            raise BackendUnavailable(
                f"{BLAS_ENV}={choice!r} exports neither cblas_sgemm nor sgemm_"
            )
    log.warning(
        "no optimised BLAS found for mlx on Linux; matmuls use the slow reference BLAS. "
        "Install one (Debian: apt-get install libopenblas0-pthread) or set %s",
        BLAS_ENV,
    )
    return None


BLAS = preload_blas()
"""The library serving mlx's CPU matmuls, or None (reference BLAS, or not Linux)."""
