"""The pipeline's trials through an executor: a resumed run submits only the trials whose phases are
missing, and gets the same results."""

from __future__ import annotations

import dataclasses
import shutil

from quanos_hw.executor import ExecutorConfig
from quanos_hw.executor.serial import SerialExecutor


class Recording(SerialExecutor):
    """The serial executor, noting the key of every trial it is given."""

    def __init__(self) -> None:
        super().__init__(ExecutorConfig())
        self.keys: list[str] = []

    def run(self, trials, shared=None):
        self.keys += [t.key for t in trials]
        return super().run(trials, shared)


def test_resume_runs_only_the_unfinished_trials(fast_run, tmp_path):
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import load_config_file

    out = tmp_path / "run"
    shutil.copytree(fast_run.out_dir, out)
    config = dataclasses.replace(load_config_file(out / "config.json"), out_dir=str(out))
    finished = Recording()
    again = run(config, resume=True, progress=False, log=lambda msg: None, executor=finished)
    assert finished.keys == [] and again.report["models"] == fast_run.report["models"]

    for path in [*out.glob("state/uniform8.json*"), *out.glob("state/eval_uniform8.json*"),
                 *out.glob("checkpoints/uniform8.pt*")]:
        path.unlink()
    missing = Recording()
    resumed = run(config, resume=True, progress=False, log=lambda msg: None, executor=missing)
    assert missing.keys == ["uniform8", "evaluate"]
    assert resumed.report["models"] == fast_run.report["models"]
    assert (out / "bits.json").read_bytes() == (fast_run.out_dir / "bits.json").read_bytes()
