"""The recovery policy: whether and how a corrupted training run is restored (opt-in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from pristine_core.logs import get_logger
from pristine_runtime.backoff import exponential

log = get_logger(__name__)

STRATEGIES = ("latest", "best", "specific")

#: ``on_recovery(old_training_client, new_training_client, checkpoint)``.
OnRecovery = Callable[[Any, Any, Any], None]
#: ``on_failure(run_id, reason)``.
OnFailure = Callable[[str, BaseException], None]


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "enabled": lambda v: isinstance(v, bool),
    "max_attempts": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    "backoff_s": _positive,
    "max_backoff_s": _positive,
    "poll_interval_s": _positive,
    "restore_optimizer": lambda v: isinstance(v, bool),
    "on_recovery": lambda v: v is None or callable(v),
    "on_failure": lambda v: v is None or callable(v),
}
_MS_KEYS = {"backoff_ms": "backoff_s", "max_backoff_ms": "max_backoff_s", "poll_interval_ms": "poll_interval_s"}


@attrs.frozen(kw_only=True)
class RecoveryPolicy:
    """What to do when a monitored run turns out corrupted.

    Defaults: disabled; 3 attempts; backoff ``min(backoff_s·2^(attempt-1), max_backoff_s)``
    from 5 s to 60 s; poll every 30 s; restore from the ``latest`` checkpoint (``best`` is
    reserved and unsupported; ``specific`` uses ``checkpoint_path``) with the optimizer state.
    """

    enabled: bool = False
    max_attempts: int = 3
    backoff_s: float = 5.0
    max_backoff_s: float = 60.0
    poll_interval_s: float = 30.0
    checkpoint_strategy: str = "latest"
    checkpoint_path: str | None = None
    restore_optimizer: bool = True
    on_recovery: OnRecovery | None = attrs.field(default=None, eq=False)
    on_failure: OnFailure | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.checkpoint_strategy not in STRATEGIES:
            raise ValueError(f"checkpoint_strategy must be one of {', '.join(STRATEGIES)}")
        if self.checkpoint_strategy == "specific" and not str(self.checkpoint_path or "").startswith("tinker://"):
            raise ValueError("the 'specific' strategy needs checkpoint_path='tinker://...'")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retrying after failed attempt number ``attempt`` (1-based)."""
        return exponential(attempt - 1, self.backoff_s, self.max_backoff_s)

    @classmethod
    def new(cls, value: RecoveryPolicy | Mapping[str, Any] | None = None, **overrides: Any) -> RecoveryPolicy:
        """A policy from a policy, a mapping (string keys fine) and/or keywords.

        Unknown keys are ignored and invalid values replaced by the defaults (both logged at
        debug level). ``*_ms`` keys are read as milliseconds. ``checkpoint_strategy`` may be
        ``"latest"``, ``"best"``, ``("specific", path)`` or a ``tinker://`` path.
        """
        if isinstance(value, RecoveryPolicy):
            if not overrides:
                return value
            value = {f.name: getattr(value, f.name) for f in attrs.fields(cls)}
        fields: dict[str, Any] = {**dict(value or {}), **overrides}
        clean: dict[str, Any] = {}
        for raw_key, item in fields.items():
            key = str(raw_key)
            if key in _MS_KEYS:
                key, item = _MS_KEYS[key], item / 1000.0 if _positive(item) else item
            if key in ("checkpoint_strategy", "checkpoint_path"):
                continue
            check = _CHECKS.get(key)
            if check is None:
                log.debug("tinkex.recovery.policy_unknown_key", key=raw_key)
            elif check(item):
                clean[key] = float(item) if key.endswith("_s") else item
            else:
                log.debug("tinkex.recovery.policy_invalid_value", key=key, value=item, using="default")
        clean.update(_strategy(fields.get("checkpoint_strategy", "latest"), fields.get("checkpoint_path")))
        return cls(**clean)


def _strategy(strategy: Any, path: Any) -> dict[str, Any]:
    if isinstance(strategy, (tuple, list)) and len(strategy) == 2 and strategy[0] == "specific":
        strategy, path = "specific", strategy[1]
    elif isinstance(strategy, str) and strategy.startswith("tinker://"):
        strategy, path = "specific", strategy
    if strategy == "specific" and isinstance(path, str) and path.startswith("tinker://"):
        return {"checkpoint_strategy": "specific", "checkpoint_path": path}
    if strategy in ("latest", "best"):
        return {"checkpoint_strategy": strategy}
    log.debug("tinkex.recovery.policy_invalid_value", key="checkpoint_strategy", value=strategy, using="latest")
    return {"checkpoint_strategy": "latest"}
