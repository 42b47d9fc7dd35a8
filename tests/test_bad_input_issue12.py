"""Bad-input cases of issue 12 (export refusals, checked data sources), in the style of
test_bad_input_matrix.py: the CLI exits 2 with exactly one line on stderr naming the problem,
no traceback, no results folder and no file changed or added."""

from __future__ import annotations

import json
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


def _fill(text: str, tmp_path) -> str:
    """``text`` with {tmp} and {out} replaced by the test's folder and its results folder."""
    return text.replace("{tmp}", str(tmp_path)).replace("{out}", str(tmp_path / "out"))


@pytest.mark.parametrize("name, setup, action, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, setup, action, message, tmp_path, capsys):
    pytest.importorskip("onnx")
    setup(tmp_path)
    args = [_fill(arg, tmp_path) for arg in action]
    before = {p: (p.read_bytes() if p.is_file() else None) for p in sorted(tmp_path.rglob("*"))}
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("quanos: error: ") and err.count("\n") == 1, err
    expected = _fill(message, tmp_path)
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # the data is checked before any results folder exists
    assert {p: (p.read_bytes() if p.is_file() else None) for p in sorted(tmp_path.rglob("*"))} == before


# Bad values refused before any work (issue 12 items 5-7): config numbers, hardware inputs, input files.
EST = ["estimate", "--model", "small_cnn", "--input-shape", "1,28,28"]
RUN = ["run", "--quiet", "--out", "{out}", "--set"]
COMPARE = ["compare", "--quiet", "--out", "{out}", "--set"]
LAYERS = ("features.0", "features.3", "classifier")


def _bits(**override):
    bits = {name: {"weight_bit_width": 8, "act_bit_width": 8} for name in LAYERS}
    return json.dumps(bits | override)


def _write(name, text):
    def setup(tmp):
        path = tmp / name
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)

    return setup


def _fifo(tmp):
    os.mkfifo(tmp / "pipe.json")


def _folder(tmp):
    (tmp / "params.yaml").mkdir()


def _nothing(tmp):
    pass


def _tech():
    from importlib import resources

    raw = json.loads(resources.files("energy_models").joinpath("data", "horowitz45.json").read_text())
    raw["memories"]["dram"]["read_pj"]["value"] = 1e308
    return json.dumps(raw)


