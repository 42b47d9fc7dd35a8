"""Checkpoints: safe to load (``weights_only=True``), tagged with the package version and the
hash of the configuration that produced them, and written atomically.

A checkpoint is a plain dict of tensors, numbers and strings::

    {"format": "quanos-hw-checkpoint", "package_version": ..., "config_hash": ...,
     "epoch": ..., "step_in_epoch": ..., "model": state_dict, "optimizer": state_dict | None,
     "generator_state": ByteTensor | None, "history": [...], "meta": {...}}

Loading refuses (with :class:`CheckpointError`) anything that is not such a dict: a corrupt or
truncated file, a foreign file, a pickle carrying arbitrary objects (``weights_only=True`` stops
it before any code runs), another package version or another configuration.

Every checkpoint's SHA-256 is recorded beside it (``NAME.pt.sha256``, quanos_hw/integrity.py) when
it is written, and checked when it is loaded: a flipped bit anywhere in the file (torch's loader
does not check the zip's CRCs) is refused, naming the file.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .errors import CheckpointError
from .integrity import DigestError, read_verified, write_with_digest

FORMAT = "quanos-hw-checkpoint"


def save_checkpoint(path: str | Path, *, model: nn.Module, config_hash: str, epoch: int,
                    step_in_epoch: int = 0, optimizer: torch.optim.Optimizer | None = None,
                    generator: torch.Generator | None = None, history: list | None = None,
                    meta: dict | None = None) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename) with its SHA-256 beside it."""
    payload = {
        "format": FORMAT,
        "package_version": __version__,
        "config_hash": config_hash,
        "epoch": int(epoch),
        "step_in_epoch": int(step_in_epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "generator_state": generator.get_state() if generator is not None else None,
        "history": list(history or []),
        "meta": dict(meta or {}),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_with_digest(path, buffer.getvalue())


def load_checkpoint(path: str | Path, expected_config_hash: str | None = None, *,
                    digest_required: bool = False) -> dict:
    """Load and check a checkpoint; raise CheckpointError with the reason and the fix. Its content
    is checked against the recorded SHA-256 when there is one (always with ``digest_required``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        data = read_verified(path, "checkpoint", digest_required)
    except DigestError as exc:
        raise CheckpointError(str(exc)) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc.strerror or exc}") from None
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it contains arbitrary Python objects, which are never loaded"
        raise CheckpointError(f"refusing checkpoint {str(path)!r}: {reason[:200]}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a quanos-hw checkpoint")
    if payload.get("package_version") != __version__:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written by quanos-hw {payload.get('package_version')}, this is "
            f"{__version__}; rerun without --resume or use the matching version"
        )
    if expected_config_hash is not None and payload.get("config_hash") != expected_config_hash:
        raise CheckpointError(
            f"checkpoint {str(path)!r} belongs to a different configuration; rerun without --resume "
            "or with the configuration that produced it"
        )
    return payload


def load_model_state(model: nn.Module, state: dict) -> None:
    """Load a model state dict; only activation clip ranges of a never-calibrated model may be absent."""
    try:
        result = model.load_state_dict(state, strict=False)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint does not fit the model: {first[:200]}") from None
    missing = [k for k in result.missing_keys if not k.endswith("scaling_impl.value")]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"checkpoint does not fit the model: missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}"
        )
