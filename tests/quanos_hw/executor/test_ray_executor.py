"""The ray executor on a local Ray of 2 CPUs (started once for the module): results equal to serial,
a worker killed mid-trial is retried, Ctrl-C cancels, a trial's own error surfaces as itself, a run
under Ray gives the serial run's bits and metrics."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from quanos_hw.errors import InputError
from quanos_hw.executor import ExecutorConfig, Trial, TrialResources, as_map, make_executor

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _ray(cpu: int | None = 1):
    return make_executor(ExecutorConfig(name="ray", resources=TrialResources(cpu=cpu)))


def _square(shared, value):
    import torch

    return {"value": shared["scale"] * value * value, "threads": torch.get_num_threads()}


def _killed_once(shared, folder, value, victim):
    """A victim writes its PID and sleeps on its first attempt (the test kills it), returns at once on the next."""
    marker = Path(folder) / f"attempt_{value}"
    if victim and not marker.exists():
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(marker)
        time.sleep(120)
    return _square(shared, value)


def _raises(shared, value):
    raise InputError(f"trial {value} refused its input")


def _wait_for(path: Path, timeout_s: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    return path


def test_results_equal_serial_in_order_with_the_trials_threads(local_ray):
    trials = [Trial(f"t{i}", _square, (i,)) for i in range(5)]
    with _ray() as ex:
        got = ex.run(trials, {"scale": 3})
        assert ex.slots() == 2 and ray.is_initialized()
    serial = make_executor(ExecutorConfig(resources=TrialResources(cpu=1))).run(trials, {"scale": 3})
    assert got == serial and {r["threads"] for r in got} == {1}
    assert ray.is_initialized()  # the executor did not start this Ray, so it leaves it running


def _cube(value):
    return value ** 3


def test_as_map_gives_map_trials_on_ray_as_serial(local_ray):
    """The seam ``quanos codesign`` runs its stage 2 through: ``map_trials(fn, items)``."""
    with _ray() as ex:
        got = as_map(ex)(_cube, [3, 1, 2])
    assert got == as_map(make_executor("serial"))(_cube, [3, 1, 2]) == [27, 1, 8]


def test_a_worker_killed_mid_trial_is_retried(local_ray, tmp_path):
    trials = [Trial(f"t{i}", _killed_once, (str(tmp_path), i, i == 1)) for i in range(2)]
    out = {}
    with _ray() as ex:
        worker = threading.Thread(target=lambda: out.setdefault("results", ex.run(trials, {"scale": 2})))
        worker.start()
        pid = int(_wait_for(tmp_path / "attempt_1").read_text())
        os.kill(pid, signal.SIGKILL)
        worker.join(120)
    assert not worker.is_alive()
    serial = make_executor(ExecutorConfig(resources=TrialResources(cpu=1))).run(trials, {"scale": 2})
    assert out["results"] == serial and out["results"][1]["value"] == 2


#: a quanos process that runs three blocking trials on its own local Ray (2 CPUs: 2 run, 1 waits)
CTRL_C_SCRIPT = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever the test runner set
import ray
from quanos_hw.executor import ExecutorConfig, Trial, TrialResources, make_executor

def blocks(shared, folder, value):
    import os
    (Path(folder) / f"started_{value}").write_text(str(os.getpid()))
    time.sleep(60)
    (Path(folder) / f"finished_{value}").write_text("")

ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
ex = make_executor(ExecutorConfig(name="ray", resources=TrialResources(cpu=1)))
try:
    ex.run([Trial(f"t{i}", blocks, (sys.argv[1], i)) for i in range(3)])
except KeyboardInterrupt:  # checked while this Ray still runs: cancelled, not just shut down
    import os
    folder = Path(sys.argv[1])
    pids = [int((folder / f"started_{i}").read_text()) for i in range(2)]
    deadline = time.monotonic() + 30
    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # a pending trial not cancelled would start now, on the freed CPUs
    (folder / "interrupted").write_text(f"alive={[alive(pid) for pid in pids]}")
    raise SystemExit(130)
"""


def test_ctrl_c_cancels_running_and_pending_trials(tmp_path):
    """Ctrl-C to a process waiting on its trials: KeyboardInterrupt in the caller, the running trials'
    workers stopped, the pending one never started (run in a process of its own, as a user's)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(tmp_path)])
    try:
        for i in range(2):
            _wait_for(tmp_path / f"started_{i}", timeout_s=120)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / "interrupted").read_text() == "alive=[False, False]"  # the running trials were stopped
    assert not (tmp_path / "started_2").exists() and not list(tmp_path.glob("finished_*"))


def test_a_trials_error_is_raised_as_itself(local_ray):
    with _ray() as ex, pytest.raises(InputError) as info:
        ex.run([Trial("ok", _square, (1,)), Trial("bad", _raises, (7,))], {"scale": 1})
    assert type(info.value) is InputError and str(info.value) == "trial 7 refused its input"


def test_resources_no_node_has_are_refused_before_any_trial(local_ray):
    with pytest.raises(InputError, match=r"cpu=1,gpu=1: no node of the Ray cluster has that much"):
        make_executor(ExecutorConfig(name="ray", resources=TrialResources(cpu=1, gpu=1)))
    with pytest.raises(InputError, match=r"cpu=3,gpu=0: no node"):
        make_executor(ExecutorConfig(name="ray", resources=TrialResources(cpu=3)))


@pytest.mark.slow  # about 3x the session's serial run on a loaded 2-core machine
def test_run_under_ray_gives_the_serial_bits_and_metrics(local_ray, fast_run, tmp_path):
    """The same configuration (the session's serial run) under Ray: identical bits.json and metrics."""
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import load_config_file

    config = load_config_file(fast_run.out_dir / "config.json")
    config = __import__("dataclasses").replace(config, out_dir=str(tmp_path / "run"))
    with _ray(cpu=None) as ex:  # the threads torch uses here, as the serial run did
        result = run(config, progress=False, log=lambda msg: None, executor=ex)
    assert (result.out_dir / "bits.json").read_bytes() == (fast_run.out_dir / "bits.json").read_bytes()
    assert result.report["models"] == fast_run.report["models"]  # accuracies under every attack, energy, size
    assert json.loads((result.out_dir / "report.json").read_text())["bits"] == fast_run.report["bits"]
