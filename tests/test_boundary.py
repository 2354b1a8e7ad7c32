"""Architecture rule: the Tinkex domain holds no transport, retry, polling, backoff or threading machinery.

It gets HTTP, retries, pools, sessions, future polling, SSE, telemetry, scheduling (timer heaps,
worker threads) and backoff delays from Pristine and its plugins (``pristine_runtime.scheduler``,
``pristine_runtime.backoff``). An AST scan of every module under ``tinkex_domain`` (the emulator, which is the
other side of the wire, and the tests aside) enforces it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tinkex_domain"
EXCLUDED_DIRS = {"emulator", "tests", "build"}

#: Modules the domain must not import (top-level name or dotted prefix).
FORBIDDEN_MODULES = (
    "requests",
    "urllib3",
    "http",
    "httpx",
    "aiohttp",
    "socket",
    "ssl",
    "urllib.request",
    "asyncio",
    "concurrent.futures",
    "sched",
    "multiprocessing",
    "selectors",
    "heapq",
    "queue",
    "_thread",
)
#: Attribute or function names whose use means waiting, polling or spawning threads.
FORBIDDEN_CALLS = {
    "sleep",
    "Thread",
    "Timer",
    "ThreadPoolExecutor",
    "ProcessPoolExecutor",
    "Event",
    "Condition",
    "wait_for",
    "urlopen",
    "create_connection",
    "heappush",
    "heappop",
    "heapify",
    "heapreplace",
    "ThreadPool",
    "start_new_thread",
}
#: Header names whose parsing belongs to ``pristine_runtime.backoff`` (a string equal to one is a lookup key).
FORBIDDEN_STRINGS = ("retry-after", "retry-after-ms")


def domain_modules() -> list[Path]:
    """Every Python file of the domain package outside the excluded folders."""
    return sorted(p for p in ROOT.rglob("*.py") if not EXCLUDED_DIRS.intersection(p.relative_to(ROOT).parts[:-1]))


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN_MODULES)


def _exits(body: list[ast.stmt]) -> bool:
    """True when a handler body leaves the loop (raise, return or break) on every path's end."""
    return bool(body) and isinstance(body[-1], (ast.Raise, ast.Return, ast.Break))


def _is_retry_loop(loop: ast.For | ast.While) -> bool:
    """A ``while`` loop, or a ``for`` over ``range(...)``, that swallows an exception and goes round."""
    counting = isinstance(loop, ast.While) or (
        isinstance(loop.iter, ast.Call) and isinstance(loop.iter.func, ast.Name) and loop.iter.func.id == "range"
    )
    if not counting:
        return False
    for node in ast.walk(loop):
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                has_continue = any(isinstance(n, ast.Continue) for n in ast.walk(handler))
                if has_continue or not _exits(handler.body):
                    return True
    return False


def _is_exponential(node: ast.BinOp) -> bool:
    """``<number> ** <something not constant>``: an exponential back-off (``base * 2 ** attempt``)."""
    if not isinstance(node.op, ast.Pow):
        return False
    base, exponent = node.left, node.right
    numeric = isinstance(base, ast.Constant) and isinstance(base.value, (int, float))
    return numeric and not isinstance(exponent, ast.Constant)


