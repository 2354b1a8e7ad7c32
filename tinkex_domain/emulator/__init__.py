"""Local Tinker-compatible service emulator (HTTP server + tiny numpy LoRA model).

Public: :class:`Emulator`, :class:`EmulatorConfig`, :class:`FaultConfig`, :class:`FaultRule`,
:class:`ManualClock`. See docs/emulator.md for endpoints, wire formats and the fault spec.
"""

from .clock import ManualClock
from .config import FAULTS_ENV, EmulatorConfig
from .emulator import DEMO_API_KEY, Emulator
from .faults import FaultConfig, FaultRule, FaultSpecError
from .stats import EndpointStats

__all__ = [
    "DEMO_API_KEY", "FAULTS_ENV", "Emulator", "EmulatorConfig", "EndpointStats", "FaultConfig",
    "FaultRule", "FaultSpecError", "ManualClock",
]
