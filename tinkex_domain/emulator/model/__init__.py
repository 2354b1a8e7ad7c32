"""The emulator's tiny byte-level language model: frozen numpy transformer + trainable LoRA.

The server uses exactly the names below (see docs/emulator-model.md for the architecture, the
loss formulas, the optimizer and the sampling rules).
"""

from .losses import LOSS_CONFIG_KEYS, LOSS_FUNCTIONS, LOSS_INPUT_KEYS
from .tiny_lm import TinyLM
from .types import (
    VOCAB_SIZE,
    DatumArrays,
    Dims,
    ForwardResult,
    LoraSpec,
    SampledSequence,
    UserInputError,
)
from .weights import ARCHITECTURE

__all__ = [
    "ARCHITECTURE", "LOSS_CONFIG_KEYS", "LOSS_FUNCTIONS", "LOSS_INPUT_KEYS", "VOCAB_SIZE",
    "DatumArrays", "Dims", "ForwardResult", "LoraSpec", "SampledSequence", "TinyLM",
    "UserInputError",
]
