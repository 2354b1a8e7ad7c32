"""Seeded, deterministic fault injection: configuration, spec parsing and the per-request draw.

Spec syntax (CLI ``--faults``, env ``TINKEX_EMULATOR_FAULTS``, ``FaultConfig.parse``) is either
JSON ``{"seed": 7, "rules": [{"endpoint": "forward_backward", "kind": "server_error",
"rate": 0.1, "status": 503}]}`` or the compact form
``seed=7;forward_backward:server_error=0.1,status=503;latency=1,delay=0.05`` — rules separated
by ``;``, each ``[endpoint:]kind=rate[,param=value...]`` (endpoint defaults to ``*`` = all).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Iterable
from typing import Any

import attrs

KINDS: dict[str, tuple[str, ...]] = {
    "server_error": ("status",),        # answer 5xx (default 500)
    "rate_limit": ("retry_after",),     # answer 429; Retry-After header only when retry_after given
    "reset": (),                        # close the connection without any reply
    "reply_lost": (),                   # serve the request, then close without the reply
    "latency": ("delay",),              # sleep `delay` seconds (default 0.1) then serve normally
    "billing": (),                      # answer 402 (billing pause)
    "heartbeat_drop": (),               # heartbeat answered 200 but not recorded
    "heartbeat_fail": ("status",),      # heartbeat answered 5xx (default 503), not recorded
}
HEARTBEAT_ENDPOINT = "session_heartbeat"
_HEARTBEAT_KINDS = ("heartbeat_drop", "heartbeat_fail")


class FaultSpecError(ValueError):
    """A fault spec or rule that cannot be understood."""


def _check_rule(rule: FaultRule) -> None:
    if rule.kind not in KINDS:
        raise FaultSpecError(f"unknown fault kind {rule.kind!r}; known: {', '.join(KINDS)}")
    if not 0.0 <= rule.rate <= 1.0:
        raise FaultSpecError(f"fault rate must be within [0, 1], got {rule.rate}")
    if not rule.endpoint:
        raise FaultSpecError("fault endpoint must not be empty (use '*' for all)")
    allowed = KINDS[rule.kind]
    for name in ("status", "retry_after", "delay"):
        if getattr(rule, name) is not None and name not in allowed:
            raise FaultSpecError(f"parameter {name!r} does not apply to fault kind {rule.kind!r}")
    if rule.status is not None and not 500 <= rule.status <= 599:
        raise FaultSpecError(f"status must be a 5xx code, got {rule.status}")
    for name in ("retry_after", "delay"):
        value = getattr(rule, name)
        if value is not None and value < 0:
            raise FaultSpecError(f"{name} must be >= 0, got {value}")


@attrs.frozen
class FaultRule:
    """One fault: ``kind`` happens on a ``rate`` fraction of requests to ``endpoint``."""

    kind: str
    rate: float
    endpoint: str = "*"
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None

    def __attrs_post_init__(self) -> None:
        _check_rule(self)

    def applies_to(self, endpoint: str) -> bool:
        """Whether this rule draws for requests to ``endpoint``."""
        if self.kind in _HEARTBEAT_KINDS and endpoint != HEARTBEAT_ENDPOINT:
            return False
        return self.endpoint in ("*", endpoint)

    def to_json(self) -> dict[str, Any]:
        """JSON form (only the parameters that are set)."""
        out: dict[str, Any] = {"endpoint": self.endpoint, "kind": self.kind, "rate": self.rate}
        for name in ("status", "retry_after", "delay"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def _rule_from_json(item: Any, where: str) -> FaultRule:
    if not isinstance(item, dict):
        raise FaultSpecError(f"{where}: a rule must be an object")
    unknown = set(item) - {"endpoint", "kind", "rate", "status", "retry_after", "delay"}
    if unknown:
        raise FaultSpecError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        return FaultRule(
            kind=str(item["kind"]),
            rate=float(item["rate"]),
            endpoint=str(item.get("endpoint", "*")),
            status=None if item.get("status") is None else int(item["status"]),
            retry_after=None if item.get("retry_after") is None else float(item["retry_after"]),
            delay=None if item.get("delay") is None else float(item["delay"]),
        )
    except KeyError as exc:
        raise FaultSpecError(f"{where}: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"{where}: {exc}") from None


def _rule_from_text(text: str) -> FaultRule:
    head, _, params = text.partition(",")
    endpoint = "*"
    if ":" in head.split("=", 1)[0]:
        endpoint, head = head.split(":", 1)
    kind, eq, rate = head.partition("=")
    if not eq:
        raise FaultSpecError(f"rule {text!r}: expected kind=rate")
    item: dict[str, Any] = {"endpoint": endpoint.strip(), "kind": kind.strip(), "rate": rate.strip()}
    for param in filter(None, (p.strip() for p in params.split(","))):
        name, eq, value = param.partition("=")
        if not eq:
            raise FaultSpecError(f"rule {text!r}: expected name=value, got {param!r}")
        item[name.strip()] = value.strip()
    return _rule_from_json(item, f"rule {text!r}")


def _as_rules(rules: Iterable[FaultRule]) -> tuple[FaultRule, ...]:
    return tuple(rules)


@attrs.frozen
class FaultConfig:
    """A seed plus fault rules. Empty rules = no faults."""

    seed: int = 0
    rules: tuple[FaultRule, ...] = attrs.field(default=(), converter=_as_rules)

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Parse the JSON or compact spec syntax (see the module docstring)."""
        spec = spec.strip()
        if not spec:
            return cls()
        if spec[0] in "{[":
            try:
                data = json.loads(spec)
            except json.JSONDecodeError as exc:
                raise FaultSpecError(f"invalid JSON fault spec: {exc}") from None
            if isinstance(data, list):
                data = {"rules": data}
            if not isinstance(data, dict):
                raise FaultSpecError("JSON fault spec must be an object or an array of rules")
            raw_rules = data.get("rules", [])
            if not isinstance(raw_rules, list):
                raise FaultSpecError("'rules' must be an array")
            seed = data.get("seed", 0)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise FaultSpecError("'seed' must be an integer")
            return cls(seed, tuple(_rule_from_json(r, f"rules[{i}]") for i, r in enumerate(raw_rules)))
        seed = 0
        rules: list[FaultRule] = []
        for part in filter(None, (p.strip() for p in spec.replace("\n", ";").split(";"))):
            if part.startswith("seed="):
                try:
                    seed = int(part[5:])
                except ValueError:
                    raise FaultSpecError(f"invalid seed in {part!r}") from None
            else:
                rules.append(_rule_from_text(part))
        return cls(seed, tuple(rules))

    def to_json(self) -> dict[str, Any]:
        """JSON form accepted by :meth:`parse`."""
        return {"seed": self.seed, "rules": [r.to_json() for r in self.rules]}