SEEDS = "between 0 and 4294967294"
VALUES = [
    ("lr-inf", _nothing, RUN + ["lr=.inf"], "config key 'lr' must be a finite number, got inf"),
    ("momentum-nan", _nothing, RUN + ["momentum=.nan"], "config key 'momentum' must be a finite number, got nan"),
    ("weight-decay-nan", _nothing, RUN + ["weight_decay=.nan"], "config key 'weight_decay' must be a finite number"),
    ("weight-decay-inf", _nothing, RUN + ["weight_decay=.inf"], "config key 'weight_decay' must be a finite number"),
    ("check-tolerance-nan", _nothing, RUN + ["check_tolerance=.nan"],
     "config key 'check_tolerance' must be a finite number, got nan"),
    ("seed-20-digits", _nothing, RUN + ["seed=12345678901234567890"],
     f"config key 'seed' must be {SEEDS}, got 12345678901234567890"),
    ("warmup-epochs-0", _nothing, RUN + ["warmup_epochs=0"], "config key 'warmup_epochs' must be between 1 and 10000"),
    ("pgd-steps-huge", _nothing, RUN + ["attacks=[{name: pgd, eps: 0.1, steps: 1000000000}]"],
     "attack 'pgd' steps must be between 1 and 10000, got 1000000000"),
    ("run-out-empty", _nothing, ["run", "--quiet", "--out", ""], "--out is empty; name the results folder"),
    ("run-config-duplicate-key", _write("c.yaml", "seed: 1\nseed: 2\n"),
     ["run", "--quiet", "--config", "{tmp}/c.yaml", "--out", "{out}"], "has the key 'seed' twice"),
    ("compare-seed-minus-1", _nothing, COMPARE + ["seeds=[-1]"], f"config key 'seeds' must be {SEEDS}, got -1"),
    ("compare-bit-choices", _nothing, COMPARE + ["bit_choices=[1,99]"],
     "config key 'bit_choices' must be between 2 and 16, got 1"),
    ("compare-budget-nan", _nothing, COMPARE + ["budgets=[.nan]"], "config key 'budgets' must hold only finite"),
    ("compare-metric-batches-0", _nothing, COMPARE + ["metric_batches=0"],
     "config key 'metric_batches' must be between 1 and 100000, got 0"),
    ("compare-out-empty", _nothing, ["compare", "--quiet", "--out", " "], "--out is empty"),
    ("estimate-input-shape-huge", _nothing, ["estimate", "--model", "small_cnn", "--input-shape", "3,100000,100000",
                                             "--bits", "8"], "has 30,000,000,000 values per input; at most 4,194,304"),
    ("estimate-input-channels-huge", _nothing, ["estimate", "--model", "small_cnn", "--input-shape", "4000000,1,1",
                                                "--bits", "8"], "has 4,000,000 channels; at most 4,096"),
    ("estimate-num-classes-0", _nothing, EST + ["--bits", "8", "--num-classes", "0"],
     "--num-classes must be between 1 and 100000, got 0"),
    ("arch-params-directory", _folder, EST + ["--bits", "8", "--arch-params", "{tmp}/params.yaml"],
     "architecture parameter file '{tmp}/params.yaml' is a directory, not a regular file"),
    ("arch-params-not-utf8", _write("p.yaml", b"data_gated:\n  source: caf\xe9\n"),
     EST + ["--bits", "8", "--arch-params", "{tmp}/p.yaml"], "is not UTF-8 text (byte 0xe9 at offset"),
    ("arch-params-misspelled", _write("p.yaml", "data_gatd:\n  overhead_fraction: 0.5\n"),
     EST + ["--bits", "8", "--arch-params", "{tmp}/p.yaml"],
     "names unknown MAC architecture 'data_gatd'; did you mean 'data_gated'?"),
    ("arch-params-nan", _write("p.yaml", "data_gated:\n  overhead_fraction: .nan\n"),
     EST + ["--bits", "8", "--arch-params", "{tmp}/p.yaml"], "only finite numbers are accepted"),
    ("arch-params-infinity-json", _write("p.json", '{"data_gated": {"overhead_fraction": Infinity}}'),
     EST + ["--bits", "8", "--arch-params", "{tmp}/p.json"], "holds Infinity; only finite numbers"),
    ("arch-params-unknown-parameter", _write("p.yaml", "data_gated:\n  overhead_fractoin: 0.5\n"),
     EST + ["--bits", "8", "--arch-params", "{tmp}/p.yaml"], "did you mean 'overhead_fraction'?"),
    ("arch-params-duplicate", _write("p.json", '{"data_gated": {"units": 8, "units": 9}}'),
     EST + ["--bits", "8", "--arch-params", "{tmp}/p.json"], "has the key 'units' twice"),
    ("tech-1e308", _write("t.json", _tech()), EST + ["--bits", "8", "--tech", "{tmp}/t.json"],
     "memories.dram.read_pj: energy must be >= 0 and <= 1e+06 pJ, got 1e+308"),
    ("bit-config-dev-zero", _nothing, EST + ["--bit-config", "/dev/zero"],
     "bit configuration '/dev/zero' is a character device, not a regular file"),
    ("bit-config-fifo", _fifo, EST + ["--bit-config", "{tmp}/pipe.json"],
     "bit configuration '{tmp}/pipe.json' is a FIFO (named pipe), not a regular file"),
    ("bit-config-5000-digits", _write("b.json", _bits().replace('"classifier": {"weight_bit_width": 8',
                                                                 '"classifier": {"weight_bit_width": ' + "9" * 5000)),
     EST + ["--bit-config", "{tmp}/b.json"], "holds an integer of 5000 digits"),
    ("bit-config-deep", _write("b.json", "[" * 100_000 + "]" * 100_000), EST + ["--bit-config", "{tmp}/b.json"],
     "is nested more than 64 levels deep"),
    ("bit-config-duplicate-layer", _write("b.json", _bits()[:-1] + ', "classifier": {}}'),
     EST + ["--bit-config", "{tmp}/b.json"], "has the key 'classifier' twice"),
]


@pytest.mark.parametrize("name, setup, action, message", VALUES, ids=[c[0] for c in VALUES])
def test_bad_values_are_refused_before_any_work(name, setup, action, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty --out must not fall back to ./quanos_results
    setup(tmp_path)
    args = [_fill(arg, tmp_path) for arg in action]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.err.startswith("quanos: error: ") and captured.err.count("\n") == 1, captured.err
    expected = _fill(message, tmp_path)
    assert expected in captured.err and "Traceback" not in captured.err
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no results folder, nothing written
