"""The bit-width range of the whole project, in one place.

Every bit-width (a layer's weights, its activations, the network input) is an integer in
[MIN_BITS, MAX_BITS]. energy_models checks its bit arrays against this range, and quanos_hw
imports the same two constants for its models, bit configurations and run configuration, so the
estimator and the quantized models can never disagree on what a valid bit-width is.
"""

#: Smallest bit-width a layer may take (binary layers are out of scope).
MIN_BITS = 2
#: Largest bit-width a layer may take (the width of the reference 16-bit datapath).
MAX_BITS = 16
