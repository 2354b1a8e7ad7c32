"""Fault injection: spec syntax, determinism, every kind at its configured rate, switch-off."""

from __future__ import annotations

import math
from typing import Any

import pytest
import requests

from tinkex_domain.emulator import FAULTS_ENV, Emulator, EmulatorConfig, FaultConfig, FaultRule, FaultSpecError
from tinkex_domain.emulator.faults import FaultInjector

N = 1000


def _within_binomial(hits: int, n: int, p: float, sds: float = 5.0) -> bool:
    sd = math.sqrt(n * p * (1 - p))
    return abs(hits - n * p) <= sds * sd


def test_compact_and_json_specs_parse_to_the_same_config() -> None:
    compact = FaultConfig.parse("seed=7; forward_backward:server_error=0.1,status=503;"
                                "latency=1,delay=0.05; rate_limit=0.2,retry_after=2")
    as_json = FaultConfig.parse(
        '{"seed": 7, "rules": [{"endpoint": "forward_backward", "kind": "server_error", "rate": 0.1,'
        ' "status": 503}, {"kind": "latency", "rate": 1, "delay": 0.05},'
        ' {"kind": "rate_limit", "rate": 0.2, "retry_after": 2}]}')
    assert compact == as_json
    assert compact.rules[0] == FaultRule("server_error", 0.1, "forward_backward", status=503)
    assert FaultConfig.parse(str(compact.to_json()).replace("'", '"').replace("None", "null")) == compact
    assert FaultConfig.parse("") == FaultConfig()


