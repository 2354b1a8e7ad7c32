"""The ``features.session`` manifest block, its checks and the per-client overrides.

Block keys (``create_endpoint`` is required, the rest optional)::

    create_endpoint      str    endpoint called once at client start to create the session
    heartbeat_endpoint   str    endpoint called every interval_s (absent/null: no heartbeat)
    interval_s           num    seconds between heartbeats (10)
    heartbeat_timeout_s  num    HTTP timeout of one heartbeat, sent without retries (10)
    warn_after_s         num    warn once when no heartbeat succeeded for this long (120)
    id_field             str    field of the create response holding the session id ("session_id")
    inject_field         str    body field filled with the id in later calls (id_field; null: none)
    create_body          obj    static fields of the create request body ({})
    body_from_config     obj    {body_field: client.config key} copied into the create body ({})
    counters             list   names of per-session counters starting at 0 ([])
    log_fields           obj    {response_field: "info"|"warning"|"error"} logged after create ({})
    close_timeout_s      num    how long closing waits for a heartbeat in flight (2)
    recover              obj    re-create an expired session once (false/absent: off; see recovery.py)

A client overrides any of these with ``config={"session": {...}}``; ``config={"session": False}``
switches the feature off. Override-only keys: ``session_id`` (join an existing session instead of
creating one; it still heartbeats) and ``scheduler`` (a private
:class:`~pristine_plugins.session.heartbeat.HeartbeatScheduler`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.errors import ValidationError
from pristine_plugins.session.recovery import Recovery, recovery_of, recovery_problems

LOG_LEVELS = ("debug", "info", "warning", "error")
_NUMBER_KEYS = {"interval_s": False, "heartbeat_timeout_s": False, "warn_after_s": True, "close_timeout_s": True}
_STR_KEYS = ("create_endpoint", "heartbeat_endpoint", "id_field", "inject_field")
_OVERRIDE_ONLY = ("session_id", "scheduler")


@attrs.frozen
class SessionSettings:
    """Validated session settings: the manifest block merged with the client's overrides."""

    create_endpoint: str
    heartbeat_endpoint: str | None = None
    interval_s: float = 10.0
    heartbeat_timeout_s: float = 10.0
    warn_after_s: float = 120.0
    id_field: str = "session_id"
    inject_field: str | None = "session_id"
    create_body: Mapping[str, Any] = attrs.Factory(dict)
    body_from_config: Mapping[str, str] = attrs.Factory(dict)
    counters: tuple[str, ...] = ()
    log_fields: Mapping[str, str] = attrs.Factory(dict)
    close_timeout_s: float = 2.0
    #: ``features.session.recover`` (see :mod:`pristine_plugins.session.recovery`); None = off.
    recover: Recovery | None = attrs.field(default=None, converter=recovery_of)

    @classmethod
    def build(cls, block: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> SessionSettings:
        """Merge ``block`` with ``overrides`` (override-only keys are ignored here) and validate.

        Raises :class:`~pristine_core.errors.ValidationError` naming every bad key.
        """
        merged = {**block, **{k: v for k, v in (overrides or {}).items() if k not in _OVERRIDE_ONLY}}
        problems = block_problems(merged, "session")
        if problems:
            raise ValidationError(problems, "session settings")
        values = {k: v for k, v in merged.items() if k in _KNOWN}
        if "inject_field" not in values:
            values["inject_field"] = values.get("id_field", "session_id")
        if "counters" in values:
            values["counters"] = tuple(values["counters"])
        return cls(**values)


_KNOWN = frozenset(a.name for a in attrs.fields(SessionSettings))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _str_map_problems(
    block: Mapping[str, Any], key: str, at: str, allowed: tuple[str, ...] | None
) -> list[tuple[str, str]]:
    value = block.get(key)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [(f"{at}.{key}", "must be an object")]
    problems: list[tuple[str, str]] = []
    for name, item in value.items():
        if not isinstance(item, str) or not item:
            problems.append((f"{at}.{key}.{name}", "must be a non-empty string"))
        elif allowed is not None and item not in allowed:
            problems.append((f"{at}.{key}.{name}", f"must be one of {', '.join(allowed)}"))
    return problems


def block_problems(block: Any, at: str = "features.session") -> list[tuple[str, str]]:
    """Every problem of a ``features.session`` block as ``(json_path, message)`` pairs."""
    if not isinstance(block, Mapping):
        return [(at, "must be an object")]
    problems: list[tuple[str, str]] = []
    for key in sorted(set(block) - _KNOWN - set(_OVERRIDE_ONLY)):
        problems.append((f"{at}.{key}", f"unknown key (known: {', '.join(sorted(_KNOWN))})"))
    if not block.get("create_endpoint"):
        problems.append((f"{at}.create_endpoint", "required: the endpoint that creates a session"))
    for key in _STR_KEYS:
        value = block.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            problems.append((f"{at}.{key}", "must be a non-empty string or null"))
    for key, zero_ok in _NUMBER_KEYS.items():
        if key not in block:
            continue
        value = block[key]
        if not _is_number(value) or value < 0 or (value == 0 and not zero_ok):
            problems.append((f"{at}.{key}", "must be a number >= 0" if zero_ok else "must be a number > 0"))
    if block.get("create_body") is not None and not isinstance(block["create_body"], Mapping):
        problems.append((f"{at}.create_body", "must be an object"))
    problems += _str_map_problems(block, "body_from_config", at, None)
    problems += _str_map_problems(block, "log_fields", at, LOG_LEVELS)
    problems += recovery_problems(block.get("recover"), f"{at}.recover")
    counters = block.get("counters")
    if counters is not None:
        if not isinstance(counters, (list, tuple)) or not all(isinstance(c, str) and c for c in counters):
            problems.append((f"{at}.counters", "must be a list of names"))
        elif len(set(counters)) != len(counters):
            problems.append((f"{at}.counters", "names must be unique"))
    return problems


def overrides_of(value: Any) -> Mapping[str, Any] | None:
    """The per-client ``config["session"]`` value as overrides; None means "feature off".

    ``True``/absent give no overrides, ``False`` switches the feature off, a mapping overrides.
    """
    if value is None or value is True:
        return {}
    if value is False:
        return None
    if isinstance(value, Mapping):
        return value
    raise ValidationError([("config.session", "expected true, false or an object of overrides")])
