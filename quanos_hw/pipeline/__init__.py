"""The QUANOS experiment pipeline: configuration, phases with resume, report and plots."""

from .config import RunConfig, config_from_dict, list_presets, load_config_file, load_preset, parse_set
from .run import RunResult, run

__all__ = ["RunConfig", "RunResult", "config_from_dict", "list_presets", "load_config_file", "load_preset",
           "parse_set", "run"]
