"""Bit-serial MAC (Stripes): one operand is processed one bit per cycle.

Model (Judd et al., "Stripes: Bit-Serial Deep Neural Network Computing", MICRO 2016): the
serial operand (``serial_operand``: "act" as in Stripes, or "weight") takes b cycles; each cycle
ANDs one of its bits with the bit-parallel 16-bit operand and shift-adds into the accumulator,
costing 1/16 of a 16-bit MAC plus overhead. Energy per MAC is proportional to the serial bits:

    E_mac = b_serial * E_mac16 / 16 * (1 + overhead_fraction),   macs_per_cycle = 1 / b_serial
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .base import MacArchitecture


class BitSerial(MacArchitecture):
    name = "bit_serial"
    PARAMS = {"parallel_bits": int, "serial_operand": str, "accumulator_bits": int,
              "overhead_fraction": float, "units": int,
              "area_um2": float, "area_node_nm": float}

    @classmethod
    def validate_params(cls, params):
        out = super().validate_params(params)
        if out["serial_operand"] not in ("act", "weight"):
            raise InputError("architecture 'bit_serial': serial_operand must be 'act' or 'weight'")
        return out

    def _serial_bits(self, weight_bits, act_bits):
        serial = act_bits if self.params["serial_operand"] == "act" else weight_bits
        shape = np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape
        return np.broadcast_to(np.asarray(serial, float), shape)

    def macs_per_cycle(self, weight_bits, act_bits):
        return 1.0 / self._serial_bits(weight_bits, act_bits)

    def energy_per_mac_pj(self, weight_bits, act_bits):
        p = self.params
        per_bit = self.full_precision_mac_pj(p["parallel_bits"]) / p["parallel_bits"]
        return self._serial_bits(weight_bits, act_bits) * per_bit * (1.0 + p["overhead_fraction"])
