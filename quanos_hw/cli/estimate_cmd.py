"""``quanos estimate``: energy, cycles and size of a model and bit configuration, no training."""

from __future__ import annotations

import argparse
import csv
import io
import sys

#: top-level keys of ``--json`` (docs/design.md §6); nested objects carry extra fields (cycles, levels).
JSON_KEYS = ("model", "input_shape", "mac_architecture", "technology", "layers", "totals",
             "energy_saving_vs_uniform16", "energy_saving_vs_uniform8", "compression_vs_fp32",
             "compression_vs_uniform16")
#: top-level keys ``--json`` adds with ``--hardware`` (docs/design.md §6)
HARDWARE_JSON_KEYS = ("hardware", "area", "latency_speedup_vs_uniform16")
#: defaults of the options a --hardware description decides (None on the command line: "not given")
DEFAULT_MAC = "data_gated"
DEFAULT_TECH = "horowitz45"
DEFAULT_DATAFLOW = "weights_dram_acts_sram"
#: options refused beside --hardware: the description names its technology and memory hierarchy,
#: and its mac.params hold the architecture parameter overrides
DECIDED_BY_HARDWARE = ("tech", "dataflow", "arch_params")


def add_parser(sub) -> None:
    p = sub.add_parser("estimate", help="energy and size of a model under a bit configuration (no training)")
    p.add_argument("--model", required=True,
                   help="a registered model (see 'quanos list models'), your own (torchvision:NAME[?k=v&...], "
                        "package.module:factory or path/file.py:factory) or an ONNX file (*.onnx: its Conv, Gemm "
                        "and MatMul nodes are the layers, named by their node names)")
    p.add_argument("--weights", metavar="FILE", help="state_dict file loaded into the model (checked against it; "
                   "the estimate depends on shapes and bits only)")
    shape = p.add_mutually_exclusive_group()  # one is required for a model that is not an ONNX file (see _shape)
    shape.add_argument("--dataset", help="take the input shape and classes from this dataset (no data needed): a "
                                         "shipped one (see 'quanos list datasets'), folder:PATH or npz:FILE "
                                         "(headers only)")
    shape.add_argument("--input-shape", help="C,H,W of one input, e.g. 3,32,32 (an ONNX model's own input shape "
                                             "when omitted)")
    p.add_argument("--image-size", type=int, default=None,
                   help="with --dataset folder:PATH: the square side every image is resized and center-cropped to "
                        "(config key image_size; default: the images' own size)")
    p.add_argument("--num-classes", type=int, default=None, help="classifier outputs (default: dataset's, or 10)")
    bits = p.add_mutually_exclusive_group(required=True)
    bits.add_argument("--bits", type=int, help="uniform bit-width for weights and activations (2-16)")
    bits.add_argument("--bit-config", help="bit configuration JSON (e.g. a run's bits.json)")
    p.add_argument("--hardware", default=None, metavar="FILE_OR_NAME",
                   help="accelerator description: a shipped name (see 'quanos list accelerators') or a YAML/JSON "
                        "file; adds latency, throughput, EDP, utilisation, DRAM traffic and area. It decides the "
                        "technology and memory hierarchy (--tech, --dataflow and --arch-params are refused beside "
                        "it); --mac replaces its MAC architecture")
    p.add_argument("--mac", default=None,
                   help=f"MAC architecture (default: {DEFAULT_MAC}, or the --hardware description's)")
    p.add_argument("--tech", default=None, help=f"technology table: a shipped name or a JSON/YAML file (default: "
                                                f"{DEFAULT_TECH})")
    p.add_argument("--arch-params", default=None, help="JSON/YAML file overriding architecture parameters")
    p.add_argument("--dataflow", default=None, help=f"memory dataflow (default: {DEFAULT_DATAFLOW})")
    p.add_argument("--input-bits", type=int, default=8, help="precision of the network input (default: 8)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--csv", action="store_true", help="print per-layer CSV")
    p.epilog = ("--json prints the keys " + ", ".join(JSON_KEYS) + "; with --hardware also "
                + ", ".join(HARDWARE_JSON_KEYS) + " (docs/design.md §6).")
    p.set_defaults(func=run_estimate)


#: most classifier outputs accepted by --num-classes (the classifier's weights are allocated)
MAX_NUM_CLASSES = 100_000


