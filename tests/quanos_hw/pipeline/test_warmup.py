"""The warm-up phase: float by default, quantized at ``warmup_bits`` (Algorithm 1's 16-bit network)."""

import dataclasses

import pytest
import torch

from quanos_hw.errors import ConfigError
from quanos_hw.pipeline.config import RunConfig, config_from_dict, load_preset
from quanos_hw.pipeline.run import QuanosRunner, prepare
from quanos_hw.quantization import is_calibrated, quantization_enabled

SMALL = dict(dataset="synthetic", synthetic_train=200, synthetic_test=60, warmup_epochs=1, qat_epochs=1,
             batch_size=50, ans_batches=1, ans_batch_size=50, device="cpu")


@pytest.mark.parametrize("value", [1, 17, "16", True])
def test_warmup_bits_is_null_or_a_bit_width(value):
    with pytest.raises(ConfigError, match="warmup_bits"):
        config_from_dict({"warmup_bits": value})


def test_default_warms_up_in_float_and_the_paper_preset_at_16_bits():
    assert RunConfig().warmup_bits is None
    assert load_preset("paper").warmup_bits == 16


@pytest.mark.parametrize("warmup_bits", [None, 6])
def test_warmup_phase_trains_at_warmup_bits_and_ans_reads_that_network(tmp_path, warmup_bits):
    config = dataclasses.replace(RunConfig(**SMALL), warmup_bits=warmup_bits, out_dir=str(tmp_path / "run"))
    setup = prepare(config, resume=False)
    runner = QuanosRunner(setup.config, setup.data, setup.ws, setup.device, progress=False, log=lambda msg: None)
    state = runner.warmup()
    assert state["quantized"] is (warmup_bits is not None)
    widths = {(v["weight_bit_width"], v["act_bit_width"]) for v in state["bits"].values()}
    assert widths == {(16, 16) if warmup_bits is None else (6, 6)}
    model = runner.load("warmup")
    assert quantization_enabled(model) is (warmup_bits is not None)
    if warmup_bits is not None:
        assert is_calibrated(model)  # the QAT that follows starts from the warm-up's learned clip ranges
    ans = runner.ans_phase("ans_1", "warmup")
    assert set(ans["ans"]) == set(state["bits"]) and all(torch.isfinite(torch.tensor(v)) for v in ans["ans"].values())
    assert runner.warmup() == state  # finished: skipped, same record
