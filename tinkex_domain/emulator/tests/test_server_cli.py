"""The command line: parser, config mapping, mounting under another CLI, a real serve run."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import requests

from tinkex_domain.emulator import FAULTS_ENV, FaultConfig, FaultRule
from tinkex_domain.emulator.cli import add_subcommands, build_parser, config_from_args, main, serve

REPO = Path(__file__).resolve().parents[3]


def test_serve_flags_map_to_config(tmp_path: Path) -> None:
    args = build_parser().parse_args([
        "serve", "--port", "0", "--state-dir", str(tmp_path), "--faults", "healthz:reset=0.5",
        "--long-poll", "0.5", "--pending-reply", "408", "--queue-delay", "1", "--queue-state",
        "paused_capacity", "--queue-state-reason", "busy", "--session-timeout", "30",
        "--archive-mode", "json", "--metadata-threshold", "1000", "--workers", "2"])
    cfg = config_from_args(args)
    assert cfg.state_dir == str(tmp_path) and cfg.port == 0
    assert cfg.faults == FaultConfig(0, (FaultRule("reset", 0.5, "healthz"),))
    assert (cfg.long_poll_s, cfg.pending_reply, cfg.queue_delay_s) == (0.5, "408", 1.0)
    assert (cfg.queue_state, cfg.queue_state_reason, cfg.session_timeout_s) == ("paused_capacity", "busy", 30.0)
    assert (cfg.archive_mode, cfg.metadata_threshold_bytes, cfg.workers) == ("json", 1000, 2)
    assert config_from_args(build_parser().parse_args(["serve"])).faults is None  # → env var at start


def test_subcommands_mount_under_another_cli() -> None:
    parser = argparse.ArgumentParser(prog="tinkex")
    top = parser.add_subparsers(dest="area")
    emulator = top.add_parser("emulator")
    add_subcommands(emulator.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["emulator", "serve", "--port", "9"])
    assert args.port == 9 and callable(args.func)


def test_bad_fault_spec_exits_2(capsys: Any) -> None:
    assert main(["serve", "--faults", "explode=1"]) == 2
    assert "unknown fault kind" in capsys.readouterr().err


def test_serve_until_stopped(monkeypatch: Any) -> None:
    monkeypatch.setenv(FAULTS_ENV, "healthz:billing=1")
    args = build_parser().parse_args(["serve", "--long-poll", "0.05"])
    stop, out = threading.Event(), StringIO()
    done: list[int] = []
    runner = threading.Thread(target=lambda: done.append(serve(config_from_args(args), stop, out)))
    runner.start()
    try:
        while "listening on" not in out.getvalue():
            assert runner.is_alive()
            threading.Event().wait(0.01)
        url = out.getvalue().split("listening on ", 1)[1].split()[0]
        r = requests.get(f"{url}/api/v1/healthz", headers={"X-API-Key": "tml-k"}, timeout=5)
        assert r.status_code == 402  # the env var's faults are active
        assert "faults:" in out.getvalue()
    finally:
        stop.set()
        runner.join(timeout=10)
    assert done == [0] and "stopped" in out.getvalue()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
def test_python_dash_m_serve_stops_cleanly_on_sigint() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop(FAULTS_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "tinkex_domain.emulator", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        url = line.split("listening on ", 1)[1].strip()
        assert requests.get(f"{url}/api/v1/healthz", headers={"X-API-Key": "tml-k"}, timeout=5).json() == {
            "status": "ok"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
