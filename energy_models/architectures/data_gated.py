"""Data-gated 16-bit MAC: unused operand bits are gated, one MAC per cycle.

Model (Camus et al., IEEE JETCAS 2019, data-gated designs; Moons et al., DVAS): the multiplier
energy scales with the active partial products, about ``w * a / 16^2`` of the full multiplier,
while the accumulator and a fixed overhead (registers, clock, gating logic; ``overhead_fraction``
of the 16-bit MAC energy) do not scale:

    E_mac = k * 16 * 16 * (w * a / 16^2) + E_add(accumulator_bits) + overhead_fraction * E_mac16
"""

from __future__ import annotations

import numpy as np

from .base import MacArchitecture


class DataGated(MacArchitecture):
    name = "data_gated"
    PARAMS = {"datapath_bits": int, "accumulator_bits": int, "overhead_fraction": float, "units": int,
              "area_um2": float, "area_node_nm": float}

    def energy_per_mac_pj(self, weight_bits, act_bits):
        p, t = self.params, self.technology
        w = np.minimum(np.asarray(weight_bits, float), p["datapath_bits"])
        a = np.minimum(np.asarray(act_bits, float), p["datapath_bits"])
        fixed = t.add_energy_pj(p["accumulator_bits"]) + p["overhead_fraction"] * self.full_precision_mac_pj(
            p["datapath_bits"]
        )
        return t.mult_energy_pj(w, a) + fixed

    def macs_per_cycle(self, weight_bits, act_bits):
        return np.ones(np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape)
