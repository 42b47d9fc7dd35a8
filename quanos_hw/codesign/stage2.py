"""Stage 2: train and attack each distinct bit configuration (finalists and baselines).

A trial is plain data (a dict: the resolved configuration, a phase name, the bits) given to the
top-level function :func:`train_and_evaluate`, so that an executor may run it in another process
(it reads the dataset and the warm-up checkpoint from the results folder itself). Trials go
through ``map_trials(fn, items) -> results`` (default: one after another in this process).
Each finished trial's result is recorded in the workspace (``state/trial_<phase>.json``); on
resume only the missing ones are mapped, and a trial cut short continues from its own phase
states and checkpoints (quanos_hw.pipeline.experiment).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from .stage1 import bits_text

#: the keys of a trial's recorded result
TRIAL_KEYS = ("phase", "bits", "test_accuracy", "robustness")


def serial(fn: Callable, items: list) -> list:
    """The default ``map_trials``: each item in turn, in this process."""
    return [fn(item) for item in items]


def phase_name(bits: Sequence[int]) -> str:
    return f"qat_{bits_text(bits)}"


def trial_task(config: dict, bits: Sequence[int], quiet: bool = False) -> dict:
    return {"config": config, "phase": phase_name(bits), "bits": [int(b) for b in bits], "quiet": quiet}


def train_and_evaluate(task: dict) -> dict:
    """QAT of ``task['bits']`` from the warm-up, then clean, white-box, black-box and worst-case
    accuracy (the surrogate and the warm-up must be finished in the results folder)."""
    from ..data import load_dataset
    from ..pipeline.config import config_from_dict
    from ..pipeline.experiment import Runner, pick_device
    from ..pipeline.workspace import Workspace
    from .config import CodesignConfig

    c = config_from_dict(task["config"], "trial", cls=CodesignConfig)
    synthetic = dict(n_train=c.synthetic_train, n_test=c.synthetic_test) if c.dataset == "synthetic" else {}
    data = load_dataset(c.dataset, c.data_dir, download=c.download, split_seed=c.split_seed, image_size=c.image_size,
                        **synthetic)
    log = (lambda msg: None) if task.get("quiet") else (lambda msg: print(msg, file=sys.stderr, flush=True))
    runner = Runner(c, data, Workspace(c.out_dir, c), pick_device(c.device), False, log)
    bits = dict(zip(runner.layer_names(), task["bits"]))
    phase = task["phase"]
    state = runner.train_phase(phase, init="warmup", bits={k: {"weight_bit_width": b, "act_bit_width": b}
                                                           for k, b in bits.items()},
                               quantize=True, epochs=c.qat_epochs, offset=c.warmup_epochs)
    robustness = runner.evaluate_all({phase: phase})[phase]
    return {"phase": phase, "bits": task["bits"], "test_accuracy": state["test_accuracy"], "robustness": robustness}


def run_trials(ws, tasks: Sequence[dict], map_trials: Callable[[Callable, list], list] = serial,
               trial: Callable[[dict], dict] = train_and_evaluate) -> dict[str, dict]:
    """phase -> result for every task; finished ones are read back, the others mapped and recorded."""
    results = {t["phase"]: ws.done(f"trial_{t['phase']}", TRIAL_KEYS) for t in tasks}
    pending = [t for t in tasks if results[t["phase"]] is None]
    if pending:
        answers = list(map_trials(trial, pending))
        if len(answers) != len(pending):
            raise RuntimeError(f"map_trials returned {len(answers)} results for {len(pending)} trials")
        for task, answer in zip(pending, answers):
            results[task["phase"]] = ws.finish(f"trial_{task['phase']}", answer)
    return results
