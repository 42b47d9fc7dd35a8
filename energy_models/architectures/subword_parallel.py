"""Subword-parallel MAC (DVAFS-style): the 16-bit datapath splits into 16/m lanes.

Model (Moons et al., DVAFS, DATE 2017 and Envision, ISSCC 2017; Camus et al., IEEE JETCAS
2019): supported modes m (16, 8, 4, 2); a layer runs in the smallest mode m >= max(w, a), which
gives 16/m MACs per cycle. The unit spends one full-width cycle whatever the mode, plus the
scalability overhead (``overhead_fraction``):

    E_mac = E_mac16 * (1 + overhead_fraction) / (16 / m)
"""

from __future__ import annotations

import numpy as np

from .base import MacArchitecture, smallest_mode


class SubwordParallel(MacArchitecture):
    name = "subword_parallel"
    PARAMS = {"datapath_bits": int, "modes": list, "accumulator_bits": int, "overhead_fraction": float,
              "units": int, "area_um2": float, "area_node_nm": float}

    def _mode(self, weight_bits, act_bits):
        return smallest_mode(np.maximum(weight_bits, act_bits), self.params["modes"])

    def macs_per_cycle(self, weight_bits, act_bits):
        return self.params["datapath_bits"] / self._mode(weight_bits, act_bits).astype(float)

    def energy_per_mac_pj(self, weight_bits, act_bits):
        p = self.params
        cycle = self.full_precision_mac_pj(p["datapath_bits"]) * (1.0 + p["overhead_fraction"])
        return cycle / self.macs_per_cycle(weight_bits, act_bits)
