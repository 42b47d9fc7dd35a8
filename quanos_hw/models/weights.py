"""Pretrained weights: a state_dict file loaded into a float network before it is converted.

The file is a ``torch.save``-d mapping of parameter and buffer names to tensors (e.g.
``torch.save(model.state_dict(), "w.pt")``), read with ``torch.load(..., weights_only=True)`` so
that no code in it runs, or a ``.safetensors`` file when the safetensors package is installed.
It must fit the network exactly: the first few missing keys, unexpected keys and shape mismatches
are named in one line. Only ``num_batches_tracked`` counters (absent from older BatchNorm files)
and the activation clip ranges of a never-calibrated quanos-hw model may be missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelError

#: at most this many offenders of each kind are named in an error
SHOWN = 3
#: key endings that may be absent from a weights file
OPTIONAL = ("num_batches_tracked", "scaling_impl.value")


def read_state_dict(path: str | Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """The state dict in ``path``; a ModelError for a missing, unreadable or foreign file."""
    path = Path(path)
    name = f"{what} file {str(path)!r}"
    if not path.is_file():
        raise ModelError(f"{name} does not exist")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise ModelError(f"{name}: reading .safetensors needs the safetensors package (pip install "
                             "safetensors), or save the weights with torch.save") from None
        loader = lambda: load_file(str(path), device="cpu")
    else:
        loader = lambda: torch.load(path, map_location="cpu", weights_only=True)
    try:
        state = loader()
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        text = str(exc).strip()
        reason = text.splitlines()[0][:200] if text else type(exc).__name__
        if "weights_only" in text or "Unsupported global" in text:
            reason = "it contains arbitrary Python objects, which are never loaded"
        raise ModelError(f"cannot read {name}: {reason}") from None
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in state.items()):
        raise ModelError(f"{name} is not a state_dict (a mapping of names to tensors, as torch.save("
                         "model.state_dict(), path) writes)")
    return dict(state)


def _shown(keys: list[str]) -> str:
    more = f" (+{len(keys) - SHOWN} more)" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def mismatches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """'missing ...; unexpected ...; shape mismatch ...' between ``model`` and ``state``, or ''."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(OPTIONAL)]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model"
              for k in own if k in state and state[k].shape != own[k].shape]
    parts = [f"{label} {_shown(keys)}" for label, keys in
             (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)) if keys]
    return "; ".join(parts)


def load_weights(model: nn.Module, path: str | Path, what: str = "model") -> None:
    """Load the state dict in ``path`` into ``model`` (``what`` names the model in errors)."""
    state = read_state_dict(path)
    problems = mismatches(model, state)
    if problems:
        raise ModelError(f"weights file {str(path)!r} does not fit {what}: {problems}")
    model.load_state_dict(state, strict=False)
