"""``quanos export``: a trained quantized checkpoint to ONNX (QCDQ) or QONNX."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a quantized checkpoint of 'quanos run' to ONNX")
    p.add_argument("--checkpoint", required=True, help="e.g. quanos_results/checkpoints/quanos_1.pt")
    p.add_argument("--format", default="onnx", choices=("onnx", "qonnx"),
                   help="onnx: standard QCDQ (layers <= 8 bits); qonnx: Quant nodes, any bit-width")
    p.add_argument("--out", help="output file (default: the checkpoint's name with .onnx); an existing file is "
                   "replaced only if it is an ONNX model, never the checkpoint itself")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from ..export import export_model

    # a checkpoint already named NAME.onnx gives itself as the default: export_model refuses that
    out = args.out if args.out is not None else str(Path(args.checkpoint).with_suffix(".onnx"))
    result = export_model(args.checkpoint, out, args.format)
    bits = " ".join(f"{v['weight_bit_width']}/{v['act_bit_width']}" for v in result.bits.values())
    print(f"wrote {result.path} ({result.format}); weight/activation bits per layer: {bits}")
    return 0
