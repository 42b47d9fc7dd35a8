import pytest

#: a complete run in about 15 s on 2 cores (synthetic data, 1+1 epochs, short attacks)
FAST = ["dataset=synthetic", "synthetic_train=300", "synthetic_test=120", "warmup_epochs=1", "qat_epochs=1",
        "pgd_steps=3", "large_eps_steps=3", "large_eps_samples=60", "ans_batches=2", "batch_size=50",
        "mac_architectures=[fixed16, data_gated, bitfusion]"]


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory):
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import RunConfig, parse_set

    out = tmp_path_factory.mktemp("fast") / "run"
    config = parse_set(FAST + [f"out_dir={out}"], RunConfig())
    return run(config, progress=False, log=lambda msg: None)
