"""Start/stop of the emulator: free port, clean shutdown with no leaked threads, state dirs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from tinkex_domain.emulator import Emulator, EmulatorConfig, FaultConfig


def _config(**kw: object) -> EmulatorConfig:
    kw.setdefault("long_poll_s", 0.05)
    return EmulatorConfig(faults=FaultConfig(), **kw)  # type: ignore[arg-type]


def test_binds_a_free_loopback_port_and_serves(double: object) -> None:
    with Emulator(_config(), model_backend=double) as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.port > 0
        r = requests.get(f"{emu.base_url}/api/v1/healthz", headers={"X-API-Key": "tml-x"}, timeout=5)
        assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_two_emulators_get_different_ports(double: object) -> None:
    with Emulator(_config(), model_backend=double) as a, Emulator(_config(), model_backend=double) as b:
        assert a.port != b.port


def test_stop_joins_every_thread_even_with_open_keepalive_and_long_poll(double: object) -> None:
    before = set(threading.enumerate())
    emu = Emulator(_config(long_poll_s=30.0), model_backend=double).start()
    http = requests.Session()
    http.headers["X-API-Key"] = "tml-x"
    assert http.get(f"{emu.base_url}/api/v1/healthz", timeout=5).status_code == 200  # idle keep-alive
    sid = http.post(f"{emu.base_url}/api/v1/create_session", json={}, timeout=5).json()["session_id"]
    rid = http.post(f"{emu.base_url}/api/v1/create_model", timeout=5,
                    json={"session_id": sid, "model_seq_id": 0, "base_model": "b"}).json()["request_id"]
    emu.set_queue_state("paused_capacity")  # the next poll waits the full 30 s long-poll
    replies: list[int] = []
    poller = threading.Thread(target=lambda: replies.append(requests.post(
        f"{emu.base_url}/api/v1/retrieve_future", json={"request_id": rid},
        headers={"X-API-Key": "tml-x"}, timeout=30).status_code))
    poller.start()
    while emu.stats().get("retrieve_future") is None:
        threading.Event().wait(0.005)
    emu.stop()
    poller.join(timeout=10)
    http.close()
    assert replies == [200]  # the long-poll was woken and answered "try_again"
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leaked == []


def test_temporary_state_dir_is_removed_and_given_one_kept(double: object, tmp_path: Path) -> None:
    with Emulator(_config(), model_backend=double) as emu:
        temp_dir = emu.state_dir
        assert temp_dir.is_dir()
    assert not temp_dir.exists()
    given = tmp_path / "state"
    with Emulator(_config(state_dir=str(given)), model_backend=double) as emu:
        assert emu.state_dir == given
    assert given.is_dir()


def test_start_twice_fails_and_stop_is_idempotent(double: object) -> None:
    emu = Emulator(_config(), model_backend=double).start()
    with pytest.raises(RuntimeError):
        emu.start()
    emu.stop()
    emu.stop()
    assert repr(emu) == "Emulator(stopped)"


def test_port_in_use_raises_and_cleans_up(double: object) -> None:
    with Emulator(_config(), model_backend=double) as emu:
        clash = Emulator(_config(port=emu.port), model_backend=double)
        with pytest.raises(OSError):
            clash.start()
