"""The results folder: one command at a time (an OS lock), every state file and checkpoint
checked against the hash recorded when it was written, derived values re-derived, a failed run's
folder reusable, and report.json written last (the completion marker)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from quanos_hw.errors import CheckpointError, DiskFullError, WorkspaceError
from quanos_hw.integrity import digest_path
from quanos_hw.pipeline import run
from quanos_hw.pipeline.config import RunConfig, parse_set
from quanos_hw.pipeline.experiment import Runner, prepare
from quanos_hw.pipeline.lock import LOCK_NAME, FolderLock
from quanos_hw.pipeline.workspace import Workspace
from tests.conftest import FAST, flip_one_bit_in_tensor_data, hold_lock


def _config(out, *extra):
    return parse_set(FAST + [f"out_dir={out}", *extra], RunConfig())


def _quiet(config, **kwargs):
    return run(config, progress=False, log=lambda m: None, **kwargs)


def _fresh(out, *extra) -> Workspace:
    ws = Workspace(out, _config(out, *extra).resolve())
    ws.prepare(resume=False)
    ws.close()
    return ws


def _busy(out, pid):
    return rf"results folder '{re.escape(str(out))}' is in use by another quanos command \(PID {pid}\)"


# -- the lock -----------------------------------------------------------------------------------
def test_a_run_into_a_locked_folder_fails_at_once_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with hold_lock(out) as pid:
        start = time.monotonic()
        with pytest.raises(WorkspaceError, match=_busy(out, pid)):
            _quiet(_config(out))
        assert time.monotonic() - start < 60  # refused, not waiting for the holder
        assert not (out / "config.json").exists()  # checked and written only under the lock
    _fresh(out)  # the holder has gone: the folder is free
    assert (out / "config.json").is_file() and not (out / LOCK_NAME).exists()


def test_a_resume_of_a_locked_folder_fails_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    _fresh(out)
    before = (out / "config.json").read_bytes()
    with hold_lock(out) as pid:
        with pytest.raises(WorkspaceError, match=_busy(out, pid)):
            _quiet(_config(out), resume=True)
    assert (out / "config.json").read_bytes() == before


def test_the_lock_is_held_for_the_whole_command_and_released_after(tmp_path):
    out = tmp_path / "run"
    with prepare(_config(out), resume=False) as setup:
        config = setup.config
        assert (out / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        for resume in (False, True):  # a second command, even in the same process, is refused
            with pytest.raises(WorkspaceError, match=_busy(out, os.getpid())):
                Workspace(out, config).prepare(resume)
        assert setup.ws.lock.held
    assert not (out / LOCK_NAME).exists()
    again = Workspace(out, config)
    again.prepare(resume=True)
    again.close()


def test_the_lock_is_released_when_a_run_fails_and_the_folder_is_reusable(tmp_path, monkeypatch):
    out = tmp_path / "run"

    def full(self, spec):
        raise DiskFullError("no space left on the device while writing 'x'")

    monkeypatch.setattr(Runner, "train", full)  # the warm-up, the first training, fails
    with pytest.raises(DiskFullError):
        _quiet(_config(out))
    assert (out / "config.json").is_file() and not (out / LOCK_NAME).exists()
    with FolderLock(out):  # nobody holds it
        pass
    # no phase finished and no checkpoint: a corrected command may reuse the folder, any config
    ws = _fresh(out, "seed=3")
    assert json.loads((out / "config.json").read_text())["config_hash"] == ws.config_hash


def test_a_killed_holder_leaves_no_lock(tmp_path):
    out = tmp_path / "run"
    with hold_lock(out) as pid:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                FolderLock(out).acquire().release()
                break
            except WorkspaceError:
                time.sleep(0.05)
        else:
            pytest.fail("the lock of a killed process was not released")


# -- reuse of a folder --------------------------------------------------------------------------
@pytest.mark.parametrize("leftover, what", [
    ("state/warmup.json", "1 finished phase(s)"),
    ("checkpoints/warmup.pt", "1 checkpoint(s)"),
])
def test_a_folder_holding_results_is_not_overwritten_by_a_fresh_run(tmp_path, leftover, what):
    out = tmp_path / "run"
    _fresh(out)
    (out / leftover).write_text("{}")
    message = f"already holds a run with results ({what}); use --resume with its original configuration"
    with pytest.raises(WorkspaceError, match=re.escape(message)):
        Workspace(out, _config(out, "seed=3")).prepare(resume=False)
    assert not (out / LOCK_NAME).exists()


# -- recorded hashes and re-derived values --------------------------------------------------------
@pytest.fixture
def copy(fast_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(fast_run.out_dir, out)
    return out


def _forge(path, obj):
    """Edit a state file and record the matching hash (as a careless or hostile user could)."""
    data = (json.dumps(obj, indent=1) + "\n").encode()
    path.write_bytes(data)
    digest_path(path).write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")


def _other_bits(state):
    layer = next(iter(state["bits"]))
    old = state["bits"][layer]["weight_bit_width"]
    state["bits"][layer]["weight_bit_width"] = 3 if old != 3 else 4
    return layer, old


def test_every_state_file_and_checkpoint_has_its_hash_recorded(copy):
    files = [copy / "config.json", *(copy / "state").glob("*.json"), *(copy / "checkpoints").glob("*.pt")]
    assert len(files) > 10
    for path in files:
        line = digest_path(path).read_text()
        assert line == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n", path


def test_an_edited_state_file_is_refused_naming_it(copy):
    path = copy / "state" / "ans_1.json"
    state = json.loads(path.read_text())
    _other_bits(state)
    path.write_text(json.dumps(state, indent=1) + "\n")
    where = re.escape(str(path))
    with pytest.raises(WorkspaceError, match=rf"state file '{where}' does not match the SHA-256 recorded when it was"):
        _quiet(_config(copy), resume=True)


def test_ans_bits_are_re_derived_not_trusted(copy):
    path = copy / "state" / "ans_1.json"
    state = json.loads(path.read_text())
    layer, old = _other_bits(state)
    _forge(path, state)
    new = state["bits"][layer]
    derived = {"weight_bit_width": old, "act_bit_width": old}
    message = (f"'{path}' is inconsistent: its bits are not the QUANOS rule applied to its scores (layer "
               f"'{layer}': stored {new}, derived {derived})")
    with pytest.raises(WorkspaceError, match=re.escape(message)):
        _quiet(_config(copy), resume=True)


@pytest.mark.parametrize("edit, message", [
    (lambda s: {}, "is damaged: it is empty"),
    (lambda s: [s], "is damaged: expected a JSON object, got list"),
    (lambda s: {k: v for k, v in s.items() if k != "samples"}, r"is damaged: it lacks \['samples'\]"),
    (lambda s: {**s, "ans": dict(list(s["ans"].items())[1:])}, "its scores must be one finite number for each"),
    (lambda s: {**s, "metric": "random"}, "with 'random', this phase scores 'warmup' with 'ans'"),
])
def test_a_damaged_ans_state_is_refused_clearly(copy, edit, message):
    path = copy / "state" / "ans_1.json"
    _forge(path, edit(json.loads(path.read_text())))
    with pytest.raises(WorkspaceError, match=rf"state file '{re.escape(str(path))}' .*{message}"):
        _quiet(_config(copy), resume=True)


@pytest.mark.parametrize("edit, message", [
    (lambda s: {**s, "quantized": False}, "its quantization flag is not what this phase trains"),
    (lambda s: _other_bits(s) and s, "its bits are not what this phase trains"),
    (lambda s: {k: v for k, v in s.items() if k != "history"}, r"it lacks \['history'\]"),
])
def test_a_damaged_training_state_is_refused_clearly(copy, edit, message):
    path = copy / "state" / "uniform8.json"
    _forge(path, edit(json.loads(path.read_text())))
    with pytest.raises(WorkspaceError, match=rf"state file '{re.escape(str(path))}' .*{message}"):
        _quiet(_config(copy), resume=True)


@pytest.mark.parametrize("checkpoint, pending", [
    ("uniform8", "uniform8"),  # an unfinished phase continues from it
    ("surrogate", "eval_quanos"),  # an evaluation loads it
])
def test_a_flipped_bit_in_a_checkpoint_is_refused_naming_it(copy, checkpoint, pending):
    path = copy / "checkpoints" / f"{checkpoint}.pt"
    flip_one_bit_in_tensor_data(path)
    for p in (copy / "state" / f"{pending}.json", digest_path(copy / "state" / f"{pending}.json")):
        p.unlink()
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint '{path}' does not match the SHA-256 recorded")):
        _quiet(_config(copy), resume=True)
    assert not (copy / LOCK_NAME).exists()


# -- report.json is the completion marker ---------------------------------------------------------
def test_a_fault_while_writing_outputs_leaves_no_report_and_a_resumable_folder(copy, fast_run, monkeypatch):
    import quanos_hw.pipeline.report as report_module

    outputs = ["report.json", "report.md", "bits.json", "layers.csv", "ans_bits.png", "pareto.png",
               "energy_breakdown.png"]
    for name in outputs:
        (copy / name).unlink()

    def full(root, report):
        raise DiskFullError(f"no space left on the device while writing {str(root / 'pareto.png')!r}")

    monkeypatch.setattr(report_module, "write_plots", full)
    with pytest.raises(DiskFullError):
        _quiet(_config(copy), resume=True)
    assert (copy / "bits.json").is_file() and not (copy / "report.json").exists()  # partial: no marker
    monkeypatch.undo()
    again = _quiet(_config(copy), resume=True)
    assert all((copy / name).is_file() for name in outputs)
    def strip(report):  # what may differ: the timing, and the folder's name
        return {**{k: v for k, v in report.items() if k != "timing_s"}, "config": {**report["config"], "out_dir": 0}}

    assert strip(json.loads((copy / "report.json").read_text())) == strip(fast_run.report) == strip(again.report)
    # the seconds each phase took are kept in its state, so the resumed report keeps them too
    assert again.report["timing_s"] == fast_run.report["timing_s"]
    assert {"warmup", "ans_1", "quanos_1", "surrogate", "eval_quanos"} <= set(again.report["timing_s"])


def test_report_json_is_written_last(fast_run):
    assert fast_run.files[-1].endswith("report.json")
    names = [os.path.basename(f) for f in fast_run.files]
    mtimes = [os.stat(f).st_mtime_ns for f in fast_run.files]
    assert max(mtimes) == mtimes[names.index("report.json")]


def test_a_second_cli_run_is_refused_while_the_first_holds_the_folder(tmp_path):
    """Two real commands: the one that finds the folder locked exits 2 with one line, at once."""
    out = tmp_path / "run"
    with hold_lock(out) as pid:
        args = [sys.executable, "-m", "quanos_hw.cli", "run", "--quiet", "--out", str(out)]
        for item in FAST:
            args += ["--set", item]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"quanos: error: results folder {str(out)!r} is in use by another quanos command (PID "
                           f"{pid}); wait for it to finish or choose another --out\n")
