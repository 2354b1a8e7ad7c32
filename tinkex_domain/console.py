"""Links to the Tinker console for sessions and training runs (``TINKER_CONSOLE_URL`` overrides the base)."""

from __future__ import annotations

import os
from urllib.parse import quote

DEFAULT_CONSOLE_URL = "https://tinker.thinkingmachines.ai"
CONSOLE_ENV = "TINKER_CONSOLE_URL"


def console_base() -> str:
    """The console's base URL."""
    return (os.environ.get(CONSOLE_ENV) or DEFAULT_CONSOLE_URL).rstrip("/")


def session_console_url(session_id: str | None) -> str:
    """The console page of a session (the sessions list without one)."""
    base = console_base()
    return f"{base}/sessions/{quote(session_id, safe='')}" if session_id else f"{base}/sessions"


def training_run_console_url(training_run_id: str) -> str:
    """The console page of a training run."""
    return f"{console_base()}/training_runs/{quote(training_run_id, safe=':')}"