@pytest.mark.parametrize("spec", [
    "explode=0.1", "server_error=2", "server_error", "latency=0.1,status=500",
    "server_error=0.1,status=404", "seed=x", '{"rules": [{"kind": "reset"}]}', "{bad json",
    "reset=0.1,delay", '{"rules": [{"kind": "reset", "rate": 0.1, "color": "red"}]}',
])
def test_bad_specs_are_rejected(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        FaultConfig.parse(spec)


def test_draws_are_deterministic_per_seed_and_endpoint() -> None:
    config = FaultConfig(3, (FaultRule("server_error", 0.3),))

    def pattern(injector: FaultInjector, endpoint: str) -> list[bool]:
        return [injector.decide(endpoint).terminal is not None for _ in range(200)]

    a, b = FaultInjector(config), FaultInjector(config)
    assert pattern(a, "healthz") == pattern(b, "healthz")
    # interleaving another endpoint does not shift this endpoint's sequence
    c = FaultInjector(config)
    mixed = []
    for _ in range(200):
        c.decide("asample")
        mixed.append(c.decide("healthz").terminal is not None)
    assert mixed == pattern(FaultInjector(config), "healthz")
    assert pattern(FaultInjector(FaultConfig(4, config.rules)), "healthz") != pattern(a, "asample")


@pytest.fixture
def faulty(make_emulator: Any) -> Any:
    """An emulator whose latency sleeps are recorded, not slept."""
    slept: list[float] = []
    emu = make_emulator(sleep=slept.append)
    emu.slept = slept
    return emu


def _hammer(emu: Emulator, path: str, body: Any = None, n: int = N) -> list[requests.Response | None]:
    out: list[requests.Response | None] = []
    with requests.Session() as s:
        s.trust_env = False  # loopback only; skips per-request proxy lookups
        s.headers["X-API-Key"] = "tml-faults"
        for _ in range(n):
            try:
                if body is None:
                    out.append(s.get(f"{emu.base_url}/api/v1/{path}", timeout=10))
                else:
                    out.append(s.post(f"{emu.base_url}/api/v1/{path}", json=body, timeout=10))
            except requests.ConnectionError:
                out.append(None)
    return out


def _kind(r: requests.Response | None) -> str:
    if r is None:
        return "reset"
    if r.status_code == 429:
        return "rate_limit_retry_after" if r.headers.get("Retry-After") == "2" else "rate_limit_bare"
    return {200: "ok", 503: "server_error", 402: "billing"}.get(r.status_code, f"status {r.status_code}")


def test_every_fault_kind_happens_at_its_configured_rate_then_stops(faulty: Any) -> None:
    # All rules draw on every request; the first terminal hit (in rule order) answers, so the
    # chance of a later kind is its rate times the chance that no earlier kind fired.
    rules = [("reset", 0.05), ("server_error", 0.10), ("rate_limit_retry_after", 0.10),
             ("rate_limit_bare", 0.10), ("billing", 0.05)]
    faulty.set_faults("seed=11; reset=0.05; server_error=0.1,status=503; rate_limit=0.1,retry_after=2;"
                      "rate_limit=0.1; billing=0.05; latency=0.3,delay=0.25")
    counts: dict[str, int] = {}
    for r in _hammer(faulty, "healthz"):
        counts[_kind(r)] = counts.get(_kind(r), 0) + 1
    none_before = 1.0
    for kind, rate in rules:
        p = rate * none_before
        assert _within_binomial(counts.get(kind, 0), N, p), (kind, counts)
        none_before *= 1 - rate
    assert _within_binomial(counts["ok"], N, none_before)
    assert set(counts) == {"ok", *(k for k, _ in rules)}
    assert set(faulty.slept) == {0.25} and _within_binomial(len(faulty.slept), N, 0.3)
    recorded = faulty.stats()["healthz"].faults
    assert recorded["rate_limit"] == counts["rate_limit_retry_after"] + counts["rate_limit_bare"]
    assert recorded["latency"] == len(faulty.slept)

    faulty.set_faults(None)
    slept_before = len(faulty.slept)
    assert {_kind(r) for r in _hammer(faulty, "healthz", n=200)} == {"ok"}
    assert len(faulty.slept) == slept_before


def test_fault_reply_formats(faulty: Any) -> None:
    cases = {"server_error=1,status=502": (502, {"error": "injected server error", "category": "server"}),
             "billing=1": (402, None), "rate_limit=1,retry_after=1.5": (429, None)}
    for spec, (status, body) in cases.items():
        faulty.set_faults(spec)
        r = _hammer(faulty, "healthz", n=1)[0]
        assert r is not None and r.status_code == status
        assert body is None or r.json() == body
    assert r is not None and r.headers["Retry-After"] == "1.5"
    assert r.json()["queue_state"] == "paused_rate_limit"


def test_heartbeat_loss_drops_or_fails_beats_at_their_rates(faulty: Any, api_for: Any) -> None:
    sid = api_for(faulty).session()
    faulty.set_faults("heartbeat_fail=0.2; heartbeat_drop=0.2")  # '*' heartbeat rules hit heartbeats only
    replies = _hammer(faulty, "session_heartbeat", {"session_id": sid})
    failed = sum(1 for r in replies if r is not None and r.status_code == 503)
    answered = sum(1 for r in replies if r is not None and r.status_code == 200)
    assert failed + answered == N
    dropped = answered - faulty.heartbeat_count(sid)
    assert _within_binomial(failed, N, 0.2) and _within_binomial(dropped, N, 0.8 * 0.2)
    assert all(r is not None and r.status_code == 200 for r in _hammer(faulty, "healthz", n=20))
    assert faulty.stats()["healthz"].faults == {}
    faulty.set_faults(None)
    before = faulty.heartbeat_count(sid)
    assert all(r is not None and r.status_code == 200
               for r in _hammer(faulty, "session_heartbeat", {"session_id": sid}, n=50))
    assert faulty.heartbeat_count(sid) == before + 50


def test_endpoint_rules_only_hit_their_endpoint(faulty: Any) -> None:
    faulty.set_faults("get_server_capabilities:server_error=1")
    assert all(r is not None and r.status_code == 200 for r in _hammer(faulty, "healthz", n=50))
    assert all(r is not None and r.status_code == 500
               for r in _hammer(faulty, "get_server_capabilities", n=20))


def test_faulted_requests_are_not_applied(faulty: Any, api_for: Any) -> None:
    api = api_for(faulty)
    mid = api.model(api.session())
    faulty.set_faults("forward_backward:server_error=1")
    assert api.post("forward_backward", api.fwdbwd(mid, 1)).status_code == 500
    faulty.set_faults(None)
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"])
    assert faulty.received_seq_ids(mid) == [1] and faulty.applied_seq_ids(mid) == [1]


def test_env_var_configures_faults_unless_config_says_otherwise(monkeypatch: Any, double: Any) -> None:
    monkeypatch.setenv(FAULTS_ENV, "seed=5;healthz:billing=1")
    with Emulator(EmulatorConfig(long_poll_s=0.05), model_backend=double) as emu:
        assert emu.faults == FaultConfig(5, (FaultRule("billing", 1.0, "healthz"),))
        assert requests.get(f"{emu.base_url}/api/v1/healthz", headers={"X-API-Key": "tml-k"},
                            timeout=5).status_code == 402
    with Emulator(EmulatorConfig(faults=FaultConfig()), model_backend=double) as emu:
        assert emu.faults.rules == ()
