"""energy_models: energy, cycles and storage of mixed-precision networks on precision-scalable
MAC architectures. Pure NumPy: it imports neither torch nor quanos_hw, and works on plain
:class:`LayerSpec` descriptions of any model.
"""

from .accelerator import Accelerator, list_accelerators, load_accelerator, parse_accelerator
from .accelerator_estimate import AcceleratorEstimate, estimate_accelerator
from .architectures import ARCHITECTURES, MacArchitecture, get_architecture, list_architectures
from .bits import MAX_BITS, MIN_BITS
from .errors import InputError
from .estimate import Estimate, estimate
from .layers import NETWORK_INPUT, LayerSpec, with_bits
from .memory import DATAFLOWS, DEFAULT_DATAFLOW, Dataflow, Transfer, get_dataflow
from .report import energy_report
from .technology import MemoryLevel, Technology, list_technologies, load_technology, parse_technology

__all__ = [
    "Accelerator",
    "AcceleratorEstimate",
    "ARCHITECTURES",
    "DATAFLOWS",
    "DEFAULT_DATAFLOW",
    "NETWORK_INPUT",
    "Dataflow",
    "Estimate",
    "InputError",
    "LayerSpec",
    "MAX_BITS",
    "MIN_BITS",
    "MacArchitecture",
    "MemoryLevel",
    "Technology",
    "Transfer",
    "energy_report",
    "estimate",
    "estimate_accelerator",
    "get_architecture",
    "get_dataflow",
    "list_accelerators",
    "list_architectures",
    "list_technologies",
    "load_accelerator",
    "load_technology",
    "parse_accelerator",
    "parse_technology",
    "with_bits",
]
