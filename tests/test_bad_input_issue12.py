"""Bad-input cases of issue 12 (export refusals, checked data sources), in the style of
test_bad_input_matrix.py: the CLI exits 2 with exactly one line on stderr naming the problem,
no traceback, no results folder and no file changed or added."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from quanos_hw.cli import main

RUN_CIFAR = ["run", "--quiet", "--set", "dataset=cifar10", "--set", "data_dir={tmp}/cifar", "--out", "{out}"]


def _cifar(tmp, **test_batch):
    """A generated CIFAR-10 archive whose test_batch has the given fields replaced."""
    folder = tmp / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, size=(40, 3072), dtype=np.uint8), b"labels": [1] * 40}
        if name == "test_batch":
            batch.update({k.encode(): v for k, v in test_batch.items()})
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)


def _checkpoint(tmp, name="u8.pt"):
    from quanos_hw import create_model
    from quanos_hw.checkpoint import save_checkpoint

    save_checkpoint(tmp / name, model=create_model("small_cnn", in_channels=1), config_hash="x", epoch=1,
                    meta={"model": "small_cnn", "num_classes": 10, "in_channels": 1, "input_shape": [1, 28, 28],
                          "weight_scaling": "per_channel", "quantized": True})


def _link(tmp):
    _checkpoint(tmp)
    os.symlink(tmp / "u8.pt", tmp / "alias.pt")


def _hard_link(tmp):
    _checkpoint(tmp)
    os.link(tmp / "u8.pt", tmp / "copy.onnx")


def _with_notes(tmp):
    _checkpoint(tmp)
    (tmp / "notes.onnx").write_text("keep me\n")


def _with_folder(tmp):
    _checkpoint(tmp)
    (tmp / "exports").mkdir()


BATCH = "corrupt dataset file '{tmp}/cifar/cifar-10-batches-py/test_batch': "

# (name, setup(tmp), CLI args, expected message)
CASES = [
    ("cifar-40-images-7-labels", lambda t: _cifar(t, labels=[1] * 7), RUN_CIFAR, BATCH + "40 images but 7 labels"),
    ("cifar-label-99", lambda t: _cifar(t, labels=[1] * 39 + [99]), RUN_CIFAR,
     BATCH + "labels must be in 0..9, found 99 (sample 39)"),
    ("cifar-label-minus-1", lambda t: _cifar(t, labels=[-1] + [1] * 39), RUN_CIFAR,
     BATCH + "labels must be in 0..9, found -1 (sample 0)"),
    ("cifar-float-labels", lambda t: _cifar(t, labels=[1.5] * 40), RUN_CIFAR,
     BATCH + "labels must be a flat list of integers, got float64"),
    ("cifar-data-wrong-dtype", lambda t: _cifar(t, data=np.zeros((40, 3072), np.int16)), RUN_CIFAR,
     BATCH + "data must be a uint8 array, got int16"),
    ("cifar-truncated-row", lambda t: _cifar(t, data=np.zeros((40, 3000), np.uint8)), RUN_CIFAR,
     BATCH + "data must hold rows of 3072 bytes (3 x 32 x 32 pixels), got shape (40, 3000)"),
    ("export-out-is-checkpoint", _checkpoint, ["export", "--checkpoint", "{tmp}/u8.pt", "--out", "{tmp}/u8.pt"],
     "export output '{tmp}/u8.pt' is the checkpoint being exported ('{tmp}/u8.pt'); choose another --out"),
    ("export-out-symlink-to-checkpoint", _link, ["export", "--checkpoint", "{tmp}/u8.pt", "--out", "{tmp}/alias.pt"],
     "export output '{tmp}/alias.pt' is the checkpoint being exported"),
    ("export-out-hard-link-to-checkpoint", _hard_link,
     ["export", "--checkpoint", "{tmp}/u8.pt", "--out", "{tmp}/copy.onnx"],
     "export output '{tmp}/copy.onnx' is the checkpoint being exported"),
    ("export-default-out-is-checkpoint", lambda t: _checkpoint(t, "model.onnx"),
     ["export", "--checkpoint", "{tmp}/model.onnx"],
     "export output '{tmp}/model.onnx' is the checkpoint being exported"),
    ("export-out-not-onnx", _with_notes, ["export", "--checkpoint", "{tmp}/u8.pt", "--out", "{tmp}/notes.onnx"],
     "export output '{tmp}/notes.onnx' exists and is not an ONNX model; refusing to overwrite it"),
    ("export-out-directory", _with_folder, ["export", "--checkpoint", "{tmp}/u8.pt", "--out", "{tmp}/exports"],
     "export output '{tmp}/exports' is a directory; give a file name such as '{tmp}/exports/model.onnx'"),
    ("export-out-empty", _checkpoint, ["export", "--checkpoint", "{tmp}/u8.pt", "--out", ""],
     "export output path is empty"),
]


@pytest.mark.parametrize("name, setup, action, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, setup, action, message, tmp_path, capsys):
    pytest.importorskip("onnx")
    setup(tmp_path)
    subs = {"{tmp}": str(tmp_path), "{out}": str(tmp_path / "out")}
    args = []
    for arg in action:
        for key, value in subs.items():
            arg = arg.replace(key, value)
        args.append(arg)
    before = {p: (p.read_bytes() if p.is_file() else None) for p in sorted(tmp_path.rglob("*"))}
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("quanos: error: ") and err.count("\n") == 1, err
    expected = message
    for key, value in subs.items():
        expected = expected.replace(key, value)
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # the data is checked before any results folder exists
    assert {p: (p.read_bytes() if p.is_file() else None) for p in sorted(tmp_path.rglob("*"))} == before
