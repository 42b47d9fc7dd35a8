"""Export a trained quantized model to ONNX through Brevitas, bit-widths preserved.

* ``onnx``: standard ONNX in QCDQ form (QuantizeLinear -> Clip -> DequantizeLinear); each
  tensor's bit-width is carried by its Clip bounds (e.g. a 4-bit narrow signed weight clips to
  [-7, 7]). ONNX's QuantizeLinear holds at most 8 bits here, so every layer must be <= 8 bits.
* ``qonnx``: QONNX ``Quant`` nodes (domain qonnx.custom_op.general) whose third input is the
  bit-width itself; any width 2-16 (the format FINN reads).

Both take a batch of any size: the graph's one input ``image`` (N, C, H, W) and its output
``logits`` (N, classes) have the symbolic batch dimension ``batch``, and every weight and
quantizer constant is an initializer only, never also a graph input (Brevitas lists them as
inputs unless told not to, and ONNX Runtime then warns for each and cannot fold them). A QCDQ
export runs in ONNX Runtime as it is.

Needs the ``onnx`` extra: ``pip install 'quanos-hw[onnx]'`` (onnx, onnxoptimizer, onnxscript).
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .bitconfig import get_bit_config
from .checkpoint import load_checkpoint, load_model_state
from .errors import CheckpointError, InputError
from .io import disk_full_is_an_error
from .models import create_model
from .quantization import set_quantization

FORMATS = ("onnx", "qonnx")
#: the exported graph's input and output, and the name of their symbolic batch dimension
INPUT_NAME, OUTPUT_NAME, BATCH_DIM = "image", "logits", "batch"
#: options passed through Brevitas to torch.onnx.export (both the dynamo and the TorchScript exporter take them)
_EXPORT_OPTIONS = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME], "keep_initializers_as_inputs": False,
                   "dynamic_axes": {INPUT_NAME: {0: BATCH_DIM}, OUTPUT_NAME: {0: BATCH_DIM}}}
#: an existing output file larger than this is never taken for a previous export (protobuf's limit)
_MAX_ONNX_BYTES = 2 * 1024**3


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


def _is_onnx_model(path: Path) -> bool:
    """Whether ``path`` holds an ONNX model (a previous export that may be replaced): a protobuf
    ModelProto with an IR version and a graph of nodes. The first byte is checked before parsing
    (a serialized model starts with field 1, ir_version: 0x08), so a checkpoint is never parsed."""
    import onnx

    try:
        if path.stat().st_size > _MAX_ONNX_BYTES:
            return False
        with open(path, "rb") as f:
            if f.read(1) != b"\x08":
                return False
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - anything unreadable is not a previous export
        return False
    return model.ir_version > 0 and len(model.graph.node) > 0


def check_output_path(checkpoint: str | Path, out: str | Path) -> Path:
    """Refuse an output path whose writing would lose a file: the checkpoint itself (also through
    a symlink or a hard link), a directory, a special file, or any existing file that is not a
    previous ONNX export. Returns ``out`` as a Path."""
    if not str(out).strip():
        raise InputError("export output path is empty; give a file name such as model.onnx")
    out = Path(out)
    name = f"export output {str(out)!r}"
    try:
        info = out.stat()
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise InputError(f"{name} cannot be written: a folder on its path is a file") from None
    except OSError as exc:
        raise InputError(f"{name} cannot be checked: {exc.strerror or exc}") from None
    if info is None:
        return out
    if Path(checkpoint).exists() and os.path.samefile(out, checkpoint):
        raise InputError(f"{name} is the checkpoint being exported ({str(checkpoint)!r}); choose another --out")
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{name} is a directory; give a file name such as {str(out / 'model.onnx')!r}")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{name} exists and is not a regular file; choose another --out")
    if not _is_onnx_model(out):
        raise InputError(f"{name} exists and is not an ONNX model; refusing to overwrite it (choose another "
                         "--out or remove the file)")
    return out


def export_model(checkpoint: str | Path, out: str | Path, fmt: str = "onnx") -> ExportResult:
    """Export ``checkpoint`` to ``out``. The exporter writes into a private temporary folder beside
    ``out`` (torch.onnx saves its weights there as an external-data file first), the finished model
    is moved into place atomically, and the folder is removed whether the export succeeds or not."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    try:
        import onnx  # noqa: F401
        import onnxoptimizer  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise InputError("ONNX export needs the onnx extra: pip install 'quanos-hw[onnx]'") from None
    from brevitas.export import export_onnx_qcdq, export_qonnx

    out = check_output_path(checkpoint, out)
    model, shape, quantized = model_from_checkpoint(checkpoint)
    if not quantized:
        raise InputError(f"checkpoint {str(checkpoint)!r} holds a float model; export a quantized phase "
                         "(quanos_N.pt or uniformB.pt)")
    bits = get_bit_config(model)
    widest = max(max(v.values()) for v in bits.values())
    if fmt == "onnx" and widest > 8:
        raise InputError(f"QCDQ ONNX holds at most 8 bits but this model has {widest}-bit layers; "
                         "use --format qonnx")
    exporter = export_onnx_qcdq if fmt == "onnx" else export_qonnx
    with disk_full_is_an_error(out):
        work = _private_folder(out)
        try:
            tmp = work / out.name
            # a sample batch of 2: torch.export may specialise a dimension of size 1 to a constant
            _run_quietly(lambda: exporter(model, args=torch.rand(2, *shape), export_path=str(tmp), **_EXPORT_OPTIONS))
            _check_runtime_ready(tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            check_output_path(checkpoint, out)  # again: a file may have appeared there meanwhile
            os.replace(tmp, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return ExportResult(out, fmt, bits)


def _check_runtime_ready(path: str | Path) -> None:
    """Check that the ONNX model at ``path`` is valid (onnx.checker) and takes any batch: one graph
    input, no initializer listed among the inputs, the batch dimension of the input and the output
    symbolic. A failure is an exporter that ignored the export options (a bug, not bad input)."""
    import onnx

    onnx.checker.check_model(str(path))
    graph = onnx.load_model(str(path), load_external_data=False).graph
    inputs, outputs = [i.name for i in graph.input], [o.name for o in graph.output]
    batch = [dims[0].dim_param if (dims := v.type.tensor_type.shape.dim) else None
             for v in (graph.input[0], graph.output[0])]
    if inputs != [INPUT_NAME] or outputs != [OUTPUT_NAME] or batch != [BATCH_DIM] * 2:
        raise RuntimeError(f"the exporter ignored the export options: {len(inputs)} graph input(s) {inputs[:3]}, "
                           f"outputs {outputs}, batch dimensions {batch}; expected the one input {INPUT_NAME!r}, "
                           f"the output {OUTPUT_NAME!r} and the batch dimension {BATCH_DIM!r}")


def _private_folder(out: Path) -> Path:
    """A new private folder beside ``out`` (same file system: the final move is an atomic rename)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            raise  # reported by disk_full_is_an_error
        raise InputError(f"cannot write export output {str(out)!r}: {exc.strerror or exc}") from None


def _run_quietly(export) -> None:
    """Run ``export``: the exporters narrate on stdout and log a harmless opset-conversion
    fallback, so keep both quiet."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            export()
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
