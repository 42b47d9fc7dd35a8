import pytest
from torch import nn

from quanos_hw.attacks import eval_mode as attacks_eval_mode
from quanos_hw.modes import eval_mode


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_the_mode_also_on_error(training):
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    model.train(training)
    with eval_mode(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training is training and model[1].training is training
    with pytest.raises(RuntimeError, match="boom"), eval_mode(model):
        raise RuntimeError("boom")
    assert model.training is training and model[1].training is training


def test_attacks_use_the_same_eval_mode():
    assert attacks_eval_mode is eval_mode
