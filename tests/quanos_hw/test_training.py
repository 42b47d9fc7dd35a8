import os
import signal

import pytest
import torch

from quanos_hw import TrainConfig, create_model, evaluate, train
from quanos_hw.checkpoint import load_checkpoint, save_checkpoint
from quanos_hw.errors import CheckpointError, ConfigError, TrainingDivergedError
from quanos_hw.quantization import is_calibrated
from quanos_hw.training import predict


def _model(synthetic, quantize=True):
    torch.manual_seed(0)
    return create_model("small_cnn", in_channels=1, quantize=quantize, bit_config=4,
                        mean=synthetic.mean, std=synthetic.std)


CONFIG = TrainConfig(epochs=2, batch_size=32, lr=0.05, seed=3, augment="shift")


def test_quantized_training_calibrates_first_and_learns(synthetic):
    model = _model(synthetic)
    assert not is_calibrated(model)
    history = train(model, synthetic.train, TrainConfig(**{**CONFIG.__dict__, "augment": "none"}), progress=False)
    assert is_calibrated(model)
    assert [h["epoch"] for h in history] == [1, 2]
    assert evaluate(model, synthetic.test) > 0.5  # 10 classes: chance is 0.1


def test_same_seed_same_result_other_seed_differs(synthetic):
    a, b, c = _model(synthetic), _model(synthetic), _model(synthetic)
    train(a, synthetic.train, CONFIG, progress=False)
    train(b, synthetic.train, CONFIG, progress=False)
    train(c, synthetic.train, TrainConfig(**{**CONFIG.__dict__, "seed": 4}), progress=False)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_sigint_mid_epoch_then_resume_equals_uninterrupted(synthetic, tmp_path):
    reference = _model(synthetic)
    train(reference, synthetic.train, CONFIG, progress=False)

    interrupted = _model(synthetic)
    calls = {"n": 0}

    def fire(module, args, out):
        calls["n"] += module.training  # calibration passes run in eval mode
        if calls["n"] == 17:  # the 17th training step: inside the second epoch
            os.kill(os.getpid(), signal.SIGINT)

    handle = interrupted.classifier.register_forward_hook(fire)
    ckpt = tmp_path / "last.pt"
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, synthetic.train, CONFIG, checkpoint_path=ckpt, config_hash="h", progress=False)
    handle.remove()
    saved = load_checkpoint(ckpt, "h")
    assert (saved["epoch"], saved["step_in_epoch"]) == (1, 4)

    resumed = _model(synthetic)
    train(resumed, synthetic.train, CONFIG, checkpoint_path=ckpt, config_hash="h", resume=True, progress=False)
    ref, res = reference.state_dict(), resumed.state_dict()
    assert all(torch.equal(ref[k], res[k]) for k in ref)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(synthetic, tmp_path):
    model = _model(synthetic)
    ckpt = tmp_path / "last.pt"
    one_epoch = TrainConfig(**{**CONFIG.__dict__, "epochs": 1})
    train(model, synthetic.train, one_epoch, checkpoint_path=ckpt, config_hash="h", progress=False)
    good = ckpt.read_bytes()
    poisoned = type(synthetic.train)(torch.full_like(synthetic.train.images, float("nan")), synthetic.train.labels)
    with pytest.raises(TrainingDivergedError, match="loss became nan at epoch 2 step 1.*last good checkpoint"):
        train(model, poisoned, CONFIG, checkpoint_path=ckpt, config_hash="h", resume=True, progress=False)
    assert ckpt.read_bytes() == good


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_with_a_pickled_object_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "quanos-hw-checkpoint", "model": {}, "payload": _Exploit(str(marker))}, path)
    with pytest.raises(CheckpointError, match="arbitrary Python objects"):
        load_checkpoint(path)
    assert not marker.exists()


