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
    body_from_config     obj    {body_field: client.meta.config key} copied into the create body ({})
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
from typing import Any, Literal

import attrs

from pristine_core.contract import PluginSettings, at_least, non_empty, positive, settings, unique
from pristine_core.manifest.checks import reference_problems
from pristine_core.manifest.models import Manifest
from pristine_plugins.session.recovery import Recovery

LogLevel = Literal["debug", "info", "warning", "error"]


@settings
class SessionSettings:
    """The ``features.session`` block (merged with the client's overrides at configure time)."""

    create_endpoint: str = attrs.field(validator=non_empty)
    heartbeat_endpoint: str | None = attrs.field(default=None, validator=non_empty)
    interval_s: float = attrs.field(default=10.0, validator=positive)
    heartbeat_timeout_s: float = attrs.field(default=10.0, validator=positive)
    warn_after_s: float = attrs.field(default=120.0, validator=at_least(0))
    id_field: str = attrs.field(default="session_id", validator=non_empty)
    inject_field: str | None = attrs.field(
        default=attrs.Factory(lambda self: self.id_field, takes_self=True), validator=non_empty
    )
    create_body: Mapping[str, Any] = attrs.Factory(dict)
    body_from_config: Mapping[str, str] = attrs.Factory(dict)
    counters: tuple[str, ...] = attrs.field(default=(), validator=unique)
    log_fields: Mapping[str, LogLevel] = attrs.Factory(dict)
    close_timeout_s: float = attrs.field(default=2.0, validator=at_least(0))
    #: ``features.session.recover`` (see :mod:`pristine_plugins.session.recovery`); false/None = off.
    recover: Recovery | Literal[False] | None = None

    @property
    def recovery(self) -> Recovery | None:
        """The recovery settings, or None when recovery is off."""
        return self.recover if isinstance(self.recover, Recovery) else None


@settings
class SessionJoin:
    """The override-only keys of ``config["session"]``: join ``session_id`` instead of creating
    a session; heartbeat on a private ``scheduler``."""

    session_id: str | None = attrs.field(default=None, validator=non_empty)
    scheduler: Any = None


@settings
class SessionConfig:
    """``Client(config=...)`` key ``session``: ``False`` switches the feature off, ``True`` (or
    absent) keeps the manifest's settings, an object overrides them (plus the keys of
    :class:`SessionJoin`)."""

    session: bool | Mapping[str, Any] | None = None


SETTINGS = PluginSettings(sections={"features.session": SessionSettings}, config=SessionConfig)
JOIN_KEYS = frozenset(a.name for a in attrs.fields(SessionJoin))


def manifest_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """The endpoints the block names exist."""
    block: SessionSettings | None = manifest.section("features.session")
    if block is None:
        return []
    at = "features.session"
    return reference_problems(manifest, f"{at}.create_endpoint", block.create_endpoint, "endpoint") + (
        reference_problems(manifest, f"{at}.heartbeat_endpoint", block.heartbeat_endpoint, "endpoint")
    )