@attrs.frozen
class FaultDecision:
    """What to do with one request: sleep ``latency`` seconds, then maybe a terminal fault."""

    latency: float = 0.0
    terminal: FaultRule | None = None
    fired: tuple[str, ...] = ()


NO_FAULT = FaultDecision()


def endpoint_seed(seed: int, endpoint: str) -> int:
    """A stable per-endpoint seed (same in every process)."""
    digest = hashlib.sha256(f"{seed}/{endpoint}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class FaultInjector:
    """Draws faults per request: one ``random.Random`` per endpoint, seeded from the config seed.

    Every applicable rule draws once per request (whether or not an earlier rule fired), so a
    rule's outcome sequence depends only on the seed and the endpoint's request count.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._rngs: dict[str, random.Random] = {}

    @property
    def config(self) -> FaultConfig:
        """The active configuration."""
        return self._config

    def configure(self, config: FaultConfig | None) -> None:
        """Replace the rules and restart every endpoint's random sequence."""
        with self._lock:
            self._config = config or FaultConfig()
            self._rngs = {}

    def decide(self, endpoint: str) -> FaultDecision:
        """Draw this request's faults."""
        with self._lock:
            rules = [r for r in self._config.rules if r.applies_to(endpoint)]
            if not rules:
                return NO_FAULT
            rng = self._rngs.get(endpoint)
            if rng is None:
                rng = self._rngs[endpoint] = random.Random(endpoint_seed(self._config.seed, endpoint))
            hits = [rule for rule in rules if rng.random() < rule.rate]
        latency = sum((r.delay if r.delay is not None else 0.1) for r in hits if r.kind == "latency")
        terminal = next((r for r in hits if r.kind != "latency"), None)
        return FaultDecision(latency, terminal, tuple(r.kind for r in hits))