def violations(path: Path, root: Path = ROOT) -> list[str]:
    """Every boundary violation in one file, as ``file:line: message``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(root.parent)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: imports {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _forbidden(node.module):
                found.append(f"{where}:{node.lineno}: imports from {node.module}")
            found += [
                f"{where}:{node.lineno}: imports {node.module}.{a.name}"
                for a in node.names
                if _forbidden(f"{node.module}.{a.name}") or a.name in FORBIDDEN_CALLS
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in FORBIDDEN_CALLS:
                found.append(f"{where}:{node.lineno}: calls {name}()")
        elif isinstance(node, (ast.For, ast.While)) and _is_retry_loop(node):
            found.append(f"{where}:{node.lineno}: a retry loop (exception swallowed inside a loop)")
        elif isinstance(node, ast.BinOp) and _is_exponential(node):
            found.append(f"{where}:{node.lineno}: exponential backoff (use pristine_runtime.backoff)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.strip().lower() in FORBIDDEN_STRINGS:
                found.append(f"{where}:{node.lineno}: reads {node.value.strip()} (use pristine_runtime.backoff)")
    return found


def test_the_domain_package_is_scanned() -> None:
    names = {p.name for p in domain_modules()}
    assert {"training_client.py", "sampling_client.py", "service_client.py", "plugin.py"} <= names
    assert not any("emulator" in p.parts for p in domain_modules())


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_transport_retry_or_polling_code(path: Path) -> None:
    assert violations(path) == []


@pytest.mark.parametrize(
    "source",
    [
        "import requests",
        "from urllib3.util import Retry",
        "import http.client",
        "from socket import socket",
        "import time\ntime.sleep(1)",
        "import threading\nthreading.Thread(target=print).start()",
        "def f(g):\n    while True:\n        try:\n            return g()\n        except OSError:\n            pass",
        "def f(g):\n    for _ in range(3):\n        try:\n            return g()\n"
        "        except OSError:\n            continue",
        # back-off code
        "def delay(attempt):\n    return min(0.5 * 2 ** attempt, 30)",
        "def delay(n, cap):\n    return min(2.0**n, cap)",
        "def told(headers):\n    return float(headers.get('Retry-After', 0))",
        "HEADER = 'retry-after-ms'",
        # timer heaps
        "import heapq",
        "from heapq import heappush",
        "def push(heap, item):\n    heap.heappush(item)",
        # thread pools and work queues
        "from concurrent.futures import ThreadPoolExecutor",
        "from multiprocessing.pool import ThreadPool",
        "import queue\njobs = queue.Queue()",
        "import _thread\n_thread.start_new_thread(print, ())",
        "import threading\nthreading.Timer(1, print).start()",
    ],
)
def test_the_scanner_catches_violations(source: str, tmp_path: Path) -> None:
    root = tmp_path / "tinkex_domain"
    root.mkdir()
    probe = root / "probe.py"
    probe.write_text(source, encoding="utf-8")
    assert violations(probe, root), source


def test_the_scanner_allows_plain_loops_and_locks(tmp_path: Path) -> None:
    root = tmp_path / "tinkex_domain"
    root.mkdir()
    probe = root / "probe.py"
    probe.write_text(
        "import threading\nlock = threading.Lock()\n"
        "def pages(get):\n    while True:\n        page = get()\n        if not page:\n            return\n"
        "def first(items):\n    for item in items:\n        try:\n            return int(item)\n"
        "        except ValueError:\n            raise\n"
        "SQUARE = 3 ** 2\nGIGA = 10**9\n"
        'def hint(exc):\n    """The Retry-After hint, read by pristine_runtime.backoff."""\n'
        "def norm(x):\n    return x ** 2 + x ** 0.5\n",
        encoding="utf-8",
    )
    assert violations(probe, root) == []


#: Domain modules that may use stdlib ``logging`` directly, and why.
STDLIB_LOGGING_ALLOWED = {
    "cli/__init__.py": "the tinkex console command is an application: it configures logging for its process",
    "cli/options.py": "maps -v/--log-level to stdlib level numbers for the CLI",
    "regularizers/events.py": "logging_observer writes to the stdlib Logger the user passes in",
}


def stdlib_logging_uses(path: Path) -> list[int]:
    """Lines of ``path`` that import stdlib ``logging`` or call ``getLogger``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "logging" for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "logging":
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "getLogger":
            lines.append(node.lineno)
    return lines


def test_the_domain_logs_through_pristine_core_logs() -> None:
    """Library code of the domain logs with ``pristine_core.logs.get_logger`` (structlog-compatible)."""
    offenders = {}
    for path in domain_modules():
        relative = path.relative_to(ROOT).as_posix()
        if relative not in STDLIB_LOGGING_ALLOWED and (lines := stdlib_logging_uses(path)):
            offenders[relative] = lines
    assert offenders == {}
    assert stdlib_logging_uses(ROOT / "regularizers" / "events.py")  # the allow-list is not stale
