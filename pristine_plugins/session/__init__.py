"""Placeholder while the session plugin is written."""

from pristine_core.plugins import SESSION


class SessionPlugin:
    """sessions created at client start, heartbeats and per-session counters."""

    name = "session"
    priority = SESSION
