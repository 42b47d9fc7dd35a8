"""Bad-input cases of the results folder (issue 12, items 2 and 3), in the style of
test_bad_input_issue12.py: the CLI exits 2 with exactly one line on stderr naming the problem, no
traceback, and no file of the folder changed."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from quanos_hw.cli import main
from quanos_hw.integrity import digest_path
from quanos_hw.pipeline.config import RunConfig, parse_set
from quanos_hw.pipeline.workspace import Workspace
from tests.conftest import FAST, FAST_EXPERIMENT, flip_one_bit_in_tensor_data, hold_lock


def _run_args(out, *extra):
    args = ["run", "--quiet", "--out", str(out), *extra]
    for item in FAST:
        args += ["--set", item]
    return args


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _check(capsys, code, message):
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("quanos: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err


@pytest.fixture
def copy(fast_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(fast_run.out_dir, out)
    return out


@pytest.mark.parametrize("command", ["run", "run --resume", "compare"])
def test_a_locked_results_folder(tmp_path, capsys, command):
    out = tmp_path / "out"
    if command == "compare":
        args = ["compare", "--quiet", "--out", str(out)]
        for item in FAST_EXPERIMENT + ["seeds=[0]", "budgets=[0.5]", "combos=[random:budget_ilp]"]:
            args += ["--set", item]
    else:
        args = _run_args(out, *command.split()[1:])
    if "--resume" in args:  # a folder with a config.json to resume
        ws = Workspace(out, parse_set(FAST + [f"out_dir={out}"], RunConfig()).resolve())
        ws.prepare(resume=False)
        ws.close()
    with hold_lock(out) as pid:
        before = _snapshot(out)
        code = main(args)
        after = _snapshot(out)
    _check(capsys, code, f"results folder {str(out)!r} is in use by another quanos command (PID {pid}); wait for "
                         "it to finish or choose another --out")
    assert after == before


def _edit_ans(path):
    state = json.loads(path.read_text())
    layer = next(iter(state["bits"]))
    state["bits"][layer]["weight_bit_width"] = 3 if state["bits"][layer]["weight_bit_width"] != 3 else 4
    path.write_text(json.dumps(state, indent=1) + "\n")


def _forge_empty(path):
    path.write_text("{}\n")
    digest_path(path).write_text(f"{hashlib.sha256(b'{}' + bytes([10])).hexdigest()}  {path.name}\n")


@pytest.mark.parametrize("damage, message", [
    (lambda out: _edit_ans(out / "state" / "ans_1.json"),
     "state file '{out}/state/ans_1.json' does not match the SHA-256 recorded when it was written"),
    (lambda out: _forge_empty(out / "state" / "ans_1.json"), "state file '{out}/state/ans_1.json' is damaged: it is "
                                                             "empty; delete it (and its .sha256) to recompute"),
    (lambda out: (out / "state" / "warmup.json").write_text("[1, 2]\n"),
     "state file '{out}/state/warmup.json' does not match the SHA-256"),
    (lambda out: digest_path(out / "state" / "warmup.json").unlink(),
     "state file '{out}/state/warmup.json' has no recorded content hash"),
    (lambda out: digest_path(out / "config.json").write_text("0" * 64 + "  config.json\n"),
     "run configuration '{out}/config.json' does not match the SHA-256"),
])
def test_a_damaged_results_folder_is_refused_on_resume(copy, capsys, damage, message):
    damage(copy)
    before = _snapshot(copy)
    code = main(["run", "--quiet", "--resume", "--out", str(copy)])
    _check(capsys, code, message.replace("{out}", str(copy)))
    assert _snapshot(copy) == before


def test_a_checkpoint_with_a_flipped_bit_is_refused_by_export(copy, capsys, tmp_path):
    ckpt = copy / "checkpoints" / "quanos_1.pt"
    flip_one_bit_in_tensor_data(ckpt)
    code = main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "q.onnx")])
    _check(capsys, code, f"checkpoint {str(ckpt)!r} does not match the SHA-256 recorded when it was written")
    assert not (tmp_path / "q.onnx").exists()


def test_a_fresh_run_into_a_folder_with_results_is_refused(copy, capsys):
    before = _snapshot(copy)
    code = main(_run_args(copy, "--set", "seed=4"))
    _check(capsys, code, f"{str(copy)!r} already holds a run with results (")
    assert _snapshot(copy) == before
