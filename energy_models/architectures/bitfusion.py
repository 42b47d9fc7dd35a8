"""BitFusion (2D): an 8x8 fusion unit of 2-bit BitBricks.

Model (Sharma et al., "Bit Fusion", ISCA 2018; Camus et al., IEEE JETCAS 2019): each operand
runs in the smallest mode of (2, 4, 8, 16) that holds it; for modes <= 8 the unit computes
(8 / m_w) * (8 / m_a) products per cycle (2x2: 16, 4x4: 4, 8x8: 1); 16-bit operands are fused
over time (16x8: 2 cycles, 16x16: 4 cycles). One cycle of the unit costs an 8x8 multiply and an
accumulator add plus the shift-add tree overhead (``overhead_fraction``):

    E_mac = (k * 8 * 8 + E_add(accumulator_bits)) * (1 + overhead_fraction) / macs_per_cycle
"""

from __future__ import annotations

from .base import MacArchitecture, smallest_mode


class BitFusion(MacArchitecture):
    name = "bitfusion"
    PARAMS = {"fusion_bits": int, "modes": list, "accumulator_bits": int,
              "overhead_fraction": float, "units": int,
              "area_um2": float, "area_node_nm": float}

    def macs_per_cycle(self, weight_bits, act_bits):
        p = self.params
        mw = smallest_mode(weight_bits, p["modes"]).astype(float)
        ma = smallest_mode(act_bits, p["modes"]).astype(float)
        return (p["fusion_bits"] / mw) * (p["fusion_bits"] / ma)

    def energy_per_mac_pj(self, weight_bits, act_bits):
        p = self.params
        cycle = self.full_precision_mac_pj(p["fusion_bits"]) * (1.0 + p["overhead_fraction"])
        return cycle / self.macs_per_cycle(weight_bits, act_bits)
