"""Shared fixtures. Heavy objects (trained models) are session-scoped and built once."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import warnings
import zipfile

import pytest
import torch

logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="fast_hadamard_transform")


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield


@pytest.fixture(scope="session")
def synthetic():
    from quanos_hw.data import load_dataset

    return load_dataset("synthetic", n_train=400, n_test=200)


@pytest.fixture(scope="session")
def mnist5k():
    from quanos_hw.data import load_dataset

    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def digits():
    from quanos_hw.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def trained_small_cnn(mnist5k):
    """small_cnn trained 3 float epochs on mnist5k (about 8 s), returned in float mode."""
    from quanos_hw import TrainConfig, create_model, train

    torch.manual_seed(0)
    model = create_model("small_cnn", in_channels=1, quantize=False, mean=mnist5k.mean, std=mnist5k.std)
    train(model, mnist5k.train, TrainConfig(epochs=3, lr=0.05, augment="shift"), progress=False)
    return model


#: the keys every experiment shares, set for speed (synthetic data, 1+1 epochs, short attacks, the
#: smoke-test worst-case suite on 40 images)
FAST_EXPERIMENT = ["dataset=synthetic", "synthetic_train=300", "synthetic_test=120", "warmup_epochs=1",
                   "qat_epochs=1",
                   "attacks=[{name: fgsm, eps: [0.05, 0.1, 0.2]}, {name: pgd, eps: [0.1], alpha: 0.025, steps: 3}]",
                   "large_eps_steps=3", "large_eps_samples=60", "robustness=quick", "robustness_samples=40",
                   "batch_size=50"]
#: a complete ``quanos run`` in about 15 s on 2 cores
FAST = FAST_EXPERIMENT + ["ans_batches=2", "mac_architectures=[fixed16, data_gated, bitfusion]"]


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory):
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import RunConfig, parse_set

    out = tmp_path_factory.mktemp("fast") / "run"
    config = parse_set(FAST + [f"out_dir={out}"], RunConfig())
    return run(config, progress=False, log=lambda msg: None)


@contextlib.contextmanager
def hold_lock(folder):
    """Another process holding the results folder's lock until the block ends; yields its PID."""
    code = ("import pathlib, sys; from quanos_hw.pipeline.lock import FolderLock; "
            "pathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True); FolderLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def flip_one_bit_in_tensor_data(path):
    """Flip one bit in the middle of the largest tensor stored in a torch checkpoint (a zip)."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    offset = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def digits_small_cnn(digits, seed):
    """A float small_cnn trained for 3 epochs on the 8x8 digits (about 1 s), in eval mode."""
    from quanos_hw import TrainConfig, create_model, train

    torch.manual_seed(seed)
    model = create_model("small_cnn", in_channels=1, quantize=False, mean=digits.mean, std=digits.std)
    train(model, digits.train, TrainConfig(epochs=3, lr=0.05, seed=seed), progress=False)
    return model.eval()


def mixed_copy(float_model, digits, weight_bits, act_bits):
    """A quantized small_cnn with ``float_model``'s weights at the given per-layer widths, its
    activations calibrated on 4 training batches (not retrained), in eval mode."""
    from quanos_hw import create_model, quantizable_layers
    from quanos_hw.bitconfig import apply_bit_config
    from quanos_hw.quantization import calibrate_activations

    mixed = create_model("small_cnn", in_channels=1, mean=digits.mean, std=digits.std)
    mixed.load_state_dict(float_model.state_dict(), strict=False)
    apply_bit_config(mixed, {n: {"weight_bit_width": w, "act_bit_width": a}
                             for n, w, a in zip(quantizable_layers(mixed), weight_bits, act_bits)})
    calibrate_activations(mixed, [x for x, _ in digits.train.batches(128, 4)])
    return mixed.eval()
