"""quanos-hw: adversarial-noise-sensitivity driven hybrid quantization (QUANOS) with a
hardware energy/size estimator for precision-scalable accelerators.

The public API is imported lazily (importing the package does no work and does not import
torch until a function that needs it is used).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "create_model": "quanos_hw.models",
    "list_models": "quanos_hw.models",
    "quantizable_layers": "quanos_hw.models",
    "convert_model": "quanos_hw.convert",
    "get_bit_config": "quanos_hw.bitconfig",
    "apply_bit_config": "quanos_hw.bitconfig",
    "load_bit_config": "quanos_hw.bitconfig",
    "save_bit_config": "quanos_hw.bitconfig",
    "validate_bit_config": "quanos_hw.bitconfig",
    "uniform_bit_config": "quanos_hw.bitconfig",
    "set_quantization": "quanos_hw.quantization",
    "calibrate_activations": "quanos_hw.quantization",
    "load_dataset": "quanos_hw.data",
    "list_datasets": "quanos_hw.data",
    "dataset_info": "quanos_hw.data",
    "TrainConfig": "quanos_hw.training",
    "train": "quanos_hw.training",
    "evaluate": "quanos_hw.training",
    "extract_layers": "quanos_hw.hardware",
    "adversarial_noise_sensitivity": "quanos_hw.sensitivity",
    "bits_from_ans": "quanos_hw.allocation",
    "run": "quanos_hw.pipeline",
    "RunConfig": "quanos_hw.pipeline",
}


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'quanos_hw' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
