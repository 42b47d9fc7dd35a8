"""Kill a run (SIGKILL, SIGINT) after its first QAT checkpoint, resume it, compare with an
uninterrupted run of the same seed: same bits, same metrics."""

import json
import signal
import subprocess
import sys
import time

import pytest

SETTINGS = ["dataset=synthetic", "synthetic_train=1200", "synthetic_test=150", "warmup_epochs=1", "qat_epochs=3",
            "attacks=[{name: fgsm, eps: [0.05, 0.1, 0.2]}, {name: pgd, eps: [0.1], alpha: 0.025, steps: 3}]",
            "large_eps_steps=3", "large_eps_samples=50", "robustness=quick", "robustness_samples=40", "ans_batches=2",
            "mac_architectures=[data_gated, bit_serial]", "uniform_bits=[16, 8]"]


def _cli(out, *extra):
    args = [sys.executable, "-m", "quanos_hw.cli", "run", "--quiet", "--out", str(out)]
    for item in SETTINGS:
        args += ["--set", item]
    return args + list(extra)


def _results(out):
    report = json.loads((out / "report.json").read_text())
    models = {name: {k: m[k] for k in ("bits", "robustness", "test_accuracy_after_training", "history", "energy")}
              for name, m in report["models"].items()}
    iterations = [{k: v for k, v in step.items() if k != "seconds"} for step in report["quanos"]["iterations"]]
    return json.loads((out / "bits.json").read_text()), models, iterations  # every number but the timing


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    subprocess.run(_cli(out), check=True, capture_output=True, timeout=600)
    return _results(out)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_to_identical_results(tmp_path, reference, sig):
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first_qat_checkpoint = out / "checkpoints" / "quanos_1.pt"
    deadline = time.time() + 300
    while not first_qat_checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before its first QAT checkpoint"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "resumable checkpoint" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not (out / "report.json").exists() and not (out / "bits.json").exists()
    assert not (out / "state" / "quanos_1.json").exists()  # the QAT phase was cut short

    resumed = subprocess.run(_cli(out, "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert _results(out) == reference
