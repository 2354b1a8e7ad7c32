"""Start-up cost, as whole processes: imports and quick commands against ``import requests``.

Each command runs ``--runs`` times, interleaved so that machine noise hits all alike; the report
is the median wall time and its ratio to ``python -c "import requests"`` measured in the same run.
Targets (issue 9): ``import tinkex_domain`` <= 1.5x; ``tinkex version``, ``tinkex --help`` and
``pristine plugins`` <= 2x.

Bytecode: ``requests`` comes from site-packages, compiled to ``.pyc`` when pip installed it; the
project is installed editable, so its modules would be compiled from source on every run when
``PYTHONDONTWRITEBYTECODE`` is set (as it is on the CI and agent machines). The warm-up run
therefore writes the project's bytecode (``__pycache__``, ignored by git), so that both sides
are measured as installed. Each run is timed twice: wall time, and the CPU time (user + system)
the process used, which a loaded machine disturbs far less (waiting for a core adds wall time to
every process alike, which pulls the wall ratios towards 1). ``--no-bytecode`` points
``PYTHONPYCACHEPREFIX`` at an empty folder instead, so that every module (requests' too) is
compiled from source on every run.

    python bench/startup.py [--runs 9] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
COMMANDS = {
    "python -c pass": [PY, "-c", "pass"],
    "import requests": [PY, "-c", "import requests"],
    "import pristine_core": [PY, "-c", "import pristine_core"],
    "import tinkex_domain": [PY, "-c", "import tinkex_domain"],
    "tinkex version": [PY, "-m", "tinkex_domain.cli", "version"],
    "tinkex --help": [PY, "-m", "tinkex_domain.cli", "--help"],
    "pristine plugins": [PY, "-m", "pristine_cli", "plugins"],
}
TARGETS = {"import tinkex_domain": 1.5, "tinkex version": 2.0, "tinkex --help": 2.0, "pristine plugins": 2.0}


def _run(argv: list[str], write_bytecode: bool = False, pycache: str | None = None) -> float:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = pycache
    start, used = time.perf_counter(), _children_cpu()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    _CPU.append(_children_cpu() - used)
    return time.perf_counter() - start


#: CPU seconds (user + system) of each run, in the order of the runs.
_CPU: list[float] = []


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--no-bytecode", action="store_true", help="do not write the project's .pyc files first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty:
        pycache = empty if args.no_bytecode else None
        for argv in COMMANDS.values():
            _run(argv, write_bytecode=not args.no_bytecode, pycache=pycache)  # warm the file cache
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.runs):
            for name, argv in COMMANDS.items():
                times[name].append(_run(argv, pycache=pycache))
                cpu[name].append(_CPU[-1])
    worst = {"wall": 0.0, "cpu": 0.0}
    for clock, samples_of in (("wall", times), ("cpu", cpu)):
        base = statistics.median(samples_of["import requests"])
        print(f"-- {clock} time, median of {args.runs} runs")
        for name, samples in samples_of.items():
            median = statistics.median(samples)
            ratio = median / base
            target = TARGETS.get(name)
            verdict = "" if target is None else f"  (target <= {target}x: {'ok' if ratio <= target else 'MISSED'})"
            print(f"{name:<22} {median * 1000:8.1f} ms  {ratio:5.2f}x import requests{verdict}")
            if target is not None:
                worst[clock] = max(worst[clock], ratio / target)
    print(f"startup_worst_ratio_to_target: {worst['wall']:.2f}")
    print(f"startup_worst_ratio_to_target_cpu: {worst['cpu']:.2f}")


if __name__ == "__main__":
    main()
