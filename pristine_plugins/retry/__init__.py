"""Placeholder while the retry plugin is written."""
from pristine_core.plugins import RETRY


class RetryPlugin:
    """Retries."""

    name = "retry"
    priority = RETRY
