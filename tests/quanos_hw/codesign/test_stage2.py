"""Stage 2's seam: trials are plain data for a top-level function, mapped by ``map_trials``;
finished trials are recorded and never mapped again."""

import pickle

from quanos_hw.codesign import CodesignConfig
from quanos_hw.codesign.stage2 import run_trials, train_and_evaluate, trial_task
from quanos_hw.pipeline.workspace import Workspace


def _fake(task):
    return {"phase": task["phase"], "bits": task["bits"], "test_accuracy": 0.5, "robustness": {"clean": 0.5}}


def test_trials_are_picklable_plain_data():
    task = trial_task(CodesignConfig().to_dict(), [8, 4, 2])
    assert pickle.loads(pickle.dumps((train_and_evaluate, task))) == (train_and_evaluate, task)


def test_finished_trials_are_not_mapped_again(tmp_path):
    config = CodesignConfig(out_dir=str(tmp_path / "out"))
    ws = Workspace(config.out_dir, config)
    ws.prepare(resume=False)
    calls = []

    def record(fn, items):
        calls.append([t["phase"] for t in items])
        return [fn(t) for t in items]

    try:
        tasks = [trial_task(config.to_dict(), bits) for bits in ([8, 8], [4, 8])]
        first = run_trials(ws, tasks[:1], record, trial=_fake)
        both = run_trials(ws, tasks, record, trial=_fake)
        again = run_trials(ws, tasks, record, trial=_fake)
    finally:
        ws.close()
    assert calls == [["qat_8-8"], ["qat_4-8"]]  # the third call maps nothing
    assert both == again and both["qat_8-8"] == first["qat_8-8"]