def _classes(args: argparse.Namespace, default: int) -> int:
    from ..errors import InputError

    if args.num_classes is None:
        return default
    if not 1 <= args.num_classes <= MAX_NUM_CLASSES:
        raise InputError(f"--num-classes must be between 1 and {MAX_NUM_CLASSES}, got {args.num_classes}")
    return args.num_classes


def _shape(args: argparse.Namespace) -> tuple[tuple[int, ...], int]:
    from ..bounds import MAX_IMAGE_SIZE
    from ..data import dataset_info, user_dataset
    from ..errors import InputError
    from ..hardware import check_input_shape

    if args.image_size is not None:
        source = user_dataset(args.dataset) if args.dataset else None
        if source is None or source[0] != "folder":
            raise InputError("--image-size applies to --dataset folder:PATH only")
        if not 1 <= args.image_size <= MAX_IMAGE_SIZE:
            raise InputError(f"--image-size must be between 1 and {MAX_IMAGE_SIZE}, got {args.image_size}")
    if args.dataset:
        info = dataset_info(args.dataset, args.image_size)
        return info.input_shape, _classes(args, info.num_classes)
    if args.input_shape is None:
        raise InputError("one of the arguments --dataset --input-shape is required (see 'quanos estimate --help')")
    try:
        shape = tuple(int(v) for v in args.input_shape.split(","))
    except ValueError:
        raise InputError(f"--input-shape must be C,H,W integers, got {args.input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"--input-shape must be three positive integers C,H,W, got {args.input_shape!r}")
    check_input_shape(shape, "--input-shape")
    return shape, _classes(args, 10)


def _accelerator(args: argparse.Namespace):
    """The --hardware description with --mac's architecture, or None without --hardware."""
    from ..accelerator import load_hardware, with_mac
    from ..errors import InputError

    if args.hardware is None:
        return None
    for name in DECIDED_BY_HARDWARE:
        if getattr(args, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag} cannot be combined with --hardware: the accelerator description decides the "
                             "technology and the memory traffic (put architecture parameters in its mac.params)")
    return with_mac(load_hardware(args.hardware, "--hardware"), args.mac)


def _onnx_layers(args: argparse.Namespace) -> tuple[list, tuple[int, ...]]:
    """The layers of the ONNX file --model names and the input shape they were counted at: the
    graph's own, or --input-shape / --dataset's where given (--num-classes: the file decides)."""
    from ..bitconfig import check_bits, load_bit_config
    from ..errors import InputError
    from ..onnx_layers import read_onnx

    if args.num_classes is not None:
        raise InputError("--num-classes cannot be used with an ONNX model: its classifier is in the file")
    shape = _shape(args)[0] if args.dataset or args.input_shape else None
    bits = check_bits(args.bits, "--bits") if args.bits is not None else load_bit_config(args.bit_config)
    read = read_onnx(args.model, shape, bits)  # validates the bits against the node names
    return list(read.layers), read.input_shape


def estimate_report(args: argparse.Namespace) -> dict:
    from energy_models import energy_report

    from ..bitconfig import check_bits, load_bit_config
    from ..errors import InputError
    from ..hardware import extract_layers
    from ..models import check_model_name, create_model
    from ..onnx_layers import is_onnx_path

    accelerator = _accelerator(args)
    if is_onnx_path(args.model):
        if args.weights is not None:
            raise InputError("--weights cannot be used with an ONNX model: its weights are in the file")
        layers, shape = _onnx_layers(args)
    else:
        check_model_name(args.model)  # unknown model: a clear error before anything else
        shape, classes = _shape(args)
        model = create_model(args.model, num_classes=classes, in_channels=shape[0], weights=args.weights)
        bits = check_bits(args.bits, "--bits") if args.bits is not None else load_bit_config(args.bit_config)
        layers = extract_layers(model, shape, bits)  # validates the bits once; they travel on in the LayerSpecs
    if accelerator is not None:
        return energy_report(layers, model=args.model, input_shape=shape, accelerator=accelerator,
                             input_bit_width=args.input_bits)
    return energy_report(layers, model=args.model, input_shape=shape, architecture=args.mac or DEFAULT_MAC,
                         technology=args.tech or DEFAULT_TECH, dataflow=args.dataflow or DEFAULT_DATAFLOW,
                         architecture_params=args.arch_params, input_bit_width=args.input_bits)