def test_corrupt_foreign_and_mismatched_checkpoints(tmp_path, synthetic):
    model = _model(synthetic, quantize=False)
    good = tmp_path / "good.pt"
    save_checkpoint(good, model=model, config_hash="abc", epoch=1)
    assert load_checkpoint(good, "abc")["epoch"] == 1
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="refusing checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="is not a quanos-hw checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="different configuration"):
        load_checkpoint(good, "other")
    payload = torch.load(good, weights_only=True)
    payload["package_version"] = "0.0.1"
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.raises(CheckpointError, match="written by quanos-hw 0.0.1"):
        load_checkpoint(old)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=-1), "epochs must be an integer >= 0"),
    (dict(lr=0.0), "lr must be a positive number"),
    (dict(optimizer="lbfgs"), "optimizer must be one of"),
    (dict(augment="mixup"), "augment must be one of"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
])
def test_bad_train_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_uncalibrated_quantized_model_cannot_be_evaluated(synthetic):
    with pytest.raises(ConfigError, match="not calibrated"):
        evaluate(_model(synthetic), synthetic.test)


@pytest.mark.slow
def test_small_cnn_reaches_97_percent_on_mnist5k(mnist5k):
    """12 float epochs, about 35 s on 2 cores (README: Model zoo)."""
    torch.manual_seed(0)
    model = create_model("small_cnn", in_channels=1, quantize=False, mean=mnist5k.mean, std=mnist5k.std)
    train(model, mnist5k.train, TrainConfig(epochs=12, lr=0.05, augment="shift", seed=0), progress=False)
    assert evaluate(model, mnist5k.test) >= 0.97


# -- a DataLoader (or any iterable of (images, labels) batches) instead of a TensorData ---------------

def _loader(split, batch_size=50, shuffle=False, seed=0):
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(split.images, split.labels), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


def test_evaluate_and_predict_on_a_dataloader_match_the_tensordata(synthetic):
    model = _model(synthetic, quantize=False)
    train(model, synthetic.train, TrainConfig(epochs=1, batch_size=32, seed=0), progress=False)
    expected = evaluate(model, synthetic.test)
    assert 0.3 < expected < 1.0  # a partly trained model: the comparison below is not trivially 0 or 1
    assert evaluate(model, _loader(synthetic.test, 37, shuffle=True)) == expected
    assert torch.equal(predict(model, _loader(synthetic.test, 64)), predict(model, synthetic.test))
    assert model.training is False


def test_train_on_a_dataloader_uses_its_batches_and_learns(synthetic):
    model = _model(synthetic)  # quantized: calibrated from the loader's first batches
    before = {k: v.clone() for k, v in model.state_dict().items()}
    steps = {"n": 0}

    def count(module, args, out):
        steps["n"] += module.training

    model.classifier.register_forward_hook(count)
    loader = _loader(synthetic.train, 40, shuffle=True)
    history = train(model, loader, TrainConfig(epochs=3, batch_size=32, lr=0.05), progress=False)
    assert is_calibrated(model)
    assert steps["n"] == 3 * len(loader) == 30  # the loader's batch size (40), not the config's (32)
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[-1]["lr"] < 0.05  # cosine over len(loader)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k.endswith("weight"))
    assert evaluate(model, _loader(synthetic.test)) > 0.5  # 10 classes: chance is 0.1


def test_an_iterable_without_length_needs_the_constant_schedule(synthetic):
    batches = [(synthetic.train.images[i:i + 50], synthetic.train.labels[i:i + 50]) for i in range(0, 400, 50)]
    model = _model(synthetic, quantize=False)
    with pytest.raises(ConfigError, match="'cosine' schedule needs the number of batches"):
        train(model, iter(batches), TrainConfig(epochs=1), progress=False)
    history = train(model, (b for b in batches), TrainConfig(epochs=1, schedule="constant"), progress=False)
    assert history[0]["lr"] == 0.05 and history[0]["accuracy"] > 0.1


def test_empty_data_is_refused(synthetic):
    model = _model(synthetic, quantize=False)
    with pytest.raises(ConfigError, match="empty dataset"):
        evaluate(model, [])
    with pytest.raises(ConfigError, match="empty dataset"):
        train(model, _loader(synthetic.train.head(0)), CONFIG, progress=False)
