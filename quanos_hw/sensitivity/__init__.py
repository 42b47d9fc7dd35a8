"""Per-layer sensitivity metrics, registered by name. Each returns {layer name: score}."""

from energy_models.registry import Registry

from .ans import adversarial_noise_sensitivity
from .base import capture_activations

METRICS: Registry = Registry("sensitivity metric")
METRICS.register("ans")(adversarial_noise_sensitivity)

__all__ = ["METRICS", "adversarial_noise_sensitivity", "capture_activations"]
