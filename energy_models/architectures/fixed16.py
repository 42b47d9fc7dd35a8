"""Fixed-precision 16-bit MAC: the non-scalable reference unit.

Model (Camus et al., IEEE JETCAS 2019, baseline design): every MAC is a full 16x16-bit
multiply plus an accumulator add, whatever the operands' bit-widths, one MAC per cycle:

    E_mac = k * 16 * 16 + E_add(accumulator_bits)
"""

from __future__ import annotations

import numpy as np

from .base import MacArchitecture


class Fixed16(MacArchitecture):
    name = "fixed16"
    PARAMS = {"datapath_bits": int, "accumulator_bits": int, "units": int,
              "area_um2": float, "area_node_nm": float}

    def energy_per_mac_pj(self, weight_bits, act_bits):
        shape = np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape
        return np.full(shape, self.full_precision_mac_pj(self.params["datapath_bits"]))

    def macs_per_cycle(self, weight_bits, act_bits):
        return np.ones(np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape)
