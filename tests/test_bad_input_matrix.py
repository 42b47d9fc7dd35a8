"""The bad-input matrix: every case exits 2 with one line naming the problem (CLI), or raises a
specific exception (API); no traceback, no partial result files."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from quanos_hw.cli import main
from quanos_hw.errors import (
    BitConfigError,
    CheckpointError,
    ConfigError,
    DatasetError,
    DiskFullError,
    InputError,
    ModelError,
    UnknownNameError,
    WorkspaceError,
)

NAMES = ["features.0", "features.1", "features.3", "features.5", "classifier"]
EST = ["estimate", "--model", "small_cnn", "--input-shape", "1,28,28"]


def _bits(**over):
    cfg = {n: {"weight_bit_width": 8, "act_bit_width": 8} for n in NAMES}
    cfg.update(over)
    return cfg


def _write_on_a_full_disk(path):
    """atomic_write_text while every write fails with ENOSPC (as on a full disk)."""
    import errno
    from unittest import mock

    from quanos_hw.io import atomic_write_text

    with mock.patch("os.fsync", side_effect=OSError(errno.ENOSPC, "No space left on device")):
        atomic_write_text(path, "{}")


def _acc(mutate):
    """The shipped 'default' accelerator description as YAML, changed by ``mutate``."""
    import yaml

    from energy_models.accelerator import load_accelerator

    raw = load_accelerator("default").to_dict()
    mutate(raw)
    return yaml.safe_dump(raw)


def _buffer(raw, **fields):
    raw["memory"]["buffers"][0].update(fields)


HW = EST + ["--bits", "8", "--hardware"]
UD = ["estimate", "--model", "small_cnn", "--dataset"]
DSE = ["dse", "--hardware", "bitfusion45", "--workload", "small_cnn/mnist5k@8", "--out", "{out}"]


def _tech(mutate):
    from importlib import resources

    raw = json.loads(resources.files("energy_models").joinpath("data", "horowitz45.json").read_text())
    mutate(raw)
    return json.dumps(raw)


#: your own model (quanos_hw/models/sources.py): a factory file, and estimate's arguments before --model
NETS = {"f.py": "from torch import nn\n\ndef make(num_classes):\n    return nn.Sequential(nn.Conv2d(1, 4, 3), "
                "nn.Flatten(), nn.Linear(144, num_classes))\n\ndef boom():\n    raise ValueError('bad width')\n"}
OWN = ["estimate", "--input-shape", "1,8,8", "--bits", "8", "--model"]

# (name, files to create {name: text}, CLI args or an API callable, expected message, API exception type)
CASES = [
    ("bits-0", {}, EST + ["--bits", "0"], "--bits must be between 2 and 16, got 0", None),
    ("bits-1", {}, EST + ["--bits", "1"], "--bits must be between 2 and 16, got 1", None),
    ("bits-17", {}, EST + ["--bits", "17"], "--bits must be between 2 and 16, got 17", None),
    ("bits-2.5", {}, EST + ["--bits", "2.5"], "invalid int value: '2.5'", None),
    ("bits-x", {}, EST + ["--bits", "x"], "invalid int value: 'x'", None),
    ("bit-config-2.5", {"b.json": json.dumps(_bits(classifier={"weight_bit_width": 2.5, "act_bit_width": 8}))},
     EST + ["--bit-config", "{b.json}"], "layer 'classifier' weight_bit_width must be an integer, got 2.5", None),
    ("unknown-model", {}, ["estimate", "--model", "lenet", "--input-shape", "1,28,28", "--bits", "8"],
     "unknown model 'lenet'; choose one of", None),
    ("unknown-dataset", {}, ["estimate", "--model", "small_cnn", "--dataset", "svhn", "--bits", "8"],
     "unknown dataset 'svhn'; choose one of", None),
    ("unknown-layer", {"b.json": json.dumps({**_bits(), "features.9": {"weight_bit_width": 8, "act_bit_width": 8}})},
     EST + ["--bit-config", "{b.json}"], "unknown layer(s) ['features.9']", None),
    ("unknown-architecture", {}, EST + ["--bits", "8", "--mac", "systolic"], "unknown MAC architecture 'systolic'",
     None),
    ("unknown-attack", {}, lambda tmp: __import__("quanos_hw.attacks", fromlist=["ATTACKS"]).ATTACKS.get("cw"),
     "unknown attack 'cw'; choose one of: apgd_ce, apgd_dlr, fgsm, fgsm_rs, pgd, square", UnknownNameError),
    ("unknown-metric", {}, ["compare", "--set", "combos=['sharpness:budget_ilp']", "--out", "{out}"],
     "combo 'sharpness:budget_ilp' must be metric:policy", None),
    ("bit-config-missing", {}, EST + ["--bit-config", "{tmp}/none.json"], "does not exist", None),
    ("bit-config-truncated", {"b.json": json.dumps(_bits())[:-9]}, EST + ["--bit-config", "{b.json}"],
     "is not valid JSON", None),
    ("bit-config-wrong-type", {"b.json": "[8, 8, 8]"}, EST + ["--bit-config", "{b.json}"],
     "bit configuration must be a JSON object", None),
    ("bit-config-extra-key", {"b.json": json.dumps(_bits(classifier={"weight_bit_width": 8, "act_bit_width": 8,
                                                                     "bias_bit_width": 8}))},
     EST + ["--bit-config", "{b.json}"], "unknown field(s) ['bias_bit_width']", None),
    ("tech-missing", {}, EST + ["--bits", "8", "--tech", "{tmp}/none.json"], "does not exist", None),
    ("tech-truncated", {"t.json": _tech(lambda r: None)[:-40]}, EST + ["--bits", "8", "--tech", "{t.json}"],
     "is not valid JSON", None),
    ("tech-negative", {"t.json": _tech(lambda r: r["int_mult_pj"]["8"].__setitem__("value", -0.2))},
     EST + ["--bits", "8", "--tech", "{t.json}"], "int_mult_pj[8]: energy must be >= 0 and <= 1e+06 pJ, got -0.2",
     None),
    ("tech-wrong-type", {"t.json": _tech(lambda r: r["int_add_pj"]["8"].__setitem__("value", "cheap"))},
     EST + ["--bits", "8", "--tech", "{t.json}"], "energy must be a finite number", None),
    ("tech-extra-key", {"t.json": _tech(lambda r: r.__setitem__("vdd", 0.9))},
     EST + ["--bits", "8", "--tech", "{t.json}"], "unknown field(s) ['vdd']", None),
    ("run-config-missing", {}, ["run", "--config", "{tmp}/none.yaml", "--out", "{out}"], "does not exist", None),
    ("run-config-truncated", {"c.yaml": "seed: [1, 2\n"}, ["run", "--config", "{c.yaml}", "--out", "{out}"],
     "cannot be parsed", None),
    ("run-config-wrong-type", {"c.yaml": "lr: fast\n"}, ["run", "--config", "{c.yaml}", "--out", "{out}"],
     "config key 'lr' must be float, got 'fast'", None),
    ("run-config-extra-key", {"c.yaml": "epochs: 3\n"}, ["run", "--config", "{c.yaml}", "--out", "{out}"],
     "unknown config key(s) ['epochs']", None),
    ("cifar-missing", {}, ["run", "--set", "dataset=cifar10", "--set", "data_dir={tmp}/nowhere", "--out", "{out}"],
     "cifar10 not found: missing", None),
    ("eps-negative", {}, ["run", "--set", "ans_eps=-0.1", "--out", "{out}"], "'ans_eps' must be between 0 and 1",
     None),
    ("eps-above-1", {}, ["run", "--set", "attacks=[{name: pgd, eps: [1.5]}]", "--out", "{out}"],
     "attack 'pgd' eps must be between 0 and 1", None),
    ("eps-negative-api", {}, lambda tmp: __import__("quanos_hw.attacks", fromlist=["fgsm"]).fgsm(
        torch.nn.Flatten(), torch.rand(1, 4), torch.zeros(1, dtype=torch.long), -0.1),
     "eps must be between 0 and 1", InputError),
    # robustness: the strong attacks, the worst-case suite and its sample counts
    ("attack-unknown-run", {}, ["run", "--set", "attacks=[{name: autoattack, eps: [0.1]}]", "--out", "{out}"],
     "unknown attack 'autoattack'; choose one of: apgd_ce, apgd_dlr, fgsm, fgsm_rs, pgd, square", None),
    ("eps-above-1-square", {}, ["run", "--set", "attacks=[{name: square, eps: [1.5]}]", "--out", "{out}"],
     "attack 'square' eps must be between 0 and 1", None),
    ("eps-step-above-1-apgd", {}, ["run", "--set", "attacks=[{name: apgd_ce, eps: [0.1], eps_step: 2}]", "--out",
                                   "{out}"], "attack 'apgd_ce' eps_step must be between 0 and 1", None),
    ("eps-negative-apgd-api", {}, lambda tmp: __import__("quanos_hw.attacks", fromlist=["apgd_ce"]).apgd_ce(
        torch.nn.Flatten(), torch.rand(1, 1, 4, 4), torch.zeros(1, dtype=torch.long), -0.1),
     "eps must be between 0 and 1", InputError),
    ("suite-empty", {}, ["run", "--set", "attacks=[]", "--out", "{out}"],
     "config key 'attacks': attacks must be a non-empty list", None),
    ("suite-unknown", {}, ["run", "--set", "robustness=autoattack", "--out", "{out}"],
     "config key 'robustness' must be one of ['default', 'full', 'quick'], got 'autoattack'", None),
    ("suite-unknown-api", {}, lambda tmp: __import__("quanos_hw.robustness", fromlist=["AttackConfig"]).AttackConfig(
        attacks=({"name": "pgd", "eps": [0.1]},), robustness="strong"),
     "unknown robustness suite 'strong'; choose one of: default, full, quick", UnknownNameError),
    ("robustness-samples-0", {}, ["run", "--set", "robustness_samples=0", "--out", "{out}"],
     "config key 'robustness_samples' must be between 1 and 10000000, got 0", None),
    ("large-eps-samples-0", {}, ["run", "--set", "large_eps_samples=0", "--out", "{out}"],
     "config key 'large_eps_samples' must be between 1 and 10000000, got 0", None),
    ("square-queries-0", {}, ["run", "--set", "attacks=[{name: square, eps: [0.1], queries: 0}]", "--out", "{out}"],
     "attack 'square' queries must be a positive integer, got 0", None),
    ("robustness-samples-0-api", {}, lambda tmp: __import__("quanos_hw.robustness", fromlist=["AttackConfig"])
     .AttackConfig(attacks=({"name": "pgd", "eps": [0.1]},), robustness_samples=0),
     "robustness_samples must be a positive integer or None, got 0", InputError),
    ("epochs-negative", {}, ["run", "--set", "warmup_epochs=-1", "--out", "{out}"],
     "'warmup_epochs' must be between 1 and 10000, got -1", None),
    ("empty-dataset", {}, ["run", "--set", "dataset=synthetic", "--set", "synthetic_train=0", "--out", "{out}"],
     "'synthetic_train' must be between 1 and 100000, got 0", None),
    ("empty-dataset-api", {}, lambda tmp: __import__("quanos_hw", fromlist=["train"]).train(
        __import__("quanos_hw", fromlist=["create_model"]).create_model("small_cnn", in_channels=1),
        __import__("quanos_hw.data", fromlist=["TensorData"]).TensorData(torch.zeros(0, 1, 8, 8),
                                                                       torch.zeros(0, dtype=torch.long)),
        __import__("quanos_hw", fromlist=["TrainConfig"]).TrainConfig(epochs=1)),
     "cannot train on an empty dataset", ConfigError),
    ("input-shape-mismatch-api", {}, lambda tmp: __import__("quanos_hw", fromlist=["extract_layers"]).extract_layers(
        __import__("quanos_hw", fromlist=["create_model"]).create_model("small_cnn", in_channels=1), (3, 28, 28)),
     "input shape (3, 28, 28) does not fit the model", InputError),
    ("input-shape-malformed", {}, ["estimate", "--model", "small_cnn", "--input-shape", "1,28", "--bits", "8"],
     "--input-shape must be three positive integers", None),
    ("unwritable-out", {"file": "x"}, ["run", "--set", "dataset=synthetic", "--out", "{file}/sub"],
     "cannot write to output directory", None),
    ("checkpoint-corrupt", {"c.pt": "PK\x03\x04 not really a zip"}, ["export", "--checkpoint", "{c.pt}"],
     "refusing checkpoint", None),
    ("checkpoint-foreign", {"foreign": None}, ["export", "--checkpoint", "{tmp}/foreign.pt"],
     "is not a quanos-hw checkpoint", None),
    ("checkpoint-pickled-object", {"evil": None}, ["export", "--checkpoint", "{tmp}/evil.pt"],
     "contains arbitrary Python objects", None),
    ("resume-changed-config", {"run": None}, ["run", "--resume", "--out", "{tmp}/run", "--set", "dataset=synthetic",
                                              "--set", "seed=9"], "different configuration", None),
    ("resume-nothing", {}, ["run", "--resume", "--out", "{out}"], "nothing to resume", None),
    ("workspace-api", {}, lambda tmp: _locked_twice(tmp), "is in use by another quanos command (PID", WorkspaceError),
    ("bit-config-api", {}, lambda tmp: __import__("quanos_hw.bitconfig", fromlist=["validate_bit_config"])
     .validate_bit_config({"features.0": {"weight_bit_width": "x", "act_bit_width": 8}}, ["features.0"]),
     "must be an integer, got 'x'", BitConfigError),
    ("dataset-api", {}, lambda tmp: __import__("quanos_hw", fromlist=["load_dataset"]).load_dataset(
        "cifar100", data_dir=str(tmp / "none")), "cifar100 not found", DatasetError),
    ("checkpoint-api", {}, lambda tmp: __import__("quanos_hw.checkpoint", fromlist=["load_checkpoint"])
     .load_checkpoint(tmp / "none.pt"), "does not exist", CheckpointError),
    ("list-unknown-kind", {}, ["list", "colours"], "unknown kind 'colours' for 'quanos list'; choose one of", None),
    ("disk-full-api", {}, lambda tmp: _write_on_a_full_disk(tmp / "r.json"), "no space left on the device while "
     "writing", DiskFullError),
    # accelerator descriptions (quanos estimate/run/compare --hardware)
    ("hardware-missing-field", {"a.yaml": _acc(lambda r: r["memory"]["dram"].pop("read_pj_per_bit"))},
     HW + ["{a.yaml}"], "memory.dram.read_pj_per_bit is missing", None),
    ("hardware-missing-clock", {"a.yaml": _acc(lambda r: r.pop("clock_mhz"))}, HW + ["{a.yaml}"],
     ".clock_mhz is missing", None),
    ("hardware-negative-capacity", {"a.yaml": _acc(lambda r: _buffer(r, capacity_bytes=-64))}, HW + ["{a.yaml}"],
     "memory.buffers[0].capacity_bytes must be > 0 and <= 1.09951e+12 bytes, got -64", None),
    ("hardware-zero-capacity", {"a.yaml": _acc(lambda r: _buffer(r, capacity_bytes=0))}, HW + ["{a.yaml}"],
     "memory.buffers[0].capacity_bytes must be > 0 and <= 1.09951e+12 bytes, got 0", None),
    ("hardware-zero-bandwidth", {"a.yaml": _acc(lambda r: r["memory"]["dram"].update(bandwidth_gb_s=0))},
     HW + ["{a.yaml}"], "memory.dram.bandwidth_gb_s must be > 0 and <= 1e+06 GB/s, got 0", None),
    ("hardware-nan", {"a.yaml": _acc(lambda r: r.update(clock_mhz=1234.5)).replace("1234.5", ".nan")},
     HW + ["{a.yaml}"], "holds .nan (line", None),
    ("hardware-nan-json", {"a.json": json.dumps({"name": "x", "clock_mhz": float("nan")})}, HW + ["{a.json}"],
     "holds NaN", None),
    ("hardware-unknown-operand", {"a.yaml": _acc(lambda r: _buffer(r, operands=["inputs", "psums"]))},
     HW + ["{a.yaml}"], "memory.buffers[0].operands: unknown operand 'psums'", None),
    ("hardware-unknown-architecture", {"a.yaml": _acc(lambda r: r["mac"].update(architecture="systolic"))},
     HW + ["{a.yaml}"], "mac.architecture: unknown MAC architecture 'systolic'", None),
    ("hardware-unroll-unknown-dimension", {"a.yaml": _acc(lambda r: r["array"].update(unroll={"rows": "Z",
                                                                                              "cols": "K"}))},
     HW + ["{a.yaml}"], "array.unroll.rows must be one of K, C, OY, OX, FY, FX, B, got 'Z'", None),
    ("hardware-node-below-7nm", {"a.yaml": _acc(lambda r: r["technology"].update(node_nm=3))}, HW + ["{a.yaml}"],
     "technology.node_nm must be >= 7 and <= 180 nm, got 3", None),
    ("hardware-node-above-180nm", {"a.yaml": _acc(lambda r: r["technology"].update(node_nm=250))},
     HW + ["{a.yaml}"], "technology.node_nm must be >= 7 and <= 180 nm, got 250", None),
    ("hardware-missing-file", {}, HW + ["{tmp}/none.yaml"], "does not exist", None),
    ("hardware-directory", {"folder.yaml": None}, HW + ["{folder.yaml}"], "is a directory, not a regular file", None),
    ("hardware-invalid-yaml", {"a.yaml": "name: [tiny\n"}, HW + ["{a.yaml}"], "cannot be parsed as YAML", None),
    ("hardware-unknown-name", {}, HW + ["tpu_v9"], "--hardware: unknown accelerator 'tpu_v9'; use a shipped one",
     None),
    ("hardware-with-tech", {}, HW + ["default", "--tech", "horowitz45"],
     "--tech cannot be combined with --hardware", None),
    ("run-hardware-bad", {"a.yaml": _acc(lambda r: _buffer(r, capacity_bytes=0))},
     ["run", "--hardware", "{a.yaml}", "--out", "{out}"],
     "config key 'hardware': accelerator", None),
    ("run-hardware-with-technology", {}, ["run", "--hardware", "default", "--set", "technology=t.json", "--out",
                                         "{out}"], "config key 'technology' cannot be set together with 'hardware'",
     None),
    ("compare-hardware-bad", {"a.yaml": _acc(lambda r: r["memory"]["dram"].update(bandwidth_gb_s=0))},
     ["compare", "--hardware", "{a.yaml}", "--out", "{out}"],
     "config key 'hardware': accelerator", None),
    # quanos dse
    ("dse-unknown-sweep-key", {}, DSE + ["--sweep", "array.row=8,16"],
     "unknown sweep key 'array.row'; did you mean 'array.rows'?", None),
    ("dse-sweep-wrong-type", {}, DSE + ["--sweep", "array.rows=eight"], "array.rows must be an integer", None),
    ("dse-sweep-bad-value", {}, DSE + ["--sweep", "memory.buffers.wbuf.capacity_bytes=0"],
     "capacity_bytes must be > 0", None),
    ("dse-empty-sweep", {}, DSE + ["--sweep", "array.rows="], "--sweep needs KEY=V1,V2,...", None),
    ("dse-sweep-twice", {}, DSE + ["--sweep", "batch=1", "--sweep", "batch=2"], "is given twice", None),
    ("dse-too-many-points", {}, DSE + ["--sweep", "array.rows=" + ",".join(map(str, range(1, 401))),
                                       "--sweep", "array.cols=" + ",".join(map(str, range(1, 401)))],
     "the sweep expands to 160,000 design points, more than 100,000", None),
    ("dse-unknown-model", {}, ["dse", "--hardware", "default", "--workload", "lenet@8", "--out", "{out}"],
     "unknown model 'lenet'", None),
    ("dse-missing-bit-file", {}, ["dse", "--hardware", "default", "--workload", "small_cnn:{tmp}/none.json",
                                  "--out", "{out}"], "does not exist", None),
    ("dse-bit-file-wrong-layers", {"b.json": json.dumps({"conv9": {"weight_bit_width": 8, "act_bit_width": 8}})},
     ["dse", "--hardware", "default", "--workload", "small_cnn/mnist5k:{b.json}", "--out", "{out}"],
     "conv9", None),
    ("dse-bad-workload-spec", {}, ["dse", "--hardware", "default", "--workload", "vgg16", "--out", "{out}"],
     "is not MODEL@BITS, MODEL:BITS.json or a quanos run/compare folder", None),
    ("dse-folder-without-results", {"folder.yaml": None},
     ["dse", "--hardware", "default", "--workload", "{folder.yaml}", "--out", "{out}"],
     "has neither report.json", None),
    # ONNX files as models (quanos estimate --model / dse --workload NET.onnx@BITS); *.onnx: None builds a graph
    ("onnx-not-onnx", {"m.onnx": "not a model\n"}, ["estimate", "--model", "{m.onnx}", "--bits", "8"],
     "is not an ONNX model (not a serialized ModelProto)", None),
    ("onnx-unsupported-op", {"convtranspose.onnx": None}, ["estimate", "--model", "{convtranspose.onnx}", "--bits",
                                                           "8"], "unsupported ONNX compute op(s): ConvTranspose (op)",
     None),
    ("onnx-unknown-node", {"conv.onnx": None, "b.json": json.dumps({"conv9": {"weight_bit_width": 8,
                                                                              "act_bit_width": 8}})},
     ["estimate", "--model", "{conv.onnx}", "--bit-config", "{b.json}"], "unknown layer(s) ['conv9']", None),
    ("dse-onnx-not-onnx", {"m.onnx": "not a model\n"},
     ["dse", "--hardware", "default", "--workload", "{m.onnx}@8", "--out", "{out}"], "is not an ONNX model", None),
    ("dse-unknown-objective", {}, DSE + ["--objectives", "energy,power"],
     "unknown objective 'power'", None),
    ("dse-sweep-and-file", {"s.yaml": "- {batch: 1}\n"}, DSE + ["--sweep", "batch=1", "--sweep-file", "{s.yaml}"],
     "give --sweep or --sweep-file, not both", None),
    ("dse-bad-sweep-file", {"s.yaml": "batch: 4\n"}, DSE + ["--sweep-file", "{s.yaml}"],
     "must be a non-empty list of {key: value} objects", None),
    # the user's own data: folder:PATH (an ImageFolder tree) and npz:FILE
    ("folder-missing", {}, UD + ["folder:{tmp}/none", "--bits", "8"], "none' does not exist", None),
    ("folder-one-class", {"d/cat/a.png": None}, UD + ["folder:{tmp}/d", "--bits", "8"],
     "holds one class folder ('cat'); at least 2 classes are needed", None),
    ("folder-no-images", {"d/cat/a.txt": "x", "d/dog/b.txt": "x"}, UD + ["folder:{tmp}/d", "--bits", "8"],
     "/d/cat' holds no images", None),
    ("folder-no-class-folders", {"d/a.png": None}, UD + ["folder:{tmp}/d", "--bits", "8"], "holds no class folders",
     None),
    ("folder-corrupt-image", {"d/cat/a.png": None, "d/dog/b.png": "not a PNG"}, UD + ["folder:{tmp}/d", "--bits", "8"],
     "corrupt image file '", None),
    ("run-folder-missing", {}, ["run", "--set", "dataset=folder:{tmp}/none", "--out", "{out}"],
     "none' does not exist", None),
    ("run-image-size-not-folder", {}, ["run", "--set", "image_size=32", "--out", "{out}"],
     "config key 'image_size' applies to folder: datasets only", None),
    ("npz-without-y", {"a.npz": {"x": np.zeros((4, 8, 8), np.uint8)}}, UD + ["npz:{a.npz}", "--bits", "8"],
     "has no array 'y' (labels)", None),
    ("npz-length-mismatch", {"a.npz": {"x": np.zeros((4, 8, 8), np.uint8), "y": np.array([0, 1, 0])}},
     UD + ["npz:{a.npz}", "--bits", "8"], "x holds 4 images but y holds 3 labels", None),
    ("npz-float-labels", {"a.npz": {"x": np.zeros((4, 8, 8), np.uint8), "y": np.array([0.0, 1, 0, 1])}},
     UD + ["npz:{a.npz}", "--bits", "8"], "y must be a 1-D array of integer labels, got float64", None),
    ("npz-negative-labels", {"a.npz": {"x": np.zeros((4, 8, 8), np.uint8), "y": np.array([0, 1, -1, 1])}},
     UD + ["npz:{a.npz}", "--bits", "8"], "labels must be 0..K-1, found -1", None),
    ("npz-wrong-rank", {"a.npz": {"x": np.zeros((4, 64), np.uint8), "y": np.array([0, 1, 0, 1])}},
     UD + ["npz:{a.npz}", "--bits", "8"], "x must have shape (N, H, W) or (N, C, H, W), got (4, 64)", None),
    ("npz-empty", {"a.npz": {"x": np.zeros((0, 8, 8), np.uint8), "y": np.zeros(0, np.int64)}},
     UD + ["npz:{a.npz}", "--bits", "8"], "x is empty (shape (0, 8, 8))", None),
    ("npz-not-an-archive", {"a.npz": "x,y\n"}, UD + ["npz:{a.npz}", "--bits", "8"], "is not a NumPy .npz archive",
     None),
    ("npz-float-out-of-range", {"a.npz": {"x": np.full((10, 8, 8), 255.0, np.float32), "y": np.arange(10) % 2}},
     ["run", "--set", "dataset=npz:{a.npz}", "--out", "{out}"], "float x must lie in [0, 1], found 255..255", None),
    ("npz-float-out-of-range-api", {"a.npz": {"x": np.full((10, 8, 8), -0.5), "y": np.arange(10) % 2}},
     lambda tmp: __import__("quanos_hw", fromlist=["load_dataset"]).load_dataset(f"npz:{tmp / 'a.npz'}"),
     "float x must lie in [0, 1], found -0.5..-0.5", DatasetError),
    ("model-factory-missing", NETS, OWN + ["{f.py}:nope"], "has no attribute 'nope'", None),
    ("model-factory-raising", NETS, OWN + ["{f.py}:boom"], "boom raised ValueError: bad width", None),
    ("model-module-not-importable", {}, OWN + ["no_such_package_qz.nets:make"],
     "cannot import module 'no_such_package_qz.nets' (ModuleNotFoundError: No module named 'no_such_package_qz')",
     None),
    ("model-torchvision-unknown", {}, OWN + ["torchvision:resnet181"],
     "unknown torchvision model 'resnet181'; did you mean 'resnet18'?", None),
    ("model-not-convertible", {}, OWN + ["torchvision:vit_b_16"],
     "cannot be converted: nn.MultiheadAttention at 'encoder.layers.encoder_layer_0.self_attention'", None),
    ("weights-other-architecture", {**NETS, "weights": None}, OWN + ["{f.py}:make", "--weights", "{tmp}/weights.pt"],
     "does not fit model", None),
    ("run-model-torchvision-unknown", {}, ["run", "--set", "model=torchvision:resnt18", "--out", "{out}"],
     "config key 'model': unknown torchvision model 'resnt18'; did you mean 'resnet18'?", None),
    ("run-weights-missing", {}, ["run", "--weights", "{tmp}/none.pt", "--out", "{out}"],
     "config key 'weights': file", None),
    ("compare-weights-missing", {}, ["compare", "--weights", "{tmp}/none.pt", "--out", "{out}"],
     "config key 'weights': file", None),
    ("run-weights-other-architecture", {"weights": None},
     ["run", "--set", "dataset=synthetic", "--weights", "{tmp}/weights.pt", "--out", "{out}"],
     "does not fit model 'small_cnn': missing normalize.mean, normalize.std", None),
    ("model-api", {}, lambda tmp: __import__("quanos_hw", fromlist=["create_model"]).create_model(
        "torchvision:resnet181"), "unknown torchvision model 'resnet181'", ModelError),
    # where trials run: --executor, --ray-address, --trial-resources (quanos_hw/executor)
    ("executor-unknown", {}, ["run", "--executor", "dask", "--out", "{out}"],
     "unknown executor 'dask'; choose one of: ray, serial", None),
    ("executor-ray-missing-api", {}, lambda tmp: _without_ray(), "--executor ray needs Ray: pip install "
     "'quanos-hw[distributed]'", InputError),
    ("ray-address-unreachable", {}, ["compare", "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out",
                                     "{out}"], "cannot reach the Ray cluster at '127.0.0.1:1' within 30 s", None),
    ("ray-address-malformed", {}, ["run", "--executor", "ray", "--ray-address", "headnode", "--out", "{out}"],
     "--ray-address must be HOST:PORT, ray://HOST:PORT or auto, got 'headnode'", None),
    ("ray-address-with-serial", {}, ["run", "--ray-address", "127.0.0.1:6379", "--out", "{out}"],
     "--ray-address and workers apply to --executor ray, not 'serial'", None),
    ("trial-resources-malformed", {}, ["run", "--trial-resources", "cpu=0", "--out", "{out}"],
     "--trial-resources cpu must be a positive integer, got 0", None),
    *([("dse-trial-resources-no-node", {}, DSE + ["--executor", "ray", "--trial-resources", "cpu=4096"],
        "--trial-resources cpu=4096,gpu=0: no node of the Ray cluster has that much", None)]
      if importlib.util.find_spec("ray") else []),  # CI installs Ray (the extra 'distributed')
    # codesign (its full set: tests/test_bad_input_codesign.py)
    ("codesign-finalists-0", {}, ["codesign", "--finalists", "0", "--set", "dataset=synthetic", "--out", "{out}"],
     "config key 'finalists' must be between 1 and", None),
    ("codesign-unknown-objective", {}, ["codesign", "--objectives", "energy,power", "--set", "dataset=synthetic",
                                        "--out", "{out}"], "unknown objective 'power'", None),
    ("codesign-unknown-executor", {}, ["codesign", "--executor", "nope", "--set", "dataset=synthetic", "--out",
                                       "{out}"], "unknown executor 'nope'", None),
]
IDS = [case[0] for case in CASES]


def _without_ray():
    """The ray executor where Ray is not installed."""
    import sys
    from unittest import mock

    from quanos_hw.executor import make_executor

    with mock.patch.dict(sys.modules, {"ray": None}):
        make_executor("ray")


def _locked_twice(folder):
    """A second lock on a results folder while the first is held (here, by this very process)."""
    from quanos_hw.pipeline.lock import FolderLock

    with FolderLock(folder):
        FolderLock(folder).acquire()


class _Evil:
    def __reduce__(self):
        return (print, ("executed!",))


def _onnx_graph(path, op):
    """An ONNX model of one node (named 'op') of ``op`` ('conv', 'convtranspose') with a 2x2x3x3 weight."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node({"conv": "Conv", "convtranspose": "ConvTranspose"}[op], ["x", "w"], ["y"], name="op")
    graph = helper.make_graph([node], op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _prepare(tmp, files, request):
    for name, text in files.items():
        if name == "folder.yaml":
            (tmp / name).mkdir()
        elif name == "foreign":
            torch.save({"weights": torch.zeros(2)}, tmp / "foreign.pt")
        elif name == "weights":  # the weights of another architecture
            torch.save(torch.nn.Linear(3, 3).state_dict(), tmp / "weights.pt")
        elif name == "evil":
            torch.save({"format": "quanos-hw-checkpoint", "x": _Evil()}, tmp / "evil.pt")
        elif name.endswith(".onnx") and text is None:  # x[1,2,4,4] -> <OpType>(node 'op') -> y
            _onnx_graph(tmp / name, name.removesuffix(".onnx"))
        elif name == "run":  # a finished run (trained once per session, only for the rows that need it)
            shutil.copytree(request.getfixturevalue("fast_run").out_dir, tmp / "run")
        elif name.endswith(".npz") and isinstance(text, dict):  # {array name: array}
            np.savez(tmp / name, **text)
        elif name.endswith(".png") and text is None:  # a valid 8x8 grayscale image
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp / name)
        else:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)


def test_matrix_covers_every_subcommand_and_every_input_error_type():
    """A new subcommand or a new bad-input exception type needs its row in CASES."""
    import argparse

    import quanos_hw.errors
    from quanos_hw.cli import build_parser

    assert len(set(IDS)) == len(IDS)
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {case[2][0] for case in CASES if not callable(case[2])} == set(subcommands.choices)
    error_types = {obj for obj in vars(quanos_hw.errors).values()
                   if isinstance(obj, type) and issubclass(obj, InputError) and obj is not InputError}
    assert error_types <= {case[4] for case in CASES if callable(case[2])}


@pytest.mark.parametrize("name, files, action, message, exc", CASES, ids=IDS)
def test_bad_input(name, files, action, message, exc, tmp_path, capsys, request):
    _prepare(tmp_path, files, request)
    if callable(action):
        with pytest.raises(exc, match=__import__("re").escape(message)):
            action(tmp_path)
        return
    subs = {"tmp": str(tmp_path), "out": str(tmp_path / "out"), **{k: str(tmp_path / k) for k in files}}
    args = []
    for arg in action:
        for key, value in subs.items():
            arg = arg.replace("{" + key + "}", value)
        args.append(arg)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("quanos: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # no partial results
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert after == before