def format_table(report: dict) -> str:
    timed = "latency_s" in report["totals"]  # an accelerator description: latency per layer and in total
    head = (f"{'layer':<22}{'kind':<7}{'MACs':>13}{'weights':>11}{'w/a/in':>10}{'MAC µJ':>10}{'mem µJ':>10}"
            f"{'total µJ':>10}" + (f"{'lat. µs':>10}" if timed else ""))
    lines = [f"{report['model']} {tuple(report['input_shape'])} on {report['mac_architecture']} "
             f"({report['technology']}, {report['dataflow']})", head, "-" * len(head)]
    for r in report["layers"]:
        bits = f"{r['weight_bit_width']}/{r['act_bit_width']}/{r['input_bit_width']}"
        lines.append(f"{r['name'][:21]:<22}{r['kind']:<7}{r['macs']:>13,}{r['weights']:>11,}{bits:>10}"
                     f"{r['mac_energy_pj'] / 1e6:>10.4g}{r['memory_energy_pj'] / 1e6:>10.4g}"
                     f"{r['energy_pj'] / 1e6:>10.4g}" + (f"{r['latency_s'] * 1e6:>10.4g}" if timed else ""))
    t = report["totals"]
    lines += ["-" * len(head),
              f"{'total':<29}{t['macs']:>13,}{t['weights']:>11,}{'':>10}{t['mac_energy_pj'] / 1e6:>10.4g}"
              f"{t['memory_energy_pj'] / 1e6:>10.4g}{t['energy_pj'] / 1e6:>10.4g}"
              + (f"{t['latency_s'] * 1e6:>10.4g}" if timed else ""),
              f"size {t['size_bits'] / 8192:.1f} KiB ({t['params']:,} params); cycles {t['cycles']:,.0f}",
              f"energy saving vs uniform 16-bit {report['energy_saving_vs_uniform16']:.3f}x, vs uniform 8-bit "
              f"{report['energy_saving_vs_uniform8']:.3f}x; compression vs fp32 {report['compression_vs_fp32']:.3f}x, "
              f"vs uniform 16-bit {report['compression_vs_uniform16']:.3f}x"]
    if timed:
        lines += _hardware_lines(report)
    return "\n".join(lines)


def _hardware_lines(report: dict) -> list[str]:
    """Latency, throughput, EDP, utilisation, DRAM traffic and area of an accelerator report."""
    t, hw, area = report["totals"], report["hardware"], report["area"]
    batch = hw["batch"]
    parts = [f"{k} {v:.4g} mm2" for k, v in area["components_mm2"].items()]
    parts += [f"{k} unknown" for k in area["unknown"]]
    total = "unknown" if area["total_mm2"] is None else f"{area['total_mm2']:.4g} mm2"
    return [f"accelerator {hw['name']}: {hw['array']['rows']}x{hw['array']['cols']} PEs at {hw['clock_mhz']:g} MHz, "
            f"batch {batch}; latency per batch {t['latency_s'] * 1e3:.4g} ms; throughput "
            f"{t['throughput_per_s']:.4g} inferences/s; EDP {t['edp_j_s']:.4g} J*s; utilisation "
            f"{100 * t['utilization']:.1f}%; DRAM {t['dram_bits'] / 8192:.1f} KiB per inference",
            f"latency speedup vs uniform 16-bit {report['latency_speedup_vs_uniform16']:.3f}x; area {total}"
            + (f" ({', '.join(parts)})" if parts else "")]


def format_csv(report: dict) -> str:
    buffer = io.StringIO()
    keys = [k for k in report["layers"][0] if k != "memory_energy_pj_by_level"]
    levels = list(report["layers"][0]["memory_energy_pj_by_level"])
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys + [f"memory_energy_pj_{lvl}" for lvl in levels])
    for row in report["layers"]:
        writer.writerow([row[k] for k in keys] + [row["memory_energy_pj_by_level"][lvl] for lvl in levels])
    return buffer.getvalue()


def run_estimate(args: argparse.Namespace) -> int:
    from ..io import dumps_strict

    report = estimate_report(args)
    if args.json:
        keys = JSON_KEYS + (HARDWARE_JSON_KEYS if "hardware" in report else ())
        text = dumps_strict({k: report[k] for k in keys}, indent=1)  # never NaN or Infinity
    elif args.csv:
        text = format_csv(report).rstrip("\n")
    else:
        text = format_table(report)
    sys.stdout.write(text + "\n")
    return 0
