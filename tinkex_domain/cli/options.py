"""Parsing helpers for CLI options: durations with explicit units, log levels."""

from __future__ import annotations

import argparse
import logging
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$", re.IGNORECASE)
_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0}
LOG_LEVELS = ("debug", "info", "warning", "error")


def duration(text: str) -> float:
    """Seconds from ``30s``, ``30000ms``, ``1.5m`` or a bare number, which means **seconds**.

    (The Elixir tinkex took milliseconds; write ``ms`` explicitly to pass those.) Zero and
    negative values are rejected.
    """
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30s, 30000ms or 1.5m")
    seconds = float(match.group(1)) * _FACTORS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be positive")
    return seconds


def log_level(verbose: int, explicit: str | None) -> int:
    """The level for ``-v`` counts (info, then debug) unless ``--log-level`` names one."""
    if explicit:
        return int(getattr(logging, explicit.upper()))
    if verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return logging.INFO
    return logging.WARNING


#: One-line help of each top-level command: shown by ``tinkex --help`` (which builds only the names)
#: and by each command's own parser.
COMMAND_HELP = {
    "demo": "train a tiny model on an embedded emulator",
    "emulator": "run a local Tinker emulator",
    "checkpoint": "manage checkpoints",
    "run": "inspect training runs",
    "sample": "sample from a model",
    "version": "show the version",
}
