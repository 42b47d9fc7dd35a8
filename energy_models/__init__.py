"""energy_models: energy, cycles and storage of mixed-precision networks on precision-scalable
MAC architectures. Pure NumPy: it imports neither torch nor quanos_hw, and works on plain
:class:`LayerSpec` descriptions of any model.
"""

from .architectures import ARCHITECTURES, MacArchitecture, get_architecture, list_architectures
from .bits import MAX_BITS, MIN_BITS
from .errors import InputError
from .estimate import Estimate, estimate
from .layers import NETWORK_INPUT, LayerSpec, with_bits
from .memory import DATAFLOWS, DEFAULT_DATAFLOW, Dataflow, Transfer, get_dataflow
from .report import energy_report
from .technology import MemoryLevel, Technology, list_technologies, load_technology, parse_technology

__all__ = [
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
    "get_architecture",
    "get_dataflow",
    "list_architectures",
    "list_technologies",
    "load_technology",
    "parse_technology",
    "with_bits",
]
