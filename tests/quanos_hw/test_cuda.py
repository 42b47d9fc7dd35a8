"""``--device cuda``: training, attacks, ANS and the robustness evaluation on a GPU (skipped without one)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import FAST

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]


def _model_and_data():
    from quanos_hw import create_model
    from quanos_hw.data import load_dataset

    data = load_dataset("synthetic", n_train=200, n_test=60)
    torch.manual_seed(0)
    model = create_model("small_cnn", num_classes=data.info.num_classes, in_channels=data.info.input_shape[0],
                         mean=data.mean, std=data.std, quantize=False).cuda()
    return model, data


def test_qat_epoch_on_cuda():
    from quanos_hw.bitconfig import apply_bit_config
    from quanos_hw.quantization import set_quantization
    from quanos_hw.training import TrainConfig, evaluate, train

    model, data = _model_and_data()
    apply_bit_config(model, 4)
    set_quantization(model, True)
    before = [p.detach().clone() for p in model.parameters()]
    history = train(model, data.train, TrainConfig(epochs=1, batch_size=50, calibration_batches=1), progress=False)
    assert all(p.is_cuda for p in model.parameters()) and len(history) == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert 0 <= evaluate(model, data.test, 50) <= 1


def test_attacks_and_ans_on_cuda():
    from quanos_hw.attacks import fgsm, pgd
    from quanos_hw.sensitivity import compute_sensitivity

    model, data = _model_and_data()
    x, y = data.test.images[:16].float().cuda(), data.test.labels[:16].cuda()
    for adv in (fgsm(model, x, y, 0.1), pgd(model, x, y, 0.1, 0.025, steps=3, seed=0)):
        assert adv.is_cuda and float((adv - x).abs().max()) <= 0.1 + 1e-6
    scores = compute_sensitivity("ans", model, data.train, eps=0.1, max_batches=1, batch_size=50)
    assert scores and all(torch.isfinite(torch.tensor(v)) for v in scores.values())


def test_run_on_cuda(tmp_path):
    """The whole experiment (training, ANS, every attack, evaluation) with device=cuda."""
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import RunConfig, parse_set

    config = parse_set(FAST + [f"out_dir={tmp_path / 'run'}", "device=cuda"], RunConfig())
    report = run(config, progress=False, log=lambda msg: None).report
    assert report["config"]["device"] == "cuda"
    assert all(0 <= m["robustness"]["clean"] <= 1 for m in report["models"].values())
