"""Pristine plugin ``session``: a server-side session created at client start.

The manifest's ``features.session`` block names the endpoint that creates the session and the one
that keeps it alive. The plugin creates the session in ``pristine_client_started``, heartbeats it
on ONE process-wide background thread (:func:`default_scheduler`), injects the session id into
every call whose request type has the ``inject_field`` property, keeps per-session counters
(:meth:`SessionHandle.next_counter`) and stops the heartbeat when the client closes. Use
:func:`session_of` to reach a client's session. See this plugin's README for the settings.
"""

from __future__ import annotations

from pristine_plugins.session.handle import SessionHandle
from pristine_plugins.session.heartbeat import THREAD_NAME, HeartbeatJob, HeartbeatScheduler, default_scheduler
from pristine_plugins.session.plugin import STATE_KEY, NoSessionError, SessionPlugin, session_of, type_has_field
from pristine_plugins.session.settings import SessionConfig, SessionSettings

__all__ = [
    "STATE_KEY",
    "THREAD_NAME",
    "HeartbeatJob",
    "HeartbeatScheduler",
    "NoSessionError",
    "SessionHandle",
    "SessionPlugin",
    "SessionSettings",
    "SessionConfig",
    "default_scheduler",
    "session_of",
    "type_has_field",
]
