"""What the torch backend's hooks read in a forward pass (keys, residuals, second
moments), set per call (``TorchBackend._probing``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Probe:
    """Per-call instrumentation read by the hooks: which keys, residuals or moments to capture."""

    rows: torch.Tensor | None = None  # (n,) batch row of each probed position
    cols: torch.Tensor | None = None  # (n,) token index of each probed position
    key_layers: tuple[int, ...] = ()
    keys: dict[int, torch.Tensor] | None = None
    residual_layer: int | None = None
    residuals: torch.Tensor | None = None
    moments: dict[int, torch.Tensor] | None = None  # layer -> running sum of k k^T
    moment_mask: torch.Tensor | None = None  # (B, T) bool, tokens that count
    stop_after: int | None = None  # end the forward pass once this layer has run
