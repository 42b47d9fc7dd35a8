"""Export a trained quantized model to ONNX through Brevitas, bit-widths preserved.

* ``onnx``: standard ONNX in QCDQ form (QuantizeLinear -> Clip -> DequantizeLinear); each
  tensor's bit-width is carried by its Clip bounds (e.g. a 4-bit narrow signed weight clips to
  [-7, 7]). ONNX's QuantizeLinear holds at most 8 bits here, so every layer must be <= 8 bits.
* ``qonnx``: QONNX ``Quant`` nodes (domain qonnx.custom_op.general) whose third input is the
  bit-width itself; any width 2-16 (the format FINN reads).

Needs the ``onnx`` extra: ``pip install 'quanos-hw[onnx]'`` (onnx, onnxoptimizer, onnxscript).
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from .bitconfig import get_bit_config
from .checkpoint import load_checkpoint, load_model_state
from .errors import CheckpointError, InputError
from .models import create_model
from .quantization import set_quantization

FORMATS = ("onnx", "qonnx")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    bits: dict[str, dict[str, int]]


def model_from_checkpoint(path: str | Path):
    """Rebuild the model a ``quanos run`` checkpoint describes and load its weights."""
    payload = load_checkpoint(path)
    meta = payload.get("meta", {})
    missing = [k for k in ("model", "num_classes", "in_channels", "input_shape", "quantized") if k not in meta]
    if missing:
        raise CheckpointError(f"checkpoint {str(path)!r} does not describe its model (no {missing}); export needs a "
                              "checkpoint written by 'quanos run' (OUT/checkpoints/<phase>.pt)")
    model = create_model(meta["model"], num_classes=meta["num_classes"], in_channels=meta["in_channels"],
                         weight_scaling=meta.get("weight_scaling", "per_channel"), quantize=False)
    load_model_state(model, payload["model"])
    set_quantization(model, bool(meta["quantized"]))
    return model.eval(), tuple(meta["input_shape"]), bool(meta["quantized"])


def export_model(checkpoint: str | Path, out: str | Path, fmt: str = "onnx") -> ExportResult:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    try:
        import onnx  # noqa: F401
        import onnxoptimizer  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise InputError("ONNX export needs the onnx extra: pip install 'quanos-hw[onnx]'") from None
    from brevitas.export import export_onnx_qcdq, export_qonnx

    model, shape, quantized = model_from_checkpoint(checkpoint)
    if not quantized:
        raise InputError(f"checkpoint {str(checkpoint)!r} holds a float model; export a quantized phase "
                         "(quanos_N.pt or uniformB.pt)")
    bits = get_bit_config(model)
    widest = max(max(v.values()) for v in bits.values())
    if fmt == "onnx" and widest > 8:
        raise InputError(f"QCDQ ONNX holds at most 8 bits but this model has {widest}-bit layers; "
                         "use --format qonnx")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    exporter = export_onnx_qcdq if fmt == "onnx" else export_qonnx
    # the exporters narrate on stdout and log a harmless opset-conversion fallback: keep them quiet
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            exporter(model, args=torch.rand(1, *shape), export_path=str(tmp))
        tmp.replace(out)
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        tmp.unlink(missing_ok=True)
    return ExportResult(out, fmt, bits)
