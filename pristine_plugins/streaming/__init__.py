"""Placeholder while the streaming plugin is written."""

from pristine_core.plugins import STREAMING


class StreamingPlugin:
    """Server-Sent Events streaming responses."""

    name = "streaming"
    priority = STREAMING
