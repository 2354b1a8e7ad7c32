"""Who may construct a :class:`~pristine_runtime.scheduler.Scheduler`: the core, and nobody else by accident.

A plugin that needs its own workers takes a lane of the client's scheduler
(``client.meta.scheduler.lane(...)``) instead of owning threads and a timer heap. The one
exception is the session plugin's heartbeat thread, shared by every client of the process on
purpose (a client's close must not stop another client's heartbeats).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Modules outside ``pristine_core`` (and ``pristine_runtime``) allowed to build a scheduler, each with its reason.
ALLOWED = {
    "pristine_plugins/session/heartbeat.py": "one heartbeat thread per process, shared by every client",
}


def scheduler_constructions(path: Path) -> list[int]:
    """Line numbers of ``Scheduler(...)`` calls in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "Scheduler":
                lines.append(node.lineno)
    return lines


def test_no_plugin_or_domain_module_builds_a_scheduler_of_its_own() -> None:
    found = []
    for top in ("pristine_plugins", "tinkex_domain"):
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            parts = set(path.relative_to(ROOT).parts)
            if parts & {"tests", "emulator", "build"} or relative in ALLOWED:
                continue
            found += [f"{relative}:{line}" for line in scheduler_constructions(path)]
    assert found == [], f"use a lane of client.meta.scheduler instead: {found}"


def test_the_scan_sees_a_construction() -> None:
    sample = ROOT / "pristine_plugins/session/heartbeat.py"
    assert scheduler_constructions(sample), "the allowed module builds one: the scan must see it"
