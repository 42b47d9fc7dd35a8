"""Bit allocation policies: sensitivity scores (and a budget) -> a bit configuration."""

from .quanos_rule import bits_from_ans, quanos_bits

__all__ = ["bits_from_ans", "quanos_bits"]
