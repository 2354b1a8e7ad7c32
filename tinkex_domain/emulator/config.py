"""Emulator configuration (one frozen value object) and the environment variable it reads."""

from __future__ import annotations

import os
import time

import attrs

from .client_flags import ClientFlags
from .clock import Clock, SleepFn
from .faults import FaultConfig

FAULTS_ENV = "TINKEX_EMULATOR_FAULTS"
QUEUE_STATES = ("active", "paused_capacity", "paused_rate_limit")
PENDING_REPLIES = ("try_again", "408")
ARCHIVE_MODES = ("redirect", "json")
DEFAULT_MODELS = ("tinkex/tiny-byte-lm", "Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B")


def _in(choices: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return attrs.validators.in_(choices)


def _non_negative(_inst: object, attribute: attrs.Attribute, value: float | None) -> None:  # type: ignore[type-arg]
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen
class EmulatorConfig:
    """Everything the emulator can be told at construction.

    Times are seconds. ``faults=None`` means "read ``TINKEX_EMULATOR_FAULTS`` at start, else
    no faults"; pass ``FaultConfig()`` to force none. ``clock`` drives session expiry, TTLs,
    future expiry, queue delays and sequence-gap timeouts; ``sleep`` is used for injected
    latency. Long-polls wait in real time (``long_poll_s``). ``client_flags`` is what
    ``client/config`` tells the official tinker SDK (and Tinkex).
    """

    host: str = "127.0.0.1"
    port: int = 0
    state_dir: str | None = None
    faults: FaultConfig | None = None
    long_poll_s: float = attrs.field(default=2.0, validator=_non_negative)
    pending_reply: str = attrs.field(default="try_again", validator=_in(PENDING_REPLIES))
    queue_state: str = attrs.field(default="active", validator=_in(QUEUE_STATES))
    queue_state_reason: str | None = None
    queue_delay_s: float = attrs.field(default=0.0, validator=_non_negative)
    metadata_threshold_bytes: int = attrs.field(default=1 << 20, validator=_non_negative)
    future_ttl_s: float = attrs.field(default=3600.0, validator=_non_negative)
    session_timeout_s: float | None = attrs.field(default=300.0, validator=_non_negative)
    sequence_gap_timeout_s: float = attrs.field(default=30.0, validator=_non_negative)
    archive_mode: str = attrs.field(default="redirect", validator=_in(ARCHIVE_MODES))
    archive_url_ttl_s: float = attrs.field(default=900.0, validator=_non_negative)
    workers: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    max_tokens_limit: int = attrs.field(default=4096, validator=attrs.validators.ge(1))
    supported_models: tuple[str, ...] = attrs.field(default=DEFAULT_MODELS, converter=tuple)
    client_flags: ClientFlags = attrs.Factory(ClientFlags)
    clock: Clock = time.time
    sleep: SleepFn = time.sleep

    def resolved_faults(self) -> FaultConfig:
        """The fault config to start with: explicit config, else the env var, else none."""
        if self.faults is not None:
            return self.faults
        spec = os.environ.get(FAULTS_ENV, "")
        return FaultConfig.parse(spec) if spec.strip() else FaultConfig()
